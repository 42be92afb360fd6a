import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIRECT_URI, startAuthServer, type AuthServer } from '../support/auth-server.ts';
import { bootstrap, personApi, type Bootstrapped } from '../support/admin.ts';
import { discover, walkSignIn } from '../support/http-login.ts';

/**
 * An owner marks an application registered in their organisation first-party: the people of that
 * organisation get no consent screen. The attack: the owner of one organisation registers a first-party
 * application and lures people of ANOTHER organisation (on the same server) to sign in through it, to
 * collect their identity (email, profile) without their consent. They must be asked.
 */

describe('a first-party application registered in an organisation skips consent only for its own people', () => {
  let server: AuthServer;
  let acme: Bootstrapped;
  let globex: Bootstrapped;
  let clientId: string;

  beforeAll(async () => {
    server = await startAuthServer();
    acme = bootstrap(server, 'Acme');
    globex = bootstrap(server, 'Globex');
    const owner = await personApi(server, { email: 'owner@acme.test', project: acme.project.id, role: 'owner' });
    // It may call itself anything: the consent page names who registered it.
    const made = await owner.call('POST', '/v1/clients', { project_id: acme.project.id, name: 'LogTrace Dashboard', type: 'public', grant_types: ['authorization_code'], redirect_uris: [REDIRECT_URI], scopes: ['openid', 'email', 'profile', 'read:logs'], first_party: true });
    expect(made.status).toBe(201);
    clientId = String(made.body.client_id);
  });
  afterAll(async () => {
    await server?.cleanup();
  });

  async function authorizationUrl(): Promise<{ url: URL; verifier: string; state: string; config: client.Configuration }> {
    const config = await discover(server.url, clientId);
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid email profile', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state });
    return { url, verifier, state, config };
  }

  it('a person of the organisation (any role) gets a code without a consent screen', async () => {
    const viewer = await personApi(server, { email: 'viewer@acme.test', project: acme.project.id, role: 'viewer' });
    const flow = await authorizationUrl();
    const result = await walkSignIn(flow.url, { email: 'viewer@acme.test', password: viewer.password });
    expect(result.consent).toBe(false);
    if (result.consent) return;
    const tokens = await client.authorizationCodeGrant(flow.config, result.callback, { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
    expect(tokens.claims()?.email).toBe('viewer@acme.test');
  });

  it('a person of another organisation is asked, and nothing reaches the application when they deny', async () => {
    const stranger = await personApi(server, { email: 'someone@globex.test', project: globex.project.id, role: 'owner' });
    const flow = await authorizationUrl();
    const result = await walkSignIn(flow.url, { email: 'someone@globex.test', password: stranger.password });
    expect(result.consent).toBe(true);
    if (!result.consent) return;
    // The page names the organisation that registered the application next to the name it chose.
    expect(result.page).toContain('LogTrace Dashboard');
    expect(result.page).toMatch(/registered by Acme, not by LogTrace/);
    const denied = await fetch(result.confirm, { method: 'POST', redirect: 'manual', headers: { cookie: result.jar.header(), 'content-type': 'application/x-www-form-urlencoded' }, body: 'decision=deny' });
    expect(denied.status).toBe(303);
    // oidc-provider finishes the interaction: the answer at the redirect URI is an error, never a code.
    let location = new URL(denied.headers.get('location')!, result.confirm).href;
    for (let hop = 0; hop < 5 && !location.startsWith(REDIRECT_URI); hop++) {
      const next = await fetch(location, { redirect: 'manual', headers: { cookie: result.jar.header() } });
      result.jar.store(next);
      location = new URL(next.headers.get('location')!, location).href;
    }
    const callback = new URL(location);
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(callback.searchParams.has('code')).toBe(false);
  });

  it('the configuration file\'s first-party clients still skip consent for everyone (the operator\'s word)', async () => {
    const stranger = await personApi(server, { email: 'other@globex.test', project: globex.project.id, role: 'viewer' });
    // personApi signed in through the configured first-party `admin-console` client without a consent screen.
    expect(stranger.tokens.access_token).toBeTruthy();
  });
});
