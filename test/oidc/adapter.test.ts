import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/index.ts';
import { createAdapterFactory, StoreDownError } from '../../src/oidc/index.ts';
import { startRedisServer, type RedisServer } from '../support/redis-server.ts';

/** The oidc-provider adapter bridge, one suite over both stores (CONVENTIONS.md §1). */
describe.each(['embedded', 'redis'] as const)('oidc-provider adapter on the %s store', (driver) => {
  let store: Store;
  let redis: RedisServer | undefined;
  let dir: string;
  const now = () => Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lt-adapter-'));
    if (driver === 'redis') redis = await startRedisServer();
    store = await openStore(driver === 'redis' ? { driver, url: redis!.url } : { driver, path: dir });
  });
  afterAll(async () => {
    await store?.close();
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const Adapter = () => createAdapterFactory(store, { refreshTokenReuseInterval: 0 });

  it('stores, finds and destroys artifacts, with their TTL', async () => {
    const sessions = new (Adapter())('Session');
    await sessions.upsert('s1', { uid: 'u1', accountId: 'acc' } as never, 60);
    expect(await sessions.find('s1')).toMatchObject({ uid: 'u1', accountId: 'acc' });
    expect(await sessions.findByUid('u1')).toMatchObject({ accountId: 'acc' });
    await sessions.destroy('s1');
    expect(await sessions.find('s1')).toBeUndefined();

    const devices = new (Adapter())('DeviceCode');
    await devices.upsert('d1', { userCode: 'ABCD-EFGH', grantId: 'g0' } as never, 1);
    expect(await devices.findByUserCode('ABCD-EFGH')).toMatchObject({ userCode: 'ABCD-EFGH' });
    await new Promise((r) => setTimeout(r, 1300));
    expect(await devices.find('d1')).toBeUndefined();
  });

  it('consumes a one-time artifact once; a second consume is invalid_grant and ends the grant', async () => {
    const codes = new (Adapter())('AuthorizationCode');
    const tokens = new (Adapter())('AccessToken');
    await codes.upsert('c1', { grantId: 'g1' } as never, 60);
    await tokens.upsert('t1', { grantId: 'g1' } as never, 60);
    await codes.consume('c1');
    expect(await codes.find('c1')).toMatchObject({ consumed: expect.any(Number) });
    await expect(codes.consume('c1')).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await tokens.find('t1')).toBeUndefined();
  });

  it('revokes every artifact of a grant', async () => {
    const refresh = new (Adapter())('RefreshToken');
    const access = new (Adapter())('AccessToken');
    await refresh.upsert('r1', { grantId: 'g2' } as never, 600);
    await access.upsert('a1', { grantId: 'g2' } as never, 60);
    await access.upsert('a2', { grantId: 'other' } as never, 60);
    await refresh.revokeByGrantId('g2');
    expect(await refresh.find('r1')).toBeUndefined();
    expect(await access.find('a1')).toBeUndefined();
    expect(await access.find('a2')).toBeDefined();
  });

  it('honours a refresh token again inside refresh_token_reuse_interval only', async () => {
    const lenient = new (createAdapterFactory(store, { refreshTokenReuseInterval: 30 }))('RefreshToken');
    await lenient.upsert('r2', { grantId: 'g3', iat: now() } as never, 600);
    await lenient.consume('r2');
    expect(await lenient.find('r2')).not.toHaveProperty('consumed');
    await expect(lenient.consume('r2')).resolves.toBeUndefined();
    const strict = new (Adapter())('RefreshToken');
    expect(await strict.find('r2')).toHaveProperty('consumed');
  });

  it('looks up an id longer than any issued as absent, without asking the store', async () => {
    const absurd = 'A'.repeat(10 * 1024);
    for (const model of ['Client', 'AuthorizationCode', 'RefreshToken', 'AccessToken', 'Session', 'Interaction', 'Grant']) {
      const adapter = new (Adapter())(model);
      expect(await adapter.find(absurd)).toBeUndefined();
      expect(await adapter.findByUid!(absurd)).toBeUndefined();
      await expect(adapter.destroy(absurd)).resolves.toBeUndefined();
      await expect(adapter.consume(absurd)).resolves.toBeUndefined();
      await expect(adapter.revokeByGrantId!(absurd)).resolves.toBeUndefined();
    }
    expect(await new (Adapter())('DeviceCode').findByUserCode!(absurd)).toBeUndefined();
  });

  it('turns an unreachable store into a 503 temporarily_unavailable', async () => {
    if (driver !== 'redis') return;
    const adapter = new (Adapter())('Session');
    await redis!.stop();
    const error = await adapter.find('anything').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreDownError);
    expect(error).toMatchObject({ status: 503, error: 'temporarily_unavailable', expose: true });
    await redis!.start();
  });
});
