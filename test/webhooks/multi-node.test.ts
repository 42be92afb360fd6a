/**
 * Several server nodes on one Redis: emitOnce sends once, each message is attempted by exactly one
 * worker, and a dead node's claim expires so another node takes the delivery over.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.ts';
import type { Store } from '../../src/store/index.ts';
import { WebhookRepository } from '../../src/webhooks/index.ts';
import { startRedisServer, type RedisServer } from '../support/redis-server.ts';
import { ancestry, captureLogger } from './fixtures.ts';
import { eventually, startReceiver, type Receiver } from './receiver.ts';
import type { Actor } from '../../src/domain/index.ts';

const ancestorsOf = ancestry(new Map([['child', 'root']]));
const creator: Actor = { type: 'system', id: null };

let redis: RedisServer;
let receiver: Receiver;
beforeAll(async () => {
  [redis, receiver] = await Promise.all([startRedisServer(), startReceiver()]);
});
afterAll(async () => {
  await receiver?.close();
  await redis?.dispose();
});

describe('webhooks: several nodes on one Redis', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** `count` nodes, each with its own Redis connection, sharing one key prefix. No worker started. */
  async function cluster(count: number): Promise<Array<{ service: WebhookRepository; store: Store }>> {
    const prefix = `t${randomBytes(6).toString('hex')}:`;
    const nodes = [];
    for (let i = 0; i < count; i++) {
      const store = await openStore({ driver: 'redis', url: redis.url, prefix });
      const service = new WebhookRepository(store, {
        logger: captureLogger().logger,
        blockPrivateAddresses: false,
        ancestorsOf,
        retrySchedule: [0.2, 0.2, 0.2],
        pollIntervalMs: 50,
      });
      cleanups.push(async () => {
        await service.stop();
        await store.close();
      });
      nodes.push({ service, store });
    }
    return nodes;
  }

  it('emitOnce raced from two nodes enqueues and delivers exactly once per key', async () => {
    const [a, b] = await cluster(2);
    const path = '/once';
    const { webhook, secret } = await a!.service.create({ project_id: 'root', url: receiver.url(path), events: ['key.expiring'], created_by: creator });
    receiver.endpoint(path, secret);

    const keys = Array.from({ length: 10 }, (_, i) => `key.expiring:key_${i}:2030-01-01`);
    const event = (i: number) => ({ type: 'key.expiring', project_id: 'child', data: { key_id: `key_${i}` } });
    const counts = await Promise.all(keys.map((key, i) => Promise.all([a!.service.emitOnce(key, event(i)), b!.service.emitOnce(key, event(i))])));
    for (const pair of counts) expect(pair.sort()).toEqual([0, 1]);
    expect(await b!.service.emitOnce(keys[0]!, event(0))).toBe(0);

    a!.service.start();
    b!.service.start();
    await eventually(async () => {
      const list = await a!.service.deliveries(webhook.id);
      return list.length === 10 && list.every((d) => d.status === 'delivered') ? true : undefined;
    });
    await new Promise((resolve) => setTimeout(resolve, 200)); // a few more polls: nothing else arrives
    const receipts = receiver.receipts(path);
    expect(receipts).toHaveLength(10);
    expect(receipts.every((r) => r.verified)).toBe(true);
    expect(new Set(receipts.map((r) => JSON.parse(r.body).data.key_id))).toEqual(new Set(keys.map((_, i) => `key_${i}`)));
  });

  it('two workers deliver every message exactly once', async () => {
    const nodes = await cluster(2);
    const path = '/two-workers';
    const { webhook, secret } = await nodes[0]!.service.create({ project_id: 'root', url: receiver.url(path), events: ['key.created'], created_by: creator });
    // A slow receiver keeps attempts in flight while the other node scans the same queue.
    receiver.endpoint(path, secret, { delayMs: 30 });
    for (const { service } of nodes) service.start();

    const total = 40;
    const emitted = await Promise.all(
      Array.from({ length: total }, (_, i) => nodes[i % 2]!.service.emit({ type: 'key.created', project_id: 'child', data: { n: i } })),
    );
    expect(emitted.every((n) => n === 1)).toBe(true);
    await eventually(async () => {
      const list = await nodes[1]!.service.deliveries(webhook.id, { limit: 100 });
      return list.length === total && list.every((d) => d.status === 'delivered') ? list : undefined;
    }, 8000);
    await new Promise((resolve) => setTimeout(resolve, 200));

    const receipts = receiver.receipts(path);
    const perId = new Map<string, number>();
    for (const r of receipts) perId.set(r.id, (perId.get(r.id) ?? 0) + 1);
    expect(perId.size).toBe(total);
    expect([...perId.values()].every((n) => n === 1)).toBe(true);
    expect(receipts.every((r) => r.verified && r.status === 204)).toBe(true);
    expect(new Set(receipts.map((r) => JSON.parse(r.body).data.n)).size).toBe(total);
  });

  it("retries a delivery whose claim was left by a node that died, once the claim expires", async () => {
    const [a, b] = await cluster(2);
    const path = '/orphan';
    const { webhook, secret } = await a!.service.create({ project_id: 'root', url: receiver.url(path), events: ['key.created'], created_by: creator });
    receiver.endpoint(path, secret);
    await a!.service.emit({ type: 'key.created', project_id: 'root', data: {} });
    const [pending] = await a!.service.deliveries(webhook.id);
    // What node A leaves behind if it dies mid-attempt: its claim, with a TTL (documented layout).
    const claimedAt = Date.now();
    expect(await a!.store.putIfAbsent(`webhook:delivery:{${pending!.id}}:lock`, { token: 'dead-node' }, 0.6)).toBe(true);

    b!.service.start();
    const [delivered] = await eventually(async () => {
      const list = await b!.service.deliveries(webhook.id);
      return list[0]?.status === 'delivered' ? list : undefined;
    });
    expect(Date.parse(delivered!.attempts[0]!.at)).toBeGreaterThanOrEqual(claimedAt + 550);
    expect(receiver.receipts(path).map((r) => r.id)).toEqual([pending!.id]);
  });
});
