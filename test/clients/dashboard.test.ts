import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import type { Browser, Page, Response } from 'playwright-core';
import { startAuthServer, TEST_PASSWORD, type AuthServer } from '../support/auth-server.ts';
import { api, bootstrap, cli, type Bootstrapped } from '../support/admin.ts';
import { launchBrowser } from '../support/browser.ts';
import { expectAccessible, languageOptions, shot, signInToDashboard } from '../support/pages.ts';

const APPLICATIONS = '/dashboard/settings/integrations/applications';
const SECRET = /^lts_[A-Za-z0-9_-]{43}$/;

const TEXT = {
  en: { name: 'Name', register: 'Register application', secret: 'Client secret', clientId: 'Client ID', gone: 'This secret was shown once', rotate: 'Rotate secret', grace: 'Old secret keeps working for', del: 'Delete', confirm: 'Yes, delete this application', delSubmit: 'Delete application', deleted: 'was deleted', confidential: 'Confidential', cc: 'Client credentials', redirects: 'Redirect URIs', authCode: 'Authorization code', public: 'Public' },
  ru: { name: 'Название', register: 'Зарегистрировать приложение', secret: 'Секрет клиента', clientId: 'Идентификатор клиента', gone: 'Этот секрет уже был показан', rotate: 'Сменить секрет', grace: 'Прежний секрет действует ещё', del: 'Удалить', confirm: 'Да, удалить приложение', delSubmit: 'Удалить приложение', deleted: 'удалено', confidential: 'Конфиденциальное', cc: 'Учётные данные клиента', redirects: 'Адреса возврата', authCode: 'Код авторизации', public: 'Публичное' },
} as const;

