import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import type { Browser } from 'playwright-core';
import { startAuthServer, testConfig, type AuthServer } from '../support/auth-server.ts';
import { api, bootstrap } from '../support/admin.ts';
import { discover } from '../support/http-login.ts';
import { freePort } from '../support/ports.ts';
import { launchBrowser } from '../support/browser.ts';
import { startCallbackServer } from '../support/wait.ts';
import { startFakeOidc, type FakeOidc } from '../support/fake-idps/oidc.ts';

type Json = Record<string, unknown>;

describe('upstream sessions: check_upstream_on_refresh', () => {
  let server: AuthServer;
  let upstream: FakeOidc;
  let rp: Awaited<ReturnType<typeof startCallbackServer>>;
  let rpUri: string;
  let browser: Browser;

  beforeAll(async () => {
    rp = await startCallbackServer();
    rpUri = rp.uri;
    const port = await freePort();
    upstream = await startFakeOidc({ redirectUris: [`http://127.0.0.1:${port}/federation/corp/callback`] });
    server = await startAuthServer({
      port,
      config: (p, dataDir) => {
        const base = testConfig(p, { store: { driver: 'embedded', path: dataDir } });
        return {
          ...base,
          clients: [...(base.clients as Json[]), { client_id: 'console', token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: [rpUri], scope: 'openid email offline_access' }],
          connectors: [{ id: 'corp', type: 'oidc', issuer: upstream.url, client_id: upstream.clientId, client_secret: upstream.clientSecret, scopes: ['openid', 'email', 'profile', 'offline_access'], prompt: 'consent', check_upstream_on_refresh: true }],
          provisioning: { rules: [{ email_domain: 'corp.example', connectors: ['corp'] }] },
        };
      },
    });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await server?.cleanup();
    await upstream?.close();
    await rp?.close();
  });

  it('re-checks the account upstream at every refresh, and ends the session once it is gone upstream', async () => {
    upstream.nextSignIn({ accountId: 'leaver', claims: { email: 'leaver@corp.example', email_verified: true, name: 'Leaver' }, amr: ['pwd'] });
    const config = await discover(server.url, 'console');
    const page = await (await browser.newContext()).newPage();
    const verifier = client.randomPKCECodeVerifier();
    await page.goto(client.buildAuthorizationUrl(config, { redirect_uri: rpUri, scope: 'openid email offline_access', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' }).href);
    await page.locator('[data-connector="corp"]').click();
    await page.waitForURL((u) => u.href.startsWith(rpUri));
    const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: verifier });
    await page.context().close();
    expect(tokens.refresh_token).toBeTruthy();

    const before = upstream.hits('/token');
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(upstream.hits('/token')).toBe(before + 1); // the upstream was asked

    upstream.forget('leaver');
    await expect(client.refreshTokenGrant(config, refreshed.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });

    const boot = bootstrap(server);
    const events = (await api(server.url, boot.key.key)<{ events: Json[] }>('GET', '/v1/audit?action=session.upstream_revoked')).body.events;
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actor: { type: 'system', id: 'corp' }, outcome: 'failure' });
  });
});
