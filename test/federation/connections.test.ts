import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import * as client from 'openid-client';
import type { Browser } from 'playwright-core';
import { startAuthServer, testConfig, type AuthServer } from '../support/auth-server.ts';
import { startRedisServer, type RedisServer } from '../support/redis-server.ts';
import { api, bootstrap, personApi, type Bootstrapped } from '../support/admin.ts';
import { discover } from '../support/http-login.ts';
import { freePort } from '../support/ports.ts';
import { launchBrowser } from '../support/browser.ts';
import { startFakeOidc, type FakeOidc } from '../support/fake-idps/oidc.ts';
import { eventually, startCallbackServer } from '../support/wait.ts';

type Json = Record<string, unknown>;


/** The connector buttons a fresh sign-in page shows on a node. */
async function connectorsOnSignInPage(server: AuthServer): Promise<string[]> {
  const config = await discover(server.url, 'dashboard');
  const url = client.buildAuthorizationUrl(config, { redirect_uri: 'http://127.0.0.1:8080/callback', scope: 'openid', code_challenge: 'a'.repeat(43), code_challenge_method: 'S256' });
  const first = await fetch(url, { redirect: 'manual' });
  const cookie = first.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const page = await fetch(new URL(first.headers.get('location')!, server.url), { headers: { cookie } });
  return [...(await page.text()).matchAll(/data-connector="([^"]+)"/g)].map((m) => m[1]!);
}

