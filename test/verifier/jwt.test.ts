import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { SignJWT, exportJWK, generateKeyPair, decodeProtectedHeader } from 'jose';
import type { Browser } from 'playwright-core';
import { startAuthServer, testConfig, TEST_PASSWORD, type AuthServer } from '../support/auth-server.ts';
import { clientCredentialsToken } from '../support/tokens.ts';
import { api, bootstrap, cli, type Bootstrapped } from '../support/admin.ts';
import { discover } from '../support/http-login.ts';
import { launchBrowser } from '../support/browser.ts';
import { eventually, startCallbackServer } from '../support/wait.ts';
import { createVerifier, VerifierError, type Verifier } from '../../src/verifier/index.ts';

const AUDIENCE = 'https://api.logtrace.test';

async function refusal(promise: Promise<unknown>): Promise<VerifierError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof VerifierError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe('verifier library: access tokens (JWTs)', () => {
  let server: AuthServer;
  let callback: Awaited<ReturnType<typeof startCallbackServer>>;
  let boot: Bootstrapped;
  let payments: Record<string, string>;
  let search: Record<string, string>;
  let verifier: Verifier;
  const jwksRequests: string[] = [];
  /** Counts the verifier's requests to the JWKS (the server does not): the refetch-storm assertions. */
  const countingFetch: typeof fetch = async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (url.endsWith('/jwks')) jwksRequests.push(url);
    return fetch(input, init);
  };

  beforeAll(async () => {
    callback = await startCallbackServer();
    server = await startAuthServer({
      config: (port, dataDir) => {
        const base = testConfig(port, { store: { driver: 'embedded', path: dataDir } });
        const clients = (base.clients as Array<Record<string, unknown>>).map((c) => (c.client_id === 'dashboard' ? { ...c, redirect_uris: [callback.uri] } : c));
        return { ...base, clients };
      },
    });
    boot = bootstrap(server);
    const root = api(server.url, boot.key.key);
    payments = (await root('POST', '/v1/projects', { name: 'Payments', parent_id: boot.project.id })).body as Record<string, string>;
    search = (await root('POST', '/v1/projects', { name: 'Search', parent_id: boot.project.id })).body as Record<string, string>;
    verifier = createVerifier({ issuer: server.url, audience: AUDIENCE, apiKeys: { credential: boot.key.key }, fetch: countingFetch, unknownKidCooldownMs: 60_000 });
    await verifier.ready(30_000);
  });
  afterAll(async () => {
    await verifier?.close();
    await server?.stop();
    await server?.cleanup();
    await callback?.close();
  });

  it('verifies a client-credentials token into a principal', async () => {
    const token = await clientCredentialsToken(server, 'read:logs write:alerts');
    const principal = await verifier.verify({ authorization: `Bearer ${token}` });
    expect(principal).toMatchObject({ kind: 'jwt', subject: 'ingest-svc', client_id: 'ingest-svc', scopes: ['read:logs', 'write:alerts'] });
    // A client holds no role on any project: as on the server, it may act on none.
    expect(await verifier.can(principal, 'read:logs', payments.id!)).toBe(false);
  });

  it('verifies a token from a browser sign-in, and can() counts a role on an ancestor project', async () => {
    // Carol is a viewer of the organisation: Payments' parent.
    const added = cli(server, ['users', 'add', '--email', 'carol@example.com', '--project', boot.project.id, '--role', 'viewer', '--password-stdin', '--json'], `${TEST_PASSWORD}\n`);
    expect(added.status).toBe(0);
    const config = await discover(server.url, 'dashboard');
    const browser: Browser = await launchBrowser();
    try {
      const page = await (await browser.newContext({ locale: 'en-US' })).newPage();
      const pkce = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const url = client.buildAuthorizationUrl(config, { redirect_uri: callback.uri, scope: 'openid email read:logs', code_challenge: await client.calculatePKCECodeChallenge(pkce), code_challenge_method: 'S256', state });
      await page.goto(url.href);
      await page.getByLabel('Email').fill('carol@example.com');
      await page.getByLabel('Password').fill(TEST_PASSWORD);
      await page.keyboard.press('Enter');
      await page.waitForURL((u) => u.href.startsWith(callback.uri));
      const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: pkce, expectedState: state });

      const principal = await verifier.verify({ authorization: `Bearer ${tokens.access_token}` });
      expect(principal).toMatchObject({ kind: 'jwt', client_id: 'dashboard', scopes: ['read:logs'], project_roles: { [boot.project.id]: 'viewer' } });
      expect(await verifier.can(principal, 'read:logs', payments.id!)).toBe(true);
      expect(await verifier.can(principal, 'read:logs', search.id!)).toBe(true);
      expect(await verifier.can(principal, 'write:alerts', payments.id!)).toBe(false);
      expect(await verifier.can(principal, 'read:logs', 'prj_of_someone_else')).toBe(false);
      // A project created after the verifier loaded the tree is found by a revalidation (at most one per
      // second: the unknown project just asked about may have used this second's).
      const late = (await api(server.url, boot.key.key)('POST', '/v1/projects', { name: 'Late', parent_id: payments.id })).body as Record<string, string>;
      await eventually(() => verifier.can(principal, 'read:logs', late.id!), 10);
      // verify() with a scope and project asks the same question.
      const refused = await refusal(verifier.verify({ authorization: `Bearer ${tokens.access_token}`, scope: 'write:alerts', project_id: payments.id! }));
      expect(refused.status).toBe(403);
      expect(refused.wwwAuthenticate).toContain('error="insufficient_scope"');
    } finally {
      await browser.close();
    }
  });

  it('refuses a token for another audience, a tampered one, alg none, and malformed headers', async () => {
    const token = await clientCredentialsToken(server);
    const otherApi = createVerifier({ issuer: server.url, audience: 'https://other-api.example', fetch: countingFetch });
    const wrongAud = await refusal(otherApi.verify({ authorization: `Bearer ${token}` }));
    expect(wrongAud).toMatchObject({ status: 401, code: 'invalid_token' });
    expect(wrongAud.wwwAuthenticate).toMatch(/^Bearer realm="logtrace", error="invalid_token", error_description="[^"]*aud/);
    await otherApi.close();

    const [header, payload, signature] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const tampered = `${header}.${b64({ ...claims, scope: 'read:logs write:alerts admin:projects' })}.${signature}`;
    expect(await refusal(verifier.verify({ authorization: `Bearer ${tampered}` }))).toMatchObject({ status: 401, code: 'invalid_token' });

    const kid = decodeProtectedHeader(token).kid;
    const none = `${b64({ alg: 'none', typ: 'at+jwt', kid })}.${payload}.`;
    expect(await refusal(verifier.verify({ authorization: `Bearer ${none}` }))).toMatchObject({ status: 401, code: 'invalid_token' });
    const hs256 = `${b64({ alg: 'HS256', typ: 'at+jwt', kid })}.${payload}.${signature}`;
    expect(await refusal(verifier.verify({ authorization: `Bearer ${hs256}` }))).toMatchObject({ status: 401, code: 'invalid_token' });

    expect(await refusal(verifier.verify({}))).toMatchObject({ status: 401, code: 'missing_credential', wwwAuthenticate: 'Bearer realm="logtrace"' });
    expect(await refusal(verifier.verify({ authorization: `Basic ${token}` }))).toMatchObject({ status: 401, code: 'invalid_request' });
    expect(await refusal(verifier.verify({ authorization: `Bearer ${token}`, apiKey: boot.key.key }))).toMatchObject({ status: 401, code: 'invalid_request' });
    expect(await refusal(verifier.verify({ authorization: 'Bearer not.a.jwt' }))).toMatchObject({ status: 401, code: 'invalid_token' });
  });

  it('refuses a flood of tokens with unknown kids with at most one JWKS refetch', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const before = jwksRequests.length;
    const forged = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        new SignJWT({ scope: 'read:logs admin:projects', client_id: 'ingest-svc' })
          .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: `attacker-${i}` })
          .setIssuer(server.url)
          .setAudience(AUDIENCE)
          .setSubject('ingest-svc')
          .setIssuedAt()
          .setExpirationTime('1h')
          .sign(privateKey),
      ),
    );
    const results = await Promise.allSettled(forged.map((t) => verifier.verify({ authorization: `Bearer ${t}` })));
    expect(results.every((r) => r.status === 'rejected' && (r.reason as VerifierError).status === 401)).toBe(true);
    expect(jwksRequests.length - before).toBeLessThanOrEqual(1);

    // An attacker's key under a real kid: a signature failure, never a fetch.
    const token = await clientCredentialsToken(server);
    const realKid = decodeProtectedHeader(token).kid!;
    const underRealKid = await new SignJWT({ scope: 'read:logs' }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: realKid }).setIssuer(server.url).setAudience(AUDIENCE).setSubject('ingest-svc').setExpirationTime('1h').sign(privateKey);
    const afterFlood = jwksRequests.length;
    expect(await refusal(verifier.verify({ authorization: `Bearer ${underRealKid}` }))).toMatchObject({ status: 401, code: 'invalid_token' });
    expect(jwksRequests.length).toBe(afterFlood);
    // And the real token still verifies.
    expect((await verifier.verify({ authorization: `Bearer ${token}` })).subject).toBe('ingest-svc');
    void exportJWK(publicKey);
  });

  it('serves the JWKS and discovery with Cache-Control, and the JWKS with an ETag (304 when unchanged)', async () => {
    const first = await fetch(`${server.url}/jwks`);
    expect(first.headers.get('cache-control')).toBe('public, max-age=300');
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^".+"$/);
    const body = (await first.json()) as { keys: Array<Record<string, unknown>> };
    expect(body.keys.length).toBeGreaterThan(0);
    expect(body.keys.every((k) => !('d' in k))).toBe(true);
    const again = await fetch(`${server.url}/jwks`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    const discovery = await fetch(`${server.url}/.well-known/openid-configuration`);
    expect(discovery.headers.get('cache-control')).toBe('public, max-age=300');
  });
});

describe('verifier library: expired tokens', () => {
  let server: AuthServer;
  beforeAll(async () => {
    server = await startAuthServer({ config: (port, dataDir) => testConfig(port, { store: { driver: 'embedded', path: dataDir }, tokens: { access_token_ttl: 1 } }) });
  });
  afterAll(async () => {
    await server?.stop();
    await server?.cleanup();
  });

  it('refuses a token past exp (beyond the clock tolerance) as token_expired', async () => {
    const verifier = createVerifier({ issuer: server.url, audience: AUDIENCE, clockToleranceSeconds: 0 });
    const token = await clientCredentialsToken(server);
    const exp = (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp;
    while (Date.now() / 1000 < exp + 1) await new Promise((r) => setTimeout(r, 200));
    const err = await refusal(verifier.verify({ authorization: `Bearer ${token}` }));
    expect(err).toMatchObject({ status: 401, code: 'token_expired' });
    expect(err.wwwAuthenticate).toContain('error="invalid_token"');
    await verifier.close();
  });
});
