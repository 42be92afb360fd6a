import type net from 'node:net';
import { buildAllowlist, ipAllowed } from './ip.ts';
import { hashKey, KEY_PATTERN, parseKey } from './key-format.ts';
import { readSse } from './sse.ts';
import type { FetchLike } from './http.ts';

/**
 * API keys verified locally. A key is verified once through the server (`POST /v1/keys/verify`, then
 * `GET /v1/keys/{id}` for its allowlist and grace period), then kept in memory under the SHA-256 of the
 * key (never the key) for at most `cacheTtlMs`. The server's key event stream (`GET /v1/keys/events`)
 * drops an entry the moment its key is revoked, rotated or expires. The entry is trusted only while that
 * stream is known to be live: a positive verified while the stream was continuously connected stays usable
 * until `failSafeMs` after the last sign of life from the stream; any other positive for `failSafeMs` after
 * it was verified. So a revoked key is refused within the stream's delay (well under a second), and within
 * `failSafeMs` (5 s) when the stream is down.
 *
 * Checks on a cached key run in the server's order (src/keys/service.ts): rotated (grace over) → expired →
 * IP allowlist → project → scope; revoked keys are not in the cache. Usage of cached verifications is
 * reported to the server in batches (`POST /v1/keys/usage`), so its per-key counters stay right.
 */
export type KeyOutcome = 'valid' | 'not_found' | 'expired' | 'revoked' | 'rotated' | 'ip_not_allowed' | 'insufficient_scope' | 'wrong_project';

export interface VerifiedKey {
  key_id: string;
  project_id: string;
  scopes: string[];
  environment: string;
  expires_at: string;
}

interface Entry extends VerifiedKey {
  hash: string;
  expiresAtMs: number;
  graceUntilMs: number | undefined;
  allowlist: net.BlockList | undefined;
  verifiedAt: number;
}

export interface ApiKeyOptions {
  baseUrl: string;
  /** An API key (or access token) holding admin:projects on the organisation. */
  credential: string | undefined;
  fetch: FetchLike;
  cacheTtlMs: number;
  failSafeMs: number;
  maxEntries: number;
  usageFlushMs: number;
  timeoutMs: number;
  /** Whether the requested project lies in the key's project's subtree (the project tree). */
  covers: (keyProjectId: string, projectId: string) => Promise<boolean>;
  onError: (message: string, err?: unknown) => void;
}

export type KeyCheck = { ok: true; key: VerifiedKey } | { ok: false; code: Exclude<KeyOutcome, 'valid'> } | { ok: false; code: 'unavailable'; cause: unknown };

export class ApiKeyVerifier {
  private readonly options: ApiKeyOptions;
  private readonly cache = new Map<string, Entry>();
  private readonly hashesByKey = new Map<string, Set<string>>();
  /** Key ids with an event, and when: a verification in flight across an event is not cached. */
  private readonly recentEvents = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<KeyCheck>>();
  /** Hashes of keys the server refused for good (revoked, rotated, expired, unknown), bounded like the cache. */
  private readonly refused = new Map<string, { code: Exclude<KeyOutcome, 'valid'>; at: number }>();
  private usage = new Map<string, { key_id: string; outcome: KeyOutcome; count: number; last_used_at?: number; last_used_ip?: string }>();
  private usageTimer: NodeJS.Timeout | undefined;
  private stream: AbortController | undefined;
  private closed = false;
  private streamLoop: Promise<void> | undefined;
  /** Since when the stream has been connected without a gap (events resumed by id); -Infinity: never. */
  private continuousSince = Infinity;
  private lastHeard = -Infinity;
  private lastEventId: string | undefined;
  readonly stats = { serverVerifications: 0, cacheHits: 0, keyEvents: 0, evictions: 0, streamConnections: 0, usageReports: 0 };

  constructor(options: ApiKeyOptions) {
    this.options = options;
  }

  start(): void {
    if (!this.options.credential) return;
    this.streamLoop = this.follow();
    this.usageTimer = setInterval(() => void this.flushUsage(), this.options.usageFlushMs);
    this.usageTimer.unref();
  }

  /** Whether the event stream is live now (connected and heard from within failSafeMs). */
  streamLive(now = Date.now()): boolean {
    return now - this.lastHeard < this.options.failSafeMs && this.continuousSince <= now;
  }

