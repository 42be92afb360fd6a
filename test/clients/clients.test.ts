import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import type { Browser } from 'playwright-core';
import { REDIRECT_URI, startAuthServer, testConfig, type AuthServer } from '../support/auth-server.ts';
import { codeFlowTokens } from '../support/http-login.ts';
import { startRedisServer, type RedisServer } from '../support/redis-server.ts';
import { api, bootstrap, personApi, type Bootstrapped } from '../support/admin.ts';
import { launchBrowser } from '../support/browser.ts';
import { startCallbackServer } from '../support/wait.ts';
import { freePort } from '../support/ports.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { ClientRepository } from '../../src/clients/index.ts';
import { createVerifier } from '../../src/verifier/index.ts';

type Json = Record<string, unknown>;

/** Both nodes serve one issuer (node A's address); node B's endpoints are at its own address. */
let issuerMetadata: client.ServerMetadata;

/** openid-client as the relying party of a registered client, talking to one node. */
async function rp(server: AuthServer, clientId: string, secret?: string, auth: 'basic' | 'post' = 'basic'): Promise<client.Configuration> {
  const method = !secret ? client.None() : auth === 'basic' ? client.ClientSecretBasic(secret) : client.ClientSecretPost(secret);
  const atNode = JSON.parse(JSON.stringify(issuerMetadata).replaceAll(`"${issuerMetadata.issuer}/`, `"${server.url}/`)) as client.ServerMetadata;
  Object.assign(atNode, { issuer: issuerMetadata.issuer });
  const config = new client.Configuration(atNode, clientId, secret ? { client_secret: secret } : undefined, method);
  client.allowInsecureRequests(config);
  return config;
}

async function ccToken(server: AuthServer, clientId: string, secret: string, scope?: string, auth: 'basic' | 'post' = 'basic') {
  return client.clientCredentialsGrant(await rp(server, clientId, secret, auth), scope ? { scope } : {});
}

/** The OAuth error of a refused grant (`invalid_client`, `invalid_scope`, …). */
async function oauthError(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    // A 401 invalid_client arrives as a WWW-Authenticate challenge.
    const challenge = (err as { cause?: Array<{ parameters?: { error?: string } }> }).cause;
    return String((err as { error?: string }).error ?? (Array.isArray(challenge) ? challenge[0]?.parameters?.error : undefined) ?? (err as Error).message);
  }
  throw new Error('expected the grant to be refused');
}

