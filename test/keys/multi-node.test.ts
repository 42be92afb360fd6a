import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAuthServer, testConfig, type AuthServer } from '../support/auth-server.ts';
import { startRedisServer, type RedisServer } from '../support/redis-server.ts';
import { api, bootstrap } from '../support/admin.ts';

describe('two server processes sharing one Redis', () => {
  let redis: RedisServer;
  let a: AuthServer;
  let b: AuthServer;

  beforeAll(async () => {
    redis = await startRedisServer();
    const config = (port: number) => testConfig(port, { store: { driver: 'redis', url: redis.url, prefix: 'multi:' } });
    a = await startAuthServer({ config });
    b = await startAuthServer({ config });
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await Promise.all([a?.cleanup(), b?.cleanup()]);
    await redis?.stop();
  });

  it('a key revoked on one node fails verification on the other at once', async () => {
    const boot = bootstrap(a);
    const created = (await api(a.url, boot.key.key)('POST', '/v1/keys', { project_id: boot.project.id, name: 'shared', scopes: ['read:logs'], environment: 'live' })).body;
    const verifyOnB = () => api(b.url)<Record<string, unknown>>('POST', '/v1/keys/verify', { key: created.key });
    expect((await verifyOnB()).body.valid).toBe(true);
    expect((await api(a.url, boot.key.key)('DELETE', `/v1/keys/${created.id}`)).status).toBe(200);
    expect((await verifyOnB()).body).toEqual({ valid: false, code: 'revoked' });
  });

  it('both nodes sign with the same keys', async () => {
    const [ja, jb] = await Promise.all([fetch(`${a.url}/jwks`).then((r) => r.json()), fetch(`${b.url}/jwks`).then((r) => r.json())]);
    expect(ja).toEqual(jb);
  });
});