  /** Resolves once the stream is live (start-up; tests), or after `timeoutMs`. */
  async ready(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.streamLive() && Date.now() < deadline && !this.closed) await new Promise((r) => setTimeout(r, 20));
    return this.streamLive();
  }

  async check(key: string, request: { ip?: string | null | undefined; scope?: string | undefined; project_id?: string | undefined }): Promise<KeyCheck> {
    if (typeof key !== 'string' || !KEY_PATTERN.test(key)) return { ok: false, code: 'not_found' };
    // A cached key passed the checksum when it was cached: the hot path is one SHA-256 and a map lookup.
    const hash = hashKey(key);
    const now = Date.now();
    const entry = this.cache.get(hash);
    if (entry && this.usable(entry, now)) {
      this.stats.cacheHits++;
      const outcome = this.timeAndAddress(entry, request.ip, now) ?? (request.project_id || request.scope ? await this.projectAndScope(entry, request) : 'valid');
      this.count(entry.key_id, outcome, request.ip ?? undefined, now);
      if (outcome === 'rotated' || outcome === 'expired') this.evict(entry.key_id);
      return outcome === 'valid' ? { ok: true, key: publicView(entry) } : { ok: false, code: outcome };
    }
    if (entry) this.forget(entry);
    const final = this.refused.get(hash);
    if (final && now - final.at < this.options.cacheTtlMs) return { ok: false, code: final.code };
    if (!parseKey(key).ok) return { ok: false, code: 'not_found' };
    const flightKey = `${hash}|${request.ip ?? ''}`;
    let flight = this.inFlight.get(flightKey);
    if (!flight) {
      flight = this.verifyRemotely(key, hash, request.ip ?? undefined).finally(() => this.inFlight.delete(flightKey));
      this.inFlight.set(flightKey, flight);
    }
    const result = await flight;
    if (!result.ok) return result;
    // The server checked the allowlist; project and scope are the caller's question, asked locally.
    const cached = this.cache.get(hash);
    const outcome = cached ? await this.localOutcome(cached, request, now) : await this.projectAndScope(result.key, request);
    if (outcome !== 'valid') {
      if (cached) this.count(cached.key_id, outcome, request.ip ?? undefined, now);
      return { ok: false, code: outcome };
    }
    return result;
  }

  private usable(entry: Entry, now: number): boolean {
    const age = now - entry.verifiedAt;
    if (age >= this.options.cacheTtlMs) return false;
    if (age < this.options.failSafeMs) return true;
    return entry.verifiedAt >= this.continuousSince && now - this.lastHeard < this.options.failSafeMs;
  }

  private async localOutcome(entry: Entry, request: { ip?: string | null | undefined; scope?: string | undefined; project_id?: string | undefined }, now: number): Promise<KeyOutcome> {
    return this.timeAndAddress(entry, request.ip, now) ?? this.projectAndScope(entry, request);
  }

  /** The first checks, in the server's order: rotated (grace over) → expired → IP allowlist. */
  private timeAndAddress(entry: Entry, ip: string | null | undefined, now: number): KeyOutcome | undefined {
    if (entry.graceUntilMs !== undefined && entry.graceUntilMs <= now) return 'rotated';
    if (entry.expiresAtMs <= now) return 'expired';
    if (entry.allowlist && !(ip && ipAllowed(entry.allowlist, ip))) return 'ip_not_allowed';
    return undefined;
  }

  private async projectAndScope(key: VerifiedKey, request: { scope?: string | undefined; project_id?: string | undefined }): Promise<KeyOutcome> {
    if (request.project_id && !(await this.options.covers(key.project_id, request.project_id))) return 'wrong_project';
    if (request.scope && !request.scope.split(' ').every((s) => key.scopes.includes(s))) return 'insufficient_scope';
    return 'valid';
  }

  /** POST /v1/keys/verify, then (for a valid key the credential administers) GET /v1/keys/{id}; caches the result. */
  private async verifyRemotely(key: string, hash: string, ip: string | undefined): Promise<KeyCheck> {
    const { baseUrl, credential, fetch: fetchImpl, timeoutMs } = this.options;
    const startedAt = Date.now();
    const auth: Record<string, string> = credential ? { authorization: `Bearer ${credential}` } : {};
    let body: Record<string, unknown>;
    try {
      this.stats.serverVerifications++;
      const response = await fetchImpl(`${baseUrl}/v1/keys/verify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth },
        body: JSON.stringify(ip ? { key, ip } : { key }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!response.ok) {
        await response.body?.cancel();
        return { ok: false, code: 'unavailable', cause: new Error(`POST /v1/keys/verify answered ${response.status}`) };
      }
      body = (await response.json()) as Record<string, unknown>;
    } catch (err) {
      return { ok: false, code: 'unavailable', cause: err };
    }
    if (body.valid !== true) {
      const code = typeof body.code === 'string' && OUTCOMES.has(body.code) ? (body.code as Exclude<KeyOutcome, 'valid'>) : 'not_found';
      // Revoked, rotated, expired and unknown keys never become valid again: remembered, so a client
      // retrying a dead key costs the server (and its failure limits) one call, not one per request.
      if (FINAL_REFUSALS.has(code)) {
        if (this.refused.size >= this.options.maxEntries) this.refused.delete(this.refused.keys().next().value!);
        this.refused.set(hash, { code, at: Date.now() });
      }
      return { ok: false, code };
    }
    const verified: VerifiedKey = {
      key_id: String(body.key_id),
      project_id: String(body.project_id),
      scopes: Array.isArray(body.scopes) ? body.scopes.filter((s): s is string => typeof s === 'string') : [],
      environment: String(body.environment),
      expires_at: String(body.expires_at),
    };
    if (credential) await this.remember(hash, verified, startedAt).catch((err: unknown) => this.options.onError('could not read an API key’s details; it is verified by the server each time', err));
    return { ok: true, key: verified };
  }

  /** Caches a verified key with the details the local checks need, unless an event about it arrived meanwhile. */
  private async remember(hash: string, verified: VerifiedKey, startedAt: number): Promise<void> {
    const { baseUrl, credential, fetch: fetchImpl, timeoutMs } = this.options;
    const response = await fetchImpl(`${baseUrl}/v1/keys/${encodeURIComponent(verified.key_id)}`, { headers: { authorization: `Bearer ${credential}` }, signal: AbortSignal.timeout(timeoutMs) });
    if (response.status === 403 || response.status === 404) {
      // Not a key of a project the credential administers: its events would not reach us, so never cached.
      await response.body?.cancel();
      return;
    }
    if (!response.ok) throw new Error(`GET /v1/keys/{id} answered ${response.status}`);
    const view = (await response.json()) as { status?: unknown; ip_allowlist?: unknown; grace_until?: unknown; expires_at?: unknown };
    if (view.status !== 'active' && view.status !== 'rotating') return;
    if ((this.recentEvents.get(verified.key_id) ?? -Infinity) >= startedAt || this.closed) return;
    const allowlist = Array.isArray(view.ip_allowlist) && view.ip_allowlist.length ? buildAllowlist(view.ip_allowlist.filter((c): c is string => typeof c === 'string')) : undefined;
    const entry: Entry = {
      ...verified,
      hash,
      expiresAtMs: Date.parse(verified.expires_at),
      graceUntilMs: typeof view.grace_until === 'string' ? Date.parse(view.grace_until) : undefined,
      allowlist,
      verifiedAt: startedAt,
    };
    if (this.cache.size >= this.options.maxEntries) {
      const oldest = this.cache.values().next().value;
      if (oldest) this.forget(oldest);
    }
    this.cache.set(hash, entry);
    let hashes = this.hashesByKey.get(entry.key_id);
    if (!hashes) this.hashesByKey.set(entry.key_id, (hashes = new Set()));
    hashes.add(hash);
  }

  private forget(entry: Entry): void {
    this.cache.delete(entry.hash);
    const hashes = this.hashesByKey.get(entry.key_id);
    hashes?.delete(entry.hash);
    if (hashes?.size === 0) this.hashesByKey.delete(entry.key_id);
  }

  /** Drops every cached entry of a key (an event about it). */
  evict(keyId: string, now = Date.now()): void {
    this.recentEvents.set(keyId, now);
    for (const hash of this.hashesByKey.get(keyId) ?? []) {
      this.cache.delete(hash);
      this.stats.evictions++;
    }
    this.hashesByKey.delete(keyId);
    // Only events newer than any verification still in flight matter: the request timeout bounds that.
    if (this.recentEvents.size > 10_000) for (const [id, at] of this.recentEvents) if (now - at > this.options.timeoutMs * 2) this.recentEvents.delete(id);
  }

  private count(keyId: string, outcome: KeyOutcome, ip: string | undefined, now: number): void {
    const slot = `${keyId}|${outcome}`;
    const report = this.usage.get(slot);
    if (report) {
      report.count++;
      if (outcome === 'valid') {
        report.last_used_at = now;
        report.last_used_ip = ip;
      }
    } else if (this.usage.size < 10_000) {
      this.usage.set(slot, { key_id: keyId, outcome, count: 1, ...(outcome === 'valid' ? { last_used_at: now, last_used_ip: ip } : {}) });
    }
  }

  /** Sends the counts of cached verifications; on failure they are kept for the next try. */
  async flushUsage(): Promise<void> {
    if (this.usage.size === 0 || !this.options.credential) return;
    const batch = this.usage;
    this.usage = new Map();
    const reports = [...batch.values()].map((r) => ({
      key_id: r.key_id,
      outcome: r.outcome,
      count: r.count,
      ...(r.last_used_at ? { last_used_at: new Date(r.last_used_at).toISOString() } : {}),
      ...(r.last_used_ip ? { last_used_ip: r.last_used_ip.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '') } : {}),
    }));
    try {
      for (let i = 0; i < reports.length; i += 1000) {
        const response = await this.options.fetch(`${this.options.baseUrl}/v1/keys/usage`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${this.options.credential}` },
          body: JSON.stringify({ reports: reports.slice(i, i + 1000) }),
          signal: AbortSignal.timeout(this.options.timeoutMs),
        });
        await response.body?.cancel();
        // A key revoked or moved out of reach since: its counts are dropped, not retried forever.
        if (!response.ok && response.status !== 403 && response.status !== 404 && response.status !== 400) throw new Error(`POST /v1/keys/usage answered ${response.status}`);
        this.stats.usageReports++;
      }
    } catch (err) {
      for (const [slot, report] of batch) {
        const current = this.usage.get(slot);
        if (current) current.count += report.count;
        else if (this.usage.size < 10_000) this.usage.set(slot, report);
      }
      this.options.onError('could not report API key usage; will retry', err);
    }
  }

  /** The event stream, reconnecting (and resuming by event id) until close(). */
  private async follow(): Promise<void> {
    let backoff = 250;
    while (!this.closed) {
      const controller = new AbortController();
      this.stream = controller;
      const connectedAt = Date.now();
      const watchdog = setInterval(() => {
        // Silence longer than half the fail-safe window: the stream is stalled; reconnect.
        if (Date.now() - Math.max(this.lastHeard, connectedAt) > this.options.failSafeMs / 2) controller.abort();
      }, Math.max(50, Math.floor(this.options.failSafeMs / 10)));
      watchdog.unref();
      try {
        const headers: Record<string, string> = { accept: 'text/event-stream', authorization: `Bearer ${this.options.credential}` };
        if (this.lastEventId) headers['last-event-id'] = this.lastEventId;
        const response = await this.options.fetch(`${this.options.baseUrl}/v1/keys/events`, { headers, signal: controller.signal });
        if (!response.ok || !response.body) {
          await response.body?.cancel();
          if (response.status === 400) this.lastEventId = undefined;
          throw new Error(`GET /v1/keys/events answered ${response.status}`);
        }
        this.stats.streamConnections++;
        const resumed = this.lastEventId !== undefined;
        for await (const item of readSse(response.body, controller.signal)) {
          const now = Date.now();
          // On a resumed stream, `ready` precedes the replay of what was missed: liveness counts from the
          // first frame after it (the replay, then heartbeats), so no missed revocation is outrun.
          if (!(resumed && item.kind === 'event' && item.event === 'ready')) this.lastHeard = now;
          if (item.kind !== 'event') continue;
          if (item.event === 'ready') {
            // A fresh start (no event id to resume from) covers only what happens from now on.
            if (!resumed || this.continuousSince === Infinity) this.continuousSince = connectedAt;
            backoff = 250;
          } else {
            const data = safeJson(item.data);
            this.stats.keyEvents++;
            if (data && typeof data.key_id === 'string') this.evict(data.key_id, now);
          }
          if (item.id) this.lastEventId = item.id;
        }
      } catch (err) {
        if (!this.closed && !controller.signal.aborted) this.options.onError('API key event stream failed; reconnecting', err);
      } finally {
        clearInterval(watchdog);
      }
      if (this.closed) break;
      await new Promise((r) => setTimeout(r, backoff).unref());
      backoff = Math.min(backoff * 2, 5000);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stream?.abort();
    if (this.usageTimer) clearInterval(this.usageTimer);
    await this.streamLoop;
    await this.flushUsage();
    this.cache.clear();
    this.hashesByKey.clear();
    this.refused.clear();
  }
}

const OUTCOMES = new Set(['not_found', 'expired', 'revoked', 'rotated', 'ip_not_allowed', 'insufficient_scope', 'wrong_project']);
const FINAL_REFUSALS: ReadonlySet<string> = new Set(['not_found', 'expired', 'revoked', 'rotated']);

function publicView(entry: Entry): VerifiedKey {
  return { key_id: entry.key_id, project_id: entry.project_id, scopes: entry.scopes, environment: entry.environment, expires_at: entry.expires_at };
}

function safeJson(text: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
