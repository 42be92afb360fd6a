import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startAuthServer, TEST_PASSWORD, type AuthServer } from '../support/auth-server.ts';
import { bootstrap, cli, type Bootstrapped } from '../support/admin.ts';
import { launchBrowser } from '../support/browser.ts';
import { expectAccessible, languageOptions, shot, signInToDashboard } from '../support/pages.ts';

const API_ACCESS = '/dashboard/settings/security/api-access';
const LOG = '/dashboard/settings/security/log';
const KEY = /^lt_live_[0-9A-Za-z]{38}$/;

describe('admin dashboard in Chromium', () => {
  let server: AuthServer;
  let browser: Browser;
  let boot: Bootstrapped;

  const verify = async (key: string, ip = '10.1.2.3') => {
    const response = await fetch(`${server.url}/v1/keys/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key, ip }) });
    return (await response.json()) as { valid: boolean; code?: string; scopes?: string[] };
  };

  beforeAll(async () => {
    server = await startAuthServer();
    boot = bootstrap(server, 'Acme');
    for (const [email, role] of [['owner@example.com', 'owner'], ['viewer@example.com', 'viewer']]) {
      const out = cli(server, ['users', 'add', '--email', email!, '--name', `${role} person`, '--project', boot.project.id, '--role', role!, '--password-stdin'], TEST_PASSWORD);
      expect(out.status, out.stderr).toBe(0);
    }
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await server?.cleanup();
  });

  async function newContext(lang: 'en' | 'ru', colorScheme: 'light' | 'dark' = 'light'): Promise<BrowserContext> {
    const context = await browser.newContext({ ...languageOptions(lang), colorScheme, ...(lang === 'en' ? { acceptDownloads: true } : {}) });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    return context;
  }

  const signIn = (page: Page, email: string, lang: 'en' | 'ru' = 'en') => signInToDashboard(page, server.url, email, lang);

  const newKey = (page: Page, label: string) => page.getByRole('textbox', { name: new RegExp(`^${label}`) }).inputValue();

  async function createKey(page: Page, fields: { name: string; scopes?: string[]; ttl?: string; ip?: string }, lang: 'en' | 'ru' = 'en'): Promise<string> {
    const L = lang === 'en'
      ? { name: 'Name', env: 'Environment', ttl: 'Expires in (days)', ip: 'IP allowlist', create: 'Create key', key: 'New API key' }
      : { name: 'Название', env: 'Окружение', ttl: 'Срок действия (дней)', ip: 'Разрешённые IP-адреса', create: 'Создать ключ', key: 'Новый API-ключ' };
    await page.getByLabel(L.name, { exact: true }).fill(fields.name);
    for (const scope of fields.scopes ?? []) await page.getByLabel(scope, { exact: true }).check();
    await page.getByLabel(L.env).selectOption('live');
    if (fields.ttl) await page.getByLabel(L.ttl).fill(fields.ttl);
    if (fields.ip) await page.getByLabel(L.ip).fill(fields.ip);
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === API_ACCESS),
      page.getByRole('button', { name: L.create }).click(),
    ]);
    // Post/redirect/get: the secret is on the page the post redirects to (a one-time flash), never in a URL.
    expect(response.status()).toBe(303);
    expect(response.headers()['cache-control']).toBe('no-store');
    await page.waitForURL((u) => u.pathname === API_ACCESS && u.searchParams.has('flash'));
    const key = await newKey(page, L.key);
    expect(response.headers().location).not.toContain(key);
    expect(page.url()).not.toContain(key);
    return key;
  }

  it('an owner signs in, creates a key (shown once), sees it, sorts, rotates and revokes it — in English', async () => {
    const context = await newContext('en');
    const page = await context.newPage();
    await signIn(page, 'owner@example.com');
    await page.getByRole('heading', { name: 'Choose a project' }).waitFor();
    await expectAccessible(page, 'choose project');
    await shot(page, 'choose-project-en');
    await page.getByRole('link', { name: 'Acme' }).click();
    await page.getByRole('heading', { level: 1, name: 'API access' }).waitFor();
    // The bootstrap key is there already.
    expect(await page.getByRole('row', { name: /bootstrap/ }).textContent()).toContain('admin:projects');
    await expectAccessible(page, 'api access (empty)');

    // Only the scopes the owner holds are offered; a bad CIDR is reported next to its field.
    expect(await page.getByRole('checkbox').allTextContents()).toBeDefined();
    await page.getByLabel('Name', { exact: true }).fill('bad-ip');
    await page.getByLabel('IP allowlist').fill('10.0.0.0/8\nnot-an-ip');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByText('Line 2: “not-an-ip” is not an IP address or CIDR range.').first().waitFor();
    expect(await page.getByLabel('IP allowlist').getAttribute('aria-invalid')).toBe('true');
    expect(await page.getByLabel('Name', { exact: true }).inputValue()).toBe('bad-ip');
    await expectAccessible(page, 'api access (errors)');
    await shot(page, 'api-access-errors-en');
    await page.getByLabel('IP allowlist').fill('');
    await page.getByLabel('Name', { exact: true }).fill('');

    const key = await createKey(page, { name: 'ingest-en', scopes: ['read:logs', 'write:alerts'], ttl: '30', ip: '10.0.0.0/8' });
    expect(key).toMatch(KEY);
    expect(await page.getByText('It will not be shown again.').isVisible()).toBe(true);
    // dashboard.js (allowed by the CSP) reveals Copy, which copies the key.
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByText('Copied to the clipboard.').waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(key);
    await expectAccessible(page, 'api access (created)');
    await shot(page, 'key-created-en');
    const checked = await verify(key);
    expect(checked).toMatchObject({ valid: true, scopes: ['read:logs', 'write:alerts'] });
    expect((await verify(key, '192.0.2.1')).code).toBe('ip_not_allowed');

    // The table shows it; reloading never shows the secret again.
    await page.getByRole('link', { name: 'Done: back to the keys' }).click();
    const row = page.getByRole('row', { name: /ingest-en/ });
    expect(await row.textContent()).toContain('Active');
    expect(await row.textContent()).toContain('read:logs');
    expect(await page.content()).not.toContain(key);

    await createKey(page, { name: 'alpha' });
    await page.getByRole('link', { name: 'Done: back to the keys' }).click();
    const firstRowName = () => page.locator('table.data tbody tr th').first().textContent();
    await page.getByRole('link', { name: /^Name/ }).click();
    await page.waitForURL(/sort=name&dir=asc/);
    expect(await firstRowName()).toBe('alpha');
    expect(await page.getByRole('columnheader', { name: /Name/ }).getAttribute('aria-sort')).toBe('ascending');
    await page.getByRole('link', { name: /^Name/ }).click();
    await page.waitForURL(/sort=name&dir=desc/);
    expect(await firstRowName()).toBe('ingest-en');
    await page.getByRole('link', { name: /^Created/ }).click();
    await page.waitForURL(/sort=created&dir=asc/);
    expect(await page.locator('table.data tbody tr th').allTextContents()).toEqual(['bootstrap', 'ingest-en', 'alpha']);
    await shot(page, 'api-access-en');

    // Rotate with no grace: the old key stops at once, the new one is shown once.
    await page.getByLabel('Grace period for ingest-en').selectOption('0');
    await page.getByRole('button', { name: 'Rotate ingest-en' }).click();
    await page.getByRole('heading', { name: 'Key rotated: your new API key' }).waitFor();
    const rotated = await newKey(page, 'New API key');
    expect(rotated).toMatch(KEY);
    expect(rotated).not.toBe(key);
    expect((await verify(key)).code).toBe('rotated');
    expect((await verify(rotated)).valid).toBe(true);

    // Revoke: a confirmation step, refused until ticked.
    await page.getByRole('button', { name: 'Revoke ingest-en' }).click();
    await page.getByRole('heading', { name: 'Revoke key “ingest-en”?' }).waitFor();
    await page.getByRole('button', { name: 'Revoke key' }).click();
    await page.getByText('Tick the box to confirm.').waitFor();
    expect((await verify(rotated)).valid).toBe(true);
    await expectAccessible(page, 'revoke confirm');
    await shot(page, 'revoke-confirm-en');
    await page.getByLabel('I understand that this key stops working immediately').check();
    await page.getByRole('button', { name: 'Revoke key' }).click();
    await page.getByText('Key “ingest-en” was revoked.').waitFor();
    expect((await verify(rotated)).code).toBe('revoked');
    const rows = await page.getByRole('row', { name: /ingest-en/ }).allTextContents();
    expect(rows).toHaveLength(2);
    for (const r of rows) expect(r).toContain('Revoked');
    await context.close();
  });

  it('the same API Access flow in Russian, and the language switch is remembered', async () => {
    const context = await newContext('ru');
    const page = await context.newPage();
    await signIn(page, 'owner@example.com', 'ru');
    await page.getByRole('heading', { name: 'Выберите проект' }).waitFor();
    await page.getByRole('link', { name: 'Acme' }).click();
    await page.getByRole('heading', { level: 1, name: 'Доступ к API' }).waitFor();
    const key = await createKey(page, { name: 'сборщик', scopes: ['read:logs'] }, 'ru');
    expect(key).toMatch(KEY);
    expect(await page.getByText('Больше он показан не будет.').isVisible()).toBe(true);
    expect((await verify(key)).valid).toBe(true);
    await expectAccessible(page, 'api access ru');
    await shot(page, 'key-created-ru');
    await page.getByRole('link', { name: 'Готово: вернуться к ключам' }).click();

    await page.getByLabel('Переходный период для ключа сборщик').selectOption('3600');
    await page.getByRole('button', { name: 'Заменить сборщик' }).click();
    await page.getByRole('heading', { name: 'Ключ заменён: ваш новый API-ключ' }).waitFor();
    const rotated = await newKey(page, 'Новый API-ключ');
    expect(await page.getByText(/Прежний ключ действует до/).isVisible()).toBe(true);
    expect((await verify(key)).valid).toBe(true); // within the one-hour grace
    expect((await verify(rotated)).valid).toBe(true);

    // The rotating old key can still be revoked; then the new one.
    await page.getByRole('link', { name: 'Готово: вернуться к ключам' }).click();
    const revoke = page.getByRole('button', { name: 'Отозвать сборщик' });
    expect(await revoke.count()).toBe(2);
    await revoke.first().click();
    await page.getByRole('heading', { name: 'Отозвать ключ «сборщик»?' }).waitFor();
    await page.getByLabel('Я понимаю, что ключ перестанет действовать немедленно').check();
    await page.getByRole('button', { name: 'Отозвать ключ' }).click();
    await page.getByText('Ключ «сборщик» отозван.').waitFor();
    await shot(page, 'api-access-ru');
    await page.getByRole('button', { name: 'Отозвать сборщик' }).click();
    await page.getByLabel('Я понимаю, что ключ перестанет действовать немедленно').check();
    await page.getByRole('button', { name: 'Отозвать ключ' }).click();
    await page.getByText('Ключ «сборщик» отозван.').waitFor();
    expect((await verify(key)).code).toBe('revoked');
    expect((await verify(rotated)).code).toBe('revoked');

    // Switch to English: the choice is remembered in lt_lang over the browser's Accept-Language.
    await page.getByRole('link', { name: 'English' }).click();
    await page.getByRole('heading', { level: 1, name: 'API access' }).waitFor();
    expect(new URL(page.url()).pathname).toBe(API_ACCESS);
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'API access' }).waitFor();
    expect((await context.cookies()).find((c) => c.name === 'lt_lang')?.value).toBe('en');
    await page.getByRole('link', { name: 'Русский' }).click();
    await page.getByRole('heading', { level: 1, name: 'Доступ к API' }).waitFor();
    await context.close();

    // Remembered per person, not only per browser: an English browser signing in as this owner gets Russian.
    const other = await newContext('en');
    const again = await other.newPage();
    await signIn(again, 'owner@example.com');
    expect((await other.cookies()).find((c) => c.name === 'lt_lang')?.value).toBe('ru');
    expect(await again.evaluate(() => document.documentElement.lang)).toBe('ru');
    // Back to English for the other tests (the switch is a link: /dashboard/lang?set=en).
    await again.goto(`${server.url}/dashboard/lang?set=en&return_to=/dashboard`);
    expect(await again.evaluate(() => document.documentElement.lang)).toBe('en');
    await other.close();
  });

  it('refuses a viewer with a clear "no access" page', async () => {
    const context = await newContext('en');
    const page = await context.newPage();
    const responses: number[] = [];
    page.on('response', (r) => {
      if (new URL(r.url()).pathname.startsWith('/dashboard')) responses.push(r.status());
    });
    await signIn(page, 'viewer@example.com');
    await page.getByRole('heading', { name: 'No access to the dashboard' }).waitFor();
    expect(responses).toContain(403);
    expect(await page.textContent('main')).toContain('viewer@example.com');
    await page.goto(`${server.url}${API_ACCESS}?project=${boot.project.id}`);
    await page.getByRole('heading', { name: 'No access to the dashboard' }).waitFor();
    await page.goto(`${server.url}${LOG}?project=${boot.project.id}`);
    await page.getByRole('heading', { name: 'No access to the dashboard' }).waitFor();
    await expectAccessible(page, 'no access');
    await shot(page, 'no-access-en');
    await context.close();
  });

  it('shows an admin only the projects they administer', async () => {
    const other = bootstrap(server, 'Other Org');
    const created = cli(server, ['keys', 'create', '--project', other.project.id, '--name', 'other-key', '--scopes', 'read:logs', '--json']);
    expect(created.status, created.stderr).toBe(0);
    const otherKey = JSON.parse(created.stdout) as { id: string };
    const context = await newContext('en');
    const page = await context.newPage();
    await signIn(page, 'owner@example.com');
    await page.getByRole('heading', { name: 'Choose a project' }).waitFor();
    expect(await page.getByRole('link', { name: 'Acme' }).count()).toBe(1);
    expect(await page.getByRole('link', { name: 'Other Org' }).count()).toBe(0);
    const foreign = await page.goto(`${server.url}${API_ACCESS}?project=${other.project.id}`);
    expect(foreign?.status()).toBe(403);
    expect(await page.getByRole('alert').textContent()).toContain('You do not administer this project.');
    expect(await page.content()).not.toContain('other-key');
    expect((await page.goto(`${server.url}${LOG}?project=${other.project.id}`))?.status()).toBe(403);
    expect((await page.goto(`${server.url}${API_ACCESS}/revoke?project=${boot.project.id}&key=${otherKey.id}`))?.status()).toBe(404);
    expect((await page.goto(`${server.url}${API_ACCESS}?project=prj_nope`))?.status()).toBe(404);
    await context.close();
  });

  it('refuses a form post without the CSRF token, or from another origin', async () => {
    const context = await newContext('en');
    const page = await context.newPage();
    await signIn(page, 'owner@example.com');
    await page.goto(`${server.url}${API_ACCESS}?project=${boot.project.id}`);
    const csrf = await page.locator('input[name="_csrf"]').first().inputValue();
    const target = `${server.url}${API_ACCESS}?project=${boot.project.id}`;
    const form = { name: 'csrf-probe', scopes: 'read:logs', environment: 'live' };
    // context.request carries the browser's cookies (the dashboard session).
    const noToken = await context.request.post(target, { form, headers: { origin: server.url }, maxRedirects: 0 });
    expect(noToken.status()).toBe(403);
    expect(await noToken.text()).toContain('did not come from this site');
    const wrongToken = await context.request.post(target, { form: { ...form, _csrf: 'x'.repeat(43) }, headers: { origin: server.url }, maxRedirects: 0 });
    expect(wrongToken.status()).toBe(403);
    const otherOrigin = await context.request.post(target, { form: { ...form, _csrf: csrf }, headers: { origin: 'https://evil.example' }, maxRedirects: 0 });
    expect(otherOrigin.status()).toBe(403);
    const noOrigin = await context.request.post(target, { form: { ...form, _csrf: csrf }, maxRedirects: 0 });
    expect(noOrigin.status()).toBe(403);
    const noSession = await fetch(target, { method: 'POST', headers: { origin: server.url, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ ...form, _csrf: csrf }).toString(), redirect: 'manual' });
    expect(noSession.status).toBe(403);
    const listed = await page.reload().then(() => page.content());
    expect(listed).not.toContain('csrf-probe');
    // The same request with the token and our origin is accepted.
    const posted = await context.request.post(target, { form: { ...form, _csrf: csrf }, headers: { origin: server.url }, maxRedirects: 0 });
    expect(posted.status()).toBe(303);
    const shown = new URL(posted.headers().location!, server.url).href;
    const ok = await context.request.get(shown, { maxRedirects: 0 });
    expect(ok.status()).toBe(200);
    expect(await ok.text()).toMatch(/lt_live_[0-9A-Za-z]{38}/);
    expect(await (await context.request.get(shown, { maxRedirects: 0 })).text()).not.toMatch(/lt_live_[0-9A-Za-z]{38}/);

    // Headers: our own script only, no framing, no caching.
    const headers = ok.headers();
    expect(headers['content-security-policy']).toContain("script-src 'self'");
    expect(headers['content-security-policy']).not.toContain('unsafe-inline');
    expect(headers['x-frame-options']).toBe('DENY');
    expect(headers['cache-control']).toBe('no-store');
    const cookie = (await context.cookies()).find((c) => c.name === 'lt_dash');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/dashboard' });
    await context.close();
  });

  it('Security Log shows key events, filters by action, exports CSV and JSON Lines, and revokes from a row (dark theme)', async () => {
    const context = await newContext('en', 'dark');
    const page = await context.newPage();
    await signIn(page, 'owner@example.com');
    await page.goto(`${server.url}${API_ACCESS}?project=${boot.project.id}`);
    // Its own key events, so this test stands alone: created, rotated, revoked.
    await createKey(page, { name: 'log-events' });
    await page.getByRole('link', { name: 'Done: back to the keys' }).click();
    await page.getByLabel('Grace period for log-events').selectOption('0');
    await page.getByRole('button', { name: 'Rotate log-events' }).click();
    await page.getByRole('link', { name: 'Done: back to the keys' }).click();
    await page.getByRole('button', { name: 'Revoke log-events' }).click();
    await page.getByLabel('I understand that this key stops working immediately').check();
    await page.getByRole('button', { name: 'Revoke key' }).click();
    await page.getByText('Key “log-events” was revoked.').waitFor();
    const key = await createKey(page, { name: 'from-log' });
    await page.getByRole('link', { name: 'Security log' }).click();
    await page.getByRole('heading', { level: 1, name: 'Security log' }).waitFor();
    const body = await page.textContent('table');
    for (const action of ['key.created', 'key.rotated', 'key.revoked']) expect(body).toContain(action);
    await expectAccessible(page, 'security log');
    await shot(page, 'security-log-dark-en');

    await page.getByLabel('Action').selectOption('key.revoked');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/action=key.revoked/);
    const actions = await page.locator('table.data tbody th code').allTextContents();
    expect(actions.length).toBeGreaterThanOrEqual(1);
    expect(new Set(actions)).toEqual(new Set(['key.revoked']));
    await shot(page, 'security-log-filtered-dark-en');

    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download CSV' }).click()]);
    expect(csv.suggestedFilename()).toMatch(new RegExp(`^security-log-${boot.project.id}-\\d{4}-\\d{2}-\\d{2}\\.csv$`));
    const csvText = await readFile((await csv.path())!, 'utf8');
    const csvLines = csvText.trim().split('\r\n');
    expect(csvLines[0]).toBe('id,timestamp,action,outcome,actor_type,actor_id,target_type,target_id,project_id,ip,user_agent,detail');
    expect(csvLines.length).toBe(actions.length + 1);
    for (const line of csvLines.slice(1)) expect(line).toContain(',key.revoked,success,user,');

    const [jsonl] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download JSON Lines' }).click()]);
    const events = (await readFile((await jsonl.path())!, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { action: string; actor: { type: string }; project_id: string });
    expect(events.length).toBe(actions.length);
    for (const e of events) expect(e).toMatchObject({ action: 'key.revoked', actor: { type: 'user' }, project_id: boot.project.id });
    const head = await context.request.get(`${server.url}${LOG}?project=${boot.project.id}&format=jsonl`);
    expect(head.headers()['content-disposition']).toMatch(/^attachment; filename="security-log-.+\.jsonl"$/);

    // From a key.created row: Revoke key → the same confirmation → revoked.
    await page.getByLabel('Action').selectOption('key.created');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/action=key.created/);
    const revokeButtons = page.getByRole('button', { name: /^Revoke key key_/ });
    expect(await revokeButtons.count()).toBeGreaterThanOrEqual(1);
    await revokeButtons.last().click();
    await page.getByRole('heading', { name: 'Revoke key “from-log”?' }).waitFor();
    await page.getByLabel('I understand that this key stops working immediately').check();
    await page.getByRole('button', { name: 'Revoke key' }).click();
    await page.getByText('Key “from-log” was revoked.').waitFor();
    expect((await verify(key)).code).toBe('revoked');

    // Filters by actor and a date range; a bad date is reported next to its field.
    await page.goto(`${server.url}${LOG}?project=${boot.project.id}&since=yesterday`);
    await page.getByText('Enter a date as YYYY-MM-DD.').waitFor();
    const today = new Date().toISOString().slice(0, 10);
    await page.goto(`${server.url}${LOG}?project=${boot.project.id}&action=key&since=${today}&until=${today}`);
    expect(await page.locator('table.data tbody tr').count()).toBeGreaterThan(3);
    await page.goto(`${server.url}${LOG}?project=${boot.project.id}&until=2000-01-01`);
    await page.getByText('No events match these filters.').waitFor();
    await context.close();
  });

  it('signs out through the provider (RP-initiated logout)', async () => {
    const context = await newContext('en');
    const page = await context.newPage();
    await signIn(page, 'owner@example.com');
    await page.getByRole('button', { name: 'Sign out' }).click();
    // oidc-provider asks to confirm (/session/end), then returns to the dashboard's signed-out page.
    await page.getByRole('heading', { name: 'Sign out' }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'You are signed out' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/dashboard/signed-out');
    expect((await context.cookies()).find((c) => c.name === 'lt_dash')).toBeUndefined();
    await expectAccessible(page, 'signed out');
    await shot(page, 'signed-out-en');
    await page.goto(`${server.url}${API_ACCESS}`);
    await page.getByRole('heading', { name: 'Sign in to LogTrace' }).waitFor();
    await context.close();
  });
});
