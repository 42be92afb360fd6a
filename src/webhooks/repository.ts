/**
 * Webhooks in the store: projects subscribe URLs to key events; each event becomes one signed message per
 * subscribed webhook (Standard Webhooks headers), delivered by a background worker with retries. This is
 * the only code that knows the webhook store keys; it checks no access (WebhookService in service.ts does,
 * for every door) but refuses input it cannot store or deliver to (DomainError 'invalid' naming the field).
 *
 * Store layout (logical keys, the store adds its prefix; `{…}` is the Redis Cluster hash tag, on the
 * entity id, so one entity's keys share a slot; no write spans two entities atomically, so writes are
 * ordered to be safe if a node dies between them):
 * - `webhook:{wh_…}`                  WebhookRecord: the view's fields + the sealed signing secret
 * - `webhook:project:{projectId}`     set of the ids of the webhooks on that project (not its subtree)
 * - `webhook:deliveries:{wh_…}`       set of that webhook's delivery ids; members whose record has
 *                                     expired are pruned when the set is read
 * - `webhook:delivery:{msg_…}`        DeliveryRecord: body, status, attempts, next attempt; kept
 *                                     DELIVERY_RETENTION_SECONDS after its last write
 * - `webhook:delivery:{msg_…}:lock`   a node's claim on that delivery while it attempts it (putIfAbsent
 *                                     with a TTL: a crashed node's claim expires and another node retries)
 * - `webhooks:{pending}`              the due queue: one member `<next_attempt_ms>:<msg_…>` per pending
 *                                     delivery, so a poll finds what is due with one read. The record is
 *                                     the truth; a member that disagrees with it is repaired when claimed.
 * - `webhook:once:{dedupeKey}`        emitOnce's claim on its key
 * - `webhooks:{dek}`                  data key sealing secrets when LOGTRACE_SECRET_KEY is unset (secrets.ts)
 *
 * Delivery is at least once: a node that dies after the receiver answered but before it recorded the
 * answer leaves the attempt to be repeated, with the same `webhook-id`, on which receivers dedupe.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Store } from '../store/index.ts';
import { DomainError, type Actor } from '../domain/index.ts';
import { guardedFetch, OutboundPolicy, type Resolver } from '../net/index.ts';
import { checkWebhookUrl } from './addresses.ts';
import { attemptDelivery, type AttemptOutcome } from './deliver.ts';
import { SecretBox, type SealedSecret } from '../store/index.ts';
import { generateSecret } from './signature.ts';

export const EVENT_TYPES = ['key.created', 'key.rotated', 'key.revoked', 'key.expiring', 'key.expired', 'client.created', 'client.secret_rotated', 'client.deleted', 'client.secret_expiring'] as const;
type WebhookEventType = (typeof EVENT_TYPES)[number];

const DEFAULT_RETRY_SCHEDULE: readonly number[] = [5, 30, 120, 600, 1800, 3600, 10800, 21600];
const DEFAULT_POLL_INTERVAL_MS = 1000;
const DEFAULT_TIMEOUT_MS = 10_000;
/** How long a delivery record (and its attempts) stays readable after its last change. */
const DELIVERY_RETENTION_SECONDS = 30 * 24 * 3600;
/** How long an emitOnce key is remembered unless the caller says otherwise. */
const DEFAULT_ONCE_TTL_SECONDS = 90 * 24 * 3600;
/** Attempts one node runs at the same time. */
const MAX_IN_FLIGHT = 16;
const MAX_DESCRIPTION_LENGTH = 500;
const MAX_URL_LENGTH = 2000;

export interface WebhookRepositoryOptions {
  logger: Logger;
  /**
   * Config `webhooks.block_private_addresses`: no loopback, private, link-local or metadata targets (checked
   * on the address each delivery connects to), and https only, except for hosts `allowPrivate` names.
   */
  blockPrivateAddresses: boolean;
  /** Config `outbound.allow_private`: hosts, addresses and ranges allowed although private. */
  allowPrivate?: readonly string[] | undefined;
  /** For tests: DNS answers instead of the system resolver. */
  resolve?: Resolver | undefined;
  /** Project ids from the root down to `projectId` itself, inclusive. */
  ancestorsOf: (projectId: string) => Promise<string[]>;
  /** 32 bytes (LOGTRACE_SECRET_KEY) sealing signing secrets; without it a key kept in the store is used. */
  encryptionKey?: Buffer | undefined;
  /** Seconds to wait after each failed attempt; after the last, the delivery is 'failed'. */
  retrySchedule?: number[] | undefined;
  pollIntervalMs?: number | undefined;
  /** Per HTTP attempt. */
  timeoutMs?: number | undefined;
}

