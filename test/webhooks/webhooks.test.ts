/**
 * WebhookRepository against a real receiver (node:http + the standardwebhooks package) on both stores.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebhookRepository, type DeliveryView, type WebhookRepositoryOptions } from '../../src/webhooks/index.ts';
import { freePort } from '../support/ports.ts';
import { startRedisServer, type RedisServer } from '../support/redis-server.ts';
import { ancestry, captureLogger, openFreshStore } from './fixtures.ts';
import { eventually, startReceiver, type Receiver } from './receiver.ts';
import type { Actor } from '../../src/domain/index.ts';

// root ─ team ─ svc, root ─ other
const ancestorsOf = ancestry(
  new Map([
    ['team', 'root'],
    ['svc', 'team'],
    ['other', 'root'],
  ]),
);
const FAST: Partial<WebhookRepositoryOptions> = { retrySchedule: [0.2, 0.2, 0.2], pollIntervalMs: 50, timeoutMs: 2000 };
const creator: Actor = { type: 'user', id: 'usr_1' };

let redis: RedisServer;
let receiver: Receiver;
beforeAll(async () => {
  [redis, receiver] = await Promise.all([startRedisServer(), startReceiver()]);
});
afterAll(async () => {
  await receiver?.close();
  await redis?.dispose();
});

describe.each([{ kind: 'embedded' as const }, { kind: 'redis' as const }])('webhooks on the $kind store', ({ kind }) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A started service on a fresh store, stopped and closed after the test. */
  async function node(options: Partial<WebhookRepositoryOptions> = {}) {
    const { store, cleanup } = await openFreshStore(kind, redis.url);
    const { logger, lines } = captureLogger();
    const service = new WebhookRepository(store, { logger, blockPrivateAddresses: false, ancestorsOf, ...FAST, ...options });
    service.start();
    cleanups.push(async () => {
      await service.stop();
      await cleanup();
    });
    return { service, store, lines };
  }

  const settled = (service: WebhookRepository, webhookId: string, count = 1) =>
    eventually(async () => {
      const list = await service.deliveries(webhookId);
      return list.length >= count && list.every((d) => d.status !== 'pending') ? list : undefined;
    }, 8000, `deliveries of ${webhookId} to settle`);

  it('creates, lists and deletes webhooks, and delivers a signed event that standardwebhooks verifies', async () => {
    const { service, store, lines } = await node();
    const path = `/${kind}/basic`;
    const { webhook, secret } = await service.create({
      project_id: 'team',
      url: receiver.url(path),
      events: ['key.created', 'key.revoked'],
      description: 'ingest alerts',
      created_by: creator,
    });
    receiver.endpoint(path, secret);

    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(secret.slice(6), 'base64')).toHaveLength(32);
    expect(webhook).toEqual({
      id: expect.stringMatching(/^wh_/),
      project_id: 'team',
      url: receiver.url(path),
      events: ['key.created', 'key.revoked'],
      description: 'ingest alerts',
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      created_by: creator,
      enabled: true,
    });
    expect(webhook).not.toHaveProperty('secret');
    expect(await service.get(webhook.id)).toEqual(webhook);
    expect(await service.list('team')).toEqual([webhook]);
    expect(await service.list('root')).toEqual([]);

    expect(await service.emit({ type: 'key.created', project_id: 'team', data: { key: { id: 'key_1', name: 'ci' } } })).toBe(1);
    expect(await service.emit({ type: 'key.rotated', project_id: 'team', data: {} })).toBe(0); // not subscribed
    const [delivery] = await settled(service, webhook.id);

    expect(delivery).toEqual({
      id: expect.stringMatching(/^msg_/),
      event_type: 'key.created',
      status: 'delivered',
      attempts: [{ at: expect.any(String), status_code: 204, error: null, duration_ms: expect.any(Number) }],
      next_attempt_at: null,
      created_at: expect.any(String),
    } satisfies DeliveryView);
    const [receipt] = receiver.receipts(path);
    expect(receiver.receipts(path)).toHaveLength(1);
    expect(receipt).toMatchObject({ verified: true, id: delivery!.id });
    expect(Math.abs(Number(receipt!.timestamp) - Date.now() / 1000)).toBeLessThan(5);
    const payload = JSON.parse(receipt!.body);
    expect(payload).toEqual({
      type: 'key.created',
      timestamp: expect.stringMatching(/Z$/),
      data: { key: { id: 'key_1', name: 'ci' }, project_id: 'team' },
    });

    // The secret is shown once: not in the stored record (sealed), not in views, not in logs.
    const stored = JSON.stringify(await store.get(`webhook:{${webhook.id}}`));
    expect(stored).toContain('"ct"');
    expect(stored).not.toContain(secret.slice(6));
    expect(JSON.stringify(await service.list('team'))).not.toContain(secret.slice(6));
    expect(lines.join('')).not.toContain(secret.slice(6));

    expect(await service.delete(webhook.id)).toBe(true);
    expect(await service.delete(webhook.id)).toBe(false);
    expect(await service.get(webhook.id)).toBeUndefined();
    expect(await service.list('team')).toEqual([]);
    expect(await service.emit({ type: 'key.created', project_id: 'team', data: {} })).toBe(0);
  });

  it('retries failures with the same webhook-id, and gives up after the schedule with every attempt listed', async () => {
    const { service, lines } = await node();
    const flakyPath = `/${kind}/flaky`;
    const brokenPath = `/${kind}/broken`;
    const flaky = await service.create({ project_id: 'svc', url: receiver.url(flakyPath), events: ['key.revoked'], created_by: creator });
    const broken = await service.create({ project_id: 'svc', url: receiver.url(brokenPath), events: ['key.revoked'], created_by: creator });
    receiver.endpoint(flakyPath, flaky.secret, { failFirst: 3 });
    receiver.endpoint(brokenPath, broken.secret, { status: 500 });

    expect(await service.emit({ type: 'key.revoked', project_id: 'svc', data: { key_id: 'key_9' } })).toBe(2);
    const [[flakyDelivery], [brokenDelivery]] = await Promise.all([settled(service, flaky.webhook.id), settled(service, broken.webhook.id)]);

    // 1 attempt + 3 retries; a 500 is retried, the fourth answer (204) ends it.
    expect(flakyDelivery!.status).toBe('delivered');
    expect(flakyDelivery!.attempts.map((a) => a.status_code)).toEqual([500, 500, 500, 204]);
    expect(flakyDelivery!.attempts.map((a) => a.error)).toEqual(['unexpected status 500', 'unexpected status 500', 'unexpected status 500', null]);
    const flakyReceipts = receiver.receipts(flakyPath);
    expect(flakyReceipts).toHaveLength(4);
    expect(new Set(flakyReceipts.map((r) => r.id))).toEqual(new Set([flakyDelivery!.id]));
    expect(new Set(flakyReceipts.map((r) => r.body)).size).toBe(1);
    expect(flakyReceipts.every((r) => r.verified)).toBe(true);
    // Retries wait for the schedule (0.2 s each).
    const times = flakyDelivery!.attempts.map((a) => Date.parse(a.at));
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(190);

    expect(brokenDelivery).toMatchObject({ status: 'failed', next_attempt_at: null });
    expect(brokenDelivery!.attempts).toHaveLength(4);
    expect(brokenDelivery!.attempts.every((a) => a.status_code === 500)).toBe(true);
    expect(receiver.receipts(brokenPath).map((r) => r.id)).toEqual(Array(4).fill(brokenDelivery!.id));

    const warnings = lines.map((line) => JSON.parse(line));
    expect(warnings.filter((w) => w.msg === 'webhook delivery failed, no retries left')).toHaveLength(1);
    expect(warnings.filter((w) => w.webhook_id === broken.webhook.id)).toHaveLength(4);
    expect(warnings[0]).toMatchObject({ level: 40, status_code: 500, host: expect.stringMatching(/^127\.0\.0\.1:/) });
    const joined = lines.join('');
    expect(joined).not.toContain(flaky.secret.slice(6));
    expect(joined).not.toContain(broken.secret.slice(6));
  });

  it('fans an event out to the webhooks of the project and all its ancestors', async () => {
    const { service } = await node();
    const made = new Map<string, string>();
    for (const [name, project, events] of [
      ['root', 'root', ['key.expired']],
      ['team', 'team', ['key.expired', 'key.created']],
      ['svc-other-event', 'svc', ['key.created']],
      ['sibling', 'other', ['key.expired']],
    ] as const) {
      const path = `/${kind}/tree/${name}`;
      const { webhook, secret } = await service.create({ project_id: project, url: receiver.url(path), events: [...events], created_by: creator });
      receiver.endpoint(path, secret);
      made.set(name, webhook.id);
    }

    expect(await service.emit({ type: 'key.expired', project_id: 'svc', data: { key_id: 'k1' } })).toBe(2); // root + team
    expect(await service.emit({ type: 'key.expired', project_id: 'root', data: { key_id: 'k2' } })).toBe(1); // root only
    expect(await service.emit({ type: 'key.expired', project_id: 'other', data: { key_id: 'k3' } })).toBe(2); // root + sibling

    await settled(service, made.get('root')!, 3);
    await settled(service, made.get('team')!, 1);
    await settled(service, made.get('sibling')!, 1);
    const heard = (name: string) => receiver.receipts(`/${kind}/tree/${name}`).map((r) => JSON.parse(r.body).data);
    expect(heard('root').map((d) => d.key_id).sort()).toEqual(['k1', 'k2', 'k3']);
    expect(heard('root').find((d) => d.key_id === 'k1')).toEqual({ key_id: 'k1', project_id: 'svc' });
    expect(heard('team')).toEqual([{ key_id: 'k1', project_id: 'svc' }]);
    expect(heard('sibling')).toEqual([{ key_id: 'k3', project_id: 'other' }]);
    expect(heard('svc-other-event')).toEqual([]);
    expect(receiver.receipts().filter((r) => r.path.startsWith(`/${kind}/tree/`)).every((r) => r.verified)).toBe(true);
  });

  it('redelivers a delivered or failed message with the same webhook-id and a fresh schedule', async () => {
    const { service } = await node({ retrySchedule: [0.1] });
    const path = `/${kind}/redeliver`;
    const { webhook, secret } = await service.create({ project_id: 'root', url: receiver.url(path), events: ['key.created'], created_by: creator });
    receiver.endpoint(path, secret, { failFirst: 2 });

    await service.emit({ type: 'key.created', project_id: 'root', data: {} });
    const [failed] = await settled(service, webhook.id);
    expect(failed!.status).toBe('failed');
    expect(failed!.attempts.map((a) => a.status_code)).toEqual([500, 500]);

    expect(await service.redeliver(failed!.id)).toBe(true);
    expect(await service.redeliver(failed!.id)).toBe(false); // already pending again
    const [delivered] = await settled(service, webhook.id);
    expect(delivered).toMatchObject({ id: failed!.id, status: 'delivered', next_attempt_at: null });
    expect(delivered!.attempts.map((a) => a.status_code)).toEqual([500, 500, 204]);

    expect(await service.redeliver(delivered!.id, { webhookId: 'wh_someone_else' })).toBe(false);
    expect(await service.redeliver(delivered!.id, { webhookId: webhook.id })).toBe(true);
    const again = await eventually(async () => {
      const [d] = await service.deliveries(webhook.id);
      return d && d.status === 'delivered' && d.attempts.length === 4 ? d : undefined;
    });
    expect(again.attempts.map((a) => a.status_code)).toEqual([500, 500, 204, 204]);
    expect(receiver.receipts(path).map((r) => r.id)).toEqual(Array(4).fill(failed!.id));
    expect(receiver.receipts(path).every((r) => r.verified)).toBe(true);

    expect(await service.redeliver('msg_nope')).toBe(false);
  });

  it('treats a timeout, a redirect and a refused connection as failures', async () => {
    const { service } = await node({ retrySchedule: [], timeoutMs: 300 });
    const cases = [
      { name: 'slow', behaviour: { delayMs: 2000 } },
      { name: 'redirect', behaviour: { status: 302, location: receiver.url('/elsewhere') } },
    ];
    const ids = new Map<string, string>();
    for (const { name, behaviour } of cases) {
      const path = `/${kind}/modes/${name}`;
      const { webhook, secret } = await service.create({ project_id: 'root', url: receiver.url(path), events: ['key.created'], created_by: creator });
      receiver.endpoint(path, secret, behaviour);
      ids.set(name, webhook.id);
    }
    // A port that was free a moment ago: nothing listens there.
    const refused = await service.create({ project_id: 'root', url: `http://127.0.0.1:${await freePort()}/hook`, events: ['key.created'], created_by: creator });
    ids.set('refused', refused.webhook.id);

    expect(await service.emit({ type: 'key.created', project_id: 'root', data: {} })).toBe(3);
    const attempt = async (name: string) => (await settled(service, ids.get(name)!))[0]!;
    const slow = await attempt('slow');
    expect(slow).toMatchObject({ status: 'failed', attempts: [{ status_code: null, error: 'timeout after 300 ms' }] });
    expect(slow.attempts[0]!.duration_ms).toBeLessThan(1500);
    expect(await attempt('redirect')).toMatchObject({ status: 'failed', attempts: [{ status_code: 302, error: 'redirect (302) not followed' }] });
    expect(await attempt('refused')).toMatchObject({ status: 'failed', attempts: [{ status_code: null, error: 'network error: ECONNREFUSED' }] });
    expect(receiver.receipts('/elsewhere')).toEqual([]);
  });
});
