import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Store } from '../store/index.ts';
import type { ProjectRepository } from '../directory/index.ts';
import { generateKey, hashKey, hashesEqual, parseKey, type KeyEnvironment } from './format.ts';
import { buildAllowlist, ipAllowed } from './ip.ts';
import { publishKeyEvent } from './events.ts';
import type { Actor } from '../domain/index.ts';

/**
 * Project-scoped API keys in the store: the only code that knows their store keys. It checks no access
 * and no input rules (KeyService in service.ts does, for every door); it writes records, verifies (the
 * log API's hot path: a failed verification is a normal `{ valid: false, code }` result, as in Unkey's
 * KeyService) and counts usage.
 *
 * Layout (records are never deleted: revoked and expired keys stay listable and auditable):
 *   apikey:hash:{sha256}       the key record, found by the hash of the presented secret (one read to verify)
 *   apikey:{id}                { hash } — lookup by id for the admin API
 *   apikey:project:{projectId} ids of the project's keys
 *   apikey:watch:{all}         ids of keys the expiry watcher still has to look at
 *   apikey:usage:{id}:<day>:<outcome>   verification counters (400-day TTL)
 *   apikey:last-used:{id}      { at, ip }
 */
export const KEY_SCOPES = ['read:logs', 'write:alerts', 'admin:projects'] as const;
export type KeyScope = (typeof KEY_SCOPES)[number];
export type KeyStatus = 'active' | 'rotating' | 'expired' | 'revoked';
export const VERIFY_FAILURES = ['not_found', 'expired', 'revoked', 'rotated', 'ip_not_allowed', 'insufficient_scope', 'wrong_project'] as const;
export type VerifyFailure = (typeof VERIFY_FAILURES)[number];
export const VERIFY_OUTCOMES = ['valid', ...VERIFY_FAILURES] as const;
export type VerifyOutcome = (typeof VERIFY_OUTCOMES)[number];

export interface ApiKeyRecord {
  [key: string]: unknown;
  id: string;
  hash: string;
  prefix: string;
  project_id: string;
  name: string;
  scopes: KeyScope[];
  environment: KeyEnvironment;
  created_at: string;
  expires_at: string;
  ip_allowlist: string[];
  auto_rotate: boolean;
  created_by: Actor;
  revoked_at?: string;
  revoked_by?: Actor;
  /** Set on the old key of a rotation: it keeps verifying until grace_until, then answers `rotated`. */
  rotated_at?: string;
  grace_until?: string;
  replaced_by?: string;
  rotated_from?: string;
}

export interface ApiKeyView {
  id: string;
  prefix: string;
  project_id: string;
  name: string;
  scopes: KeyScope[];
  environment: KeyEnvironment;
  status: KeyStatus;
  created_at: string;
  expires_at: string;
  ip_allowlist: string[];
  auto_rotate: boolean;
  created_by: Actor;
  last_used_at: string | null;
  last_used_ip: string | null;
  revoked_at: string | null;
  rotated_at: string | null;
  grace_until: string | null;
  replaced_by: string | null;
  rotated_from: string | null;
}

export type VerifyResult =
  | { valid: true; key_id: string; project_id: string; scopes: KeyScope[]; environment: KeyEnvironment; expires_at: string }
  | { valid: false; code: VerifyFailure };

/** A key to write, its input already checked (KeyService.create): known scopes, ttl within bounds, CIDRs normalised. */
export interface NewKey {
  project_id: string;
  name: string;
  scopes: KeyScope[];
  environment: KeyEnvironment;
  ttl_days: number;
  ip_allowlist: string[];
  auto_rotate: boolean;
}

export interface KeyRepositoryOptions {
  logger: Logger;
  /** How often buffered usage counters are written to the store. */
  usageFlushMs?: number;
}

const DAY = 86_400_000;
const recordKey = (hash: string) => `apikey:hash:{${hash}}`;
const idKey = (id: string) => `apikey:{${id}}`;
const projectKeys = (projectId: string) => `apikey:project:{${projectId}}`;
export const WATCH_SET = 'apikey:watch:{all}';
const usageKey = (id: string, day: string, outcome: VerifyOutcome) => `apikey:usage:{${id}}:${day}:${outcome}`;
const lastUsedKey = (id: string) => `apikey:last-used:{${id}}`;
const USAGE_TTL = 400 * 86_400;