export interface WebhookView {
  id: string;
  project_id: string;
  url: string;
  events: string[];
  description: string | null;
  created_at: string;
  created_by: Actor;
  enabled: boolean;
}

export interface CreateWebhookInput {
  project_id: string;
  url: string;
  events: string[];
  description?: string | null | undefined;
  created_by: Actor;
}

interface WebhookEvent {
  type: string;
  project_id: string;
  data: Record<string, unknown>;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

interface AttemptView {
  at: string;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
}

export interface DeliveryView {
  id: string;
  event_type: string;
  status: DeliveryStatus;
  attempts: AttemptView[];
  next_attempt_at: string | null;
  created_at: string;
}

/** What is stored: the view and the sealed signing secret (`Pick` makes the interface a plain object type, as JsonObject needs). */
type WebhookRecord = Pick<WebhookView, keyof WebhookView> & { secret: SealedSecret };

type DeliveryRecord = {
  id: string;
  webhook_id: string;
  event_type: string;
  /** The exact JSON body signed and sent on every attempt. */
  body: string;
  status: DeliveryStatus;
  attempts: AttemptView[];
  /** Attempts since the delivery was created or last redelivered: the position in the retry schedule. */
  round_attempts: number;
  next_attempt_ms: number | null;
  created_at: string;
};

const webhookKey = (id: string): string => `webhook:{${id}}`;
const projectIndexKey = (projectId: string): string => `webhook:project:{${projectId}}`;
const deliveryIndexKey = (webhookId: string): string => `webhook:deliveries:{${webhookId}}`;
const deliveryKey = (id: string): string => `webhook:delivery:{${id}}`;
const lockKey = (deliveryId: string): string => `webhook:delivery:{${deliveryId}}:lock`;
const onceKey = (dedupeKey: string): string => `webhook:once:{${dedupeKey}}`;
const PENDING = 'webhooks:{pending}';

const pendingMember = (record: { id: string; next_attempt_ms: number | null }): string => `${record.next_attempt_ms ?? 0}:${record.id}`;

function parsePendingMember(member: string): { member: string; at: number; id: string } | undefined {
  const colon = member.indexOf(':');
  const at = Number(member.slice(0, colon));
  if (colon <= 0 || !Number.isFinite(at)) return undefined;
  return { member, at, id: member.slice(colon + 1) };
}

const randomId = (prefix: string): string => prefix + randomBytes(16).toString('base64url');

/** emitOnce's message ids are derived, so a retried emitOnce after a partial failure writes no duplicates. */
const derivedMessageId = (dedupeKey: string, webhookId: string): string =>
  'msg_' + createHash('sha256').update(`${dedupeKey}\0${webhookId}`).digest('base64url').slice(0, 22);

const isEventType = (type: string): type is WebhookEventType => (EVENT_TYPES as readonly string[]).includes(type);

export class WebhookRepository {
  private readonly store: Store;
  private readonly logger: Logger;
  private readonly outbound: OutboundPolicy;
  private readonly ancestorsOf: (projectId: string) => Promise<string[]>;
  private readonly secrets: SecretBox;
  private readonly retrySchedule: readonly number[];
  private readonly pollIntervalMs: number;
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;
  /** A claim outlives any attempt (timeout plus the store writes around it) by a wide margin. */
  private readonly lockTtlSeconds: number;
  private readonly nodeId = randomBytes(8).toString('hex');

  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private scanning: Promise<void> | undefined;
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(store: Store, options: WebhookRepositoryOptions) {
    this.store = store;
    this.logger = options.logger;
    this.outbound = new OutboundPolicy({ blockPrivate: options.blockPrivateAddresses, allowPrivate: options.allowPrivate, resolve: options.resolve });
    this.ancestorsOf = options.ancestorsOf;
    this.secrets = new SecretBox(store, options.encryptionKey);
    const schedule = options.retrySchedule ?? DEFAULT_RETRY_SCHEDULE;
    if (!schedule.every((s) => Number.isFinite(s) && s >= 0)) throw new RangeError('webhooks: retrySchedule must be seconds ≥ 0');
    this.retrySchedule = [...schedule];
    this.pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    // The attempt's own timeout applies first; receivers' answers are discarded unread.
    this.fetchImpl = guardedFetch({ policy: this.outbound, timeoutMs: this.timeoutMs + 1000 });
    this.lockTtlSeconds = Math.ceil(this.timeoutMs / 1000) + 60;
  }

