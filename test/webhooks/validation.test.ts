/**
 * Signatures (checked with the independent standardwebhooks package), input validation, private-address
 * blocking and secrets at rest.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { WebhookRepository, generateSecret, isBlockedAddress, sign } from '../../src/webhooks/index.ts';
import type { CreateWebhookInput } from '../../src/webhooks/index.ts';
import { DomainError } from '../../src/domain/index.ts';
import { ancestry, captureLogger, openFreshStore, type OpenedStore } from './fixtures.ts';
import { eventually, startReceiver, type Receiver } from './receiver.ts';
import type { Actor } from '../../src/domain/index.ts';

const ancestorsOf = ancestry(new Map());
const creator: Actor = { type: 'user', id: 'usr_1' };

describe('sign', () => {
  it('produces signatures that standardwebhooks verifies', () => {
    const secret = generateSecret();
    const id = 'msg_2LJbW0ZJkGLkRS0g5yXh4h';
    const timestamp = Math.floor(Date.now() / 1000);
    const body = JSON.stringify({ type: 'key.created', data: { name: 'ünïcode ✓' } });
    const headers = { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': sign(secret, id, timestamp, body) };
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    // Anything changed breaks it.
    expect(() => new Webhook(secret).verify(body + ' ', headers)).toThrow();
    expect(() => new Webhook(secret).verify(body, { ...headers, 'webhook-id': 'msg_other' })).toThrow();
    expect(() => new Webhook(generateSecret()).verify(body, headers)).toThrow();
  });

  it('matches the published Standard Webhooks example', () => {
    // The example from the spec's reference libraries (secret, id, timestamp, payload → signature).
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    expect(sign(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });
});

describe('isBlockedAddress', () => {
  it.each([
    ['127.0.0.1', true],
    ['10.0.0.1', true],
    ['172.16.5.4', true],
    ['192.168.1.1', true],
    ['169.254.169.254', true],
    ['100.64.0.1', true],
    ['0.0.0.0', true],
    ['::', true],
    ['::1', true],
    ['fd00::1', true],
    ['fe80::1', true],
    ['::ffff:127.0.0.1', true],
    ['::ffff:a00:1', true],
    ['64:ff9b::a9fe:a9fe', true],
    ['2002:c0a8:101::1', true],
    ['8.8.8.8', false],
    ['172.32.0.1', false],
    ['2606:4700:4700::1111', false],
    ['::ffff:8.8.8.8', false],
    ['not-an-ip', true],
  ])('%s → %s', (address, expected) => {
    expect(isBlockedAddress(address)).toBe(expected);
  });
});

describe('create: validation', () => {
  let opened: OpenedStore;
  let open: WebhookRepository;
  let strict: WebhookRepository;
  beforeAll(async () => {
    opened = await openFreshStore('embedded');
    const { logger } = captureLogger();
    open = new WebhookRepository(opened.store, { logger, blockPrivateAddresses: false, ancestorsOf });
    strict = new WebhookRepository(opened.store, { logger, blockPrivateAddresses: true, ancestorsOf });
  });
  afterAll(async () => {
    await opened?.cleanup();
  });

  const input = (overrides: Partial<CreateWebhookInput>): CreateWebhookInput => ({
    project_id: 'p1',
    url: 'https://hooks.example.com/logtrace',
    events: ['key.created'],
    created_by: creator,
    ...overrides,
  });

  async function refused(service: WebhookRepository, overrides: Partial<CreateWebhookInput>): Promise<DomainError> {
    const error = await service.create(input(overrides)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DomainError);
    expect(await service.list('p1')).toEqual([]); // nothing written
    return error as DomainError;
  }

  it.each([
    ['not a url', 'url', /not a valid absolute URL/],
    ['ftp://files.example.com/hook', 'url', /must use https or http, not ftp/],
    ['https://user:pw@hooks.example.com/', 'url', /credentials/],
  ] as const)('refuses url %s', async (url, field, message) => {
    const error = await refused(open, { url });
    expect(error.field).toBe(field);
    expect(error.message).toMatch(message);
  });

  it('refuses unknown, empty and missing event lists', async () => {
    const unknown = await refused(open, { events: ['key.created', 'key.deleted'] });
    expect(unknown).toMatchObject({ field: 'events', message: expect.stringContaining('"key.deleted"') });
    expect(await refused(open, { events: [] })).toMatchObject({ field: 'events', message: expect.stringContaining('non-empty') });
    expect(await refused(open, { events: undefined as unknown as string[] })).toMatchObject({ field: 'events' });
  });

  it.each([
    ['http://127.0.0.1:8080/hook', /127\.0\.0\.1 is a loopback, private or link-local address/],
    ['http://10.0.0.1/hook', /10\.0\.0\.1 is a loopback/],
    ['http://93.184.215.14/hook', /must use https/],
    ['https://127.0.0.1/hook', /127\.0\.0\.1 is a loopback, private or link-local address/],
    ['https://10.0.0.1/hook', /10\.0\.0\.1 is a loopback/],
    ['https://localhost/hook', /"localhost" resolves to (127\.0\.0\.1|::1)/],
    ['https://[::1]/hook', /::1 is a loopback/],
    ['https://169.254.169.254/latest/meta-data', /link-local/],
    ['https://0x7f.1/hook', /127\.0\.0\.1/],
    ['https://does-not-exist.invalid/hook', /could not be resolved/],
  ])('with blockPrivateAddresses, refuses %s', async (url, message) => {
    const error = await refused(strict, { url });
    expect(error.field).toBe('url');
    expect(error.message).toMatch(message);
  });

  it('without blockPrivateAddresses, accepts loopback http (development)', async () => {
    const { webhook } = await open.create(input({ project_id: 'p2', url: 'http://127.0.0.1:9/hook', events: ['key.created', 'key.created'] }));
    expect(webhook.events).toEqual(['key.created']);
    expect(await open.delete(webhook.id)).toBe(true);
  });

  it('refuses to emit an event type that does not exist', async () => {
    await expect(open.emit({ type: 'key.exploded', project_id: 'p1', data: {} })).rejects.toThrow(RangeError);
  });
});

describe('secrets at rest', () => {
  let receiver: Receiver;
  const opened: OpenedStore[] = [];
  const services: WebhookRepository[] = [];
  beforeAll(async () => {
    receiver = await startReceiver();
  });
  afterAll(async () => {
    for (const service of services) await service.stop();
    for (const o of opened) await o.cleanup();
    await receiver?.close();
  });

  async function service(store: OpenedStore, encryptionKey?: Buffer): Promise<WebhookRepository> {
    const s = new WebhookRepository(store.store, { logger: captureLogger().logger, blockPrivateAddresses: false, ancestorsOf, encryptionKey, retrySchedule: [], pollIntervalMs: 50 });
    services.push(s);
    return s;
  }

  it('without LOGTRACE_SECRET_KEY, nodes share one data key kept in the store', async () => {
    const store = await openFreshStore('embedded');
    opened.push(store);
    const [a, b] = [await service(store), await service(store)];
    const { webhook, secret } = await a.create({ project_id: 'p', url: receiver.url('/dek'), events: ['key.created'], created_by: creator });
    receiver.endpoint('/dek', secret);
    expect(await store.store.get('webhooks:{dek}')).toMatchObject({ key: expect.any(String) });

    b.start(); // node B signs with the secret node A sealed
    await a.emit({ type: 'key.created', project_id: 'p', data: {} });
    const [delivery] = await eventually(async () => {
      const list = await b.deliveries(webhook.id);
      return list[0]?.status === 'delivered' ? list : undefined;
    });
    expect(delivery!.attempts).toHaveLength(1);
    expect(receiver.receipts('/dek').every((r) => r.verified)).toBe(true);
  });

  it('with an encryption key, a node holding another key cannot sign and says why', async () => {
    const store = await openFreshStore('embedded');
    opened.push(store);
    const a = await service(store, Buffer.alloc(32, 1));
    const b = await service(store, Buffer.alloc(32, 2));
    expect(() => new WebhookRepository(store.store, { logger: captureLogger().logger, blockPrivateAddresses: false, ancestorsOf, encryptionKey: Buffer.alloc(16) })).toThrow(/32 bytes/);
    const { webhook, secret } = await a.create({ project_id: 'p', url: receiver.url('/wrong-key'), events: ['key.created'], created_by: creator });
    receiver.endpoint('/wrong-key', secret);
    expect(await store.store.get('webhooks:{dek}')).toBeUndefined();

    b.start();
    await a.emit({ type: 'key.created', project_id: 'p', data: {} });
    const [delivery] = await eventually(async () => {
      const list = await b.deliveries(webhook.id);
      return list[0]?.status === 'failed' ? list : undefined;
    });
    expect(delivery!.attempts[0]).toMatchObject({ status_code: null, error: expect.stringMatching(/^signing secret could not be decrypted/) });
    expect(receiver.receipts('/wrong-key')).toEqual([]);
  });
});
