import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oidcConfig, oidcConnector } from '../../src/connectors/oidc.ts';
import { canRefresh, ConnectorError, type Identity, type RedirectConnector, type RefreshConnector } from '../../src/connectors/types.ts';
import { asRedirect, callbackUri, common, connectorDeps, withTamperedVerifier } from '../support/fake-idps/deps.ts';
import { followRedirects } from '../support/fake-idps/follow-redirects.ts';
import { startFakeOidc, type FakeOidc, type FakeOidcSignIn } from '../support/fake-idps/oidc.ts';

const REDIRECT_URI = callbackUri('corp');
const MFA_ACR = 'urn:logtrace:acr:mfa';

const alice: FakeOidcSignIn = {
  accountId: 'alice-0001',
  claims: { email: 'alice@corp.example', email_verified: true, name: 'Alice Liddell', groups: ['engineering', 'oncall'] },
  amr: ['pwd'],
  acr: 'urn:logtrace:acr:pwd',
};

let upstream: FakeOidc; // default oidc-provider: scope claims only from userinfo
let claimsInIdToken: FakeOidc; // conformIdTokenClaims: false, client_secret_post

beforeAll(async () => {
  [upstream, claimsInIdToken] = await Promise.all([
    startFakeOidc({ redirectUris: [REDIRECT_URI], acrValues: ['urn:logtrace:acr:pwd', MFA_ACR] }),
    startFakeOidc({ redirectUris: [REDIRECT_URI], conformIdTokenClaims: false, tokenEndpointAuthMethod: 'client_secret_post' }),
  ]);
});
afterAll(async () => {
  await Promise.all([upstream?.close(), claimsInIdToken?.close()]);
});

type Options = Partial<Record<string, unknown>> & { require_mfa?: boolean; trust_email?: boolean };

async function connector(options: Options = {}, fake: FakeOidc = upstream): Promise<RedirectConnector & RefreshConnector> {
  const { require_mfa, trust_email, ...own } = options;
  const config = oidcConfig.parse({
    issuer: fake.url,
    client_id: fake.clientId,
    client_secret: fake.clientSecret,
    scopes: ['openid', 'email', 'profile', 'groups'],
    ...own,
  });
  const created = asRedirect(await oidcConnector.create({ ...config, ...common('corp', 'oidc', { require_mfa, trust_email }) }, connectorDeps()));
  if (!canRefresh(created)) throw new Error('the oidc connector must refresh');
  return created;
}

const newState = (): string => randomBytes(16).toString('base64url');

/** begin → the upstream signs in as `signIn` → callback URL; returns what complete() needs. */
async function signIn(c: RedirectConnector, fake: FakeOidc, who: FakeOidcSignIn, loginHint?: string): Promise<{ query: URLSearchParams; transaction: Record<string, string> }> {
  fake.nextSignIn(who);
  const { url, transaction } = await c.begin({ redirectUri: REDIRECT_URI, state: newState(), loginHint });
  const callback = await followRedirects(url, REDIRECT_URI);
  return { query: callback.searchParams, transaction };
}

async function fullSignIn(c: RedirectConnector, fake: FakeOidc, who: FakeOidcSignIn): Promise<Identity> {
  const { query, transaction } = await signIn(c, fake, who);
  return c.complete({ redirectUri: REDIRECT_URI, query, transaction });
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ConnectorError) return error.code;
    throw error;
  }
  throw new Error('expected a ConnectorError');
}

