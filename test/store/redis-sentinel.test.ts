/**
 * The Store contract on Redis under Sentinel (a master, a replica, three sentinels with a password of
 * their own): the store finds the master by asking the sentinels.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
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

describe('redis sentinel failover', () => {
  it('follows the master the sentinels promote, without a restart, keeping every write it acknowledged', async () => {
    // Its own master, replica and sentinels: this test kills the master.
    const ha = await startRedisSentinel();
    const failovers: string[] = [];
    const store = await openRedisStore({ sentinel: { name: ha.name, nodes: ha.sentinelNodes }, prefix: randomPrefix(), waitForReplicas: 1, onFailover: (d) => failovers.push(d) });
    try {
      await eventually(() => store.ping().then(() => true), 20);
      const acknowledged: string[] = [];
      for (let i = 0; i < 20; i++) {
        await store.put(`before:{${i}}`, { i });
        acknowledged.push(`before:{${i}}`);
      }
      const oldMaster = await ha.master();
      oldMaster.kill();
      // Writes fail (fast) until the sentinels promote the replica, then succeed by themselves.
      let i = 0;
      await eventually(async () => {
        const key = `during:{${i++}}`;
        await store.put(key, { i });
        acknowledged.push(key);
        return true;
      }, 60, 100);
      expect((await ha.master()).port).not.toBe(oldMaster.port);
      for (const key of acknowledged) expect(await store.get(key), key).toBeDefined();
      expect(failovers.length).toBeGreaterThanOrEqual(1);
      expect(await store.topology()).toEqual({ mode: 'sentinel', masters: 1, masters_reachable: 1 });
    } finally {
      await store.close();
      await ha.dispose();
    }
  }, 120_000);

  it('recovers when the master it writes to is demoted under it (a write answered READONLY reconnects)', async () => {
    const ha = await startRedisSentinel();
    const store = await openRedisStore({ sentinel: { name: ha.name, nodes: ha.sentinelNodes }, prefix: randomPrefix() });
    try {
      await eventually(() => store.ping().then(() => true), 20);
      await store.put('k', { a: 1 });
      const oldMaster = await ha.master();
      // A manual failover: the old master stays up, demoted to a replica that refuses writes.
      const sentinel = new Redis({ host: '127.0.0.1', port: ha.sentinels[0]!.port });
      try {
        await sentinel.call('SENTINEL', 'FAILOVER', ha.name);
      } finally {
        sentinel.disconnect();
      }
      await eventually(async () => (await ha.master()).port !== oldMaster.port, 30);
      await eventually(async () => {
        await store.put('k', { a: 2 });
        return true;
      }, 30, 100);
      expect(await store.get('k')).toEqual({ a: 2 });
      const demoted = new Redis({ host: '127.0.0.1', port: oldMaster.port });
      try {
        await eventually(async () => /role:slave/.test(await demoted.info('replication')), 30);
      } finally {
        demoted.disconnect();
      }
    } finally {
      await store.close();
      await ha.dispose();
    }
  }, 120_000);
});