export function statusOf(record: ApiKeyRecord, now = Date.now()): KeyStatus {
  if (record.revoked_at) return 'revoked';
  if (Date.parse(record.expires_at) <= now) return 'expired';
  if (record.grace_until) return Date.parse(record.grace_until) > now ? 'rotating' : 'revoked';
  return 'active';
}

/**
 * Verification counts and last use, buffered in memory and flushed every second: the hot path does one
 * store read and no write. A crash loses at most one interval of counts, never a verification decision.
 */
class UsageBuffer {
  private counts = new Map<string, number>();
  private lastUsed = new Map<string, { at: number; ip: string | null }>();
  /** The UTC day of "now", recomputed at most once a second (no Date formatting per verification). */
  private day = { value: '', until: 0 };
  private timer: NodeJS.Timeout | undefined;
  private readonly store: Store;
  private readonly logger: Logger;

  constructor(store: Store, logger: Logger) {
    this.store = store;
    this.logger = logger;
  }

  record(keyId: string, outcome: VerifyOutcome, ip: string | null, count = 1, at = Date.now()): void {
    const now = Date.now();
    if (now >= this.day.until) this.day = { value: new Date(now).toISOString().slice(0, 10), until: now - (now % 1000) + 1000 };
    const key = usageKey(keyId, this.day.value, outcome);
    this.counts.set(key, (this.counts.get(key) ?? 0) + count);
    if (outcome === 'valid' && at >= (this.lastUsed.get(keyId)?.at ?? 0)) this.lastUsed.set(keyId, { at, ip });
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  async flush(): Promise<void> {
    const counts = this.counts;
    const lastUsed = this.lastUsed;
    this.counts = new Map();
    this.lastUsed = new Map();
    try {
      await Promise.all([
        ...[...counts].map(([key, n]) => this.store.incr(key, n, USAGE_TTL)),
        ...[...lastUsed].map(([id, value]) => this.store.put(lastUsedKey(id), { at: new Date(value.at).toISOString(), ip: value.ip })),
      ]);
    } catch (err) {
      // Put the counts back so the next flush retries them.
      for (const [key, n] of counts) this.counts.set(key, (this.counts.get(key) ?? 0) + n);
      for (const [id, value] of lastUsed) if (!this.lastUsed.has(id)) this.lastUsed.set(id, value);
      this.logger.warn({ err: String(err) }, 'could not write API key usage; will retry');
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
  }
}

export class KeyRepository {
  private readonly store: Store;
  private readonly projects: ProjectRepository;
  private readonly usage: UsageBuffer;

  constructor(store: Store, projects: ProjectRepository, options: KeyRepositoryOptions) {
    this.store = store;
    this.projects = projects;
    this.usage = new UsageBuffer(store, options.logger);
    this.usage.start(options.usageFlushMs ?? 1000);
  }

  async close(): Promise<void> {
    await this.usage.stop();
  }

  async create(input: NewKey, actor: Actor, extra: Partial<ApiKeyRecord> = {}): Promise<{ key: string; view: ApiKeyView; record: ApiKeyRecord }> {
    const key = generateKey(input.environment);
    const parsed = parseKey(key);
    if (!parsed.ok) throw new Error('generated an invalid key');
    const now = new Date();
    const record: ApiKeyRecord = {
      id: `key_${randomBytes(12).toString('base64url')}`,
      hash: hashKey(key),
      prefix: parsed.displayPrefix,
      project_id: input.project_id,
      name: input.name,
      scopes: input.scopes,
      environment: input.environment,
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + input.ttl_days * DAY).toISOString(),
      ip_allowlist: input.ip_allowlist,
      auto_rotate: input.auto_rotate,
      created_by: actor,
      ...extra,
    };
    // One entity at a time (one Redis Cluster slot each). The project's list and the id lookup come
    // before the record that makes the key verify, so a key that works can always be listed and revoked;
    // the expiry watch comes after it (the watcher drops ids without a record, and a key missing from it
    // only misses its expiry notice: expiry itself is checked on every verify).
    await this.store.sadd(projectKeys(record.project_id), [record.id]);
    await this.store.put(idKey(record.id), { hash: record.hash });
    await this.store.put(recordKey(record.hash), record);
    await this.store.sadd(WATCH_SET, [record.id]);
    return { key, view: this.view(record), record };
  }

