import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page, Response } from 'playwright-core';
import { startAuthServer, testConfig, TEST_PASSWORD, type AuthServer } from '../support/auth-server.ts';
import { bootstrap, cli, personApi, type Bootstrapped } from '../support/admin.ts';
import { launchBrowser } from '../support/browser.ts';
import { expectAccessible, shot, signInToDashboard } from '../support/pages.ts';
import { SSO_EDIT_PATH, SSO_PATH } from '../../views/dashboard/routes.ts';

type Json = Record<string, unknown>;
const TOKEN = /^lts_scim_[\w-]{43}$/;
const GONE = 'A SCIM token is shown only once';

/**
 * A SCIM connection made on the dashboard's SSO page, as POST /v1/connections does it: an owner creates
 * it, sees its token once (a reload never shows it again), the token works on /scim/v2; "Rotate token"
 * shows a new one once and the old one is refused at once. An admin (not an owner) is refused creating
 * and rotating; a post without the session's CSRF token changes nothing.
 */
describe('dashboard: SCIM connections', () => {
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

  async function signedIn(email: string): Promise<Page> {
    const page = await (await browser.newContext({ locale: 'en-US' })).newPage();
    await signInToDashboard(page, server.url, email);
    return page;
  }

  const scimUsers = async (token: string) => (await fetch(`${server.url}/scim/v2/Users`, { headers: { authorization: `Bearer ${token}` } })).status;
  const connectionIds = async () => (await owner.call<{ connections: Json[] }>('GET', '/v1/connections')).body.connections.map((c) => c.id);
  const audited = async (action: string) => (await owner.call<{ events: Array<{ action: string; target: { id: string }; actor: { id?: string } }> }>('GET', `/v1/audit?action=${action}&project_id=${boot.project.id}`)).body.events;

  /** Clicks a button that posts; the post answers 303 to the connection's edit page with a flash id. */
  async function postAndFollow(page: Page, button: string, id: string): Promise<URL> {
    const [post] = await Promise.all([
      page.waitForResponse((r: Response) => r.request().method() === 'POST'),
      page.getByRole('button', { name: button }).click(),
    ]);
    expect(post.status()).toBe(303);
    const location = new URL(post.headers().location!, server.url);
    expect(location.pathname).toBe(SSO_EDIT_PATH);
    expect(location.searchParams.get('id')).toBe(id);
    expect(location.searchParams.get('flash')).toMatch(/^[\w-]{43}$/);
    expect(location.href).not.toContain('lts_scim_');
    await page.waitForURL((u) => u.href === location.href);
    return location;
  }

  const shownToken = async (page: Page) => page.getByLabel('Bearer token', { exact: true }).inputValue();

  it('an owner creates a SCIM connection, sees its token once, and rotates it', { timeout: 180_000 }, async () => {
    const page = await signedIn('olga@example.com');
    await page.goto(`${server.url}${SSO_PATH}`);
    await page.getByRole('link', { name: 'SCIM provisioning (Entra ID, Okta)' }).click();
    await page.getByRole('heading', { name: 'New connection: SCIM provisioning (Entra ID, Okta)' }).waitFor();
    await expectAccessible(page, 'scim new');

    // Malformed input first: no connector chosen → 400, nothing made.
    await page.getByLabel('Connection ID').fill('entra-scim');
    const [bad] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.getByRole('button', { name: 'Save connection' }).click()]);
    expect(bad.status()).toBe(400);
    await page.getByText('Choose the connection its people sign in with.').first().waitFor();
    expect(await connectionIds()).toEqual(['ya']);

    await page.getByLabel('Connection ID').fill('entra-scim');
    await page.getByLabel('Connection its people sign in with').selectOption('ya');
    await postAndFollow(page, 'Save connection', 'entra-scim');
    const token = await shownToken(page);
    expect(token).toMatch(TOKEN);
    expect(await page.getByLabel(/^SCIM base URL/).inputValue()).toBe(`${server.url}/scim/v2`);
    await page.getByText('Copy this token now').waitFor();
    await expectAccessible(page, 'scim created');
    await shot(page, 'scim-created-en');

    // As the API made it: listed as a SCIM connection tied to ya, audited as connection.created.
    const made = (await owner.call<Json>('GET', '/v1/connections/entra-scim')).body;
    expect(made).toMatchObject({ id: 'entra-scim', type: 'scim', connector: 'ya', enabled: true });
    expect(JSON.stringify(made)).not.toContain(token);
    expect((await audited('connection.created')).some((e) => e.target.id === 'entra-scim')).toBe(true);
    expect(await scimUsers(token)).toBe(200);

    // A reload shows it no more, and makes nothing.
    await page.reload();
    expect(await page.content()).not.toContain(token);
    await page.getByText(GONE).waitFor();
    expect((await connectionIds()).filter((id) => id === 'entra-scim')).toHaveLength(1);
    expect(await scimUsers(token)).toBe(200);

    // A forged rotation (no session CSRF token) changes nothing.
    const forged = await page.request.post(`${server.url}${SSO_PATH}/scim/rotate?id=entra-scim`, { form: { id: 'entra-scim', _csrf: 'forged' }, maxRedirects: 0 });
    expect(forged.status()).toBe(403);
    expect(await scimUsers(token)).toBe(200);

    // Rotate: a new token once, the old one refused at once.
    await page.goto(`${server.url}${SSO_EDIT_PATH}?id=entra-scim`);
    await postAndFollow(page, 'Rotate token', 'entra-scim');
    const rotated = await shownToken(page);
    expect(rotated).toMatch(TOKEN);
    expect(rotated).not.toBe(token);
    await page.getByRole('heading', { name: 'Token rotated: your new SCIM token' }).waitFor();
    await shot(page, 'scim-rotated-en');
    expect(await scimUsers(token)).toBe(401);
    expect(await scimUsers(rotated)).toBe(200);
    expect((await audited('connection.token_rotated')).some((e) => e.target.id === 'entra-scim')).toBe(true);
    await page.reload();
    expect(await page.content()).not.toContain(rotated);
    await page.getByText(GONE).waitFor();
    await page.close();
  });

  it('refuses an admin (not an owner) creating or rotating, and nothing changes', { timeout: 180_000 }, async () => {
    const made = await owner.call<{ token: string }>('POST', '/v1/connections', { id: 'okta-scim', type: 'scim', connector: 'ya' });
    expect(made.status).toBe(201);
    const page = await signedIn('adam@example.com');
    await page.goto(`${server.url}${SSO_PATH}`);
    await page.getByRole('link', { name: 'SCIM provisioning (Entra ID, Okta)' }).click();
    await page.getByLabel('Connection ID').fill('evil-scim');
    await page.getByLabel('Connection its people sign in with').selectOption('ya');
    const [response] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.getByRole('button', { name: 'Save connection' }).click()]);
    expect(response.status()).toBe(403);
    await page.getByText('Only an owner of the organisation may add or delete a connection').waitFor();
    await shot(page, 'scim-admin-refused-en');
    expect(await connectionIds()).not.toContain('evil-scim');

    await page.goto(`${server.url}${SSO_EDIT_PATH}?id=okta-scim`);
    const [rotate] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.getByRole('button', { name: 'Rotate token' }).click()]);
    expect(rotate.status()).toBe(403);
    expect(await scimUsers(made.body.token)).toBe(200);
    await page.close();
  });

  it('an owner deletes a SCIM connection after confirming; its token stops working', { timeout: 180_000 }, async () => {
    const made = await owner.call<{ token: string }>('POST', '/v1/connections', { id: 'gone-scim', type: 'scim', connector: 'ya' });
    expect(made.status).toBe(201);
    const page = await signedIn('olga@example.com');
    await page.goto(`${server.url}${SSO_EDIT_PATH}?id=gone-scim`);
    await page.getByRole('button', { name: 'Delete connection' }).click();
    await page.getByRole('heading', { name: /^Delete the connection/ }).waitFor();
    expect(await scimUsers(made.body.token)).toBe(200);
    await page.getByRole('button', { name: 'Delete connection' }).click();
    await page.getByText('The connection gone-scim was deleted.').waitFor();
    expect(await connectionIds()).not.toContain('gone-scim');
    expect(await scimUsers(made.body.token)).toBe(401);
    await page.close();
  });
});
