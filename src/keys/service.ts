import type { AccessPolicy } from '../access/index.ts';
import type { AuditLog } from '../audit/index.ts';
import { DomainError, type Caller } from '../domain/index.ts';
import { EVENT_ID, type StoredEvent } from '../store/index.ts';
import type { KeyEnvironment } from './format.ts';
import { parseCidr } from './ip.ts';
import type { KeyEvent, KeyEventFeed } from './events.ts';
import { KEY_SCOPES, VERIFY_OUTCOMES, statusOf, type ApiKeyRecord, type ApiKeyView, type KeyRepository, type KeyScope, type VerifyOutcome } from './repository.ts';

export interface CreateKeyInput {
  project_id: string;
  name: string;
  scopes: string[];
  environment: KeyEnvironment;
  ttl_days?: number | undefined;
  ip_allowlist?: string[] | undefined;
  auto_rotate?: boolean | undefined;
}

/** Verifications a resource server decided from its cache (the verifier library), for one key and outcome. */
interface UsageReport {
  key_id: string;
  outcome: VerifyOutcome;
  count: number;
  last_used_at?: string | undefined;
  last_used_ip?: string | undefined;
}

interface KeyUsage {
  key_id: string;
  days: Array<{ date: string; counts: Record<VerifyOutcome, number>; total: number }>;
  last_used_at: string | null;
  last_used_ip: string | null;
}

/** What the key service needs of the webhooks: an event announced to the project's subscribers. */
interface WebhookEmitter {
  emit(event: { type: string; project_id: string; data: Record<string, unknown> }): Promise<number>;
}

/** A batch of key events for one subscriber: only those of projects it administers. */
interface KeyEventBatch {
  events: StoredEvent<KeyEvent>[];
  /** The subscriber's own key was revoked, expired or rotated out by the last of these: its stream ends. */
  final: boolean;
}

export interface KeyEventSubscription {
  /** The event id the stream starts after. */
  from: string;
  /** Yields after every read of the log (with no events when nothing happened), until `signal` aborts. */
  batches(signal: AbortSignal): AsyncGenerator<KeyEventBatch>;
}

interface KeyServiceDeps {
  keys: KeyRepository;
  access: AccessPolicy;
  audit: AuditLog;
  webhooks: WebhookEmitter;
  events: KeyEventFeed;
  /** Config api_keys.default_ttl_days, max_ttl_days, rotation_grace_seconds. */
  defaultTtlDays: number;
  maxTtlDays: number;
  rotationGraceSeconds: number;
}

const ADMIN = 'admin:projects';
const MAX_GRACE_SECONDS = 30 * 86_400;
const MAX_USAGE_DAYS = 400;
/** Events that end a key's life: when it is the subscriber's own key, its stream ends after telling it. */
const FINAL = new Set(['key.revoked', 'key.rotation_ended', 'key.expired']);

const isScope = (scope: string): scope is KeyScope => (KEY_SCOPES as readonly string[]).includes(scope);

/**
 * API keys as every door uses them (/v1, the dashboard, the CLI): each method takes the caller and plain
 * input, asks the access policy, applies the key rules, writes the audit event, announces the change
 * (webhooks; key events are appended by the repository) and returns plain results or throws DomainError.
 * The store is KeyRepository's (repository.ts).
 *
 * `verify` is the log API's hot path and is KeyRepository.verify itself: no caller, no audit, one read.
 */
export class KeyService {
  /** The log API's hot path (KeyRepository.verify, unchanged): format → known → revoked → rotated → expired → IP → project → scope. */
  readonly verify: KeyRepository['verify'];
  private readonly deps: KeyServiceDeps;

  constructor(deps: KeyServiceDeps) {
    this.deps = deps;
    this.verify = deps.keys.verify.bind(deps.keys);
  }

  /** Writes the usage counters still buffered. */
  async close(): Promise<void> {
    await this.deps.keys.close();
  }