describe('generic OIDC connector against oidc-provider', () => {
  it('signs in: id_token verified, email and groups from userinfo, amr/acr from the id_token', async () => {
    const c = await connector();
    const userinfoBefore = upstream.hits('/me');
    const identity = await fullSignIn(c, upstream, alice);
    expect(identity).toEqual({
      connector_id: 'corp',
      subject: 'alice-0001',
      issuer: upstream.url,
      email: 'alice@corp.example',
      email_verified: true,
      name: 'Alice Liddell',
      groups: ['engineering', 'oncall'],
      amr: ['pwd'],
      acr: 'urn:logtrace:acr:pwd',
    });
    expect(upstream.hits('/me')).toBe(userinfoBefore + 1);
    expect(c.kind).toBe('redirect');
    expect(JSON.stringify(c)).not.toContain(upstream.clientSecret);
  });

  it('takes the claims from the id_token when it has them (no userinfo call), with client_secret_post', async () => {
    const c = await connector({ token_endpoint_auth_method: 'client_secret_post' }, claimsInIdToken);
    const identity = await fullSignIn(c, claimsInIdToken, { ...alice, claims: { ...alice.claims, groups: 'admins' } });
    expect(identity).toMatchObject({ subject: 'alice-0001', email: 'alice@corp.example', email_verified: true, groups: ['admins'] });
    expect(claimsInIdToken.hits('/me')).toBe(0);
  });

  it('builds the authorization request: PKCE S256, nonce, state, login_hint, prompt; MFA via essential acr', async () => {
    const c = await connector({ require_mfa: true, acr_values: [MFA_ACR], prompt: 'login' });
    const { url, transaction } = await c.begin({ redirectUri: REDIRECT_URI, state: 'st-1', loginHint: 'alice@corp.example' });
    const params = new URL(url).searchParams;
    expect(url.startsWith(`${upstream.url}/auth?`)).toBe(true);
    expect(Object.fromEntries(params)).toMatchObject({
      response_type: 'code',
      client_id: upstream.clientId,
      redirect_uri: REDIRECT_URI,
      scope: 'openid email profile groups',
      state: 'st-1',
      nonce: transaction.nonce,
      code_challenge_method: 'S256',
      login_hint: 'alice@corp.example',
      prompt: 'login',
      acr_values: MFA_ACR,
    });
    expect(JSON.parse(params.get('claims') ?? '')).toEqual({ id_token: { acr: { essential: true, values: [MFA_ACR] } } });
    expect(transaction).toEqual({ state: 'st-1', nonce: expect.any(String), code_verifier: expect.stringMatching(/^[A-Za-z0-9_-]{43,128}$/) });
    expect(params.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const plain = await (await connector()).begin({ redirectUri: REDIRECT_URI, state: 'st-2' });
    expect([...new URL(plain.url).searchParams.keys()]).not.toContain('claims');
    expect([...new URL(plain.url).searchParams.keys()]).not.toContain('acr_values');
  });

  it('refuses a callback whose state is not the transaction’s', async () => {
    const c = await connector();
    const { query, transaction } = await signIn(c, upstream, alice);
    expect(await refusal(c.complete({ redirectUri: REDIRECT_URI, query, transaction: { ...transaction, state: 'another-state' } }))).toBe('invalid_state');
    const withoutState = new URLSearchParams(query);
    withoutState.delete('state');
    expect(await refusal(c.complete({ redirectUri: REDIRECT_URI, query: withoutState, transaction }))).toBe('invalid_state');
  });

  it('turns error=access_denied into access_denied and other upstream errors into upstream_error', async () => {
    const c = await connector();
    upstream.denyNext();
    const { query, transaction } = await signIn(c, upstream, alice);
    expect(query.get('error')).toBe('access_denied');
    expect(await refusal(c.complete({ redirectUri: REDIRECT_URI, query, transaction }))).toBe('access_denied');

    const other = new URLSearchParams({ state: transaction.state ?? '', error: 'server_error' });
    expect(await refusal(c.complete({ redirectUri: REDIRECT_URI, query: other, transaction }))).toBe('upstream_error');
  });

  it('refuses an id_token for another audience, or with several audiences and no azp; accepts azp = us', async () => {
    const c = await connector();
    upstream.tamperNextIdToken((claims) => ({ ...claims, aud: 'someone-else' }));
    expect(await refusal(fullSignIn(c, upstream, alice))).toBe('invalid_token');

    upstream.tamperNextIdToken((claims) => ({ ...claims, aud: [upstream.clientId, 'someone-else'] }));
    expect(await refusal(fullSignIn(c, upstream, alice))).toBe('invalid_token');

    upstream.tamperNextIdToken((claims) => ({ ...claims, aud: [upstream.clientId, 'someone-else'], azp: 'someone-else' }));
    expect(await refusal(fullSignIn(c, upstream, alice))).toBe('invalid_token');

    upstream.tamperNextIdToken((claims) => ({ ...claims, aud: [upstream.clientId, 'someone-else'], azp: upstream.clientId }));
    expect((await fullSignIn(c, upstream, alice)).subject).toBe('alice-0001');
  });

  it('refuses an id_token whose nonce is not the transaction’s', async () => {
    const c = await connector();
    const { query, transaction } = await signIn(c, upstream, alice);
    expect(await refusal(c.complete({ redirectUri: REDIRECT_URI, query, transaction: { ...transaction, nonce: 'not-the-nonce' } }))).toBe('invalid_token');
  });

  it('refuses an id_token from another issuer, and an upstream whose discovery names another issuer', async () => {
    const c = await connector();
    upstream.tamperNextIdToken((claims) => ({ ...claims, iss: 'https://evil.example' }));
    expect(await refusal(fullSignIn(c, upstream, alice))).toBe('invalid_token');

    const misconfigured = await connector({ issuer: `${upstream.url}/` });
    expect(await refusal(misconfigured.begin({ redirectUri: REDIRECT_URI, state: newState() }))).toBe('upstream_error');
  });

  it('refuses an authorization response naming another issuer (RFC 9207 mix-up defence)', async () => {
    const c = await connector();
    const { query, transaction } = await signIn(c, upstream, alice);
    expect(query.get('iss')).toBe(upstream.url);
    const mixedUp = new URLSearchParams(query);
    mixedUp.set('iss', 'https://other-idp.example');
    expect(await refusal(c.complete({ redirectUri: REDIRECT_URI, query: mixedUp, transaction }))).toBe('invalid_state');
  });

  it('fetches discovery once per connector, lazily', async () => {
    const before = upstream.hits('/.well-known/openid-configuration');
    const c = await connector();
    expect(upstream.hits('/.well-known/openid-configuration')).toBe(before);
    await fullSignIn(c, upstream, alice);
    await fullSignIn(c, upstream, alice);
    expect(upstream.hits('/.well-known/openid-configuration')).toBe(before + 1);
  });

  it('refuses an expired id_token', async () => {
    const c = await connector();
    const now = Math.floor(Date.now() / 1000);
    upstream.tamperNextIdToken((claims) => ({ ...claims, iat: now - 7200, exp: now - 3600 }));
    expect(await refusal(fullSignIn(c, upstream, alice))).toBe('invalid_token');
  });

  it('refuses a code exchange with a tampered PKCE verifier (the upstream checks it)', async () => {
    const c = await connector();
    const { query, transaction } = await signIn(c, upstream, alice);
    const tampered = withTamperedVerifier(transaction);
    expect(await refusal(c.complete({ redirectUri: REDIRECT_URI, query, transaction: tampered }))).toBe('upstream_error');
  });

  describe('with require_mfa', () => {
    it('refuses a sign-in without an MFA amr or acr', async () => {
      const c = await connector({ require_mfa: true });
      expect(await refusal(fullSignIn(c, upstream, alice))).toBe('mfa_required');
    });

    it('accepts amr containing mfa', async () => {
      const c = await connector({ require_mfa: true });
      const identity = await fullSignIn(c, upstream, { ...alice, amr: ['pwd', 'mfa'] });
      expect(identity.amr).toEqual(['pwd', 'mfa']);
    });

    it('accepts an acr from acr_values (requested as an essential claim)', async () => {
      const c = await connector({ require_mfa: true, acr_values: [MFA_ACR] });
      const identity = await fullSignIn(c, upstream, { ...alice, amr: ['pwd'], acr: MFA_ACR });
      expect(identity).toMatchObject({ acr: MFA_ACR, amr: ['pwd'] });
    });
  });

  it('reflects an unverified email; trust_email never overrides email_verified: false, and counts only an email the upstream says nothing about', async () => {
    const unverified: FakeOidcSignIn = { ...alice, accountId: 'bob-0002', claims: { email: 'bob@corp.example', email_verified: false, name: 'Bob' } };
    const identity = await fullSignIn(await connector(), upstream, unverified);
    expect(identity).toMatchObject({ subject: 'bob-0002', email: 'bob@corp.example', email_verified: false, groups: [] });

    // Earlier, trust_email: true turned this into true: anyone who registered bob's address upstream was "verified".
    expect((await fullSignIn(await connector({ trust_email: true }), upstream, unverified)).email_verified).toBe(false);
    expect((await fullSignIn(await connector({ trust_email: false }), upstream, alice)).email_verified).toBe(false);
    const silent: FakeOidcSignIn = { ...alice, accountId: 'cleo-0003', claims: { email: 'cleo@corp.example', name: 'Cleo' } };
    expect((await fullSignIn(await connector(), upstream, silent)).email_verified).toBe(false);
    expect((await fullSignIn(await connector({ trust_email: true }), upstream, silent)).email_verified).toBe(true);
    const malformed: FakeOidcSignIn = { ...alice, accountId: 'dan-0004', claims: { email: 'dan at corp', email_verified: true, name: 'Dan' } };
    expect((await fullSignIn(await connector({ trust_email: true }), upstream, malformed)).email_verified).toBe(false);
  });

  describe('refresh', () => {
    const offline = { scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'], prompt: 'consent' };

    it('refreshes with the upstream refresh token and returns a fresh identity', async () => {
      const c = await connector(offline);
      const identity = await fullSignIn(c, upstream, alice);
      const refreshToken = identity.upstream?.refresh_token;
      expect(refreshToken).toEqual(expect.any(String));
      expect(identity.upstream?.access_token_expires_at).toBeGreaterThan(Date.now() / 1000);

      const refreshed = await c.refresh({ identity, refreshToken: refreshToken ?? '' });
      expect(refreshed).toEqual({ ...identity, upstream: { refresh_token: expect.any(String), access_token_expires_at: expect.any(Number) } });
    });

    it('turns a revoked upstream refresh token into access_denied', async () => {
      const c = await connector(offline);
      const identity = await fullSignIn(c, upstream, alice);
      const refreshToken = identity.upstream?.refresh_token ?? '';
      await upstream.revoke(refreshToken);
      expect(await refusal(c.refresh({ identity, refreshToken }))).toBe('access_denied');
    });

    it('refuses a refreshed id_token about another subject', async () => {
      const c = await connector(offline);
      const identity = await fullSignIn(c, upstream, alice);
      upstream.tamperNextIdToken((claims) => ({ ...claims, sub: 'mallory' }));
      expect(await refusal(c.refresh({ identity, refreshToken: identity.upstream?.refresh_token ?? '' }))).toBe('invalid_token');
    });
  });
});