  async getRecord(id: string): Promise<ApiKeyRecord | undefined> {
    if (!/^key_[\w-]{1,64}$/.test(id)) return undefined;
    const ref = await this.store.get<{ hash: string }>(idKey(id));
    return ref ? this.store.get<ApiKeyRecord>(recordKey(ref.hash)) : undefined;
  }

  async get(id: string): Promise<ApiKeyView | undefined> {
    const record = await this.getRecord(id);
    return record ? this.viewWithUsage(record) : undefined;
  }

  async list(projectId: string): Promise<ApiKeyView[]> {
    const ids = await this.store.smembers(projectKeys(projectId));
    const records = (await Promise.all(ids.map((id) => this.getRecord(id)))).filter((r): r is ApiKeyRecord => !!r);
    records.sort((a, b) => b.created_at.localeCompare(a.created_at));
    return Promise.all(records.map((r) => this.viewWithUsage(r)));
  }

  /**
   * The log API's hot path: one store read. Checks run in this fixed, documented order:
   * format and checksum → known → revoked → rotated (grace over) → expired → IP allowlist →
   * project → scope. `ip` is the address to check against the allowlist.
   */
  async verify(key: string, request: { ip?: string | null; scope?: string | null; project_id?: string | null } = {}): Promise<VerifyResult & { record?: ApiKeyRecord }> {
    if (typeof key !== 'string' || !parseKey(key).ok) return { valid: false, code: 'not_found' };
    const hash = hashKey(key);
    const record = await this.store.get<ApiKeyRecord>(recordKey(hash));
    // The record was found by its hash; comparing again in constant time costs nothing and keeps the
    // decision independent of how the store indexes.
    if (!record || !hashesEqual(record.hash, hash)) return { valid: false, code: 'not_found' };
    const outcome = await this.check(record, request);
    this.usage.record(record.id, outcome, request.ip ?? null);
    if (outcome !== 'valid') return { valid: false, code: outcome, record };
    return { valid: true, key_id: record.id, project_id: record.project_id, scopes: record.scopes, environment: record.environment, expires_at: record.expires_at, record };
  }

  private async check(record: ApiKeyRecord, request: { ip?: string | null; scope?: string | null; project_id?: string | null }): Promise<VerifyOutcome> {
    const now = Date.now();
    if (record.revoked_at) return 'revoked';
    if (record.grace_until && Date.parse(record.grace_until) <= now) return 'rotated';
    if (Date.parse(record.expires_at) <= now) return 'expired';
    if (record.ip_allowlist.length && !(request.ip && ipAllowed(buildAllowlist(record.ip_allowlist), request.ip))) return 'ip_not_allowed';
    if (request.project_id && !(await this.projects.covers(record.project_id, request.project_id))) return 'wrong_project';
    if (request.scope && !request.scope.split(' ').every((s) => (record.scopes as string[]).includes(s))) return 'insufficient_scope';
    return 'valid';
  }

  /**
   * A new key with the same project, scopes, environment, allowlist and lifetime (at most `maxTtlDays`);
   * the old one verifies until the grace ends. `old` is an active key (KeyService checks).
   */
  async rotate(old: ApiKeyRecord, graceSeconds: number, maxTtlDays: number, actor: Actor): Promise<{ key: string; view: ApiKeyView; old: ApiKeyView }> {
    const ttlDays = Math.min(maxTtlDays, Math.max(1, Math.round((Date.parse(old.expires_at) - Date.parse(old.created_at)) / DAY)));
    const created = await this.create(
      { project_id: old.project_id, name: old.name, scopes: old.scopes, environment: old.environment, ttl_days: ttlDays, ip_allowlist: old.ip_allowlist, auto_rotate: old.auto_rotate },
      actor,
      { rotated_from: old.id },
    );
    const now = new Date();
    const updated: ApiKeyRecord = { ...old, rotated_at: now.toISOString(), grace_until: new Date(now.getTime() + graceSeconds * 1000).toISOString(), replaced_by: created.record.id };
    await this.store.put(recordKey(old.hash), updated);
    // After the record: a subscriber that re-verifies on this event reads the new grace_until.
    await publishKeyEvent(this.store, { type: 'key.rotated', key_id: old.id, project_id: old.project_id, grace_until: updated.grace_until! });
    return { key: created.key, view: created.view, old: this.view(updated) };
  }