describe('dashboard: Applications (register, shown once, rotate, delete)', () => {
  let server: AuthServer;
  let browser: Browser;
  let boot: Bootstrapped;

  beforeAll(async () => {
    server = await startAuthServer();
    boot = bootstrap(server, 'Acme');
    const out = cli(server, ['users', 'add', '--email', 'owner@example.com', '--name', 'Owner', '--project', boot.project.id, '--role', 'owner', '--password-stdin'], TEST_PASSWORD);
    expect(out.status, out.stderr).toBe(0);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await server?.cleanup();
  });

  const clientsNamed = async (name: string) => (await api(server.url, boot.key.key)<{ clients: Array<{ name: string; client_id: string; last_token_at: string | null }> }>('GET', `/v1/clients?project_id=${boot.project.id}`)).body.clients.filter((c) => c.name === name);

  async function ccToken(clientId: string, secret: string): Promise<string> {
    const config = await client.discovery(new URL(server.url), clientId, { client_secret: secret }, client.ClientSecretBasic(secret), { execute: [client.allowInsecureRequests] });
    return (await client.clientCredentialsGrant(config)).access_token;
  }

  async function submit(page: Page, button: string): Promise<void> {
    const [post] = await Promise.all([
      page.waitForResponse((r: Response) => r.request().method() === 'POST' && new URL(r.url()).pathname.startsWith(APPLICATIONS)),
      page.getByRole('button', { name: button }).click(),
    ]);
    expect(post.status()).toBe(303);
    const location = new URL(post.headers().location!, server.url);
    expect(location.pathname).toBe(APPLICATIONS);
    expect(location.searchParams.get('flash')).toMatch(/^[\w-]{43}$/);
    await page.waitForURL((u) => u.href === location.href);
  }

  for (const lang of ['en', 'ru'] as const) {
    it(`registers one application, shows its secret once, rotates and deletes it (${lang})`, { timeout: 180_000 }, async () => {
      const L = TEXT[lang];
      const context = await browser.newContext(languageOptions(lang));
      const page = await context.newPage();
      await signInToDashboard(page, server.url, 'owner@example.com', lang);
      await page.goto(`${server.url}${APPLICATIONS}?project=${boot.project.id}`);

      // A bad redirect URI: the form comes back with the message next to the field, nothing registered.
      const badName = `bad-${lang}`;
      await page.getByLabel(L.name, { exact: true }).fill(badName);
      await page.getByLabel(new RegExp(`^${L.public}`)).check();
      await page.getByLabel(new RegExp(`^${L.authCode}`)).check();
      await page.getByLabel(new RegExp(`^${L.cc}`)).uncheck();
      await page.getByLabel(L.redirects).fill('javascript:alert(1)');
      const [refused] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.getByRole('button', { name: L.register }).click()]);
      expect(refused.status()).toBe(400);
      await page.locator('#redirect_uris-error').waitFor();
      expect(await clientsNamed(badName)).toHaveLength(0);

      // A confidential service: registered once, its secret shown once, and it works.
      const name = `ingest-${lang}`;
      await page.goto(`${server.url}${APPLICATIONS}?project=${boot.project.id}`);
      await page.getByLabel(L.name, { exact: true }).fill(name);
      await page.getByLabel(new RegExp(`^${L.confidential}`)).check();
      await submit(page, L.register);
      const secret = await page.getByRole('textbox', { name: L.secret }).inputValue();
      const clientId = await page.getByRole('textbox', { name: L.clientId }).inputValue();
      expect(secret).toMatch(SECRET);
      expect(page.url()).not.toContain(secret);
      await expectAccessible(page, `application registered ${lang}`);
      await shot(page, `applications-registered-${lang}`);
      await ccToken(clientId, secret);

      // Reload and Back: never a second registration, never the secret again.
      const posts: string[] = [];
      page.on('request', (r) => r.method() === 'POST' && posts.push(r.url()));
      await page.reload();
      expect(await page.content()).not.toContain(secret);
      await page.getByText(L.gone).waitFor();
      await page.goBack();
      await page.goForward();
      expect(await page.content()).not.toContain(secret);
      expect(posts).toEqual([]);
      expect(await clientsNamed(name)).toHaveLength(1);

      // The client's page: its settings and the last time it got a token.
      await page.goto(`${server.url}${APPLICATIONS}?project=${boot.project.id}`);
      await page.getByRole('link', { name }).click();
      await page.locator('[data-last-token] time').waitFor();
      await expectAccessible(page, `application page ${lang}`);

      // Rotate with no grace: a new secret shown once; the old one stops at once.
      await page.goto(`${server.url}${APPLICATIONS}?project=${boot.project.id}`);
      const row = page.locator(`tr[data-client-id="${clientId}"]`);
      await row.getByLabel(L.grace).selectOption('0');
      await Promise.all([page.waitForURL((u) => u.searchParams.has('flash')), row.getByRole('button', { name: new RegExp(`^${L.rotate}`) }).click()]);
      const rotated = await page.getByRole('textbox', { name: L.secret }).inputValue();
      expect(rotated).toMatch(SECRET);
      expect(rotated).not.toBe(secret);
      await ccToken(clientId, rotated);
      await expect(ccToken(clientId, secret)).rejects.toThrow();

      // Delete: only after the confirmation.
      await page.goto(`${server.url}${APPLICATIONS}?project=${boot.project.id}`);
      await page.locator(`tr[data-client-id="${clientId}"]`).getByRole('button', { name: new RegExp(`^${L.del}`) }).click();
      const [unconfirmed] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.getByRole('button', { name: L.delSubmit }).click()]);
      expect(unconfirmed.status()).toBe(400);
      expect(await clientsNamed(name)).toHaveLength(1);
      await page.getByLabel(new RegExp(`^${L.confirm}`)).check();
      await Promise.all([page.waitForURL((u) => u.pathname === APPLICATIONS && u.searchParams.has('flash')), page.getByRole('button', { name: L.delSubmit }).click()]);
      await page.getByText(L.deleted).waitFor();
      expect(await clientsNamed(name)).toHaveLength(0);
      await expect(ccToken(clientId, rotated)).rejects.toThrow();
      await context.close();
    });
  }

  it('refuses a form post without the session\'s CSRF token or from another origin', async () => {
    const response = await fetch(`${server.url}${APPLICATIONS}?project=${boot.project.id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: new URLSearchParams({ name: 'csrf', type: 'confidential', grant_types: 'client_credentials', scopes: 'read:logs' }),
      redirect: 'manual',
    });
    expect(response.status).toBe(403);
    expect(await clientsNamed('csrf')).toHaveLength(0);
  });
});