describe('connections API (the SSO wizard backend) across two nodes', () => {
  let redis: RedisServer;
  let a: AuthServer;
  let b: AuthServer;
  let upstream: FakeOidc;
  let boot: Bootstrapped;
  let admin: ReturnType<typeof api>;
  let rp: Awaited<ReturnType<typeof startCallbackServer>>;
  let rpUri: string;
  let browser: Browser;
  const secret = `upstream-secret-${randomBytes(8).toString('hex')}`;

  beforeAll(async () => {
    redis = await startRedisServer();
    rp = await startCallbackServer();
    rpUri = rp.uri;
    const [portA, portB] = [await freePort(), await freePort()];
    upstream = await startFakeOidc({ redirectUris: [`http://127.0.0.1:${portA}/federation/kc/callback`, `http://127.0.0.1:${portB}/federation/kc/callback`], clientSecret: secret });
    const env = { LOGTRACE_SECRET_KEY: randomBytes(32).toString('base64') };
    const config = (port: number) => {
      const base = testConfig(port, { store: { driver: 'redis', url: redis.url, prefix: 'conn:' }, connections_reload_ms: 200 });
      return {
        ...base,
        clients: [...(base.clients as Json[]), { client_id: 'console', token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], redirect_uris: [rpUri], scope: 'openid email' }],
        connectors: [{ id: 'static', type: 'yandex', client_id: 'y', client_secret: 'y-secret' }],
        provisioning: { rules: [{ email_domain: 'kc.example', connectors: ['kc'] }] },
      };
    };
    a = await startAuthServer({ port: portA, config, env });
    b = await startAuthServer({ port: portB, config, env });
    boot = bootstrap(a);
    // Connections are an owner's business: an API key (never an owner) may only read and test them.
    admin = (await personApi(a, { email: 'owner@acme.test', project: boot.project.id, role: 'owner' })).call;
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await Promise.all([a?.stop(), b?.stop()]);
    await Promise.all([a?.cleanup(), b?.cleanup()]);
    await upstream?.close();
    await redis?.stop();
    await rp?.close();
  });

  it('creates a connection on one node; it appears on the other node without a restart, secret write-only and encrypted', async () => {
    const created = await admin('POST', '/v1/connections', { id: 'kc', type: 'oidc', name: 'Keycloak', issuer: upstream.url, client_id: upstream.clientId, client_secret: secret, email_domains: ['kc.example'] });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: 'kc', type: 'oidc', origin: 'api', secrets_set: ['client_secret'] });
    expect(JSON.stringify(created.body)).not.toContain(secret);
    await eventually(async () => (await connectorsOnSignInPage(b)).includes('kc'), 10);

    const raw = new Redis(redis.url);
    const keys = await raw.keys('conn:connection*');
    const values = await Promise.all(keys.map((k) => raw.type(k).then((t) => (t === 'hash' ? raw.hgetall(k).then((h) => JSON.stringify(h)) : raw.get(k).catch(() => '')))));
    raw.disconnect();
    expect(values.join('')).toContain('kc');
    expect(values.join('')).not.toContain(secret);

    const listed = (await api(b.url, boot.key.key)<{ connections: Json[] }>('GET', '/v1/connections')).body.connections;
    expect(listed.map((c) => c.id)).toEqual(['static', 'kc']);
    expect(JSON.stringify(listed)).not.toContain('y-secret');
  });

  it('signs a person in through the new connection on the other node', async () => {
    upstream.nextSignIn({ accountId: 'kc-1', claims: { email: 'dora@kc.example', email_verified: true, name: 'Dora' }, amr: ['pwd'] });
    const config = await discover(b.url, 'console');
    const page = await (await browser.newContext()).newPage();
    const verifier = client.randomPKCECodeVerifier();
    await page.goto(client.buildAuthorizationUrl(config, { redirect_uri: rpUri, scope: 'openid email', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' }).href);
    await page.locator('[data-connector="kc"]').click();
    await page.waitForURL((u) => u.href.startsWith(rpUri));
    const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: verifier });
    expect(tokens.claims()).toMatchObject({ email: 'dora@kc.example' });
    await page.context().close();
  });

  it('tests a connection and says what is wrong in plain words', async () => {
    const good = await admin('POST', '/v1/connections/kc/test');
    expect(good.body).toMatchObject({ ok: true });
    // A PATCH without the secret keeps it, but not for a new issuer: the stored secret is only sent where it was set for.
    const renamed = await admin('PATCH', '/v1/connections/kc', { name: 'Keycloak (corp)' });
    expect(renamed).toMatchObject({ status: 200, body: { secrets_set: ['client_secret'] } });
    const moved = await admin('PATCH', '/v1/connections/kc', { issuer: `${upstream.url}/elsewhere` });
    expect(moved).toMatchObject({ status: 400, body: { code: 'invalid_request', field: 'client_secret' } });
    expect(String(moved.body.detail)).toContain('issuer changed');
    const patched = await admin('PATCH', '/v1/connections/kc', { issuer: `${upstream.url}/elsewhere`, client_secret: secret });
    expect(patched.status).toBe(200);
    const bad = await admin<{ ok: boolean; checks: Json[] }>('POST', '/v1/connections/kc/test');
    expect(bad.body.ok).toBe(false);
    expect(JSON.stringify(bad.body.checks)).toMatch(/HTTP 404|issuer mismatch|unreachable/);
    expect((await admin('PATCH', '/v1/connections/kc', { issuer: upstream.url, client_secret: secret })).status).toBe(200);
    const unreachable = await admin('POST', '/v1/connections', { id: 'gone', type: 'oidc', issuer: 'http://127.0.0.1:9', client_id: 'x', client_secret: 'y' });
    expect(unreachable.status).toBe(201);
    const result = await admin<{ ok: boolean; checks: Json[] }>('POST', '/v1/connections/gone/test');
    expect(result.body.ok).toBe(false);
    expect(JSON.stringify(result.body.checks)).toContain('unreachable');
    expect((await admin('DELETE', '/v1/connections/gone')).status).toBe(204);
  });

  it('validates like the configuration file and protects configuration connectors', async () => {
    const mfa = await admin('POST', '/v1/connections', { id: 'ya2', type: 'yandex', client_id: 'x', client_secret: 'y', require_mfa: true });
    expect(mfa.status).toBe(400);
    expect(mfa.body).toMatchObject({ code: 'invalid_request', field: 'require_mfa' });
    expect((await admin('POST', '/v1/connections', { id: 'Bad Id', type: 'oidc' })).body).toMatchObject({ status: 400, field: 'id' });
    expect((await admin('POST', '/v1/connections', { id: 'x', type: 'nope' })).body).toMatchObject({ status: 400, field: 'type' });
    expect((await admin('PATCH', '/v1/connections/static', { name: 'X' })).status).toBe(409);
    expect((await admin('DELETE', '/v1/connections/static')).status).toBe(409);
    expect((await admin('POST', '/v1/connections', { id: 'kc', type: 'oidc', issuer: upstream.url, client_id: 'a', client_secret: 'b' })).status).toBe(409);
  });

  it('needs admin:projects on the organisation', async () => {
    const child = (await admin('POST', '/v1/projects', { name: 'Team', parent_id: boot.project.id })).body;
    const teamAdmin = String((await admin('POST', '/v1/keys', { project_id: child.id, name: 'team', scopes: ['read:logs', 'admin:projects'], environment: 'live' })).body.key);
    expect((await api(a.url, teamAdmin)('GET', '/v1/connections')).status).toBe(403);
    expect((await api(a.url)('GET', '/v1/connections')).status).toBe(401);
  });

  it('deletes a connection everywhere', async () => {
    expect((await admin('DELETE', '/v1/connections/kc')).status).toBe(204);
    await eventually(async () => !(await connectorsOnSignInPage(b)).includes('kc'), 10);
    const audit = (await admin<{ events: Json[] }>('GET', '/v1/audit?action=connection&limit=1000')).body.events.map((e) => e.action);
    expect(audit).toEqual(expect.arrayContaining(['connection.created', 'connection.updated', 'connection.tested', 'connection.deleted']));
  });
});
