import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startAuthServer, testConfig, TEST_PASSWORD, type AuthServer } from '../support/auth-server.ts';
import { api, bootstrap, cli, personApi, type Bootstrapped } from '../support/admin.ts';
import { launchBrowser } from '../support/browser.ts';
import { shot, signInToDashboard } from '../support/pages.ts';
import { SSO_PATH as SSO } from '../../views/dashboard/routes.ts';

type Json = Record<string, unknown>;

/**
 * The dashboard is a door like /v1: it asks the same access policy. An organisation admin, in a real
 * browser, tries what only an owner may: create a connection, repoint one, delete one, demote an owner.
 */
describe('access policy through the dashboard', () => {
  let server: AuthServer;
  let boot: Bootstrapped;
  let browser: Browser;
  let owner: Awaited<ReturnType<typeof personApi>>;

  beforeAll(async () => {
    server = await startAuthServer({
      env: { LOGTRACE_SECRET_KEY: randomBytes(32).toString('base64') },
      config: (port, dataDir) => testConfig(port, { store: { driver: 'embedded', path: dataDir } }),
    });
    boot = bootstrap(server, 'Acme');
    owner = await personApi(server, { email: 'olga@example.com', project: boot.project.id, role: 'owner', password: TEST_PASSWORD });
    const admin = cli(server, ['users', 'add', '--email', 'adam@example.com', '--name', 'Adam Admin', '--project', boot.project.id, '--role', 'admin', '--password-stdin'], TEST_PASSWORD);
    expect(admin.status, admin.stderr).toBe(0);
    expect((await owner.call('POST', '/v1/connections', { id: 'ya', type: 'yandex', name: 'Yandex', client_id: 'ya-client', client_secret: 'ya-secret-0123456789', email_domains: ['example.com'] })).status).toBe(201);
    browser = await launchBrowser();
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await server?.cleanup();
  });

  async function adminPage(): Promise<Page> {
    const page = await (await browser.newContext({ locale: 'en-US' })).newPage();
    await signInToDashboard(page, server.url, 'adam@example.com');
    return page;
  }

  it('refuses an admin a new connection, and saves nothing', async () => {
    const page = await adminPage();
    await page.goto(`${server.url}${SSO}/new?type=yandex`);
    await page.getByLabel('Connection ID').fill('evil');
    await page.getByLabel('Client ID').fill('attacker-app');
    await page.getByLabel('Client secret').fill('attacker-secret-0123456789');
    const [response] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.getByRole('button', { name: 'Save connection' }).click()]);
    expect(response.status()).toBe(403);
    await page.getByText('Only an owner of the organisation may add or delete a connection').waitFor();
    await shot(page, 'security-sso-owner-only-en');
    const listed = (await owner.call<{ connections: Json[] }>('GET', '/v1/connections')).body.connections.map((c) => c.id);
    expect(listed).toEqual(['ya']);
  });

  it('refuses an admin trusting emails of a connection, lets them rename it, and refuses deleting it', async () => {
    const page = await adminPage();
    await page.goto(`${server.url}${SSO}/edit?id=ya`);
    await page.getByLabel('Trust the email addresses this provider reports as verified').check();
    const [refused] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.getByRole('button', { name: 'Save connection' }).click()]);
    expect(refused.status()).toBe(403);
    expect((await owner.call<Json>('GET', '/v1/connections/ya')).body.trust_email).not.toBe(true);

    await page.goto(`${server.url}${SSO}/edit?id=ya`);
    await page.getByLabel('Name on the sign-in page').fill('Yandex ID');
    await page.getByRole('button', { name: 'Save connection' }).click();
    await page.getByText('Connection ya saved.').waitFor();
    expect((await owner.call<Json>('GET', '/v1/connections/ya')).body.name).toBe('Yandex ID');

    await page.goto(`${server.url}${SSO}/delete?id=ya`);
    const [deleted] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.getByRole('button', { name: 'Delete connection' }).click()]);
    expect(deleted.status()).toBe(403);
    expect((await owner.call('GET', '/v1/connections/ya')).status).toBe(200);
  });

  it('refuses an admin demoting an owner on the Members page', async () => {
    const page = await adminPage();
    const status = await page.evaluate(async ({ url, project, user }) => {
      const members = await fetch(`${url}/dashboard/settings/members?project=${project}`);
      const csrf = /name="_csrf" value="([^"]+)"/.exec(await members.text())?.[1] ?? '';
      const demote = await fetch(`${url}/dashboard/settings/members/role?project=${project}`, { method: 'POST', body: new URLSearchParams({ _csrf: csrf, user_id: user, role: 'viewer' }) });
      const remove = await fetch(`${url}/dashboard/settings/members/remove?project=${project}`, { method: 'POST', body: new URLSearchParams({ _csrf: csrf, user_id: user }) });
      return [demote.status, remove.status];
    }, { url: server.url, project: boot.project.id, user: owner.user.id });
    // Demoting is refused by the policy (403); removing finds no manual grant of an owner the admin may touch.
    expect(status[0]).toBe(403);
    expect([403, 404]).toContain(status[1]);
    const olga = (await api(server.url, owner.token)<Json>('GET', `/v1/users/${owner.user.id}`)).body;
    expect(olga).toMatchObject({ memberships: [{ project_id: boot.project.id, role: 'owner' }] });
  });
});
