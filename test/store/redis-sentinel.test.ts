/**
 * The Store contract on Redis under Sentinel (a master, a replica, three sentinels with a password of
 * their own): the store finds the master by asking the sentinels.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRedisStore } from '../../src/store/redis.ts';
import type { Store } from '../../src/store/index.ts';
import { startRedisSentinel, type RedisSentinelSetup } from '../support/redis-sentinel.ts';
import { eventually } from '../support/wait.ts';
import { runStoreContract } from './contract.ts';

const randomPrefix = (): string => `t${randomBytes(6).toString('hex')}:`;
const PASSWORD = 'data-node-password-0123456789';
const SENTINEL_PASSWORD = 'sentinel-password-0123456789';

let setup: RedisSentinelSetup;
beforeAll(async () => {
  setup = await startRedisSentinel({ password: PASSWORD, sentinelPassword: SENTINEL_PASSWORD });
}, 120_000);
afterAll(async () => {
  await setup?.dispose();
});

async function openReady(prefix: string, sentinelPassword = SENTINEL_PASSWORD): Promise<Store> {
  const store = await openRedisStore({ sentinel: { name: setup.name, nodes: setup.sentinelNodes, password: sentinelPassword }, password: PASSWORD, prefix });
  await eventually(() => store.ping().then(() => true), 20);
  return store;
}

runStoreContract('redis sentinel', async () => {
  const prefix = randomPrefix();
  let store = await openReady(prefix);
  return {
    store,
    reopen: async () => {
      await store.close();
      store = await openReady(prefix);
      return store;
    },
    cleanup: () => store.close(),
  };
});

describe('redis sentinel specifics', () => {
  it('writes to the master the sentinels name, and reports the topology', async () => {
    const store = await openReady(randomPrefix());
    try {
      expect(await store.topology()).toEqual({ mode: 'sentinel', masters: 1, masters_reachable: 1 });
      await store.put('k', { a: 1 });
      expect(await store.get('k')).toEqual({ a: 1 });
      expect((await setup.master()).port).toBe(setup.servers[0]!.port);
    } finally {
      await store.close();
    }
  });

  it('does not reach the data with a wrong sentinel password', async () => {
    const store = await openRedisStore({ sentinel: { name: setup.name, nodes: setup.sentinelNodes, password: 'wrong-password-0123456789' }, password: PASSWORD, prefix: randomPrefix(), connectTimeoutMs: 300 });
    try {
      expect(store.available()).toBe(false);
      await expect(store.get('k')).rejects.toThrow(/unavailable|closed|ready|redis/i);
    } finally {
      await store.close();
    }
  });
});
