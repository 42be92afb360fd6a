import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { expect } from 'vitest';
import type { Page } from 'playwright-core';
import { ARTIFACTS } from './browser.ts';
import { TEST_PASSWORD } from './auth-server.ts';

const AXE_PATH = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

interface AxeViolation { id: string; impact: string | null; help: string; nodes: Array<{ target: unknown }> }

/**
 * axe-core run in the page; only serious and critical violations fail. Our pages' CSP (script-src 'self')
 * refuses the inline <script> that addScriptTag makes, so the library is evaluated in the page instead.
 */
export async function expectAccessible(page: Page, name: string): Promise<void> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(await readFile(AXE_PATH, 'utf8'));
  const violations = await page.evaluate(async () => {
    const result = await (window as unknown as { axe: { run(): Promise<{ violations: AxeViolation[] }> } }).axe.run();
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target) }));
  });
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(bad, `${name}: ${JSON.stringify(bad, null, 2)}`).toEqual([]);
}

/** A full-page screenshot in test-artifacts/dashboard-<name>.png, for a person to look at. */
export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(ARTIFACTS, `dashboard-${name}.png`), fullPage: true });
}

/** Browser context options for a person reading in `lang` (the locale and the Accept-Language it sends). */
export function languageOptions(lang: 'en' | 'ru'): { locale: string; extraHTTPHeaders?: Record<string, string> } {
  return lang === 'ru' ? { locale: 'ru-RU', extraHTTPHeaders: { 'accept-language': 'ru-RU,ru;q=0.9' } } : { locale: 'en-US' };
}

/** Through /dashboard → our sign-in page → back to the dashboard, as a person does. */
export async function signInToDashboard(page: Page, baseUrl: string, email: string, lang: 'en' | 'ru' = 'en', password = TEST_PASSWORD): Promise<void> {
  await page.goto(`${baseUrl}/dashboard`);
  await page.getByRole('heading', { name: lang === 'en' ? 'Sign in to LogTrace' : 'Вход в LogTrace' }).waitFor();
  await page.getByLabel(lang === 'en' ? 'Email' : 'Электронная почта').fill(email);
  await page.getByLabel(lang === 'en' ? 'Password' : 'Пароль').fill(password);
  await page.getByRole('button', { name: lang === 'en' ? 'Sign in' : 'Войти' }).click();
  await page.waitForURL((u) => u.pathname.startsWith('/dashboard') && !u.pathname.startsWith('/dashboard/callback'));
}
