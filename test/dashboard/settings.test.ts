import { createServer, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startAuthServer, testConfig, TEST_PASSWORD, type AuthServer } from '../support/auth-server.ts';
import { api, bootstrap, cli, type Bootstrapped } from '../support/admin.ts';
import { launchBrowser } from '../support/browser.ts';
import { expectAccessible, languageOptions, shot, signInToDashboard } from '../support/pages.ts';
import { freePort } from '../support/ports.ts';
import { startFakeOidc, type FakeOidc } from '../support/fake-idps/oidc.ts';

const API_ACCESS = '/dashboard/settings/security/api-access';
const MEMBERS = '/dashboard/settings/members';
const LOG = '/dashboard/settings/security/log';
const WEBHOOKS = '/dashboard/settings/webhooks';
const SSO = '/dashboard/settings/security/sso';

describe('dashboard settings pages in Chromium', () => {
  let server: AuthServer;
  let browser: Browser;
  let boot: Bootstrapped;
  let oidc: FakeOidc;

  const verify = async (key: string, ip = '10.1.2.3') => {
    const response = await fetch(`${server.url}/v1/keys/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key, ip }) });
    return (await response.json()) as { valid: boolean; code?: string };
  };

  beforeAll(async () => {
    const port = await freePort();
    oidc = await startFakeOidc({ redirectUris: [`http://127.0.0.1:${port}/federation/corp/callback`] });
    server = await startAuthServer({
      port,
      // Connections with a client secret need the sealing key.
      env: { LOGTRACE_SECRET_KEY: randomBytes(32).toString('base64') },
      config: (port, dataDir) => ({
        ...testConfig(port, { store: { driver: 'embedded', path: dataDir } }),
        connectors: [{ id: 'yandex', type: 'yandex', client_id: 'yandex-client', client_secret: 'yandex-secret' }],
      }),
    });
    boot = bootstrap(server, 'Acme');
    for (const [email, role] of [['owner@example.com', 'owner'], ['admin@example.com', 'admin']]) {
      const out = cli(server, ['users', 'add', '--email', email!, '--name', `${role} person`, '--project', boot.project.id, '--role', role!, '--password-stdin'], TEST_PASSWORD);
      expect(out.status, out.stderr).toBe(0);
    }
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await server?.cleanup();
    await oidc?.close();
  });

  const newContext = (lang: 'en' | 'ru' = 'en'): Promise<BrowserContext> => browser.newContext(languageOptions(lang));
  const signIn = (page: Page, email: string, lang: 'en' | 'ru' = 'en') => signInToDashboard(page, server.url, email, lang);

  it('API Access links each key to its usage: a stacked SVG chart by outcome with a data table', async () => {
    const created = cli(server, ['keys', 'create', '--project', boot.project.id, '--name', 'chart-key', '--scopes', 'read:logs', '--json']);
    expect(created.status, created.stderr).toBe(0);
    const { key } = JSON.parse(created.stdout) as { key: string };
    for (let i = 0; i < 3; i++) expect((await verify(key)).valid).toBe(true);
    const wrongScope = await fetch(`${server.url}/v1/keys/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key, scope: 'write:alerts' }) });
    expect(wrongScope.status).toBeLessThan(500);

    const context = await newContext('en');
    const page = await context.newPage();
    await signIn(page, 'owner@example.com');
    await page.goto(`${server.url}${API_ACCESS}?project=${boot.project.id}`);
    await page.getByRole('link', { name: 'Usage chart-key' }).click();
    await page.getByRole('heading', { level: 1, name: 'Usage of “chart-key”' }).waitFor();
    const chart = page.getByRole('img', { name: /verifications of key chart-key per day over the last 30 days/ });
    await chart.waitFor();
    expect(await page.locator('svg.usage-chart > title').textContent()).toContain('30 days');
    expect(await page.locator('svg.usage-chart g.bar').count()).toBe(30);
    const today = new Date().toISOString().slice(0, 10);
    const row = page.getByRole('row', { name: new RegExp(today) });
    expect(await row.locator('td').last().textContent()).toBe('4');
    expect(await page.getByRole('columnheader', { name: 'Valid' }).count()).toBe(1);
    expect(await page.getByRole('columnheader', { name: 'Missing scope' }).count()).toBe(1);
    expect(await page.locator('svg.usage-chart rect.o-insufficient_scope').count()).toBe(1);
    await expectAccessible(page, 'usage chart');
    await shot(page, 'usage-en');

    // Russian, and a key never verified shows a plain message instead of an empty chart.
    const idle = JSON.parse(cli(server, ['keys', 'create', '--project', boot.project.id, '--name', 'idle-key', '--scopes', 'read:logs', '--json']).stdout) as { id: string };
    await page.getByRole('link', { name: 'Русский' }).click();
    await page.getByRole('heading', { level: 1, name: 'Использование ключа «chart-key»' }).waitFor();
    expect(await page.getByRole('columnheader', { name: 'Действителен' }).count()).toBe(1);
    await expectAccessible(page, 'usage chart ru');
    await page.goto(`${server.url}${API_ACCESS}/usage?project=${boot.project.id}&key=${idle.id}`);
    await page.getByText('За последние 30 дней ключ ни разу не проверялся.').waitFor();
    expect((await page.goto(`${server.url}${API_ACCESS}/usage?project=${boot.project.id}&key=key_nope`))?.status()).toBe(404);
    // The language is remembered on the account: back to English for the other tests.
    await page.goto(`${server.url}/dashboard/lang?set=en&return_to=/dashboard`);
    await context.close();
  });

  it('Members and roles: causes, change and remove a manual role, invite by email, role mappings with a preview', async () => {
    const context = await newContext('en');
    const page = await context.newPage();
    await signIn(page, 'owner@example.com');
    await page.goto(`${server.url}/dashboard/settings/security/api-access?project=${boot.project.id}`);
    await page.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Members and roles' }).click();
    await page.getByRole('heading', { level: 1, name: 'Members and roles' }).waitFor();
    const adminRow = page.getByRole('row', { name: /admin@example.com/ });
    expect(await adminRow.textContent()).toContain('Manual: Admin');

    // Change the admin's manual role to Member.
    await page.getByLabel('Manual role for admin@example.com').selectOption('member');
    await page.getByRole('button', { name: 'Save admin@example.com' }).click();
    await page.getByText('The manual role of admin@example.com is now Member.').waitFor();
    expect(await page.getByRole('row', { name: /admin@example.com/ }).textContent()).toContain('Manual: Member');

    // Invite: a malformed email is refused next to its field (an unknown one gets an invitation link:
    // test/dashboard/invitations.test.ts); a known account gets the role.
    await page.getByLabel('Email', { exact: true }).fill('nobody at example');
    await page.getByRole('button', { name: 'Add to project' }).click();
    await page.getByText('Enter an email address.').first().waitFor();
    expect(await page.getByLabel('Email', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    await expectAccessible(page, 'members (invite error)');
    await page.getByLabel('Email', { exact: true }).fill('alice@example.com');
    await page.getByLabel('Role', { exact: true }).first().selectOption('viewer');
    await page.getByRole('button', { name: 'Add to project' }).click();
    await page.getByText('The manual role of alice@example.com is now Viewer.').waitFor();
    expect(await page.getByRole('row', { name: /alice@example.com/ }).textContent()).toContain('Manual: Viewer');

    // Remove the manual grant: alice leaves the project.
    await page.getByRole('button', { name: 'Remove manual role alice@example.com' }).click();
    await page.getByText('The manual role of alice@example.com was removed.').waitFor();
    expect(await page.getByRole('row', { name: /alice@example.com/ }).count()).toBe(0);

    // A role mapping: the preview first, then saved; then deleted through the same preview.
    await page.getByLabel('Source').selectOption('yandex');
    await page.getByLabel('Group', { exact: true }).fill('engineering');
    await page.locator('#mapping-role').selectOption('member');
    await page.getByRole('button', { name: 'Preview' }).click();
    await page.getByRole('heading', { level: 1, name: 'Add this role mapping?' }).waitFor();
    await page.getByText('Nobody’s role changes now').waitFor();
    await expectAccessible(page, 'mapping preview');
    await shot(page, 'mapping-preview-en');
    await page.getByRole('button', { name: 'Save the mapping' }).click();
    await page.getByText('Role mapping added: engineering → Member.').waitFor();
    expect(await page.getByRole('row', { name: /engineering/ }).textContent()).toContain('yandex');
    await expectAccessible(page, 'members');
    await shot(page, 'members-en');
    await page.getByRole('button', { name: 'Delete engineering' }).click();
    await page.getByRole('heading', { level: 1, name: 'Delete this role mapping?' }).waitFor();
    await page.getByRole('button', { name: 'Delete the mapping' }).click();
    await page.getByText('Role mapping deleted: engineering → Member.').waitFor();
    expect(await page.getByRole('row', { name: /engineering/ }).count()).toBe(0);

    // Audited as the /v1 API does.
    await page.goto(`${server.url}${LOG}?project=${boot.project.id}`);
    const log = await page.textContent('table');
    for (const action of ['member.role_changed', 'role_mapping.created', 'role_mapping.deleted']) expect(log).toContain(action);
    await context.close();
  });

  it('an admin (not an owner) cannot touch the owner role; Russian labels', async () => {
    const context = await newContext('ru');
    const page = await context.newPage();
    cli(server, ['users', 'add', '--email', 'admin2@example.com', '--name', 'Second admin', '--project', boot.project.id, '--role', 'admin', '--password-stdin'], TEST_PASSWORD);
    await signIn(page, 'admin2@example.com', 'ru');
    await page.goto(`${server.url}${MEMBERS}?project=${boot.project.id}`);
    await page.getByRole('heading', { level: 1, name: 'Участники и роли' }).waitFor();
    expect(await page.getByRole('row', { name: /owner@example.com/ }).textContent()).toContain('Владельца может изменить только владелец.');
    expect(await page.locator('#invite-role option[value="owner"]').count()).toBe(0);
    // A forged post is refused as PUT /v1/projects/{id}/members/{user} refuses it.
    const csrf = await page.locator('input[name="_csrf"]').first().inputValue();
    const userId = await page.getByRole('row', { name: /owner@example.com/ }).getAttribute('data-user-id');
    const forged = await context.request.post(`${server.url}${MEMBERS}/remove?project=${boot.project.id}`, { form: { _csrf: csrf, user_id: userId! }, headers: { origin: server.url } });
    expect(forged.status()).toBe(403);
    expect(await forged.text()).toContain('Назначать, менять и снимать роль владельца может только владелец проекта.');
    await expectAccessible(page, 'members ru');
    await shot(page, 'members-ru');
    await context.close();
  });

  it('Webhooks: add an endpoint (secret shown once), see deliveries with attempts, redeliver, delete', async () => {
    const received: Array<{ type: string }> = [];
    let answer = 200;
    const receiver: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push(JSON.parse(body) as { type: string });
        res.statusCode = answer;
        res.end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const hookUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
    const waitFor = async (n: number) => {
      for (let i = 0; i < 100 && received.length < n; i++) await new Promise((r) => setTimeout(r, 100));
      expect(received.length).toBeGreaterThanOrEqual(n);
    };
    try {
      const context = await newContext('en');
      const page = await context.newPage();
      await signIn(page, 'owner@example.com');
      await page.goto(`${server.url}${MEMBERS}?project=${boot.project.id}`);
      await page.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Webhooks' }).click();
      await page.getByRole('heading', { level: 1, name: 'Webhooks' }).waitFor();
      await page.getByText('No webhook endpoints yet.').waitFor();

      // Errors next to their fields.
      for (const box of await page.getByRole('checkbox').all()) await box.uncheck();
      await page.getByLabel('Endpoint URL').fill('ftp://nope');
      await page.getByRole('button', { name: 'Add endpoint' }).click();
      await page.getByText('Choose at least one event.').first().waitFor();
      expect(await page.getByLabel('Endpoint URL').inputValue()).toBe('ftp://nope');
      await expectAccessible(page, 'webhooks (errors)');

      await page.getByLabel('Endpoint URL').fill(hookUrl);
      await page.getByLabel('key.created').check();
      await page.getByLabel('key.revoked').check();
      await page.getByRole('button', { name: 'Add endpoint' }).click();
      await page.getByRole('heading', { name: 'Signing secret of the new endpoint' }).waitFor();
      const secret = await page.getByRole('textbox', { name: /^Signing secret/ }).inputValue();
      expect(secret.length).toBeGreaterThan(20);
      await expectAccessible(page, 'webhook created');
      await shot(page, 'webhook-created-en');
      await page.getByRole('link', { name: 'Done: back to the webhooks' }).click();
      expect(await page.content()).not.toContain(secret);
      const row = page.getByRole('row', { name: new RegExp(hookUrl) });
      expect(await row.textContent()).toContain('key.created');
      expect(await row.textContent()).not.toContain('key.rotated');

      // A key event reaches the endpoint; the history shows it with its attempt.
      await page.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'API access' }).click();
      await page.getByLabel('Name', { exact: true }).fill('hooked');
      await page.getByRole('button', { name: 'Create key' }).click();
      await page.getByRole('heading', { name: 'Your new API key' }).waitFor();
      await waitFor(1);
      expect(received[0]!.type).toBe('key.created');
      await page.goto(`${server.url}${WEBHOOKS}?project=${boot.project.id}`);
      await page.getByRole('link', { name: `Deliveries ${hookUrl}` }).click();
      await page.getByRole('heading', { level: 1, name: `Deliveries to ${hookUrl}` }).waitFor();
      const delivery = page.getByRole('row', { name: /key.created/ });
      expect(await delivery.textContent()).toContain('Delivered');
      expect(await delivery.textContent()).toContain('HTTP 200');

      // Redeliver: scheduled again, and the endpoint gets it (this time answering 500).
      answer = 500;
      await delivery.getByRole('button', { name: /^Redeliver/ }).click();
      await page.getByText(/is scheduled again\./).waitFor();
      await waitFor(2);
      await expectAccessible(page, 'deliveries');
      await page.reload();
      expect(await page.getByRole('row', { name: /key.created/ }).textContent()).toContain('HTTP 500');
      expect(await page.getByRole('alert').count()).toBe(0);
      expect(received.length).toBe(2);
      await shot(page, 'webhook-deliveries-en');

      // Delete, with a confirmation step.
      await page.getByRole('link', { name: 'Back to the webhooks' }).click();
      await page.getByRole('button', { name: `Delete ${hookUrl}` }).click();
      await page.getByRole('heading', { level: 1, name: `Delete the endpoint ${hookUrl}?` }).waitFor();
      await expectAccessible(page, 'webhook delete');
      await page.getByRole('button', { name: 'Delete endpoint' }).click();
      await page.getByText(`The endpoint ${hookUrl} was deleted.`).waitFor();
      await page.getByText('No webhook endpoints yet.').waitFor();
      await page.goto(`${server.url}${LOG}?project=${boot.project.id}&action=webhook`);
      const log = await page.textContent('table');
      for (const action of ['webhook.created', 'webhook.redelivered', 'webhook.deleted']) expect(log).toContain(action);
      await context.close();
    } finally {
      receiver.close();
    }
  });

  it('SSO: connections (configuration ones read-only), the OIDC wizard with field errors, redirect URI, test connection', async () => {
    const context = await newContext('en');
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    const page = await context.newPage();
    await signIn(page, 'owner@example.com');
    await page.goto(`${server.url}${MEMBERS}?project=${boot.project.id}`);
    await page.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Single sign-on' }).click();
    await page.getByRole('heading', { level: 1, name: 'Single sign-on' }).waitFor();
    const yandexRow = page.getByRole('row', { name: /yandex/ });
    expect(await yandexRow.textContent()).toContain('Configuration file (read-only)');
    expect(await yandexRow.getByRole('link').count()).toBe(0);
    await page.getByRole('link', { name: 'LDAP / Active Directory' }).waitFor();
    await expectAccessible(page, 'sso list');

    // VK ID cannot prove MFA: the box is disabled, with the reason.
    await page.getByRole('link', { name: 'VK ID' }).click();
    await page.getByRole('heading', { level: 1, name: 'New connection: VK ID' }).waitFor();
    expect(await page.getByLabel('Require multi-factor authentication').isDisabled()).toBe(true);
    await page.getByText('VK ID does not tell us whether the person used a second factor').waitFor();
    await page.getByRole('link', { name: 'Back to single sign-on' }).click();

    // OIDC: a bad domain is reported next to its field; the secret is never sent back.
    await page.getByRole('link', { name: 'OpenID Connect (OIDC)' }).click();
    await page.getByRole('heading', { level: 1, name: 'New connection: OpenID Connect (OIDC)' }).waitFor();
    await page.getByLabel('Connection ID').fill('corp');
    await page.getByLabel('Name on the sign-in page').fill('Acme Keycloak');
    await page.getByLabel('Client ID').fill(oidc.clientId);
    await page.getByLabel('Client secret').fill(oidc.clientSecret);
    await page.getByLabel('Issuer URL').fill(`${oidc.url}/wrong`);
    await page.getByLabel('Email domains').fill('corp.example, not a domain');
    await page.getByRole('button', { name: 'Save connection' }).click();
    await page.getByText('Enter domain names separated by commas, e.g. acme.ru, acme.com.').first().waitFor();
    expect(await page.getByLabel('Email domains').getAttribute('aria-invalid')).toBe('true');
    expect(await page.getByLabel('Client secret').inputValue()).toBe('');
    expect(await page.content()).not.toContain(oidc.clientSecret);
    await expectAccessible(page, 'sso form errors');
    await shot(page, 'sso-errors-en');

    await page.getByLabel('Client secret').fill(oidc.clientSecret);
    await page.getByLabel('Email domains').fill('corp.example');
    await page.getByRole('button', { name: 'Save connection' }).click();
    await page.getByText('Connection corp saved.').waitFor();
    expect(await page.getByLabel('Redirect URI').inputValue()).toBe(`${server.url}/federation/corp/callback`);
    await page.getByRole('button', { name: 'Copy Redirect URI' }).click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(`${server.url}/federation/corp/callback`);
    await page.getByText('A secret is set.').waitFor();

    // Test: the wrong issuer is explained in plain words.
    await page.getByRole('button', { name: 'Test connection' }).click();
    await page.getByText('Something is wrong; see the failed checks below.').waitFor();
    expect(await page.locator('ul.checks').textContent()).toContain(`${oidc.url}/wrong/.well-known/openid-configuration answered HTTP 404`);
    await expectAccessible(page, 'sso test failed');
    await shot(page, 'sso-test-failed-en');

    // Fix the issuer: the stored secret is not sent to a new issuer, so it is asked for again.
    await page.getByLabel('Issuer URL').fill(oidc.url);
    await page.getByRole('button', { name: 'Save connection' }).click();
    await page.getByText('The issuer or server changed: enter the secret again').first().waitFor();
    expect(await page.getByLabel('Client secret').getAttribute('aria-invalid')).toBe('true');
    await page.getByLabel('Client secret').fill(oidc.clientSecret);
    await page.getByRole('button', { name: 'Save connection' }).click();
    await page.getByText('Connection corp saved.').waitFor();
    await page.getByRole('button', { name: 'Test connection' }).click();
    await page.getByText('Everything checked is in order.').waitFor();
    const checks = await page.locator('ul.checks li').allTextContents();
    expect(checks.length).toBeGreaterThanOrEqual(3);
    for (const c of checks) expect(c).toMatch(/^OK/);
    await shot(page, 'sso-test-ok-en');

    await page.getByRole('link', { name: 'Back to single sign-on' }).click();
    expect(await page.getByRole('row', { name: /Acme Keycloak/ }).textContent()).toContain('Dashboard or API');
    await expectAccessible(page, 'sso list with connection');
    await shot(page, 'sso-en');
    await page.goto(`${server.url}${LOG}?project=${boot.project.id}&action=connection`);
    const log = await page.textContent('table');
    for (const action of ['connection.created', 'connection.updated', 'connection.tested']) expect(log).toContain(action);

    // Russian: the SAML wizard shows the ACS and SP metadata URLs.
    await page.getByRole('link', { name: 'Русский' }).click();
    await page.goto(`${server.url}${SSO}/new?type=saml`);
    await page.getByRole('heading', { level: 1, name: 'Новое подключение: SAML 2.0' }).waitFor();
    expect(await page.getByLabel('Адрес ACS (Assertion Consumer Service)').inputValue()).toBe(`${server.url}/federation/{id}/acs`);
    expect(await page.getByLabel('URL метаданных SP').inputValue()).toBe(`${server.url}/federation/{id}/metadata`);
    await expectAccessible(page, 'sso saml ru');
    await shot(page, 'sso-saml-ru');
    expect((await page.goto(`${server.url}${SSO}/edit?id=yandex`))?.status()).toBe(409);
    await page.goto(`${server.url}/dashboard/lang?set=en&return_to=/dashboard`); // remembered on the account
    await context.close();
  });

  it('an admin of a sub-project only: no single sign-on link, and the page refuses them', async () => {
    const created = await api(server.url, boot.key.key)<{ id: string }>('POST', '/v1/projects', { name: 'Acme EU', parent_id: boot.project.id });
    expect(created.status).toBe(201);
    const out = cli(server, ['users', 'add', '--email', 'sub-admin@example.com', '--name', 'Sub admin', '--project', created.body.id, '--role', 'admin', '--password-stdin'], TEST_PASSWORD);
    expect(out.status, out.stderr).toBe(0);
    const context = await newContext('en');
    const page = await context.newPage();
    await signIn(page, 'sub-admin@example.com');
    await page.goto(`${server.url}${WEBHOOKS}?project=${created.body.id}`);
    await page.getByRole('heading', { level: 1, name: 'Webhooks' }).waitFor();
    expect(await page.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Single sign-on' }).count()).toBe(0);
    const refused = await page.goto(`${server.url}${SSO}`);
    expect(refused?.status()).toBe(403);
    await page.getByText('Single sign-on is managed by administrators of the organisation').waitFor();
    expect((await page.goto(`${server.url}${SSO}/new?type=oidc`))?.status()).toBe(403);
    await context.close();
  });
});
