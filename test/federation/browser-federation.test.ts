import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { Browser, Page } from 'playwright-core';
import { startAuthServer, testConfig, REDIRECT_URI, type AuthServer } from '../support/auth-server.ts';
import { discover } from '../support/http-login.ts';
import { api, bootstrap, type Bootstrapped } from '../support/admin.ts';
import { freePort } from '../support/ports.ts';
import { launchBrowser, ARTIFACTS } from '../support/browser.ts';
import { startFakeOidc, type FakeOidc } from '../support/fake-idps/oidc.ts';
import { startFakeEntra, type FakeEntra } from '../support/fake-idps/entra.ts';
import { startFakeYandex, type FakeYandex } from '../support/fake-idps/yandex.ts';
import { startFakeVk, type FakeVk } from '../support/fake-idps/vk.ts';

type Json = Record<string, unknown>;
const TENANT = '6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b';
const SCOPE = 'openid email profile offline_access read:logs write:alerts admin:projects';

describe('federated sign-in in Chromium: OIDC, Entra ID, Yandex ID, VK ID', () => {
  let server: AuthServer;
  let oidc: FakeOidc;
  let entra: FakeEntra;
  let yandex: FakeYandex;
  let vk: FakeVk;
  let boot: Bootstrapped;
  let admin: ReturnType<typeof api>;
  let config: client.Configuration;
  let browser: Browser;

  beforeAll(async () => {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    [oidc, entra, yandex, vk] = await Promise.all([
      startFakeOidc({ redirectUris: [`${issuer}/federation/corp/callback`, `${issuer}/federation/corp-mfa/callback`] }),
      startFakeEntra(),
      startFakeYandex(),
      startFakeVk(),
    ]);
    server = await startAuthServer({
      port,
      config: (p, dataDir) => {
        const base = testConfig(p, { store: { driver: 'embedded', path: dataDir } });
        const oidcBase = { type: 'oidc', issuer: oidc.url, client_id: oidc.clientId, client_secret: oidc.clientSecret, scopes: ['openid', 'email', 'profile', 'groups'] };
        return {
          ...base,
          clients: [...(base.clients as Json[]), { client_id: 'console', token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: [REDIRECT_URI], scope: SCOPE }],
          connectors: [
            { id: 'corp', name: 'Acme Keycloak', email_domains: ['corp.example'], ...oidcBase },
            { id: 'corp-mfa', name: 'Acme Keycloak (MFA)', require_mfa: true, ...oidcBase },
            { id: 'entra', type: 'entra', tenant: TENANT, authority: entra.url, graph_url: entra.url, client_id: entra.clientId, client_secret: entra.clientSecret },
            { id: 'yandex', type: 'yandex', client_id: yandex.clientId, client_secret: yandex.clientSecret, endpoints: { authorization: `${yandex.url}/authorize`, token: `${yandex.url}/token`, userinfo: `${yandex.url}/info` } },
            { id: 'vk', type: 'vk', client_id: vk.clientId, endpoints: { authorization: `${vk.url}/authorize`, token: `${vk.url}/oauth2/auth`, userinfo: `${vk.url}/oauth2/user_info` } },
          ],
          provisioning: {
            rules: [
              { email_domain: 'corp.example', connectors: ['corp', 'corp-mfa'], project: 'Acme', role: 'viewer' },
              { email_domain: 'contoso.example', connectors: ['entra'] },
              { email_domain: 'yandex.ru', connectors: ['yandex'], project: 'Acme', role: 'viewer' },
              { email_domain: 'vk.example', connectors: ['vk'] },
            ],
          },
        };
      },
    });
    boot = bootstrap(server);
    admin = api(server.url, boot.key.key);
    expect((await admin('POST', '/v1/role-mappings', { source: 'corp', group: 'engineering', project_id: boot.project.id, role: 'member' })).status).toBe(201);
    expect((await admin('POST', '/v1/role-mappings', { source: 'entra', group: 'grp-logtrace-admins', project_id: boot.project.id, role: 'admin' })).status).toBe(201);
    config = await discover(server.url, 'console');
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await server?.cleanup();
    await Promise.all([oidc?.close(), entra?.close(), yandex?.close(), vk?.close()]);
  });

  async function start(): Promise<{ page: Page; verifier: string }> {
    const context = await browser.newContext({ locale: 'en-US' });
    const page = await context.newPage();
    await page.route(`${REDIRECT_URI}**`, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<title>app</title>signed in' }));
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: SCOPE, code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    await page.goto(url.href);
    return { page, verifier };
  }

  async function tokensFrom(page: Page, verifier: string) {
    await page.waitForURL((u) => u.href.startsWith(REDIRECT_URI));
    const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: verifier });
    const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${server.url}/jwks`)), { issuer: server.url, audience: 'https://api.logtrace.test' });
    await page.context().close();
    return { tokens, access: payload, id: tokens.claims()! };
  }

  async function refusal(page: Page): Promise<string> {
    const alert = page.getByRole('alert');
    await alert.waitFor();
    const text = (await alert.textContent()) ?? '';
    expect(page.url()).toContain('/interaction/');
    await page.context().close();
    return text;
  }

  it('shows every connector on the sign-in page as a button with data-connector', async () => {
    const { page } = await start();
    for (const id of ['corp', 'corp-mfa', 'entra', 'yandex', 'vk']) expect(await page.locator(`[data-connector="${id}"]`).count()).toBe(1);
    expect(await page.locator('[data-connector="yandex"]').textContent()).toContain('Яндекс ID');
    expect(await page.getByLabel('Password').getAttribute('required')).toBeNull();
    await page.screenshot({ path: path.join(ARTIFACTS, 'sign-in-connectors.png'), fullPage: true });
    await page.context().close();
  });

  it('OIDC: provisions the account by rule, maps IdP groups to roles, carries the upstream amr', async () => {
    oidc.nextSignIn({ accountId: 'kc-alice', claims: { email: 'alice@corp.example', email_verified: true, name: 'Alice Corp', groups: ['engineering'] }, amr: ['pwd', 'otp'], acr: 'urn:logtrace:acr:pwd' });
    const { page, verifier } = await start();
    await page.locator('[data-connector="corp"]').click();
    const { access, id } = await tokensFrom(page, verifier);
    expect(id).toMatchObject({ email: 'alice@corp.example', email_verified: true, name: 'Alice Corp', amr: ['pwd', 'otp'] });
    // provisioning gives viewer, the engineering group member: the strongest wins.
    expect(access.project_roles).toEqual({ [boot.project.id]: 'member' });

    // The same upstream identity is the same user (same sub) next time, via home-realm discovery.
    oidc.nextSignIn({ accountId: 'kc-alice', claims: { email: 'alice@corp.example', email_verified: true, name: 'Alice Corp', groups: [] }, amr: ['pwd'] });
    const again = await start();
    await again.page.getByLabel('Email').fill('alice@corp.example');
    await again.page.getByRole('button', { name: 'Sign in' }).click();
    const second = await tokensFrom(again.page, again.verifier);
    expect(second.id.sub).toBe(id.sub);
    // Leaving the group upstream loses the mapped role at the next sign-in.
    expect(second.access.project_roles).toEqual({ [boot.project.id]: 'viewer' });
  });

  it('Entra ID: tenant-bound sign-in, groups from Microsoft Graph on overage, mapped to a role', async () => {
    entra.nextSignIn({ tid: TENANT, oid: '00000000-0000-0000-0000-00000000a11c', name: 'Bob Contoso', email: 'bob@contoso.example', preferred_username: 'bob@contoso.example', groups: ['grp-logtrace-admins', 'grp-other'], overage: true });
    const { page, verifier } = await start();
    await page.locator('[data-connector="entra"]').click();
    const { access, id } = await tokensFrom(page, verifier);
    expect(id).toMatchObject({ email: 'bob@contoso.example', name: 'Bob Contoso' });
    expect(entra.graphCalls()).toBeGreaterThan(0);
    expect(access.project_roles).toEqual({ [boot.project.id]: 'admin' });
  });

  it('Yandex ID: OAuth 2.0 + PKCE, the account from login.yandex.ru/info', async () => {
    yandex.nextSignIn({ id: '1000001', login: 'ivan', default_email: 'ivan@yandex.ru', display_name: 'Иван' });
    const { page, verifier } = await start();
    await page.locator('[data-connector="yandex"]').click();
    const { access, id } = await tokensFrom(page, verifier);
    expect(id).toMatchObject({ email: 'ivan@yandex.ru', name: 'Иван', email_verified: true });
    expect(access.project_roles).toEqual({ [boot.project.id]: 'viewer' });
    expect(yandex.authorizeRequests.at(-1)!.get('code_challenge_method')).toBe('S256');
    expect(yandex.infoAuthorizations.at(-1)).toMatch(/^OAuth /);
  });

  it('VK ID: an unverified email creates nothing and says why', async () => {
    const before = (await admin<{ users: Json[] }>('GET', '/v1/users')).body.users.length;
    vk.nextSignIn({ user_id: '777', first_name: 'Пётр', last_name: 'Петров', email: 'petr@vk.example' });
    const { page } = await start();
    await page.locator('[data-connector="vk"]').click();
    expect(await refusal(page)).toContain('did not confirm your email address');
    expect(vk.tokenRequests.at(-1)!.get('device_id')).toBeTruthy();
    expect((await admin<{ users: Json[] }>('GET', '/v1/users')).body.users.length).toBe(before);
  });

  it('refuses a sign-in without MFA when the connector requires it', async () => {
    oidc.nextSignIn({ accountId: 'kc-carl', claims: { email: 'carl@corp.example', email_verified: true, name: 'Carl' }, amr: ['pwd'] });
    const { page } = await start();
    await page.locator('[data-connector="corp-mfa"]').click();
    expect(await refusal(page)).toContain('did not confirm multi-factor authentication');
  });

  it('refuses an email domain without a provisioning rule (default deny)', async () => {
    oidc.nextSignIn({ accountId: 'kc-eve', claims: { email: 'eve@elsewhere.example', email_verified: true, name: 'Eve' }, amr: ['pwd'] });
    const { page } = await start();
    await page.locator('[data-connector="corp"]').click();
    expect(await refusal(page)).toContain('has no access to LogTrace');
    const users = (await admin<{ users: Json[] }>('GET', '/v1/users')).body.users;
    expect(users.map((u) => u.email)).not.toContain('eve@elsewhere.example');
  });

  it('refuses a callback with a wrong or replayed state, and audits the failures', async () => {
    const response = await fetch(`${server.url}/federation/corp/callback?code=abc&state=forged`, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('expired or was already used');
    const events = (await admin<{ events: Json[] }>('GET', '/v1/audit?action=login.failed&limit=1000')).body.events;
    const reasons = events.map((e) => (e.detail as Json | undefined)?.reason);
    expect(reasons).toEqual(expect.arrayContaining(['invalid_state', 'mfa_required', 'no_access', 'email_unverified']));
  });
});