  /**
   * A new key; its secret is in the result this once. The caller administers the project and holds every
   * scope the key gets (nobody mints a key stronger than themselves).
   */
  async create(caller: Caller, input: CreateKeyInput): Promise<{ key: string; view: ApiKeyView }> {
    const { access } = this.deps;
    await access.require(caller.principal, input.project_id, ADMIN);
    const scopes = this.checkScopes(input.scopes);
    await access.requireKeyScopes(caller.principal, input.project_id, scopes);
    const name = typeof input.name === 'string' ? input.name.trim() : '';
    if (!name || name.length > 200) throw new DomainError('invalid', 'name must be 1 to 200 characters', 'name');
    if (input.environment !== 'live' && input.environment !== 'test') throw new DomainError('invalid', 'environment must be "live" or "test"', 'environment');
    const ttlDays = input.ttl_days ?? this.deps.defaultTtlDays;
    if (!Number.isInteger(ttlDays) || ttlDays < 1 || ttlDays > this.deps.maxTtlDays) {
      throw new DomainError('invalid', `ttl_days must be a whole number from 1 to ${this.deps.maxTtlDays}`, 'ttl_days');
    }
    const allowlist: string[] = [];
    for (const [i, entry] of (input.ip_allowlist ?? []).entries()) {
      const parsed = typeof entry === 'string' ? parseCidr(entry) : { ok: false as const, reason: 'not a string' };
      if (!parsed.ok) throw new DomainError('invalid', `invalid CIDR "${String(entry)}": ${parsed.reason}`, `ip_allowlist[${i}]`);
      allowlist.push(parsed.cidr);
    }
    if (input.auto_rotate !== undefined && typeof input.auto_rotate !== 'boolean') throw new DomainError('invalid', 'auto_rotate must be a boolean', 'auto_rotate');
    const created = await this.deps.keys.create(
      { project_id: input.project_id, name, scopes, environment: input.environment, ttl_days: ttlDays, ip_allowlist: allowlist, auto_rotate: input.auto_rotate ?? false },
      caller.principal.actor,
    );
    const key = created.view;
    await this.record(caller, 'key.created', created.record, { name: key.name, scopes: key.scopes, environment: key.environment, expires_at: key.expires_at });
    await this.deps.webhooks.emit({ type: 'key.created', project_id: key.project_id, data: { key } });
    return { key: created.key, view: key };
  }

  /** The keys of a project the caller administers, newest first (never their secrets). */
  async list(caller: Caller, input: { project_id: string }): Promise<ApiKeyView[]> {
    await this.deps.access.require(caller.principal, input.project_id, ADMIN);
    return this.deps.keys.list(input.project_id);
  }

  async get(caller: Caller, input: { id: string }): Promise<ApiKeyView> {
    return this.deps.keys.viewWithUsage(await this.administered(caller, input.id));
  }

  /**
   * A new secret with the key's project, scopes, environment and allowlist; the old one verifies until the
   * grace ends. The caller needs every scope of the key, as creating it did: a rotation mints a secret.
   */
  async rotate(caller: Caller, input: { id: string; grace_seconds?: number | undefined }): Promise<{ key: string; view: ApiKeyView; old: ApiKeyView }> {
    const old = await this.administered(caller, input.id);
    await this.deps.access.requireKeyScopes(caller.principal, old.project_id, old.scopes, 'scopes', `API key ${old.id}`);
    const grace = input.grace_seconds ?? this.deps.rotationGraceSeconds;
    if (!Number.isInteger(grace) || grace < 0 || grace > MAX_GRACE_SECONDS) {
      throw new DomainError('invalid', `grace_seconds must be a whole number from 0 to ${MAX_GRACE_SECONDS} (30 days)`, 'grace_seconds');
    }
    const status = statusOf(old);
    if (status !== 'active') throw new DomainError('conflict', `API key ${old.id} is ${status}; only an active key can be rotated`, 'id');
    const rotated = await this.deps.keys.rotate(old, grace, this.deps.maxTtlDays, caller.principal.actor);
    await this.record(caller, 'key.rotated', old, { new_key_id: rotated.view.id, grace_until: rotated.old.grace_until });
    await this.deps.webhooks.emit({ type: 'key.rotated', project_id: old.project_id, data: { key: rotated.view, previous: rotated.old } });
    return rotated;
  }

  /**
   * Revokes a key the caller administers — or the caller's own key: whoever finds a key leaked can kill it
   * with the key alone. Revoking a revoked key changes, records and announces nothing.
   */
  async revoke(caller: Caller, input: { id: string }): Promise<ApiKeyView> {
    const record = await this.recordOf(input.id, 'id');
    await this.deps.access.requireKeyAdmin(caller.principal, record, 'revoke');
    const wasRevoked = statusOf(record) === 'revoked';
    const revoked = await this.deps.keys.revoke(record, caller.principal.actor);
    if (!wasRevoked) {
      await this.record(caller, 'key.revoked', record);
      await this.deps.webhooks.emit({ type: 'key.revoked', project_id: record.project_id, data: { key: revoked } });
    }
    return revoked;
  }

  /** Verifications per day (UTC) by outcome over the last `days` (1–400, default 30), oldest first. */
  async usage(caller: Caller, input: { id: string; days?: number | undefined }): Promise<KeyUsage> {
    const key = await this.administered(caller, input.id);
    const days = input.days ?? 30;
    if (!Number.isInteger(days) || days < 1 || days > MAX_USAGE_DAYS) throw new DomainError('invalid', `days must be a whole number from 1 to ${MAX_USAGE_DAYS}`, 'days');
    return this.deps.keys.usageOf(key.id, days);
  }