  // ---- webhooks -------------------------------------------------------------------------------

  /** Creates a webhook; the returned secret is shown this once and never again. */
  async create(input: CreateWebhookInput): Promise<{ webhook: WebhookView; secret: string }> {
    const events = this.checkEvents(input.events);
    const description = input.description ?? null;
    if (description !== null && (typeof description !== 'string' || description.length > MAX_DESCRIPTION_LENGTH)) {
      throw new DomainError('invalid', `description must be a string of at most ${MAX_DESCRIPTION_LENGTH} characters`, 'description');
    }
    if (typeof input.url !== 'string' || !input.url || input.url.length > MAX_URL_LENGTH) throw new DomainError('invalid', `url must be 1 to ${MAX_URL_LENGTH} characters`, 'url');
    const url = await checkWebhookUrl(input.url, this.outbound);
    if (!url.ok) throw new DomainError('invalid', url.message, 'url');

    const id = randomId('wh_');
    const secret = generateSecret();
    const record: WebhookRecord = {
      id,
      project_id: input.project_id,
      url: url.url,
      events,
      description,
      created_at: new Date().toISOString(),
      created_by: { type: input.created_by.type, id: input.created_by.id },
      enabled: true,
      secret: await this.secrets.seal(secret, id),
    };
    // Record first, then the index: an index member always has a record behind it (or a deleted one).
    await this.store.put(webhookKey(id), record);
    await this.store.sadd(projectIndexKey(record.project_id), [id]);
    return { webhook: toWebhookView(record), secret };
  }

