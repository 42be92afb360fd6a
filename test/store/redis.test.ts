import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRedisStore } from '../../src/store/redis.ts';
import { StoreUnavailableError } from '../../src/store/index.ts';
import type { Store } from '../../src/store/index.ts';
import { freePort } from '../support/ports.ts';
import { startRedisServer, type RedisServer } from '../support/redis-server.ts';
import { runStoreContract } from './contract.ts';

const randomPrefix = (): string => `t${randomBytes(6).toString('hex')}:`;

let server: RedisServer;
beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server?.dispose();
});

runStoreContract('redis', async () => {
  const prefix = randomPrefix();
  let store = await openRedisStore({ url: server.url, prefix });
  return {
    store,
    reopen: async () => {
      await store.close();
      store = await openRedisStore({ url: server.url, prefix });
      return store;
    },
    cleanup: () => store.close(),
  };
});

/** Retries `probe` until it succeeds; fails after `withinMs`. */
async function eventually(probe: () => Promise<unknown>, withinMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    try {
      await probe();
      return Date.now() - started;
    } catch (error) {
      if (Date.now() - started > withinMs) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

async function expectUnavailable(operation: Promise<unknown>, withinMs: number): Promise<void> {
  const started = Date.now();
  await expect(operation).rejects.toBeInstanceOf(StoreUnavailableError);
  expect(Date.now() - started).toBeLessThan(withinMs);
}

describe('redis store: fail closed and recover', () => {
  let redis: RedisServer;
  let store: Store;
  beforeAll(async () => {
    redis = await startRedisServer();
    store = await openRedisStore({ url: redis.url, prefix: randomPrefix() });
  });
  afterAll(async () => {
    await store?.close();
    await redis?.dispose();
  });

  it('rejects every operation with StoreUnavailableError while Redis is down, then recovers by itself', async () => {
    await store.put('k', { a: 1 });
    await redis.stop();

    await expectUnavailable(store.get('k'), 3000);
    const operations: Promise<unknown>[] = [
      store.ping(),
      store.put('k', { a: 2 }, 10),
      store.putIfAbsent('k2', { a: 1 }),
      store.consume('k', 'consumed', 1),
      store.delete('k'),
      store.ttl('k'),
      store.sadd('s', ['a'], 10),
      store.srem('s', ['a']),
      store.smembers('s'),
      store.incr('n', 1, 10),
      store.batch([{ op: 'put', key: 'b', value: { a: 1 } }]),
      store.append('log', { a: 1 }),
      store.range('log'),
    ];
    const started = Date.now();
    const results = await Promise.allSettled(operations);
    expect(Date.now() - started).toBeLessThan(3000);
    for (const result of results) {
      expect(result.status).toBe('rejected');
      if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(StoreUnavailableError);
    }

    await redis.start();
    await eventually(() => store.ping(), 10_000);
    await store.put('k', { a: 3 });
    expect(await store.get('k')).toEqual({ a: 3 });
  });

  it('fails fast instead of hanging when Redis stops answering', async () => {
    redis.pause();
    try {
      await expectUnavailable(store.get('k'), 3000);
      await expectUnavailable(store.batch([{ op: 'delete', key: 'k' }]), 3000);
    } finally {
      redis.resume();
    }
    await eventually(() => store.get('k'), 10_000);
  });

  it('opens while Redis is down, reports not ready, and becomes ready when Redis starts', async () => {
    const port = await freePort();
    const late = await openRedisStore({ url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 500 });
    let lateRedis: RedisServer | undefined;
    try {
      await expectUnavailable(late.ping(), 3000);
      await expectUnavailable(late.put('k', { a: 1 }), 3000);
      lateRedis = await startRedisServer({ port });
      await eventually(() => late.ping(), 10_000);
      await late.put('k', { a: 1 });
      expect(await late.get('k')).toEqual({ a: 1 });
    } finally {
      await late.close();
      await lateRedis?.dispose();
    }
  });
});

describe('redis store: data survives a Redis restart with persistence on', () => {
  it('reads after a restart what it wrote before', async () => {
    const redis = await startRedisServer({ persist: true });
    const store = await openRedisStore({ url: redis.url, prefix: randomPrefix() });
    try {
      await store.put('durable', { a: 1 }, 100);
      await store.sadd('durable-set', ['m']);
      const id = await store.append('durable-log', { e: 1 });
      await redis.stop();
      await redis.start();
      await eventually(() => store.ping(), 10_000);
      expect(await store.get('durable')).toEqual({ a: 1 });
      expect(await store.smembers('durable-set')).toEqual(['m']);
      expect(await store.range('durable-log')).toEqual([{ id, value: { e: 1 } }]);
    } finally {
      await store.close();
      await redis.dispose();
    }
  });
});

describe('redis store: durability checks', () => {
  const cases: Array<{ name: string; args: string[]; persist?: boolean; expected: RegExp[] }> = [
    { name: 'no persistence', args: [], expected: [/^Redis appendonly is no: a Redis crash or restart loses everything written/] },
    { name: 'an eviction policy', args: ['--maxmemory-policy', 'allkeys-lru'], persist: true, expected: [/^Redis maxmemory-policy is allkeys-lru: .*set it to noeviction$/] },
    { name: 'appendfsync no', args: ['--appendfsync', 'no'], persist: true, expected: [/^Redis appendfsync is no: /] },
    { name: 'CONFIG disabled (managed Redis)', args: ['--rename-command', 'CONFIG', '""'], expected: [/^could not read the Redis configuration .*make sure maxmemory-policy is noeviction and appendonly is yes/] },
    { name: 'AOF and noeviction', args: [], persist: true, expected: [] },
  ];
  for (const { name, args, persist, expected } of cases) {
    it(`warns about settings that can lose acknowledged writes: ${name}`, async () => {
      const redis = await startRedisServer({ ...(persist ? { persist: true } : {}), extraArgs: args });
      const store = await openRedisStore({ url: redis.url, prefix: randomPrefix() });
      try {
        const warnings = await store.durabilityWarnings();
        expect(warnings).toHaveLength(expected.length);
        expected.forEach((pattern, i) => expect(warnings[i]).toMatch(pattern));
      } finally {
        await store.close();
        await redis.dispose();
      }
    });
  }
});
