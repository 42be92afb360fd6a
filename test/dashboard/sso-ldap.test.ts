import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { jwtVerify, createRemoteJWKSet } from 'jose';
import { startAuthServer, testConfig, TEST_PASSWORD, type AuthServer } from '../support/auth-server.ts';
import { api, bootstrap, cli, type Bootstrapped } from '../support/admin.ts';
import { launchBrowser } from '../support/browser.ts';
import { codeFlowTokens, discover } from '../support/http-login.ts';
import { expectAccessible, languageOptions, shot, signInToDashboard } from '../support/pages.ts';
import { startSlapd, PEOPLE, READER_DN, READER_PASSWORD, PEOPLE_DN, GROUPS_DN, type SlapdServer } from '../support/slapd.ts';

const SSO = '/dashboard/settings/security/sso';
const LOG = '/dashboard/settings/security/log';

/** The SSO wizard's LDAP type and the provisioning rules, driven as a person would, against a real slapd. */
describe('dashboard: LDAP in the SSO wizard and provisioning rules, in Chromium', () => {
  let slapd: SlapdServer;
  let server: AuthServer;
  let browser: Browser;
  let boot: Bootstrapped;

  beforeAll(async () => {
    slapd = await startSlapd();
    server = await startAuthServer({
      env: { LOGTRACE_SECRET_KEY: randomBytes(32).toString('base64') },
      config: (port, dataDir) => testConfig(port, { store: { driver: 'embedded', path: dataDir } }),
    });
    boot = bootstrap(server, 'Acme');
    const out = cli(server, ['users', 'add', '--email', 'owner@example.com', '--name', 'Olga Owner', '--project', boot.project.id, '--role', 'owner', '--password-stdin'], TEST_PASSWORD);
    expect(out.status, out.stderr).toBe(0);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await server?.cleanup();
    await slapd?.dispose();
  });

  async function signedIn(lang: 'en' | 'ru' = 'en'): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext(languageOptions(lang));
    const page = await context.newPage();
    await signInToDashboard(page, server.url, 'owner@example.com', lang);
    return { context, page };
  }

  it('sets up an LDAP connection: every missing field at once, a wrong password explained, then all checks pass', async () => {
    const { context, page } = await signedIn();
    await page.goto(`${server.url}${SSO}`);
    await page.getByRole('link', { name: 'LDAP / Active Directory' }).click();
    await page.getByRole('heading', { level: 1, name: 'New connection: LDAP / Active Directory' }).waitFor();
    // A password connector: nothing to paste into an IdP, and no MFA to demand.
    expect(await page.getByLabel('Redirect URI').count()).toBe(0);
    expect(await page.getByLabel('Require multi-factor authentication').isDisabled()).toBe(true);
    expect(await page.getByLabel('User filter').inputValue()).toBe('(mail={email})');

    await page.getByLabel('Connection ID').fill('acme-ldap');
    await page.getByRole('button', { name: 'Save connection' }).click();
    await page.getByRole('alert').getByText('The connection was not saved.').waitFor();
    for (const label of ['Server URL', 'Service account DN', 'Search base DN', 'Group search base DN']) {
      expect(await page.getByLabel(label, { exact: true }).getAttribute('aria-invalid'), label).toBe('true');
    }
    await page.getByText('Enter the service account password.').first().waitFor();
    await expectAccessible(page, 'ldap form errors');
    await shot(page, 'sso-ldap-errors-en');

    await page.getByLabel('Name on the sign-in page').fill('ACME directory');
    await page.getByLabel('Server URL').fill(slapd.url);
    await page.getByLabel('Service account DN').fill(READER_DN);
    await page.getByLabel('Service account password').fill('not-the-password');
    await page.getByLabel('Search base DN', { exact: true }).fill(PEOPLE_DN);
    await page.getByLabel('Group search base DN').fill(GROUPS_DN);
    await page.getByLabel('Follow nested groups').check();
    await page.getByRole('button', { name: 'Save connection' }).click();
    await page.getByText('Connection acme-ldap saved.').waitFor();
    expect(await page.content()).not.toContain('not-the-password');
    await page.getByText('A secret is set.').waitFor();

    await page.getByRole('button', { name: 'Test connection' }).click();
    await page.getByText('Something is wrong; see the failed checks below.').waitFor();
    expect(await page.locator('ul.checks').textContent()).toContain(`the directory refused the service account ${READER_DN}: check the bind DN and its password`);
    await expectAccessible(page, 'ldap test failed');
    await shot(page, 'sso-ldap-test-failed-en');

    // A new password replaces the stored one; everything else stays as saved.
    await page.getByLabel('Service account password').fill(READER_PASSWORD);
    await page.getByRole('button', { name: 'Save connection' }).click();
    await page.getByText('Connection acme-ldap saved.').waitFor();
    expect(await page.getByLabel('Follow nested groups').isChecked()).toBe(true);
    await page.getByRole('button', { name: 'Test connection' }).click();
    await page.getByText('Everything checked is in order.').waitFor();
    const checks = await page.locator('ul.checks li').allTextContents();
    expect(checks).toHaveLength(4);
    for (const c of checks) expect(c).toMatch(/^OK/);
    expect(checks.join('\n')).toContain('5 people found');
    await shot(page, 'sso-ldap-test-ok-en');
    await page.getByText('No rule applies to this connection').waitFor();

    // Try a sign-in: a wrong password is refused in plain words; the right one shows the entry and groups.
    await page.getByLabel('Email to try').fill(PEOPLE.carol.mail);
    await page.getByLabel('Their password').fill('wrong-password');
    await page.getByRole('button', { name: 'Try sign-in' }).click();
    await page.getByText(`The directory did not accept ${PEOPLE.carol.mail} with this password`).waitFor();
    await page.getByLabel('Their password').fill(PEOPLE.carol.password);
    await page.getByRole('button', { name: 'Try sign-in' }).click();
    await page.getByText(`The directory accepted the password of ${PEOPLE.carol.mail}.`).waitFor();
    const facts = await page.getByRole('region', { name: 'Try a sign-in' }).textContent();
    expect(facts).toContain('uid=carol,ou=people,dc=acme,dc=ru');
    expect(facts).toContain('logtrace-admins'); // through platform-team: nested groups are followed
    expect(facts).toContain('none: no role mapping matches these groups');
    expect(await page.content()).not.toContain(PEOPLE.carol.password);
    await expectAccessible(page, 'ldap try sign-in');
    await shot(page, 'sso-ldap-try-en');
    // As limited as the sign-in page: after max_failed_attempts wrong passwords for one person, it stops asking.
    await page.getByLabel('Email to try').fill(PEOPLE.dave.mail);
    for (let i = 0; i < 5; i++) {
      await page.getByLabel('Their password').fill(`wrong-${i}`);
      await page.getByRole('button', { name: 'Try sign-in' }).click();
      await page.getByText(`The directory did not accept ${PEOPLE.dave.mail} with this password`).waitFor();
    }
    await page.getByLabel('Their password').fill(PEOPLE.dave.password);
    await page.getByRole('button', { name: 'Try sign-in' }).click();
    await page.getByText(`Too many wrong passwords for ${PEOPLE.dave.mail}`).waitFor();
    // Nothing was created by trying.
    const users = (await api(server.url, boot.key.key)<{ users: Array<{ email: string }> }>('GET', '/v1/users')).body.users.map((u) => u.email);
    expect(users).not.toContain(PEOPLE.carol.mail);
    await context.close();
  });

  it('provisioning rules: refused inputs in plain words, a rule lets people in with its role, deleting it stops new accounts', async () => {
    const { context, page } = await signedIn();
    await page.goto(`${server.url}${SSO}`);
    await page.getByRole('heading', { level: 2, name: 'Provisioning rules' }).waitFor();
    await page.getByText('No rules: nobody gets an account by signing in').waitFor();
    const form = page.getByRole('form', { name: 'Add a rule' });
    await form.getByLabel('Email domain').fill('not a domain');
    await form.getByRole('button', { name: 'Add rule' }).click();
    await page.getByText('Enter a domain name, e.g. acme.ru.').first().waitFor();
    expect(await form.getByLabel('Email domain').getAttribute('aria-invalid')).toBe('true');

    await form.getByLabel('Email domain').fill('@acme.ru');
    await form.getByLabel('Connection').selectOption('acme-ldap');
    await form.getByLabel('Project for new accounts').selectOption(boot.project.id);
    await form.getByLabel('Role').selectOption('viewer');
    await form.getByRole('button', { name: 'Add rule' }).click();
    await page.getByText('Rule for @acme.ru added.').waitFor();
    const row = page.getByRole('row', { name: /@acme\.ru/ });
    expect(await row.textContent()).toContain('ACME directory');
    expect(await row.textContent()).toContain('Viewer');

    // The same domain and connection again could never apply: refused.
    await form.getByLabel('Email domain').fill('acme.ru');
    await form.getByLabel('Connection').selectOption('acme-ldap');
    await form.getByRole('button', { name: 'Add rule' }).click();
    await page.getByText('A rule for this domain and connection exists already.').first().waitFor();
    await expectAccessible(page, 'sso rules');
    await shot(page, 'sso-rules-en');

    // The rule works: bob's first directory sign-in creates his account with viewer on Acme.
    const rp = await discover(server.url, 'dashboard');
    const tokens = await codeFlowTokens(rp, { email: PEOPLE.bob.mail, password: PEOPLE.bob.password });
    const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${server.url}/jwks`)), { issuer: server.url });
    expect(payload.project_roles).toEqual({ [boot.project.id]: 'viewer' });

    // The connection's page lists the rule that applies to it.
    await page.goto(`${server.url}${SSO}/edit?id=acme-ldap`);
    expect(await page.getByRole('row', { name: /@acme\.ru/ }).count()).toBe(1);

    await page.goto(`${server.url}${SSO}`);
    await page.getByRole('button', { name: 'Delete @acme.ru' }).click();
    await page.getByText('Rule for @acme.ru deleted.').waitFor();
    await expect(codeFlowTokens(rp, { email: PEOPLE.erin.mail, password: PEOPLE.erin.password })).rejects.toThrow();
    const users = (await api(server.url, boot.key.key)<{ users: Array<{ email: string }> }>('GET', '/v1/users')).body.users.map((u) => u.email);
    expect(users).toContain(PEOPLE.bob.mail);
    expect(users).not.toContain(PEOPLE.erin.mail);

    await page.goto(`${server.url}${LOG}?project=${boot.project.id}&action=provisioning_rule`);
    const log = await page.textContent('table');
    for (const action of ['provisioning_rule.created', 'provisioning_rule.deleted']) expect(log).toContain(action);
    await context.close();
  });

  it('in Russian: the LDAP wizard and the rules', async () => {
    const { context, page } = await signedIn('ru');
    await page.goto(`${server.url}${SSO}/edit?id=acme-ldap`);
    await page.getByRole('heading', { level: 1, name: 'Подключение acme-ldap' }).waitFor();
    expect(await page.getByLabel('Адрес сервера').inputValue()).toBe(slapd.url);
    expect(await page.getByLabel('Учитывать вложенные группы').isChecked()).toBe(true);
    await page.getByRole('button', { name: 'Проверить подключение' }).click();
    await page.locator('ul.checks').getByText('Служебная учётная запись').waitFor();
    await expectAccessible(page, 'ldap ru');
    await shot(page, 'sso-ldap-ru');
    await page.goto(`${server.url}${SSO}`);
    await page.getByRole('heading', { level: 2, name: 'Правила создания учётных записей' }).waitFor();
    await expectAccessible(page, 'sso ru');
    await shot(page, 'sso-rules-ru');
    await page.goto(`${server.url}/dashboard/lang?set=en&return_to=/dashboard`);
    await context.close();
  });

  it('a saved connection that cannot start says why on its page (Entra: tenants, MFA context)', async () => {
    const { context, page } = await signedIn();
    await page.goto(`${server.url}${SSO}/new?type=entra`);
    await page.getByLabel('Connection ID').fill('entra');
    await page.getByLabel('Client ID').fill('00000000-0000-0000-0000-000000000001');
    await page.getByLabel('Client secret').fill('entra-client-secret');
    await page.getByLabel('Tenant ID', { exact: true }).fill('organizations');
    await page.getByRole('button', { name: 'Save connection' }).click();
    await page.getByText('Connection entra saved.').waitFor();
    await page.getByRole('alert').getByText('This connection is saved but not running').waitFor();
    expect(await page.getByRole('alert').textContent()).toContain('admits every Entra tenant');
    await expectAccessible(page, 'entra not running');
    await shot(page, 'sso-not-running-en');

    const tenant = '72f988bf-86f1-41af-91ab-2d7cd011db47';
    await page.getByLabel('Allowed tenant IDs').fill(tenant);
    await page.getByLabel('Require multi-factor authentication').check();
    await page.getByRole('button', { name: 'Save connection' }).click();
    await page.getByText('Connection entra saved.').waitFor();
    expect(await page.getByRole('alert').textContent()).toContain('require_mfa needs mfa_auth_context');
    await page.getByLabel('MFA authentication context').fill('c1');
    await page.getByRole('button', { name: 'Save connection' }).click();
    await page.getByText('Connection entra saved.').waitFor();
    expect(await page.getByRole('alert').count()).toBe(0);
    expect(await page.getByLabel('Allowed tenant IDs').inputValue()).toBe(tenant);
    const stored = await api(server.url, boot.key.key)('GET', '/v1/connections/entra');
    expect(stored.body).toMatchObject({ tenant: 'organizations', allowed_tenants: [tenant], mfa_auth_context: 'c1', require_mfa: true });
    await context.close();
  });

  it('pauses a connection with Enabled, then deletes it after a confirmation', async () => {
    const rp = await discover(server.url, 'dashboard');
    const admin = api(server.url, boot.key.key);
    expect((await admin('POST', '/v1/provisioning-rules', { email_domain: 'acme.ru', connectors: ['acme-ldap'] })).status).toBe(201);
    // bob has an account from the earlier rule; a directory sign-in works while the connection is on.
    await expect(codeFlowTokens(rp, { email: PEOPLE.bob.mail, password: PEOPLE.bob.password })).resolves.toBeTruthy();

    const { context, page } = await signedIn();
    await page.goto(`${server.url}${SSO}/edit?id=acme-ldap`);
    await page.getByLabel('Enabled', { exact: true }).uncheck();
    await page.getByRole('button', { name: 'Save connection' }).click();
    await page.getByText('Connection acme-ldap saved.').waitFor();
    expect(await page.getByLabel('Enabled', { exact: true }).isChecked()).toBe(false);
    await page.getByRole('button', { name: 'Test connection' }).click();
    expect(await page.locator('ul.checks').textContent()).toContain('the connection is disabled');
    await page.goto(`${server.url}${SSO}`);
    expect(await page.getByRole('table', { name: 'Connections' }).getByRole('row', { name: /ACME directory/ }).textContent()).toContain('Disabled');
    await expect(codeFlowTokens(rp, { email: PEOPLE.bob.mail, password: PEOPLE.bob.password })).rejects.toThrow(/401/);

    await page.goto(`${server.url}${SSO}/edit?id=acme-ldap`);
    await page.getByLabel('Enabled', { exact: true }).check();
    await page.getByRole('button', { name: 'Save connection' }).click();
    await page.getByText('Connection acme-ldap saved.').waitFor();
    await expect(codeFlowTokens(rp, { email: PEOPLE.bob.mail, password: PEOPLE.bob.password })).resolves.toBeTruthy();

    await page.getByRole('button', { name: 'Delete connection' }).click();
    await page.getByRole('heading', { level: 1, name: 'Delete the connection “ACME directory”?' }).waitFor();
    await page.getByText('1 provisioning rule(s) name this connection').waitFor();
    await expectAccessible(page, 'sso delete');
    await shot(page, 'sso-delete-en');
    await page.getByRole('button', { name: 'Delete connection' }).click();
    await page.getByText('The connection acme-ldap was deleted.').waitFor();
    expect(await page.getByRole('table', { name: 'Connections' }).getByRole('row', { name: /acme-ldap/ }).count()).toBe(0);
    await expect(codeFlowTokens(rp, { email: PEOPLE.bob.mail, password: PEOPLE.bob.password })).rejects.toThrow(/401/);
    expect((await admin('GET', '/v1/connections/acme-ldap')).status).toBe(404);
    await page.goto(`${server.url}${LOG}?project=${boot.project.id}&action=connection.deleted`);
    expect(await page.textContent('table')).toContain('connection.deleted');
    await context.close();
  });
});
