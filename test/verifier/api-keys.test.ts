import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAuthServer, testConfig, type AuthServer } from '../support/auth-server.ts';
import { startRedisServer, type RedisServer } from '../support/redis-server.ts';
import { api, bootstrap, type Bootstrapped } from '../support/admin.ts';
import { eventually } from '../support/wait.ts';
import { createVerifier, VerifierError, type Verifier } from '../../src/verifier/index.ts';

type Json = Record<string, unknown>;
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

const refused = async (verifier: Verifier, key: string, ip = '127.0.0.1') => verifier.verify({ apiKey: key, ip }).then(() => false, () => true);

describe('verifier library: API keys verified locally, revocations pushed (two nodes, one Redis)', () => {
  let redis: RedisServer;
  let a: AuthServer;
  let b: AuthServer;
  let boot: Bootstrapped;
  let onA: ReturnType<typeof api>;
  let payments: Json;
  let search: Json;
  /** Connected to node B; revocations are made on node A. Fail-safe and cache lifetimes far beyond the
   * test's waits, so only a pushed event can explain a refusal. */
  let verifier: Verifier;

  const createKey = async (input: Json) => (await onA('POST', '/v1/keys', { name: 'k', environment: 'live', ...input })).body as Json & { id: string; key: string };

  beforeAll(async () => {
    redis = await startRedisServer();
    const config = (port: number) =>
      testConfig(port, {
        store: { driver: 'redis', url: redis.url, prefix: 'vk:' },
        api_keys: { events_poll_ms: 50, events_heartbeat_ms: 250, verify_failures_per_minute: 10_000 },
      });
    a = await startAuthServer({ config });
    b = await startAuthServer({ config });
    boot = bootstrap(a);
    onA = api(a.url, boot.key.key);
    payments = (await onA('POST', '/v1/projects', { name: 'Payments', parent_id: boot.project.id })).body;
    search = (await onA('POST', '/v1/projects', { name: 'Search', parent_id: boot.project.id })).body;
    verifier = createVerifier({ issuer: b.url, audience: AUDIENCE, apiKeys: { credential: boot.key.key, failSafeMs: 120_000, cacheTtlMs: 300_000, usageFlushMs: 200 } });
    expect(await verifier.ready(30_000)).toBe(true);
  });
  afterAll(async () => {
    await verifier?.close();
    await Promise.all([a?.stop(), b?.stop()]);
    await Promise.all([a?.cleanup(), b?.cleanup()]);
    await redis?.stop();
  });

  it('verifies a key once through the server, then from memory', async () => {
    const key = await createKey({ project_id: payments.id, scopes: ['read:logs', 'write:alerts'] });
    const principal = await verifier.verify({ authorization: `Bearer ${key.key}`, ip: '127.0.0.1' });
    expect(principal).toEqual({ kind: 'api_key', subject: key.id, key_id: key.id, project_id: payments.id, scopes: ['read:logs', 'write:alerts'] });
    const calls = verifier.stats().serverVerifications;
    for (let i = 0; i < 50; i++) expect((await verifier.verify({ apiKey: key.key, ip: '127.0.0.1' })).key_id).toBe(key.id);
    expect(verifier.stats().serverVerifications).toBe(calls);
    expect(await verifier.can(principal, 'read:logs', payments.id as string)).toBe(true);
    expect(await verifier.can(principal, 'read:logs', search.id as string)).toBe(false);
    expect(await verifier.can(principal, 'admin:projects', payments.id as string)).toBe(false);
    // Cached verifications reach the server's per-key counters (batched).
    await eventually(async () => {
      const usage = (await onA('GET', `/v1/keys/${key.id}/usage?days=1`)).body as { days: Array<{ counts: { valid: number } }> };
      return usage.days[0]!.counts.valid >= 51;
    }, 20);
  });

  it('refuses a key revoked on node A within moments, through the event stream of node B', async () => {
    const key = await createKey({ project_id: payments.id, scopes: ['read:logs'] });
    await verifier.verify({ apiKey: key.key, ip: '127.0.0.1' });
    const evictions = verifier.stats().evictions;
    expect((await onA('DELETE', `/v1/keys/${key.id}`)).status).toBe(200);
    const answered = Date.now();
    await eventually(() => refused(verifier, key.key), 10, 10);
    console.log(`revocation on node A refused by the verifier on node B after ${Date.now() - answered} ms`);
    expect(verifier.stats().evictions).toBeGreaterThan(evictions);
    const err = await refusal(verifier.verify({ apiKey: key.key, ip: '127.0.0.1' }));
    expect(err).toMatchObject({ status: 401, code: 'revoked' });
    expect(err.wwwAuthenticate).toContain('error="invalid_token"');
  });

  it('checks the IP allowlist, scope and project locally, as /v1/keys/verify does', async () => {
    const key = await createKey({ project_id: boot.project.id, scopes: ['read:logs'], ip_allowlist: ['10.0.0.0/8', '2001:db8::/32'] });
    expect((await verifier.verify({ apiKey: key.key, ip: '10.1.2.3' })).key_id).toBe(key.id);
    const calls = verifier.stats().serverVerifications;
    expect((await verifier.verify({ apiKey: key.key, ip: '::ffff:10.9.9.9' })).key_id).toBe(key.id);
    expect((await verifier.verify({ apiKey: key.key, ip: '2001:db8::7' })).key_id).toBe(key.id);
    expect(await refusal(verifier.verify({ apiKey: key.key, ip: '192.0.2.1' }))).toMatchObject({ status: 403, code: 'ip_not_allowed' });
    expect(await refusal(verifier.verify({ apiKey: key.key }))).toMatchObject({ status: 403, code: 'ip_not_allowed' });
    expect(await refusal(verifier.verify({ apiKey: key.key, ip: 'not-an-ip' }))).toMatchObject({ status: 403, code: 'ip_not_allowed' });
    // A key on the organisation covers its sub-projects, and only with its scopes.
    expect((await verifier.verify({ apiKey: key.key, ip: '10.1.2.3', scope: 'read:logs', project_id: payments.id as string })).key_id).toBe(key.id);
    const scope = await refusal(verifier.verify({ apiKey: key.key, ip: '10.1.2.3', scope: 'write:alerts' }));
    expect(scope).toMatchObject({ status: 403, code: 'insufficient_scope' });
    expect(scope.wwwAuthenticate).toContain('error="insufficient_scope"');
    expect(verifier.stats().serverVerifications).toBe(calls);

    const narrow = await createKey({ project_id: payments.id, scopes: ['read:logs'] });
    expect(await refusal(verifier.verify({ apiKey: narrow.key, ip: '127.0.0.1', project_id: search.id as string }))).toMatchObject({ status: 403, code: 'wrong_project' });
    expect(await refusal(verifier.verify({ apiKey: narrow.key, ip: '127.0.0.1', project_id: 'prj_unknown' }))).toMatchObject({ status: 403, code: 'wrong_project' });
  });

  it('refuses malformed and unknown keys, and never caches a key of an organisation it does not administer', async () => {
    const calls = verifier.stats().serverVerifications;
    expect(await refusal(verifier.verify({ apiKey: 'lt_live_not-a-key' }))).toMatchObject({ status: 401, code: 'not_found' });
    expect(await refusal(verifier.verify({ apiKey: `${boot.key.key.slice(0, -1)}${boot.key.key.endsWith('a') ? 'b' : 'a'}` }))).toMatchObject({ status: 401, code: 'not_found' });
    expect(verifier.stats().serverVerifications).toBe(calls);

    const globex = bootstrap(a, 'Globex');
    const outsider = (await api(a.url, globex.key.key)('POST', '/v1/keys', { project_id: globex.project.id, name: 'x', scopes: ['read:logs'], environment: 'live' })).body as Json & { key: string; id: string };
    for (let i = 0; i < 3; i++) expect((await verifier.verify({ apiKey: outsider.key, ip: '127.0.0.1' })).key_id).toBe(outsider.id);
    // Its revocations would never reach this verifier's stream: it asks the server every time.
    expect(verifier.stats().serverVerifications).toBe(calls + 3);
    await api(a.url, globex.key.key)('DELETE', `/v1/keys/${outsider.id}`);
    expect(await refusal(verifier.verify({ apiKey: outsider.key, ip: '127.0.0.1' }))).toMatchObject({ status: 401, code: 'revoked' });
  });

  it('follows a rotation: the old key verifies during its grace period, then is refused', async () => {
    const old = await createKey({ project_id: payments.id, scopes: ['read:logs'] });
    await verifier.verify({ apiKey: old.key, ip: '127.0.0.1' });
    const rotated = await onA('POST', '/v1/keys/rotate', { id: old.id, grace_seconds: 3600 });
    expect(rotated.status).toBe(201);
    expect((await verifier.verify({ apiKey: old.key, ip: '127.0.0.1' })).key_id).toBe(old.id);
    expect((await verifier.verify({ apiKey: String(rotated.body.key), ip: '127.0.0.1' })).key_id).toBe(rotated.body.id);

    const quick = await createKey({ project_id: payments.id, scopes: ['read:logs'] });
    await verifier.verify({ apiKey: quick.key, ip: '127.0.0.1' });
    await onA('POST', '/v1/keys/rotate', { id: quick.id, grace_seconds: 0 });
    await eventually(() => refused(verifier, quick.key), 10, 20);
    expect(await refusal(verifier.verify({ apiKey: quick.key, ip: '127.0.0.1' }))).toMatchObject({ status: 401, code: 'rotated' });
  });

  it('resumes the event stream after its node restarts: a revocation made meanwhile is not missed', async () => {
    const key = await createKey({ project_id: payments.id, scopes: ['read:logs'] });
    await verifier.verify({ apiKey: key.key, ip: '127.0.0.1' });
    const events = verifier.stats().keyEvents;
    await b.stop();
    expect((await onA('DELETE', `/v1/keys/${key.id}`)).status).toBe(200);
    await b.start();
    await eventually(async () => verifier.stats().streamLive === true && verifier.stats().keyEvents > events, 30);
    expect(await refusal(verifier.verify({ apiKey: key.key, ip: '127.0.0.1' }))).toMatchObject({ status: 401, code: 'revoked' });
  });
});

