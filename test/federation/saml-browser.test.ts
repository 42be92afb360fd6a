import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { Browser, Page } from 'playwright-core';
import { startAuthServer, testConfig, type AuthServer } from '../support/auth-server.ts';
import { discover } from '../support/http-login.ts';
import { api, bootstrap, type Bootstrapped } from '../support/admin.ts';
import { launchBrowser, ARTIFACTS } from '../support/browser.ts';
import { startCallbackServer } from '../support/wait.ts';
import { defaultSamlUser, startSamlIdp, type TestSamlIdp } from '../support/saml-idp.ts';

type Json = Record<string, unknown>;
const SCOPE = 'openid email profile read:logs write:alerts admin:projects';
const MFA = 'https://refeds.org/profile/mfa';


describe('SAML 2.0 sign-in in Chromium against a real signing IdP', () => {
  let REDIRECT_URI: string;
  let rp: Awaited<ReturnType<typeof startCallbackServer>>;
  let idp: TestSamlIdp;
  let server: AuthServer;
  let boot: Bootstrapped;
  let admin: ReturnType<typeof api>;
  let config: client.Configuration;
  let browser: Browser;

  beforeAll(async () => {
    rp = await startCallbackServer();
    REDIRECT_URI = rp.uri;
    idp = await startSamlIdp();
    server = await startAuthServer({
      config: (port, dataDir) => {
        const base = testConfig(port, { store: { driver: 'embedded', path: dataDir } });
        return {
          ...base,
          clients: [...(base.clients as Json[]), { client_id: 'console', token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], redirect_uris: [REDIRECT_URI], scope: SCOPE }],
          connectors: [
            { id: 'adfs', type: 'saml', name: 'ADFS', idp_metadata_url: idp.metadataUrl },
            { id: 'adfs-mfa', type: 'saml', name: 'ADFS (MFA)', idp_metadata_url: idp.metadataUrl, require_mfa: true },
          ],
          provisioning: { rules: [{ email_domain: 'example.com', connectors: ['adfs', 'adfs-mfa'] }] },
        };
      },
    });
    boot = bootstrap(server);
    admin = api(server.url, boot.key.key);
    expect((await admin('POST', '/v1/role-mappings', { source: 'adfs', group: 'logs-admins', project_id: boot.project.id, role: 'admin' })).status).toBe(201);
    config = await discover(server.url, 'console');
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await server?.cleanup();
    await idp?.close();
    await rp?.close();
  });

  async function start(connector: string): Promise<{ page: Page; verifier: string; posted: string[] }> {
    const page = await (await browser.newContext({ locale: 'en-US' })).newPage();
    const posted: string[] = [];
    page.on('request', (request) => {
      if (request.method() === 'POST' && request.url().endsWith('/acs')) posted.push(request.postData() ?? '');
    });
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: SCOPE, code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    await page.goto(url.href);
    await page.locator(`[data-connector="${connector}"]`).click();
    return { page, verifier, posted };
  }

  async function refusal(page: Page): Promise<string> {
    const alert = page.getByRole('alert');
    await alert.waitFor();
    const text = (await alert.textContent()) ?? '';
    await page.context().close();
    return text;
  }

  it('signs in through the IdP, provisions the account and maps the SAML group attribute to a role', async () => {
    idp.mode = 'normal';
    idp.user = defaultSamlUser();
    const { page, verifier } = await start('adfs');
    await page.waitForURL((u) => u.href.startsWith(REDIRECT_URI));
    await page.screenshot({ path: path.join(ARTIFACTS, 'saml-signed-in.png') });
    const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: verifier });
    const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${server.url}/jwks`)), { issuer: server.url, audience: 'https://api.logtrace.test' });
    expect(payload.project_roles).toEqual({ [boot.project.id]: 'admin' });
    expect(tokens.claims()).toMatchObject({ email: 'ada@example.com', name: 'Ada Lovelace', email_verified: true, amr: ['pwd'] });
    await page.context().close();
  });

  it('serves SP metadata with our entity id and ACS', async () => {
    const metadata = await (await fetch(`${server.url}/federation/adfs/metadata`)).text();
    expect(metadata).toContain(`entityID="${server.url}/federation/adfs/metadata"`);
    expect(metadata).toContain(`${server.url}/federation/adfs/acs`);
  });

  it.each([
    ['unsigned', 'unsigned'],
    ['expired', 'expired'],
    ['for another audience', 'wrong_audience'],
  ] as const)('refuses an assertion that is %s, creating nothing', async (_label, mode) => {
    idp.mode = mode;
    idp.user = { ...defaultSamlUser(), nameId: `evil-${mode}`, attributes: { mail: `evil-${mode}@example.com` } };
    const { page } = await start('adfs');
    expect(await refusal(page)).toContain('did not succeed');
    const users = (await admin<{ users: Json[] }>('GET', '/v1/users')).body.users;
    expect(users.map((u) => u.email)).not.toContain(`evil-${mode}@example.com`);
  });

  it('refuses a replayed SAML response', async () => {
    idp.mode = 'normal';
    idp.user = defaultSamlUser();
    const first = await start('adfs');
    await first.page.waitForURL((u) => u.href.startsWith(REDIRECT_URI));
    await first.page.context().close();
    expect(first.posted).toHaveLength(1);
    const replay = await fetch(`${server.url}/federation/adfs/acs`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: first.posted[0],
      redirect: 'manual',
    });
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain('expired or was already used');
  });

  it('demands MFA when required: a password-only assertion is refused, an MFA one accepted', async () => {
    idp.mode = 'normal';
    idp.user = defaultSamlUser();
    const without = await start('adfs-mfa');
    expect(await refusal(without.page)).toContain('did not confirm multi-factor authentication');
    // Another person: ada's account is linked to the `adfs` connector, and `adfs-mfa` is not trust_email.
    idp.user = { ...defaultSamlUser(), nameId: 'u-grace', attributes: { mail: 'grace@example.com', displayName: 'Grace Hopper' }, authnContextClassRef: MFA };
    const withMfa = await start('adfs-mfa');
    await withMfa.page.waitForURL((u) => u.href.startsWith(REDIRECT_URI));
    const tokens = await client.authorizationCodeGrant(config, new URL(withMfa.page.url()), { pkceCodeVerifier: withMfa.verifier });
    expect(tokens.claims()).toMatchObject({ amr: ['mfa'], acr: MFA });
    // Our access tokens say it too, so the log API can require MFA.
    const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${server.url}/jwks`)), { issuer: server.url });
    expect(payload).toMatchObject({ amr: ['mfa'], acr: MFA });
    await withMfa.page.context().close();
  });
});