  /** The webhooks on this project itself (not its subtree), oldest first. */
  async list(projectId: string): Promise<WebhookView[]> {
    const records = await this.webhooksOf(projectId);
    return records.sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id)).map(toWebhookView);
  }

  async get(id: string): Promise<WebhookView | undefined> {
    const record = await this.store.get<WebhookRecord>(webhookKey(id));
    return record ? toWebhookView(record) : undefined;
  }

  /** Deletes the webhook; its pending deliveries end as 'failed' without another attempt. */
  async delete(id: string): Promise<boolean> {
    const record = await this.store.get<WebhookRecord>(webhookKey(id));
    if (!record) return false;
    await this.store.srem(projectIndexKey(record.project_id), [id]);
    await this.store.delete(webhookKey(id));
    await this.store.delete(deliveryIndexKey(id));
    return true;
  }

  // ---- events ---------------------------------------------------------------------------------

  /**
   * Enqueues one message per enabled webhook subscribed to `event.type` on the project or any of its
   * ancestors (a webhook hears its project's whole subtree). Returns how many were enqueued.
   */
  async emit(event: WebhookEvent): Promise<number> {
    return this.enqueue(event, undefined);
  }

  /**
   * Like emit, once per `dedupeKey` across every node sharing the store: a later call with the same key
   * (from any node) does nothing and returns 0. The key is remembered for `ttlSeconds` (default 90 days).
   */
  async emitOnce(dedupeKey: string, event: WebhookEvent, options: { ttlSeconds?: number } = {}): Promise<number> {
    this.checkEventType(event.type);
    const key = onceKey(dedupeKey);
    const claimed = await this.store.putIfAbsent(key, { at: new Date().toISOString(), type: event.type }, options.ttlSeconds ?? DEFAULT_ONCE_TTL_SECONDS);
    if (!claimed) return 0;
    try {
      return await this.enqueue(event, dedupeKey);
    } catch (error) {
      // Give the key back so a later call can finish; its message ids are derived from the key, so
      // deliveries already written are not written twice.
      await this.store.delete(key).catch(() => {});
      throw error;
    }
  }

  private async enqueue(event: WebhookEvent, dedupeKey: string | undefined): Promise<number> {
    this.checkEventType(event.type);
    const webhooks = await this.subscribers(event.project_id, event.type);
    if (webhooks.length === 0) return 0;
    const now = new Date();
    const body = JSON.stringify({ type: event.type, timestamp: now.toISOString(), data: { ...event.data, project_id: event.project_id } });
    let enqueued = 0;
    for (const webhook of webhooks) {
      const record: DeliveryRecord = {
        id: dedupeKey === undefined ? randomId('msg_') : derivedMessageId(dedupeKey, webhook.id),
        webhook_id: webhook.id,
        event_type: event.type,
        body,
        status: 'pending',
        attempts: [],
        round_attempts: 0,
        next_attempt_ms: now.getTime(),
        created_at: now.toISOString(),
      };
      if (dedupeKey === undefined) {
        await this.store.put(deliveryKey(record.id), record, DELIVERY_RETENTION_SECONDS);
        enqueued++;
      } else if (await this.store.putIfAbsent(deliveryKey(record.id), record, DELIVERY_RETENTION_SECONDS)) {
        enqueued++;
      }
      // Record first, then the queue: a queued id always has a record (the worker repairs the rest).
      await this.store.sadd(deliveryIndexKey(webhook.id), [record.id], DELIVERY_RETENTION_SECONDS);
      await this.store.sadd(PENDING, [pendingMember(record)]);
    }
    return enqueued;
  }

  private async subscribers(projectId: string, type: string): Promise<WebhookRecord[]> {
    const projects = new Set([...(await this.ancestorsOf(projectId)), projectId]);
    const perProject = await Promise.all([...projects].map((id) => this.webhooksOf(id)));
    return perProject.flat().filter((webhook) => webhook.enabled && webhook.events.includes(type));
  }

  private async webhooksOf(projectId: string): Promise<WebhookRecord[]> {
    const ids = await this.store.smembers(projectIndexKey(projectId));
    const records = await Promise.all(ids.map((id) => this.store.get<WebhookRecord>(webhookKey(id))));
    return records.filter((record): record is WebhookRecord => record !== undefined);
  }

  // ---- deliveries -----------------------------------------------------------------------------

  /** The webhook's deliveries, newest first (default 50). */
  async deliveries(webhookId: string, options: { limit?: number } = {}): Promise<DeliveryView[]> {
    const limit = Math.max(1, Math.min(options.limit ?? 50, 1000));
    const ids = await this.store.smembers(deliveryIndexKey(webhookId));
    const records = await Promise.all(ids.map((id) => this.store.get<DeliveryRecord>(deliveryKey(id))));
    const expired = ids.filter((_, i) => records[i] === undefined);
    if (expired.length > 0) await this.store.srem(deliveryIndexKey(webhookId), expired);
    return records
      .filter((record): record is DeliveryRecord => record !== undefined)
      .sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id.localeCompare(a.id))
      .slice(0, limit)
      .map(toDeliveryView);
  }

  async delivery(id: string): Promise<DeliveryView | undefined> {
    const record = await this.store.get<DeliveryRecord>(deliveryKey(id));
    return record ? toDeliveryView(record) : undefined;
  }

  /**
   * Schedules a delivered or failed delivery again, now, with a fresh retry schedule and the same
   * `webhook-id`. False when there is no such delivery (or webhook), it is still pending, or it is not
   * one of `options.webhookId`'s deliveries (pass it when the caller was authorised for that webhook).
   */
  async redeliver(deliveryId: string, options: { webhookId?: string } = {}): Promise<boolean> {
    // Pending (queued or being attempted): nothing to redeliver.
    const current = await this.store.get<DeliveryRecord>(deliveryKey(deliveryId));
    if (!current || current.status === 'pending') return false;
    // A worker that just recorded the last attempt may still hold its claim for a moment: wait briefly
    // (up to ~1 s) rather than refuse.
    let claim = await this.claim(deliveryId);
    for (let i = 0; !claim && i < 20; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      claim = await this.claim(deliveryId);
    }
    if (!claim) return false;
    try {
      const record = await this.store.get<DeliveryRecord>(deliveryKey(deliveryId));
      if (!record || record.status === 'pending') return false;
      if (options.webhookId !== undefined && record.webhook_id !== options.webhookId) return false;
      if (!(await this.store.get<WebhookRecord>(webhookKey(record.webhook_id)))) return false;
      const updated: DeliveryRecord = { ...record, status: 'pending', round_attempts: 0, next_attempt_ms: Date.now() };
      await this.store.put(deliveryKey(deliveryId), updated, DELIVERY_RETENTION_SECONDS);
      await this.store.sadd(deliveryIndexKey(record.webhook_id), [deliveryId], DELIVERY_RETENTION_SECONDS);
      await this.store.sadd(PENDING, [pendingMember(updated)]);
      return true;
    } finally {
      await this.release(deliveryId, claim);
    }
  }

  // ---- worker ---------------------------------------------------------------------------------

  /** Starts polling for due deliveries. Several nodes may run workers on one store. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.timer = setInterval(() => this.poll(), this.pollIntervalMs);
    this.timer.unref();
    this.poll();
  }

  /** Stops polling and waits for the attempts under way to finish and be recorded. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.scanning;
    await Promise.all(this.inFlight.values());
  }

  private poll(): void {
    if (!this.running || this.scanning) return;
    this.scanning = this.scan().finally(() => {
      this.scanning = undefined;
    });
  }

  /** Reads the due queue and starts an attempt for each due delivery this node is not already on. */
  private async scan(): Promise<void> {
    let due: Array<{ member: string; at: number; id: string }>;
    try {
      const now = Date.now();
      due = (await this.store.smembers(PENDING))
        .map(parsePendingMember)
        .filter((entry): entry is { member: string; at: number; id: string } => entry !== undefined && entry.at <= now)
        .sort((a, b) => a.at - b.at);
    } catch (error) {
      this.logger.warn({ err: error }, 'webhook worker could not read its queue');
      return;
    }
    for (const entry of due) {
      if (!this.running || this.inFlight.size >= MAX_IN_FLIGHT) break;
      if (this.inFlight.has(entry.id)) continue;
      const task = this.process(entry)
        .catch((error: unknown) => this.logger.warn({ err: error, delivery_id: entry.id }, 'webhook delivery could not be processed'))
        .finally(() => this.inFlight.delete(entry.id));
      this.inFlight.set(entry.id, task);
    }
  }

  private async process(entry: { member: string; at: number; id: string }): Promise<void> {
    const claim = await this.claim(entry.id);
    if (!claim) return; // another node has it
    try {
      await this.attemptClaimed(entry);
    } finally {
      await this.release(entry.id, claim);
    }
  }

  /** Runs under this node's claim, so nothing else writes the record meanwhile. */
  private async attemptClaimed(entry: { member: string; id: string }): Promise<void> {
    const record = await this.store.get<DeliveryRecord>(deliveryKey(entry.id));
    if (!record || record.status !== 'pending' || record.next_attempt_ms === null) {
      await this.store.srem(PENDING, [entry.member]);
      return;
    }
    // The queue member may be stale (a node died between writes, or another node attempted meanwhile).
    const current = pendingMember(record);
    if (current !== entry.member) {
      await this.store.sadd(PENDING, [current]);
      await this.store.srem(PENDING, [entry.member]);
    }
    if (record.next_attempt_ms > Date.now()) return;

    const webhook = await this.store.get<WebhookRecord>(webhookKey(record.webhook_id));
    if (!webhook) {
      await this.store.put(deliveryKey(record.id), { ...record, status: 'failed', next_attempt_ms: null }, DELIVERY_RETENTION_SECONDS);
      await this.store.srem(PENDING, [current]);
      return;
    }

    const at = new Date().toISOString();
    const outcome = await this.attempt(webhook, record);
    const round = record.round_attempts + 1;
    const wait = outcome.ok ? undefined : this.retrySchedule[round - 1];
    const updated: DeliveryRecord = {
      ...record,
      status: outcome.ok ? 'delivered' : wait === undefined ? 'failed' : 'pending',
      attempts: [...record.attempts, { at, status_code: outcome.status_code, error: outcome.error, duration_ms: outcome.duration_ms }],
      round_attempts: round,
      next_attempt_ms: wait === undefined || outcome.ok ? null : Date.now() + wait * 1000,
    };
    await this.store.put(deliveryKey(record.id), updated, DELIVERY_RETENTION_SECONDS);
    if (updated.status === 'pending') {
      const next = pendingMember(updated);
      await this.store.sadd(PENDING, [next]);
      if (next !== current) await this.store.srem(PENDING, [current]);
    } else {
      await this.store.srem(PENDING, [current]);
    }

    if (!outcome.ok) {
      const fields = {
        webhook_id: webhook.id,
        delivery_id: record.id,
        event_type: record.event_type,
        host: hostOf(webhook.url),
        attempt: round,
        status_code: outcome.status_code,
        error: outcome.error,
        next_attempt_at: updated.next_attempt_ms === null ? null : new Date(updated.next_attempt_ms).toISOString(),
      };
      this.logger.warn(fields, updated.status === 'failed' ? 'webhook delivery failed, no retries left' : 'webhook delivery attempt failed');
    }
  }

  private async attempt(webhook: WebhookRecord, record: DeliveryRecord): Promise<AttemptOutcome> {
    let secret: string;
    try {
      secret = await this.secrets.open(webhook.secret, webhook.id);
    } catch (error) {
      const reason = error instanceof Error ? error.message : 'unknown error';
      return { ok: false, status_code: null, error: `signing secret could not be decrypted: ${reason}`, duration_ms: 0 };
    }
    // DNS answers change after creation: the guarded fetch checks the address it connects to, every time.
    return attemptDelivery({ fetch: this.fetchImpl, url: webhook.url, secret, messageId: record.id, body: record.body, timeoutMs: this.timeoutMs });
  }

  /** Takes the delivery's lock; returns the token proving it is ours, or undefined when it is held. */
  private async claim(deliveryId: string): Promise<string | undefined> {
    const token = `${this.nodeId}:${randomBytes(8).toString('hex')}`;
    return (await this.store.putIfAbsent(lockKey(deliveryId), { token }, this.lockTtlSeconds)) ? token : undefined;
  }

  private async release(deliveryId: string, token: string): Promise<void> {
    try {
      // Only our own claim: if it expired and another node took over, theirs stays.
      const lock = await this.store.get<{ token: string }>(lockKey(deliveryId));
      if (lock?.token === token) await this.store.delete(lockKey(deliveryId));
    } catch {
      // The claim expires by itself.
    }
  }

  // ---- input checks ---------------------------------------------------------------------------

  private checkEvents(events: unknown): string[] {
    if (!Array.isArray(events) || events.length === 0) {
      throw new DomainError('invalid', `events must be a non-empty list of: ${EVENT_TYPES.join(', ')}`, 'events');
    }
    const unknown = events.filter((type) => typeof type !== 'string' || !isEventType(type));
    if (unknown.length > 0) {
      throw new DomainError('invalid', `unknown event type ${JSON.stringify(unknown[0])}; known: ${EVENT_TYPES.join(', ')}`, 'events');
    }
    return [...new Set(events as string[])];
  }

  /** Emitting a type nobody can subscribe to is a programming error, not an event to drop. */
  private checkEventType(type: string): void {
    if (!isEventType(type)) throw new RangeError(`webhooks: unknown event type "${type}"`);
  }
}

function toWebhookView(record: WebhookRecord): WebhookView {
  return {
    id: record.id,
    project_id: record.project_id,
    url: record.url,
    events: [...record.events],
    description: record.description,
    created_at: record.created_at,
    created_by: { type: record.created_by.type, id: record.created_by.id },
    enabled: record.enabled,
  };
}

function toDeliveryView(record: DeliveryRecord): DeliveryView {
  return {
    id: record.id,
    event_type: record.event_type,
    status: record.status,
    attempts: record.attempts.map((a) => ({ ...a })),
    next_attempt_at: record.next_attempt_ms === null ? null : new Date(record.next_attempt_ms).toISOString(),
    created_at: record.created_at,
  };
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'invalid';
  }
}