describe('verifier library: fail-safe expiry while the event stream is down', () => {
  let redis: RedisServer;
  let server: AuthServer;

  beforeAll(async () => {
    redis = await startRedisServer();
    server = await startAuthServer({ config: (port) => testConfig(port, { store: { driver: 'redis', url: redis.url, prefix: 'fs:' }, api_keys: { events_poll_ms: 50, events_heartbeat_ms: 250 } }) });
  });
  afterAll(async () => {
    await server?.stop();
    await server?.cleanup();
    await redis?.stop();
  });

  it('stops using cached positives within failSafeMs once the stream is gone, and never serves a stale one', async () => {
    const boot = bootstrap(server);
    const key = (await api(server.url, boot.key.key)('POST', '/v1/keys', { project_id: boot.project.id, name: 'k', scopes: ['read:logs'], environment: 'live' })).body as Json & { key: string };
    const verifier = createVerifier({ issuer: server.url, audience: AUDIENCE, apiKeys: { credential: boot.key.key, failSafeMs: 1500 }, onError: () => undefined });
    try {
      expect(await verifier.ready(30_000)).toBe(true);
      await verifier.verify({ apiKey: key.key, ip: '127.0.0.1' });
      expect((await verifier.verify({ apiKey: key.key, ip: '127.0.0.1' })).key_id).toBe(key.id);
      // The server (stream and verify endpoint) goes away: once the fail-safe window passes, the verifier
      // answers 503, not the cached positive.
      await server.stop();
      await eventually(async () => (await refusal(verifier.verify({ apiKey: key.key, ip: '127.0.0.1' }))).status === 503, 20);
      expect(verifier.stats().streamLive).toBe(false);
      await server.start();
      await eventually(async () => (await verifier.verify({ apiKey: key.key, ip: '127.0.0.1' })).key_id === key.id, 30);
    } finally {
      await verifier.close();
    }
  });
});
