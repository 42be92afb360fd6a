/**
 * The Store contract on a real 3-master Redis Cluster (with a replica each), where a command over keys of
 * several hash slots fails with CROSSSLOT: every multi-key operation must stay within one slot.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRedisStore } from '../../src/store/redis.ts';
import { StoreUnavailableError } from '../../src/store/index.ts';
import type { Store } from '../../src/store/index.ts';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster.ts';
import { eventually } from '../support/wait.ts';
import { runStoreContract } from './contract.ts';

const randomPrefix = (): string => `t${randomBytes(6).toString('hex')}:`;

/** A store on the cluster once it has found every master (on a loaded machine that can take a moment). */
async function openReady(seeds: string[], prefix: string): Promise<Store> {
  const store = await openRedisStore({ cluster: seeds, prefix });
  await eventually(() => store.ping().then(() => true), 20);
  return store;
}

let cluster: RedisCluster;
beforeAll(async () => {
  cluster = await startRedisCluster();
}, 120_000);
afterAll(async () => {
  await cluster?.dispose();
});

runStoreContract('redis cluster', async () => {
  const prefix = randomPrefix();
  let store = await openReady(cluster.seeds.slice(0, 2), prefix);
  return {
    store,
    reopen: async () => {
      await store.close();
      store = await openReady(cluster.seeds.slice(0, 2), prefix);
      return store;
    },
    cleanup: () => store.close(),
  };
});

describe('redis cluster specifics', () => {
  it('spreads entities over every master and reports the topology', async () => {
    const prefix = randomPrefix();
    const store = await openReady([cluster.seeds[0]!], prefix);
    try {
      for (let i = 0; i < 60; i++) await store.put(`user:{u${i}}`, { i });
      const masters = await cluster.masters();
      expect(masters).toHaveLength(3);
      for (const master of masters) {
        const direct = new Redis({ host: '127.0.0.1', port: master.port });
        try {
          expect((await direct.keys(`${prefix}*`)).length, `master ${master.port}`).toBeGreaterThan(0);
        } finally {
          direct.disconnect();
        }
      }
      expect(await store.topology()).toEqual({ mode: 'cluster', masters: 3, masters_reachable: 3, cluster_state: 'ok' });
      // Deleting and reading counters of many slots at once works: split per slot.
      await store.incr('count:{a}');
      await store.incr('count:{b}', 2);
      expect(await store.counters(['count:{a}', 'count:{b}', 'count:{c}'])).toEqual([1, 2, 0]);
      await store.delete(...Array.from({ length: 60 }, (_, i) => `user:{u${i}}`));
      expect(await store.get('user:{u7}')).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('proves the cluster refuses what the store guards against: a raw cross-slot MULTI fails', async () => {
    const direct = new Redis.Cluster([{ host: '127.0.0.1', port: cluster.nodes[0]!.port }]);
    try {
      await expect(direct.mset('x{a}', '1', 'x{b}', '2')).rejects.toThrow(/CROSSSLOT|same slot/i);
    } finally {
      direct.disconnect();
    }
  });

  it('fails fast while a slot has no master, serves the other slots meanwhile, and recovers by itself after the failover', async () => {
    const failovers: string[] = [];
    const store = await openRedisStore({ cluster: cluster.seeds, prefix: randomPrefix(), waitForReplicas: 1, onFailover: (d) => failovers.push(d) });
    try {
      await eventually(() => store.ping().then(() => true), 20);
      const keys = Array.from({ length: 30 }, (_, i) => `item:{${i}}`);
      for (const key of keys) expect(await store.putIfAbsent(key, { key })).toBe(true);
      const victim = (await cluster.masters())[0]!;
      victim.kill();
      // The slots of the dead master: refused quickly as unavailable, never a hang (the test would time out).
      let refused = 0;
      for (const key of keys) {
        try {
          await store.get(key);
        } catch (error) {
          expect(error).toBeInstanceOf(StoreUnavailableError);
          refused++;
        }
      }
      expect(refused).toBeGreaterThan(0);
      expect(refused).toBeLessThan(keys.length);
      // Promotion, then every acknowledged write is there, and the scripts run on the promoted node too.
      await eventually(async () => {
        for (const key of keys) await store.get(key);
        return true;
      }, 60);
      for (const key of keys) expect(await store.get(key), key).toEqual({ key });
      for (const key of keys) expect(await store.putIfAbsent(key, { again: true })).toBe(false);
      expect(await store.consume(keys[0]!, 'used', 1)).toEqual({ result: 'consumed' });
      await eventually(async () => failovers.length > 0, 30);
      const topology = await store.topology();
      expect(topology).toMatchObject({ mode: 'cluster', masters_reachable: topology.masters });
    } finally {
      await store.close();
    }
  }, 120_000);
});

