/**
 * The Store contract suite (src/store/types.ts), run against every implementation, as Dex runs
 * storage/conformance against every backend. An implementation's test file only supplies a factory.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CrossSlotBatchError, MAX_KEY_BYTES, StoreInputError, StoreUnavailableError } from '../../src/store/index.ts';
import type { BatchOp, Store } from '../../src/store/index.ts';

export interface StoreUnderTest {
  /** A store with no data in it (a fresh directory, a fresh key prefix…). */
  store: Store;
  /** Closes the current store and opens a new one over the same data. */
  reopen?: () => Promise<Store>;
  /** Closes whatever store is current and removes its data. */
  cleanup: () => Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const sorted = (values: string[]): string[] => [...values].sort();

/**
 * Event ids in id order. Ids are `<ms>-<seq>`; compare them as number pairs: Redis stream ids are
 * not zero-padded, so as strings `…-10` sorts before `…-9`.
 */
function inIdOrder(ids: string[]): string[] {
  const parse = (id: string): [bigint, bigint] => {
    const [ms = '', seq = ''] = id.split('-');
    return [BigInt(ms), BigInt(seq)];
  };
  return [...ids].sort((x, y) => {
    const [xm, xs] = parse(x);
    const [ym, ys] = parse(y);
    return xm !== ym ? (xm < ym ? -1 : 1) : xs === ys ? 0 : xs < ys ? -1 : 1;
  });
}

