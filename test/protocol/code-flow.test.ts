import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startAuthServer, REDIRECT_URI, type AuthServer } from '../support/auth-server.ts';
import { codeFlowTokens, discover, signInOverHttp, CookieJar } from '../support/http-login.ts';
import { bootstrap, cli } from '../support/admin.ts';

const AUDIENCE = 'https://api.logtrace.test';

describe('authorization code + PKCE, refresh tokens, introspection, revocation', () => {
  let server: AuthServer;
  let config: client.Configuration;
  let jwks: ReturnType<typeof createRemoteJWKSet>;

  beforeAll(async () => {
    server = await startAuthServer();
    bootstrap(server);
    // Roles decide what a person's token may hold: both test users read logs in the organisation.
    for (const email of ['alice@example.com', 'bob@example.com']) cli(server, ['users', 'add', '--email', email, '--project', 'Acme', '--role', 'viewer']);
    config = await discover(server.url, 'dashboard');
    jwks = createRemoteJWKSet(new URL(`${server.url}/jwks`));
  });
  afterAll(async () => {
    await server?.stop();
    await server?.cleanup();
  });

  it('signs a person in and returns an ID token with email and name, a JWT access token and a refresh token', async () => {
    const tokens = await codeFlowTokens(config, { email: 'alice@example.com' });
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({ iss: server.url, aud: 'dashboard', email: 'alice@example.com', email_verified: true, name: 'Alice Example' });
    expect(claims.amr).toEqual(['pwd']);
    expect(claims.acr).toBe('urn:logtrace:acr:password');
    expect(tokens.refresh_token).toBeTruthy();
    expect(tokens.expires_in).toBe(3600);
    const { payload } = await jwtVerify(tokens.access_token, jwks, { issuer: server.url, audience: AUDIENCE, typ: 'at+jwt' });
    expect(payload).toMatchObject({ sub: claims.sub, client_id: 'dashboard', scope: 'read:logs' });
  });

  it('keeps the same subject for the same person across sign-ins', async () => {
    const a = await codeFlowTokens(config, { email: 'alice@example.com' });
    const b = await codeFlowTokens(config, { email: 'ALICE@example.com' });
    expect(a.claims()!.sub).toBe(b.claims()!.sub);
  });

  it('gives an opaque /me token when only OpenID scopes are asked for', async () => {
    const tokens = await codeFlowTokens(config, { email: 'bob@example.com', scope: 'openid email profile' });
    expect(tokens.access_token.split('.').length).not.toBe(3);
    const info = await client.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
    expect(info).toMatchObject({ email: 'bob@example.com', name: 'Bob' });
  });

  it('rotates the refresh token on every use; replaying a rotated one is invalid_grant and ends the grant', async () => {
    const first = await codeFlowTokens(config, { email: 'alice@example.com' });
    const second = await client.refreshTokenGrant(config, first.refresh_token!);
    expect(second.refresh_token).toBeTruthy();
    expect(second.refresh_token).not.toBe(first.refresh_token);
    await jwtVerify(second.access_token, jwks, { issuer: server.url, audience: AUDIENCE });

    await expect(client.refreshTokenGrant(config, first.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    // The replay revoked the whole grant: the newest refresh token is dead too (RFC 9700 §4.14.2).
    await expect(client.refreshTokenGrant(config, second.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('lets a public client introspect its own refresh token, and revoke it', async () => {
    const tokens = await codeFlowTokens(config, { email: 'bob@example.com' });
    const active = await client.tokenIntrospection(config, tokens.refresh_token!);
    expect(active).toMatchObject({ active: true, client_id: 'dashboard', sub: tokens.claims()!.sub });
    expect(active.scope?.split(' ')).toEqual(expect.arrayContaining(['openid', 'offline_access', 'read:logs']));
    await client.tokenRevocation(config, tokens.refresh_token!);
    expect(await client.tokenIntrospection(config, tokens.refresh_token!)).toMatchObject({ active: false });
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('refuses an authorization request without PKCE, or with plain, with invalid_request', async () => {
    for (const extra of [{}, { code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' }] as Array<Record<string, string>>) {
      const url = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid', state: 'xyz', ...extra });
      const response = await fetch(url, { redirect: 'manual' });
      expect(response.status).toBe(303);
      const location = new URL(response.headers.get('location')!);
      expect(location.origin + location.pathname).toBe(REDIRECT_URI);
      expect(location.searchParams.get('error')).toBe('invalid_request');
      expect(location.searchParams.get('state')).toBe('xyz');
    }
  });

  it('refuses a redirect URI that is not registered exactly, without redirecting', async () => {
    const url = client.buildAuthorizationUrl(config, { redirect_uri: `${REDIRECT_URI}/extra`, scope: 'openid', code_challenge: 'a'.repeat(43), code_challenge_method: 'S256' });
    const response = await fetch(url, { redirect: 'manual', headers: { accept: 'text/html' } });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('redirect_uri');
  });

  it('refuses a scope the client was not given with invalid_scope at the token endpoint', async () => {
    const tokens = await codeFlowTokens(config, { email: 'alice@example.com' });
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!, { scope: 'admin:projects' })).rejects.toMatchObject({ error: 'invalid_scope' });
  });

  it('shows the sign-in page again with an error on a wrong password, and limits failures per account and IP', async () => {
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const jar = new CookieJar();
    const auth = await fetch(url, { redirect: 'manual' });
    jar.store(auth);
    const interaction = new URL(auth.headers.get('location')!, server.url);
    const page = await fetch(interaction, { headers: { cookie: jar.header() } });
    jar.store(page);
    const html = await page.text();
    expect(html).toMatch(/<input[^>]+name="email"/);
    expect(html).toMatch(/<input[^>]+name="password"/);
    expect(html).not.toMatch(/name="password"[^>]*required/);

    const attempt = (password: string) =>
      fetch(`${interaction.href}/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ email: 'bob@example.com', password }),
      });
    for (let i = 0; i < 5; i++) {
      const wrong = await attempt(`wrong-${i}`);
      expect(wrong.status).toBe(401);
      expect(await wrong.text()).toContain('Incorrect email or password.');
    }
    const locked = await attempt('correct horse battery staple');
    expect(locked.status).toBe(429);
    expect(locked.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await locked.text()).toContain('Too many failed attempts');
    // Another account from the same address is not locked out.
    await expect(signInOverHttp(url, { email: 'alice@example.com' })).resolves.toBeInstanceOf(URL);
  });

  it('serves the sign-in page in Russian to a Russian browser', async () => {
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const jar = new CookieJar();
    const auth = await fetch(url, { redirect: 'manual' });
    jar.store(auth);
    const page = await fetch(new URL(auth.headers.get('location')!, server.url), { headers: { cookie: jar.header(), 'accept-language': 'ru-RU,ru;q=0.9,en;q=0.5' } });
    const html = await page.text();
    expect(html).toContain('<html lang="ru">');
    expect(html).toContain('Вход в LogTrace');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
  });
});