  /**
   * Verifications a resource server decided from its cache, counted with the server's own. The caller
   * administers every key's project (as reading its usage needs); one refused key refuses the whole batch,
   * nothing counted. A last use in the future counts as now.
   */
  async reportUsage(caller: Caller, input: { reports: UsageReport[] }): Promise<{ accepted: number }> {
    if (!Array.isArray(input.reports) || input.reports.length === 0) throw new DomainError('invalid', 'reports must be a non-empty list', 'reports');
    for (const [i, report] of input.reports.entries()) {
      if (!(VERIFY_OUTCOMES as readonly string[]).includes(report.outcome)) throw new DomainError('invalid', `unknown outcome ${String(report.outcome)}`, `reports.${i}.outcome`);
      if (!Number.isInteger(report.count) || report.count < 1) throw new DomainError('invalid', 'count must be a whole number ≥ 1', `reports.${i}.count`);
      if (report.last_used_at !== undefined && Number.isNaN(Date.parse(report.last_used_at))) throw new DomainError('invalid', 'last_used_at must be an ISO 8601 time', `reports.${i}.last_used_at`);
    }
    for (const id of new Set(input.reports.map((r) => r.key_id))) {
      const key = await this.recordOf(id, 'reports');
      await this.deps.access.requireKeyAdmin(caller.principal, key);
    }
    for (const report of input.reports) {
      const at = report.last_used_at ? Math.min(Date.parse(report.last_used_at), Date.now()) : undefined;
      this.deps.keys.recordUsage(report.key_id, report.outcome, report.count, at === undefined ? undefined : { at, ip: report.last_used_ip ?? null });
    }
    return { accepted: input.reports.length };
  }

  /**
   * The key event stream of a subscriber that administers an organisation: after `last_event_id` when
   * given (nothing is missed across a reconnection), else from the present (replaying at most a minute).
   * Each event reaches only subscribers that administer its project.
   */
  async subscribe(caller: Caller, input: { last_event_id?: string | undefined }): Promise<KeyEventSubscription> {
    const { access, events } = this.deps;
    const principal = caller.principal;
    await access.requireKeyEventSubscription(principal);
    if (input.last_event_id && !EVENT_ID.test(input.last_event_id)) throw new DomainError('invalid', 'Last-Event-ID must be an event id of this stream (<ms>-<seq>)', 'last_event_id');
    const from = input.last_event_id || events.startCursor();
    const ownKey = principal.kind === 'api_key' ? principal.actor.id : null;
    return {
      from,
      async *batches(signal: AbortSignal): AsyncGenerator<KeyEventBatch> {
        for await (const batch of events.follow(from, signal)) {
          const out: StoredEvent<KeyEvent>[] = [];
          let final = false;
          for (const event of batch.events) {
            if (!(await access.receivesKeyEvent(principal, event.value.project_id))) continue;
            out.push(event);
            if (ownKey && event.value.key_id === ownKey && FINAL.has(event.value.type)) {
              final = true;
              break;
            }
          }
          yield { events: out, final };
          if (final) return;
        }
      },
    };
  }

  /** Scopes must be a non-empty list of known scopes (an input error, before any access question about them). */
  private checkScopes(scopes: unknown): KeyScope[] {
    if (!Array.isArray(scopes) || scopes.length === 0) throw new DomainError('invalid', `scopes must be a non-empty list of ${KEY_SCOPES.join(', ')}`, 'scopes');
    const unknown = scopes.filter((s) => typeof s !== 'string' || !isScope(s));
    if (unknown.length) throw new DomainError('invalid', `unknown scope ${unknown.map(String).join(', ')}; allowed: ${KEY_SCOPES.join(', ')}`, 'scopes');
    return [...new Set(scopes as KeyScope[])];
  }

  private async recordOf(id: string, field: string): Promise<ApiKeyRecord> {
    const record = await this.deps.keys.getRecord(id);
    if (!record) throw new DomainError('not_found', `API key ${id} does not exist`, field);
    return record;
  }

  /** The key, when the caller administers its project (404 for an unknown id, 403 for another's). */
  private async administered(caller: Caller, id: string): Promise<ApiKeyRecord> {
    const record = await this.recordOf(id, 'id');
    await this.deps.access.requireKeyAdmin(caller.principal, record);
    return record;
  }

  private async record(caller: Caller, action: string, key: { id: string; project_id: string }, detail?: Record<string, unknown>): Promise<void> {
    await this.deps.audit.recordBy(caller, {
      action,
      target: { type: 'api_key', id: key.id },
      project_id: key.project_id,
      outcome: 'success',
      ...(detail ? { detail } : {}),
    });
  }
}