export function runStoreContract(name: string, factory: () => Promise<StoreUnderTest>): void {
  describe(`Store contract: ${name}`, () => {
    let subject: StoreUnderTest;
    let store: Store;

    beforeEach(async () => {
      subject = await factory();
      store = subject.store;
    });
    afterEach(async () => {
      await subject.cleanup();
    });

    describe('get / put', () => {
      it('round-trips a JSON object and answers undefined for an absent key', async () => {
        const value = { s: 'héllo ✓', n: 42.5, neg: -1, t: true, f: false, nil: null, list: [1, 'two', { three: 3 }], nested: { a: { b: 'c' } } };
        await store.put('record:1', value);
        expect(await store.get('record:1')).toEqual(value);
        expect(await store.get('record:absent')).toBeUndefined();
      });

      it('put replaces the whole value, its consumed marks and its TTL', async () => {
        await store.put('record:2', { a: 1, b: 2 }, 100);
        expect(await store.consume('record:2', 'consumed', 1000)).toEqual({ result: 'consumed' });
        expect(await store.get('record:2')).toEqual({ a: 1, b: 2, consumed: 1000 });

        await store.put('record:2', { c: 3 });
        expect(await store.get('record:2')).toEqual({ c: 3 });
        expect(await store.ttl('record:2')).toBeUndefined();
        expect(await store.consume('record:2', 'consumed', 2000)).toEqual({ result: 'consumed' });
        expect(await store.get('record:2')).toEqual({ c: 3, consumed: 2000 });
      });

      it('keeps keys with {hash} tags intact and distinct', async () => {
        await store.put('oidc:AccessToken:{abc}', { kind: 'at' });
        await store.put('oidc:AccessToken:{abd}', { kind: 'other' });
        await store.sadd('oidc:grant:{g1}', ['oidc:AccessToken:{abc}']);
        expect(await store.get('oidc:AccessToken:{abc}')).toEqual({ kind: 'at' });
        expect(await store.get('oidc:AccessToken:{abd}')).toEqual({ kind: 'other' });
        expect(await store.get('oidc:AccessToken:abc')).toBeUndefined();
        expect(await store.smembers('oidc:grant:{g1}')).toEqual(['oidc:AccessToken:{abc}']);
        expect(await store.consume('oidc:AccessToken:{abc}', 'consumed', 7)).toEqual({ result: 'consumed' });
      });

      it('rejects a TTL that is not a positive number', async () => {
        await expect(store.put('record:bad-ttl', { a: 1 }, 0)).rejects.toThrow(RangeError);
        await expect(store.put('record:bad-ttl', { a: 1 }, -5)).rejects.toThrow(RangeError);
        await expect(store.putIfAbsent('record:bad-ttl', { a: 1 }, Number.NaN)).rejects.toThrow(RangeError);
        expect(await store.get('record:bad-ttl')).toBeUndefined();
      });
    });

    describe('TTL', () => {
      it('ttl() is undefined without expiry or without the key, else the remaining whole seconds', async () => {
        expect(await store.ttl('ttl:absent')).toBeUndefined();
        await store.put('ttl:forever', { a: 1 });
        expect(await store.ttl('ttl:forever')).toBeUndefined();
        await store.put('ttl:100', { a: 1 }, 100);
        expect(await store.ttl('ttl:100')).toBeGreaterThanOrEqual(99);
        expect(await store.ttl('ttl:100')).toBeLessThanOrEqual(100);
        await store.sadd('ttl:set', ['m'], 50);
        expect(await store.ttl('ttl:set')).toBeGreaterThanOrEqual(49);
        expect(await store.ttl('ttl:set')).toBeLessThanOrEqual(50);
        await store.incr('ttl:counter', 1, 30);
        expect(await store.ttl('ttl:counter')).toBeGreaterThanOrEqual(29);
        expect(await store.ttl('ttl:counter')).toBeLessThanOrEqual(30);
      });

      it('expired entries of every kind read as absent, and can be created afresh', async () => {
        await store.put('exp:record', { a: 1 }, 1);
        await store.putIfAbsent('exp:created', { a: 2 }, 1);
        await store.put('exp:consumable', { a: 3 }, 1);
        await store.sadd('exp:set', ['x', 'y'], 1);
        await store.incr('exp:counter', 5, 1);
        await store.batch([{ op: 'put', key: 'exp:batched', value: { a: 4 }, ttlSeconds: 1 }]);
        await store.put('exp:expired-later', { a: 5 });
        await store.batch([{ op: 'expire', key: 'exp:expired-later', ttlSeconds: 1 }]);
        await store.put('exp:kept', { a: 6 }, 60);

        expect(await store.get('exp:record')).toEqual({ a: 1 });
        expect(await store.smembers('exp:set')).toHaveLength(2);

        await sleep(1300);

        for (const key of ['exp:record', 'exp:created', 'exp:consumable', 'exp:batched', 'exp:expired-later']) {
          expect(await store.get(key), key).toBeUndefined();
          expect(await store.ttl(key), key).toBeUndefined();
        }
        expect(await store.smembers('exp:set')).toEqual([]);
        expect(await store.consume('exp:consumable', 'consumed', 1)).toEqual({ result: 'missing' });
        expect(await store.get('exp:kept')).toEqual({ a: 6 });

        expect(await store.putIfAbsent('exp:created', { a: 7 })).toBe(true);
        expect(await store.get('exp:created')).toEqual({ a: 7 });
        expect(await store.ttl('exp:created')).toBeUndefined();
        expect(await store.incr('exp:counter', 2)).toBe(2);
        expect(await store.ttl('exp:counter')).toBeUndefined();
        await store.sadd('exp:set', ['z']);
        expect(await store.smembers('exp:set')).toEqual(['z']);
        expect(await store.ttl('exp:set')).toBeUndefined();
      });
    });

    describe('putIfAbsent', () => {
      it('writes only when the key is absent', async () => {
        expect(await store.putIfAbsent('pia:1', { first: true }, 100)).toBe(true);
        expect(await store.putIfAbsent('pia:1', { second: true })).toBe(false);
        expect(await store.get('pia:1')).toEqual({ first: true });
        expect(await store.ttl('pia:1')).toBeGreaterThanOrEqual(99);
      });

      it('lets exactly one of 20 concurrent callers win', async () => {
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.putIfAbsent('pia:race', { writer: i })));
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = results.indexOf(true);
        expect(await store.get('pia:race')).toEqual({ writer: winner });
      });
    });

    describe('consume', () => {
      it('answers missing, consumed, then already with the earlier time', async () => {
        expect(await store.consume('code:absent', 'consumed', 1)).toEqual({ result: 'missing' });
        await store.put('code:1', { grantId: 'g' }, 100);
        expect(await store.consume('code:1', 'consumed', 1111)).toEqual({ result: 'consumed' });
        expect(await store.consume('code:1', 'consumed', 2222)).toEqual({ result: 'already', at: 1111 });
        expect(await store.get('code:1')).toEqual({ grantId: 'g', consumed: 1111 });
        expect(await store.ttl('code:1')).toBeGreaterThanOrEqual(99);
      });

      it('keeps fields independent', async () => {
        await store.put('code:2', { a: 1 });
        expect(await store.consume('code:2', 'x', 1)).toEqual({ result: 'consumed' });
        expect(await store.consume('code:2', 'y', 2)).toEqual({ result: 'consumed' });
        expect(await store.consume('code:2', 'x', 3)).toEqual({ result: 'already', at: 1 });
        expect(await store.get('code:2')).toEqual({ a: 1, x: 1, y: 2 });
      });

      it('lets exactly one of 20 concurrent consumers consume', async () => {
        await store.put('code:race', { grantId: 'g' });
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.consume('code:race', 'consumed', 1000 + i)));
        const consumed = results.filter((r) => r.result === 'consumed');
        expect(consumed).toHaveLength(1);
        const winnerAt = 1000 + results.findIndex((r) => r.result === 'consumed');
        for (const r of results) if (r.result !== 'consumed') expect(r).toEqual({ result: 'already', at: winnerAt });
        expect(await store.get('code:race')).toEqual({ grantId: 'g', consumed: winnerAt });
      });
    });

    describe('delete', () => {
      it('deletes several keys of any kind at once, ignoring absent ones', async () => {
        await store.put('del:record', { a: 1 });
        await store.put('del:kept', { a: 2 });
        await store.sadd('del:set', ['m']);
        await store.incr('del:counter');
        await store.delete('del:record', 'del:set', 'del:counter', 'del:absent');
        await store.delete();
        expect(await store.get('del:record')).toBeUndefined();
        expect(await store.smembers('del:set')).toEqual([]);
        expect(await store.incr('del:counter')).toBe(1);
        expect(await store.get('del:kept')).toEqual({ a: 2 });
      });
    });

    describe('sets', () => {
      it('adds (without duplicates), removes and lists members', async () => {
        expect(await store.smembers('set:absent')).toEqual([]);
        await store.sadd('set:1', ['a', 'b', 'c']);
        await store.sadd('set:1', ['c', 'd', 'oidc:AccessToken:{x}']);
        expect(sorted(await store.smembers('set:1'))).toEqual(['a', 'b', 'c', 'd', 'oidc:AccessToken:{x}']);
        await store.srem('set:1', ['b', 'absent']);
        expect(sorted(await store.smembers('set:1'))).toEqual(['a', 'c', 'd', 'oidc:AccessToken:{x}']);
        await store.srem('set:absent', ['a']);
        await store.sadd('set:1', []);
        await store.srem('set:1', []);
        expect(await store.smembers('set:1')).toHaveLength(4);
      });

      it('drops an emptied set, TTL included', async () => {
        await store.sadd('set:2', ['a'], 100);
        await store.srem('set:2', ['a']);
        expect(await store.smembers('set:2')).toEqual([]);
        expect(await store.ttl('set:2')).toBeUndefined();
      });

      it('sadd with a TTL sets it; sadd without one keeps the current TTL', async () => {
        await store.sadd('set:3', ['a'], 100);
        await store.sadd('set:3', ['b']);
        expect(await store.ttl('set:3')).toBeGreaterThanOrEqual(99);
        await store.sadd('set:3', ['c'], 500);
        expect(await store.ttl('set:3')).toBeGreaterThan(400);
        expect(sorted(await store.smembers('set:3'))).toEqual(['a', 'b', 'c']);
      });
    });

    describe('incr', () => {
      it('counts from zero by 1 or by the given step and returns the new value', async () => {
        expect(await store.incr('count:1')).toBe(1);
        expect(await store.incr('count:1')).toBe(2);
        expect(await store.incr('count:1', 10)).toBe(12);
        expect(await store.incr('count:1', -3)).toBe(9);
        expect(await store.ttl('count:1')).toBeUndefined();
      });

      it('applies the TTL only when it creates the counter', async () => {
        expect(await store.incr('count:2', 1, 100)).toBe(1);
        expect(await store.incr('count:2', 1, 1000)).toBe(2);
        expect(await store.incr('count:2', 1)).toBe(3);
        const ttl = await store.ttl('count:2');
        expect(ttl).toBeGreaterThanOrEqual(99);
        expect(ttl).toBeLessThanOrEqual(100);
      });

      it('reads counters without creating them', async () => {
        await store.incr('read:a', 4);
        expect(await store.counters(['read:a', 'read:missing', 'read:a'])).toEqual([4, 0, 4]);
        expect(await store.counters([])).toEqual([]);
        expect(await store.ttl('read:missing')).toBeUndefined();
        expect(await store.incr('read:missing', 1)).toBe(1);
      });

      it('loses no increment under 50 concurrent calls', async () => {
        const values = await Promise.all(Array.from({ length: 50 }, () => store.incr('count:race')));
        expect(sorted(values.map(String))).toEqual(sorted(Array.from({ length: 50 }, (_, i) => String(i + 1))));
      });

      it('hands each of 50 concurrent callers creating a counter with a TTL its own value, under one TTL', async () => {
        // What reserve-then-check throttles rely on (src/http/rate-limit.ts): the increment and the value
        // that decides are one step, so exactly `max` of any number of concurrent callers see a value ≤ max.
        const values = await Promise.all(Array.from({ length: 50 }, () => store.incr('count:ttl-race', 1, 60)));
        expect(sorted(values.map(String))).toEqual(sorted(Array.from({ length: 50 }, (_, i) => String(i + 1))));
        expect(await store.ttl('count:ttl-race')).toBeGreaterThanOrEqual(59);
        expect(await store.ttl('count:ttl-race')).toBeLessThanOrEqual(60);
      });
    });

    describe('batch', () => {
      it('applies every kind of op together', async () => {
        await store.put('batch:{g}:old', { a: 1 });
        await store.sadd('batch:{g}:index', ['old-token', 'other']);
        await store.put('batch:{g}:extend', { a: 2 });
        await store.batch([
          { op: 'put', key: 'batch:{g}:token', value: { t: 1 }, ttlSeconds: 100 },
          { op: 'put', key: 'batch:{g}:plain', value: { t: 2 } },
          { op: 'delete', key: 'batch:{g}:old' },
          { op: 'sadd', key: 'batch:{g}:index', members: ['new-token'], ttlSeconds: 200 },
          { op: 'srem', key: 'batch:{g}:index', members: ['old-token'] },
          { op: 'expire', key: 'batch:{g}:extend', ttlSeconds: 300 },
        ]);
        expect(await store.get('batch:{g}:token')).toEqual({ t: 1 });
        expect(await store.ttl('batch:{g}:token')).toBeGreaterThanOrEqual(99);
        expect(await store.get('batch:{g}:plain')).toEqual({ t: 2 });
        expect(await store.ttl('batch:{g}:plain')).toBeUndefined();
        expect(await store.get('batch:{g}:old')).toBeUndefined();
        expect(sorted(await store.smembers('batch:{g}:index'))).toEqual(['new-token', 'other']);
        expect(await store.ttl('batch:{g}:index')).toBeGreaterThanOrEqual(199);
        expect(await store.ttl('batch:{g}:extend')).toBeGreaterThanOrEqual(299);
        expect(await store.get('batch:{g}:extend')).toEqual({ a: 2 });
        await store.batch([]);
      });

      it('applies ops in order within the batch', async () => {
        await store.batch([
          { op: 'put', key: 'batch:{o}', value: { v: 1 } },
          { op: 'delete', key: 'batch:{o}' },
          { op: 'put', key: 'batch:{o}', value: { v: 2 } },
          { op: 'sadd', key: 'batch:{o}:set', members: ['a', 'b'] },
          { op: 'srem', key: 'batch:{o}:set', members: ['a'] },
        ]);
        expect(await store.get('batch:{o}')).toEqual({ v: 2 });
        expect(await store.smembers('batch:{o}:set')).toEqual(['b']);
      });

      it('refuses a batch spanning several hash tags (several Cluster slots), writing nothing', async () => {
        // Redis Cluster cannot apply such a batch in one transaction; every driver refuses it so the
        // mistake shows in every test run, not only on a Cluster.
        const spans: BatchOp[][] = [
          [{ op: 'put', key: 'slot:{a}', value: { a: 1 } }, { op: 'put', key: 'slot:{b}', value: { b: 1 } }],
          [{ op: 'put', key: 'slot:{a}:record', value: { a: 1 } }, { op: 'sadd', key: 'slot:index', members: ['a'] }],
          // An empty tag is no tag: the whole key is hashed.
          [{ op: 'put', key: 'slot:{}:x', value: { a: 1 } }, { op: 'put', key: 'slot:{}:y', value: { a: 1 } }],
        ];
        for (const ops of spans) await expect(store.batch(ops)).rejects.toBeInstanceOf(CrossSlotBatchError);
        for (const key of ['slot:{a}', 'slot:{b}', 'slot:{a}:record', 'slot:{}:x', 'slot:{}:y']) expect(await store.get(key), key).toBeUndefined();
        expect(await store.smembers('slot:index')).toEqual([]);
        // The same tag anywhere in the key is one slot; keys without a tag that are equal are one slot.
        await store.batch([
          { op: 'put', key: 'user:{u1}', value: { a: 1 } },
          { op: 'sadd', key: 'user:{u1}:sessions', members: ['s'] },
          { op: 'put', key: 'x:{u1}:y:{other}', value: { a: 2 } },
        ]);
        expect(await store.get('x:{u1}:y:{other}')).toEqual({ a: 2 });
        await store.ping();
      });

      it('applies nothing when one op is invalid', async () => {
        await expect(
          store.batch([
            { op: 'put', key: 'batch:none', value: { a: 1 } },
            { op: 'expire', key: 'batch:none', ttlSeconds: -1 },
          ]),
        ).rejects.toThrow(RangeError);
        expect(await store.get('batch:none')).toBeUndefined();
      });
    });

    describe('event log', () => {
      it('appends with increasing ids and reads in id order', async () => {
        expect(await store.range('log:empty')).toEqual([]);
        const ids: string[] = [];
        for (let i = 0; i < 5; i++) ids.push(await store.append('log:1', { i }));
        expect(ids).toEqual(inIdOrder(ids));
        expect(new Set(ids).size).toBe(5);
        for (const id of ids) expect(id).toMatch(/^\d+-\d+$/);

        const all = await store.range('log:1');
        expect(all.map((e) => e.id)).toEqual(ids);
        expect(all.map((e) => e.value)).toEqual([0, 1, 2, 3, 4].map((i) => ({ i })));
        expect((await store.range('log:1', { after: ids[1] })).map((e) => e.value)).toEqual([{ i: 2 }, { i: 3 }, { i: 4 }]);
        expect((await store.range('log:1', { limit: 2 })).map((e) => e.id)).toEqual(ids.slice(0, 2));
        expect((await store.range('log:1', { after: ids[0], limit: 2 })).map((e) => e.id)).toEqual(ids.slice(1, 3));
        expect(await store.range('log:1', { after: ids[4] })).toEqual([]);
      });

      it('pages through a log with after + limit, 100 events by default', async () => {
        const ids = await Promise.all(Array.from({ length: 120 }, (_, i) => store.append('log:2', { i })));
        expect(new Set(ids).size).toBe(120);
        const firstPage = await store.range('log:2');
        expect(firstPage).toHaveLength(100);
        const secondPage = await store.range('log:2', { after: firstPage.at(-1)?.id });
        expect(secondPage).toHaveLength(20);
        const seen = [...firstPage, ...secondPage];
        expect(seen.map((e) => e.id)).toEqual(inIdOrder(ids));
        // Appends issued together are stored in call order.
        expect(seen.map((e) => e.value)).toEqual(Array.from({ length: 120 }, (_, i) => ({ i })));
      });

      it('takes any event id as a cursor, in id order, and refuses anything else with StoreInputError', async () => {
        const ids: string[] = [];
        for (let i = 0; i < 3; i++) ids.push(await store.append('log:cursor', { i }));
        const [ms] = ids[0]!.split('-');
        // Not only ids the log holds: a time-based cursor, unpadded, with a sequence number past any assigned.
        expect((await store.range('log:cursor', { after: `${Number(ms) - 1}-99999999` })).map((e) => e.id)).toEqual(ids);
        expect((await store.range('log:cursor', { after: '5-10' })).map((e) => e.id)).toEqual(ids);
        expect((await store.range('log:cursor', { after: '0-0' })).map((e) => e.id)).toEqual(ids);
        expect(await store.range('log:cursor', { after: '9999999999999999999-9999999999999999999' })).toEqual([]);
        expect(await store.range('log:cursor', { after: `${ms}-9999999999999999999` })).toEqual((await store.range('log:cursor')).filter((e) => e.id.split('-')[0] !== ms));
        for (const after of ['garbage', '', '1', '1-2-3', '-1-0', '1-', '１-1', '1-0 ', '99999999999999999999-0', '0-99999999999999999999', 'x'.repeat(5000)]) {
          await expect(store.range('log:cursor', { after }), after.slice(0, 20)).rejects.toBeInstanceOf(StoreInputError);
        }
      });

      it('keeps logs apart', async () => {
        await store.append('log:a', { from: 'a' });
        await store.append('log:{t}:b', { from: 'b' });
        await store.append('log:ab', { from: 'ab' });
        expect((await store.range('log:a')).map((e) => e.value)).toEqual([{ from: 'a' }]);
        expect((await store.range('log:{t}:b')).map((e) => e.value)).toEqual([{ from: 'b' }]);
      });
    });

    describe('topology', () => {
      it('reports its mode and every master reachable', async () => {
        const topology = await store.topology();
        expect(['embedded', 'standalone', 'cluster', 'sentinel']).toContain(topology.mode);
        expect(topology.masters).toBeGreaterThanOrEqual(1);
        expect(topology.masters_reachable).toBe(topology.masters);
        expect(Array.isArray(await store.durabilityWarnings())).toBe(true);
      });
    });

    describe('key length', () => {
      it(`takes keys of up to ${MAX_KEY_BYTES} bytes and refuses longer ones with StoreInputError, writing nothing`, async () => {
        const longest = `k:{${'é'.repeat((MAX_KEY_BYTES - 4) / 2)}}`;
        expect(Buffer.byteLength(longest)).toBe(MAX_KEY_BYTES);
        await store.put(longest, { a: 1 });
        expect(await store.get(longest)).toEqual({ a: 1 });
        await store.delete(longest);

        const tooLong = `${longest}x`;
        const refused = [
          store.get(tooLong), store.put(tooLong, { a: 1 }), store.putIfAbsent(tooLong, { a: 1 }), store.consume(tooLong, 'c', 1),
          store.delete('k:ok', tooLong), store.ttl(tooLong), store.sadd(tooLong, ['m']), store.srem(tooLong, ['m']), store.smembers(tooLong),
          store.incr(tooLong), store.counters(['c:ok', tooLong]), store.append(tooLong, { a: 1 }), store.range(tooLong),
          store.batch([{ op: 'put', key: 'k:batched', value: { a: 1 } }, { op: 'put', key: tooLong, value: { a: 1 } }]),
        ];
        for (const attempt of refused) await expect(attempt).rejects.toBeInstanceOf(StoreInputError);
        expect(await store.get('k:batched')).toBeUndefined();
        await expect(store.get('x'.repeat(100 * 1024))).rejects.toBeInstanceOf(StoreInputError);
        // Refused input is not an outage.
        await store.ping();
      });
    });

    describe('lifecycle', () => {
      it('ping resolves while open; every operation rejects with StoreUnavailableError after close', async () => {
        await store.ping();
        await store.close();
        await store.close(); // idempotent
        await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
        await expect(store.get('x')).rejects.toBeInstanceOf(StoreUnavailableError);
        await expect(store.put('x', {})).rejects.toBeInstanceOf(StoreUnavailableError);
        await expect(store.append('log', {})).rejects.toBeInstanceOf(StoreUnavailableError);
      });

      it('keeps data across a reopen', async (context) => {
        if (!subject.reopen) context.skip();
        await store.put('durable:record', { a: 1 });
        await store.put('durable:ttl', { a: 2 }, 100);
        await store.consume('durable:record', 'consumed', 5);
        await store.sadd('durable:set', ['m1', 'm2']);
        await store.incr('durable:counter', 7);
        const id = await store.append('durable:log', { e: 1 });

        store = await subject.reopen!();

        expect(await store.get('durable:record')).toEqual({ a: 1, consumed: 5 });
        expect(await store.get('durable:ttl')).toEqual({ a: 2 });
        expect(await store.ttl('durable:ttl')).toBeGreaterThanOrEqual(98);
        expect(sorted(await store.smembers('durable:set'))).toEqual(['m1', 'm2']);
        expect(await store.incr('durable:counter')).toBe(8);
        const next = await store.append('durable:log', { e: 2 });
        expect(inIdOrder([next, id])).toEqual([id, next]);
        expect(await store.range('durable:log')).toEqual([
          { id, value: { e: 1 } },
          { id: next, value: { e: 2 } },
        ]);
      });
    });
  });
}