  /** Revokes the key (a revoked one is returned as it is). */
  async revoke(record: ApiKeyRecord, actor: Actor): Promise<ApiKeyView> {
    if (record.revoked_at) return this.view(record);
    const updated: ApiKeyRecord = { ...record, revoked_at: new Date().toISOString(), revoked_by: actor };
    await this.store.put(recordKey(record.hash), updated);
    await this.store.srem(WATCH_SET, [record.id]);
    // After the record, before the answer: a resource server told of the revocation re-verifies and reads
    // `revoked`, and the revoke call's answer means every subscribed verifier is being told.
    await publishKeyEvent(this.store, { type: 'key.revoked', key_id: record.id, project_id: record.project_id });
    return this.view(updated);
  }

  /**
   * Verifications a resource server decided itself from its cache (the verifier library), reported in
   * batches: they land in the same per-key counters and last-use record as server-side verifications.
   */
  recordUsage(keyId: string, outcome: VerifyOutcome, count: number, lastUsed: { at: number; ip: string | null } | undefined): void {
    this.usage.record(keyId, outcome, lastUsed?.ip ?? null, count, lastUsed?.at ?? 0);
  }

  /** Verifications per day (UTC) split by outcome, oldest first. */
  async usageOf(id: string, days = 30): Promise<{ key_id: string; days: Array<{ date: string; counts: Record<VerifyOutcome, number>; total: number }>; last_used_at: string | null; last_used_ip: string | null }> {
    await this.usage.flush();
    const dates = Array.from({ length: days }, (_, i) => new Date(Date.now() - (days - 1 - i) * DAY).toISOString().slice(0, 10));
    const keys = dates.flatMap((date) => VERIFY_OUTCOMES.map((outcome) => usageKey(id, date, outcome)));
    const values = await this.store.counters(keys);
    const last = await this.store.get<{ at: string; ip: string | null }>(lastUsedKey(id));
    return {
      key_id: id,
      days: dates.map((date, d) => {
        const counts = Object.fromEntries(VERIFY_OUTCOMES.map((outcome, o) => [outcome, values[d * VERIFY_OUTCOMES.length + o] ?? 0])) as Record<VerifyOutcome, number>;
        return { date, counts, total: Object.values(counts).reduce((a, b) => a + b, 0) };
      }),
      last_used_at: last?.at ?? null,
      last_used_ip: last?.ip ?? null,
    };
  }

  async watched(): Promise<string[]> {
    return this.store.smembers(WATCH_SET);
  }

  async unwatch(id: string): Promise<void> {
    await this.store.srem(WATCH_SET, [id]);
  }

  view(record: ApiKeyRecord, lastUsed?: { at: string; ip: string | null }): ApiKeyView {
    return {
      id: record.id,
      prefix: record.prefix,
      project_id: record.project_id,
      name: record.name,
      scopes: record.scopes,
      environment: record.environment,
      status: statusOf(record),
      created_at: record.created_at,
      expires_at: record.expires_at,
      ip_allowlist: record.ip_allowlist,
      auto_rotate: record.auto_rotate,
      created_by: record.created_by,
      last_used_at: lastUsed?.at ?? null,
      last_used_ip: lastUsed?.ip ?? null,
      revoked_at: record.revoked_at ?? null,
      rotated_at: record.rotated_at ?? null,
      grace_until: record.grace_until ?? null,
      replaced_by: record.replaced_by ?? null,
      rotated_from: record.rotated_from ?? null,
    };
  }

  async viewWithUsage(record: ApiKeyRecord): Promise<ApiKeyView> {
    const last = await this.store.get<{ at: string; ip: string | null }>(lastUsedKey(record.id));
    return this.view(record, last);
  }
}