describe('OAuth clients registered at run time, on two nodes sharing Redis', () => {
  let redis: RedisServer;
  let a: AuthServer;
  let b: AuthServer;
  let store: Store;
  let boot: Bootstrapped;
  let other: Bootstrapped;
  let callback: Awaited<ReturnType<typeof startCallbackServer>>;
  let browser: Browser;
  const prefix = 'clients-test:';

  beforeAll(async () => {
    redis = await startRedisServer();
    callback = await startCallbackServer();
    const portA = await freePort();
    const config = (port: number) => testConfig(port, { issuer: `http://127.0.0.1:${portA}`, store: { driver: 'redis', url: redis.url, prefix } });
    a = await startAuthServer({ config, port: portA });
    b = await startAuthServer({ config });
    issuerMetadata = (await client.discovery(new URL(a.url), 'x', undefined, client.None(), { execute: [client.allowInsecureRequests] })).serverMetadata();
    store = await openStore({ driver: 'redis', url: redis.url, prefix } as Parameters<typeof openStore>[0]);
    boot = bootstrap(a);
    other = bootstrap(a, 'Other Org');
    browser = await launchBrowser();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await store?.close();
    await Promise.all([a?.stop(), b?.stop()]);
    await Promise.all([a?.cleanup(), b?.cleanup()]);
    await redis?.stop();
    await callback?.close();
  });

  const admin = () => api(a.url, boot.key.key);
  const count = async () => ((await admin()<{ clients: Json[] }>('GET', `/v1/clients?project_id=${boot.project.id}`)).body.clients ?? []).length;

  it('registers a confidential client whose secret works at once on the other node (basic and post), scopes bounded', async () => {
    const created = await admin()('POST', '/v1/clients', { project_id: boot.project.id, name: 'Ingest', type: 'confidential', grant_types: ['client_credentials'], scopes: ['read:logs'] });
    expect(created.status).toBe(201);
    const body = created.body;
    expect(body.client_secret).toMatch(/^lts_[A-Za-z0-9_-]{43}$/);
    expect(body).toMatchObject({ project_id: boot.project.id, name: 'Ingest', type: 'confidential', grant_types: ['client_credentials'], scopes: ['read:logs'], first_party: false, origin: 'registered' });
    expect(body.created_by).toEqual({ type: 'api_key', id: boot.key.id });
    const id = String(body.client_id);

    // Never the secret again, and never stored in clear.
    const got = await admin()('GET', `/v1/clients/${id}`);
    expect(got.status).toBe(200);
    expect(got.body.client_secret).toBeUndefined();
    const record = await new ClientRepository(store).get(id);
    expect(JSON.stringify(record)).not.toContain(String(body.client_secret));

    for (const auth of ['basic', 'post'] as const) {
      const tokens = await ccToken(b, id, String(body.client_secret), undefined, auth);
      const claims = decodeJwt(tokens.access_token);
      expect(claims).toMatchObject({ client_id: id, sub: id, project_id: boot.project.id, scope: 'read:logs', aud: 'https://api.logtrace.test' });
    }
    expect(await oauthError(ccToken(b, id, String(body.client_secret), 'write:alerts'))).toBe('invalid_scope');
    expect(await oauthError(ccToken(b, id, 'lts_not-the-secret'))).toBe('invalid_client');

    // Its token on /v1: its scopes on its own project only, like an API key.
    const token = (await ccToken(a, id, String(body.client_secret))).access_token;
    expect((await api(b.url, token)('GET', `/v1/clients?project_id=${boot.project.id}`)).status).toBe(403);
    expect((await api(b.url, token)('GET', `/v1/clients?project_id=${other.project.id}`)).status).toBe(403);

    // The client's page knows it got a token.
    const seen = await admin()('GET', `/v1/clients/${id}`);
    expect(typeof seen.body.last_token_at).toBe('string');
  });

  it('a client with admin:projects reaches its own project and never another organisation', async () => {
    const created = (await admin()('POST', '/v1/clients', { project_id: boot.project.id, name: 'Automation', type: 'confidential', grant_types: ['client_credentials'], scopes: ['admin:projects', 'read:logs'] })).body;
    const token = (await ccToken(b, String(created.client_id), String(created.client_secret))).access_token;
    const mine = await api(a.url, token)('GET', `/v1/clients?project_id=${boot.project.id}`);
    expect(mine.status).toBe(200);
    const theirs = await api(a.url, token)('POST', '/v1/clients', { project_id: other.project.id, name: 'Sneaky', type: 'confidential', grant_types: ['client_credentials'], scopes: ['read:logs'] });
    expect(theirs.status).toBe(403);
    // A client's token is never an owner: it cannot make a first-party client.
    const firstParty = await api(a.url, token)('POST', '/v1/clients', { project_id: boot.project.id, name: 'FP', type: 'public', grant_types: ['authorization_code'], redirect_uris: ['https://app.example/cb'], scopes: ['openid'], first_party: true });
    expect(firstParty.status).toBe(403);
    expect((firstParty.body as Json).field).toBe('first_party');
    // Deleted: its token loses /v1 at once, on the other node too.
    expect((await admin()('DELETE', `/v1/clients/${String(created.client_id)}`)).status).toBe(200);
    expect((await api(b.url, token)('GET', `/v1/clients?project_id=${boot.project.id}`)).status).toBe(401);
  });

  it('the log API (logtrace-auth/verifier) reads a registered client\'s token as rights on its project, offline', async () => {
    const created = (await admin()('POST', '/v1/clients', { project_id: boot.project.id, name: 'Shipper', type: 'confidential', grant_types: ['client_credentials'], scopes: ['read:logs', 'write:alerts'] })).body;
    const token = (await ccToken(b, String(created.client_id), String(created.client_secret), 'write:alerts')).access_token;
    const verifier = createVerifier({ issuer: a.url, audience: 'https://api.logtrace.test', apiKeys: { credential: boot.key.key } });
    try {
      const principal = await verifier.verify({ authorization: `Bearer ${token}`, scope: 'write:alerts', project_id: boot.project.id });
      expect(principal).toMatchObject({ kind: 'jwt', client_id: created.client_id, project_id: boot.project.id, scopes: ['write:alerts'] });
      await expect(verifier.verify({ authorization: `Bearer ${token}`, scope: 'read:logs', project_id: boot.project.id })).rejects.toMatchObject({ status: 403 });
      await expect(verifier.verify({ authorization: `Bearer ${token}`, scope: 'write:alerts', project_id: other.project.id })).rejects.toMatchObject({ status: 403 });
    } finally {
      await verifier.close();
    }
  });

  it('refuses bad input with a specific problem and changes nothing', async () => {
    const before = await count();
    // A key that administers the project but lacks write:alerts.
    const limited = (await admin()('POST', '/v1/keys', { project_id: boot.project.id, name: 'limited', scopes: ['admin:projects', 'read:logs'], environment: 'live' })).body;
    const cases: Array<{ who: string; body: Json; status: number; field?: string }> = [
      { who: String(limited.key), body: { project_id: boot.project.id, name: 'x', type: 'confidential', grant_types: ['client_credentials'], scopes: ['write:alerts'] }, status: 403, field: 'scopes' },
      { who: boot.key.key, body: { project_id: boot.project.id, name: 'x', type: 'public', grant_types: ['authorization_code', 'client_credentials'], redirect_uris: ['https://app.example/cb'], scopes: ['read:logs'] }, status: 400, field: 'grant_types' },
      { who: boot.key.key, body: { project_id: boot.project.id, name: 'x', type: 'public', grant_types: ['authorization_code'], redirect_uris: ['javascript:alert(1)'], scopes: ['read:logs'] }, status: 400, field: 'redirect_uris.0' },
      { who: boot.key.key, body: { project_id: boot.project.id, name: 'x', type: 'public', grant_types: ['authorization_code'], redirect_uris: ['https://app.example/cb#frag'], scopes: ['read:logs'] }, status: 400, field: 'redirect_uris.0' },
      { who: boot.key.key, body: { project_id: boot.project.id, name: 'x', type: 'public', grant_types: ['authorization_code'], redirect_uris: ['http://app.example/cb'], scopes: ['read:logs'] }, status: 400, field: 'redirect_uris.0' },
      { who: boot.key.key, body: { project_id: other.project.id, name: 'x', type: 'confidential', grant_types: ['client_credentials'], scopes: ['read:logs'] }, status: 403 },
      { who: boot.key.key, body: { project_id: 'no-such-project', name: 'x', type: 'confidential', grant_types: ['client_credentials'], scopes: ['read:logs'] }, status: 404, field: 'project_id' },
      { who: boot.key.key, body: { project_id: boot.project.id, name: 'x', type: 'confidential', grant_types: ['client_credentials'], scopes: ['openid'] }, status: 400, field: 'scopes.0' },
      { who: boot.key.key, body: { project_id: boot.project.id, name: 'x', type: 'confidential', grant_types: ['client_credentials'], scopes: ['read:logs'], secret_ttl_days: 100_000 }, status: 400, field: 'secret_ttl_days' },
      { who: boot.key.key, body: { project_id: boot.project.id, name: 'x', type: 'public', grant_types: ['authorization_code'], scopes: ['openid'] }, status: 400, field: 'redirect_uris' },
    ];
    for (const c of cases) {
      const response = await api(a.url, c.who)('POST', '/v1/clients', c.body);
      expect({ status: response.status, type: response.type }, JSON.stringify(response.body)).toEqual({ status: c.status, type: expect.stringContaining('application/problem+json') });
      if (c.field) expect(response.body.field).toBe(c.field);
    }
    expect(await count()).toBe(before);
    const theirs = await api(a.url, other.key.key)<{ clients: Json[] }>('GET', `/v1/clients?project_id=${other.project.id}`);
    expect(theirs.body.clients).toEqual([]);
  });

  it('rotation with grace: the old and new secret both work, then only the new one', async () => {
    const created = (await admin()('POST', '/v1/clients', { project_id: boot.project.id, name: 'Roller', type: 'confidential', grant_types: ['client_credentials'], scopes: ['read:logs'] })).body;
    const id = String(created.client_id);
    const first = String(created.client_secret);
    const rotated = await admin()('POST', `/v1/clients/${id}/secret/rotate`, { grace_seconds: 3600 });
    expect(rotated.status).toBe(201);
    const second = String(rotated.body.client_secret);
    expect(second).not.toBe(first);
    await ccToken(b, id, first);
    await ccToken(b, id, second);
    expect(Date.parse(String((rotated.body.client as Json).previous_secret_expires_at)) - Date.now()).toBeGreaterThan(3500_000);
    // The grace ends (moved into the past in the shared store, as an hour passing would): only the new one.
    const repository = new ClientRepository(store);
    const record = (await repository.get(id))!;
    await repository.save({ ...record, secrets: record.secrets.map((s, i) => (i === 1 ? { ...s, grace_until: new Date(Date.now() - 1000).toISOString() } : s)) });
    expect(await oauthError(ccToken(b, id, first))).toBe('invalid_client');
    expect(await oauthError(ccToken(a, id, first))).toBe('invalid_client');
    await ccToken(b, id, second);
    const again = await admin()('POST', `/v1/clients/${id}/secret/rotate`, { grace_seconds: 0 });
    const third = String(again.body.client_secret);
    for (const old of [first, second]) expect(await oauthError(ccToken(b, id, old))).toBe('invalid_client');
    await ccToken(b, id, third);
    // Another organisation's admin does not even see it.
    expect((await api(a.url, other.key.key)('POST', `/v1/clients/${id}/secret/rotate`, {})).status).toBe(404);
    await ccToken(a, id, third);
  });

  it('two rotations racing on two nodes never hand out a secret that does not work; a rotation never revives a deleted client', async () => {
    const created = (await admin()('POST', '/v1/clients', { project_id: boot.project.id, name: 'Racer', type: 'confidential', grant_types: ['client_credentials'], scopes: ['read:logs'] })).body;
    const id = String(created.client_id);
    const results = await Promise.all([a, b, a, b].map((node) => api(node.url, boot.key.key)('POST', `/v1/clients/${id}/secret/rotate`, { grace_seconds: 3600 })));
    expect(results.every((r) => r.status === 201 || r.status === 409)).toBe(true);
    const issued = results.filter((r) => r.status === 201).map((r) => String(r.body.client_secret));
    expect(issued.length).toBeGreaterThan(0);
    // The current secret and the one rotated out within its grace work: no rotation's secret was lost.
    const works = await Promise.all(issued.map((secret) => ccToken(b, id, secret).then(() => true, () => false)));
    expect(works.filter(Boolean).length).toBe(Math.min(issued.length, 2));
    const [rotation, deletion] = await Promise.all([
      api(a.url, boot.key.key)('POST', `/v1/clients/${id}/secret/rotate`, { grace_seconds: 0 }),
      api(b.url, boot.key.key)('DELETE', `/v1/clients/${id}`),
    ]);
    if (deletion.status === 409) expect((await admin()('DELETE', `/v1/clients/${id}`)).status).toBe(200);
    else expect(deletion.status).toBe(200);
    expect([201, 404, 409]).toContain(rotation.status);
    expect((await admin()('GET', `/v1/clients/${id}`)).status).toBe(404);
    if (rotation.status === 201) expect(await oauthError(ccToken(b, id, String(rotation.body.client_secret)))).toBe('invalid_client');
  });

  it('an expired secret no longer authenticates', async () => {
    const created = (await admin()('POST', '/v1/clients', { project_id: boot.project.id, name: 'Expiring', type: 'confidential', grant_types: ['client_credentials'], scopes: ['read:logs'], secret_ttl_days: 30 })).body;
    const id = String(created.client_id);
    expect(Date.parse(String(created.secret_expires_at)) - Date.now()).toBeGreaterThan(29 * 86_400_000);
    await ccToken(b, id, String(created.client_secret));
    // Move the secret's end into the past in the shared store (as 30 days passing would).
    const repository = new ClientRepository(store);
    const record = (await repository.get(id))!;
    await repository.save({ ...record, secrets: record.secrets.map((s) => ({ ...s, expires_at: new Date(Date.now() - 1000).toISOString() })) });
    expect(await oauthError(ccToken(b, id, String(created.client_secret)))).toBe('invalid_client');
    expect(await oauthError(ccToken(a, id, String(created.client_secret)))).toBe('invalid_client');
  });

  it('code + PKCE through Chromium, refresh on the other node; deletion refuses the refresh on every node', async () => {
    const person = await personApi(a, { email: 'carol@example.com', project: boot.project.id, role: 'viewer' });
    const created = await admin()('POST', '/v1/clients', {
      project_id: boot.project.id,
      name: 'Partner Portal',
      type: 'public',
      grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: [callback.uri],
      scopes: ['openid', 'email', 'offline_access', 'read:logs'],
    });
    expect(created.status).toBe(201);
    expect(created.body.client_secret).toBeUndefined();
    const id = String(created.body.client_id);
    const config = await rp(a, id);
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: callback.uri,
      scope: 'openid email offline_access read:logs',
      prompt: 'consent',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    // PKCE is required: the same request without a challenge is refused.
    const noPkce = new URL(url);
    noPkce.searchParams.delete('code_challenge');
    noPkce.searchParams.delete('code_challenge_method');
    const refused = await fetch(noPkce, { redirect: 'manual' });
    expect(refused.headers.get('location') ?? '').toContain('error=invalid_request');

    const context = await browser.newContext({ locale: 'en-US' });
    const page = await context.newPage();
    await page.goto(url.href);
    await page.getByLabel('Email').fill('carol@example.com');
    await page.getByLabel('Password').fill(person.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
    expect(await page.textContent('body')).toContain('Partner Portal');
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((u) => u.href.startsWith(callback.uri));
    const returned = new URL(page.url());
    await context.close();

    const tokens = await client.authorizationCodeGrant(await rp(b, id), returned, { pkceCodeVerifier: verifier, expectedState: state });
    expect(decodeJwt(tokens.access_token)).toMatchObject({ client_id: id, project_id: boot.project.id, scope: expect.stringContaining('read:logs') });
    expect(tokens.refresh_token).toBeTruthy();
    const refreshed = await client.refreshTokenGrant(await rp(a, id), tokens.refresh_token!);
    expect(refreshed.refresh_token).toBeTruthy();

    // A public client never gets client credentials.
    const cc = await fetch(`${b.url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'client_credentials', client_id: id }) });
    expect(cc.status).toBe(400);
    expect(await cc.json()).toEqual({ error: 'invalid_request', error_description: 'requested grant type is not allowed for this client' });

    expect((await admin()('DELETE', `/v1/clients/${id}`)).status).toBe(200);
    for (const node of [a, b]) {
      const again = await fetch(`${node.url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'refresh_token', client_id: id, refresh_token: refreshed.refresh_token! }) });
      expect(again.status).toBe(401);
      expect(((await again.json()) as Json).error).toBe('invalid_client');
    }
    // Its grants are gone too, not only the client.
    expect(await new ClientRepository(store).grants(id)).toEqual([]);
    expect((await admin()('GET', `/v1/clients/${id}`)).status).toBe(404);
  });

  it('first_party only by an owner; a viewer cannot register; PATCH keeps scopes within the caller\'s', async () => {
    const adminPerson = await personApi(a, { email: 'dan@example.com', project: boot.project.id, role: 'admin' });
    const owner = await personApi(a, { email: 'erin@example.com', project: boot.project.id, role: 'owner' });
    const viewer = await personApi(a, { email: 'fay@example.com', project: boot.project.id, role: 'viewer' });
    const body = { project_id: boot.project.id, name: 'Web', type: 'confidential', grant_types: ['authorization_code'], redirect_uris: ['https://web.example/cb', 'http://localhost:3000/cb'], scopes: ['openid', 'read:logs'] };
    expect((await viewer.call('POST', '/v1/clients', body)).status).toBe(403);
    const created = (await adminPerson.call('POST', '/v1/clients', body)).body;
    const id = String(created.client_id);
    // oidc-provider accepts the registered metadata (http on localhost included): /auth starts a sign-in.
    const verifier = client.randomPKCECodeVerifier();
    const start = client.buildAuthorizationUrl(await rp(b, id, String(created.client_secret)), { redirect_uri: 'http://localhost:3000/cb', scope: 'openid read:logs', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    const started = await fetch(start, { redirect: 'manual' });
    expect(started.status).toBe(303);
    expect(started.headers.get('location')).toMatch(/^\/interaction\//);
    // A redirect URI it was not registered with is refused (exact match).
    start.searchParams.set('redirect_uri', 'https://web.example/other');
    expect((await fetch(start, { redirect: 'manual' })).status).toBe(400);
    const patch = await adminPerson.call('PATCH', `/v1/clients/${id}`, { first_party: true });
    expect(patch.status).toBe(403);
    expect(patch.body.field).toBe('first_party');
    expect((await admin()('GET', `/v1/clients/${id}`)).body.first_party).toBe(false);
    const byOwner = await owner.call('PATCH', `/v1/clients/${id}`, { first_party: true, name: 'Web app' });
    expect(byOwner.status).toBe(200);
    expect(byOwner.body).toMatchObject({ first_party: true, name: 'Web app' });
    const bad = await adminPerson.call('PATCH', `/v1/clients/${id}`, { redirect_uris: ['https://web.example/cb#x'] });
    expect(bad.status).toBe(400);
    expect((await viewer.call('PATCH', `/v1/clients/${id}`, { name: 'mine' })).status).toBe(403);
    expect((await api(a.url, other.key.key)('PATCH', `/v1/clients/${id}`, { name: 'theirs' })).status).toBe(404);
    expect((await api(a.url, other.key.key)('DELETE', `/v1/clients/${id}`)).status).toBe(404);
    expect((await admin()('GET', `/v1/clients/${id}`)).body.name).toBe('Web app');
  });

  it('a person\'s token through a registered application reaches the application\'s project only, never as an owner', async () => {
    await personApi(a, { email: 'hal@example.com', project: other.project.id, role: 'admin' });
    const owner = await personApi(a, { email: 'hal@example.com', project: boot.project.id, role: 'owner' });
    const made = await owner.call('POST', '/v1/clients', { project_id: boot.project.id, name: 'Ops console', type: 'public', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: [REDIRECT_URI], scopes: ['openid', 'offline_access', 'read:logs', 'admin:projects'], first_party: true });
    expect(made.status).toBe(201);
    const id = String(made.body.client_id);
    const tokens = await codeFlowTokens(await rp(a, id), { email: 'hal@example.com', password: owner.password, scope: 'openid offline_access read:logs admin:projects' });
    expect(decodeJwt(tokens.access_token)).toMatchObject({ project_id: boot.project.id, client_id: id });

    // A first-party registered client gets its refresh token without a consent screen; it introspects and
    // revokes its own tokens (on either node); another registered client may not introspect them.
    expect(tokens.refresh_token).toBeTruthy();
    expect(await client.tokenIntrospection(await rp(b, id), tokens.refresh_token!)).toMatchObject({ active: true, client_id: id, sub: owner.user.id });
    const stranger = (await admin()('POST', '/v1/clients', { project_id: boot.project.id, name: 'Stranger', type: 'confidential', grant_types: ['client_credentials'], scopes: ['read:logs'] })).body;
    expect(await client.tokenIntrospection(await rp(a, String(stranger.client_id), String(stranger.client_secret)), tokens.refresh_token!)).toEqual({ active: false });
    const second = await client.refreshTokenGrant(await rp(b, id), tokens.refresh_token!);
    await client.tokenRevocation(await rp(a, id), second.refresh_token!);
    expect(await oauthError(client.refreshTokenGrant(await rp(b, id), second.refresh_token!))).toBe('invalid_grant');
    const viaApp = api(b.url, tokens.access_token);
    expect((await viaApp('GET', `/v1/clients?project_id=${boot.project.id}`)).status).toBe(200);
    // The same person administers Other Org, but not through an application of Acme.
    expect((await owner.call('GET', `/v1/clients?project_id=${other.project.id}`)).status).toBe(200);
    expect((await viaApp('GET', `/v1/clients?project_id=${other.project.id}`)).status).toBe(403);
    // An owner's right is never exercised through an application.
    expect((await viaApp('PATCH', `/v1/clients/${id}`, { first_party: false })).status).toBe(403);
    // A viewer of Acme who administers Other Org: through Acme's application the token holds only what
    // the viewer holds on Acme (the log API reads `scope` as rights on `project_id`).
    await personApi(a, { email: 'ivy@example.com', project: other.project.id, role: 'admin' });
    const ivy = await personApi(a, { email: 'ivy@example.com', project: boot.project.id, role: 'viewer' });
    const ivyTokens = await codeFlowTokens(await rp(b, id), { email: 'ivy@example.com', password: ivy.password, scope: 'openid read:logs admin:projects' });
    expect(decodeJwt(ivyTokens.access_token)).toMatchObject({ project_id: boot.project.id, scope: 'read:logs' });
    expect((await api(a.url, ivyTokens.access_token)('GET', `/v1/clients?project_id=${other.project.id}`)).status).toBe(403);
    // Deleted: the person's token through it stops at once.
    expect((await owner.call('DELETE', `/v1/clients/${id}`)).status).toBe(200);
    expect((await viaApp('GET', `/v1/clients?project_id=${boot.project.id}`)).status).toBe(401);
  });

  it('lists the configuration file\'s clients read-only (origin "config") and refuses changing them', async () => {
    // An admin of every organisation (both of them) sees the server's configured clients.
    await personApi(a, { email: 'gus@example.com', project: other.project.id, role: 'admin' });
    const everywhere = await personApi(a, { email: 'gus@example.com', project: boot.project.id, role: 'admin' });
    const all = await everywhere.call<{ clients: Json[] }>('GET', '/v1/clients');
    expect(all.status).toBe(200);
    const ingest = all.body.clients.find((c) => c.client_id === 'ingest-svc');
    expect(ingest).toMatchObject({ origin: 'config', project_id: null, type: 'confidential' });
    // An admin of one organisation only does not see the server's configured clients.
    const theirs = await api(a.url, other.key.key)<{ clients: Json[] }>('GET', '/v1/clients');
    expect(theirs.body.clients.some((c) => c.origin === 'config')).toBe(false);
    for (const [method, path, body] of [['PATCH', '/v1/clients/ingest-svc', { name: 'x' }], ['DELETE', '/v1/clients/ingest-svc', undefined], ['POST', '/v1/clients/ingest-svc/secret/rotate', {}]] as const) {
      const response = await everywhere.call(method, path, body);
      expect(response.status).toBe(409);
      expect(String(response.body.detail)).toContain('configuration file');
    }
    expect((await admin()('DELETE', '/v1/clients/ingest-svc')).status).toBe(404);
    // Static clients keep working.
    const token = await client.clientCredentialsGrant(await rp(b, 'ingest-svc', 'test-ingest-secret-0123456789abcdef-XYZ'));
    expect(token.access_token).toBeTruthy();
  });
});
