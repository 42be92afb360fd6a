import { EVENT_ID, type Store } from '../store/index.ts';
import type { Caller } from '../domain/index.ts';

/** An event id, as `after` (a listing's `next` cursor) must be: `<ms>-<seq>`, digits only. */
export function isEventId(value: string): boolean {
  return EVENT_ID.test(value);
}

/**
 * Append-only audit events: ISO 8601 timestamp (UTC, ms), actor, client IP, action, target, outcome.
 * Nothing modifies or deletes an event.
 */
export interface AuditEventFields {
  timestamp: string;
  actor: { type: 'user' | 'client' | 'api_key' | 'system' | 'anonymous'; id: string | null };
  action: string;
  target: { type: string; id: string | null } | null;
  project_id?: string | null;
  ip: string | null;
  user_agent?: string | null;
  outcome: 'success' | 'failure';
  detail?: Record<string, unknown>;
}

export type AuditEvent = AuditEventFields & { [key: string]: unknown };
export type AuditInput = Omit<AuditEventFields, 'timestamp'> & { timestamp?: string };

const AUDIT_LOG = 'audit:{log}';

export interface AuditFilter {
  /** Only events of these projects (the caller's visible projects). */
  project_ids?: Set<string> | undefined;
  /** Also events tied to no project (failed calls before a project was known): for organisation admins. */
  include_unscoped?: boolean | undefined;
  /** Of the events tied to no project, those about these accounts only (actor and target). */
  unscoped_subjects?: Set<string> | undefined;
  /** An exact action (`key.created`) or a family (`key`). */
  action?: string | undefined;
  actor_id?: string | undefined;
  target_id?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
  after?: string | undefined;
  limit?: number | undefined;
}

/** An event about accounts (as actor or target), every one of them among `subjects`. */
function aboutSubject(event: AuditEvent, subjects: Set<string> | undefined): boolean {
  if (!subjects) return false;
  const accounts = [event.actor.type === 'user' ? event.actor.id : null, event.target?.type === 'user' ? event.target.id : null].filter((id): id is string => !!id);
  return accounts.length > 0 && accounts.every((id) => subjects.has(id));
}

export class AuditLog {
  private readonly store: Store;
  constructor(store: Store) {
    this.store = store;
  }

  /** Appends an event; every documented field is present (null when unknown), whoever records it. */
  async record(event: AuditInput): Promise<string> {
    return this.store.append<AuditEvent>(AUDIT_LOG, {
      ...event,
      target: event.target ?? null,
      project_id: event.project_id ?? null,
      ip: event.ip ?? null,
      user_agent: event.user_agent ?? null,
      timestamp: event.timestamp ?? new Date().toISOString(),
    });
  }

  /** An event a caller's action caused: who (the principal's actor) and from where (ip, user agent) come from the caller. */
  async recordBy(caller: Caller, event: Omit<AuditInput, 'actor' | 'ip' | 'user_agent'>): Promise<string> {
    return this.record({ actor: caller.principal.actor, ip: caller.ip, user_agent: caller.user_agent, ...event });
  }

  async list(options: { after?: string; limit?: number } = {}): Promise<Array<AuditEvent & { id: string }>> {
    const events = await this.store.range<AuditEvent>(AUDIT_LOG, options);
    return events.map((e) => ({ ...e.value, id: e.id }));
  }

  /**
   * Events in time order matching every given filter. `since` (ISO time) starts the scan there; `after`
   * (an event id, the `next` cursor of a previous page) continues a listing. The scan reads the log in
   * pages, so a filter that matches rarely costs more reads but never more memory.
   */
  async query(filter: AuditFilter): Promise<{ events: Array<AuditEvent & { id: string }>; next: string | null }> {
    const limit = Math.min(Math.max(filter.limit ?? 100, 1), 1000);
    let cursor = filter.after ?? sinceCursor(filter.since);
    const out: Array<AuditEvent & { id: string }> = [];
    for (;;) {
      const page = await this.store.range<AuditEvent>(AUDIT_LOG, { after: cursor, limit: 500 });
      for (const { id, value } of page) {
        cursor = id;
        if (filter.until && value.timestamp > filter.until) return { events: out, next: null };
        if (filter.project_ids && !(value.project_id ? filter.project_ids.has(value.project_id) : filter.include_unscoped || aboutSubject(value, filter.unscoped_subjects))) continue;
        if (filter.action && value.action !== filter.action && !value.action.startsWith(`${filter.action}.`)) continue;
        if (filter.actor_id && value.actor.id !== filter.actor_id) continue;
        if (filter.target_id && value.target?.id !== filter.target_id) continue;
        out.push({ ...value, id });
        if (out.length === limit) return { events: out, next: id };
      }
      if (page.length < 500) return { events: out, next: null };
    }
  }
}

/** A cursor just before the first event at or after `since` (ISO time); none for times before 1970. */
function sinceCursor(since: string | undefined): string | undefined {
  if (!since) return undefined;
  const ms = Date.parse(since);
  return Number.isFinite(ms) && ms > 0 ? `${ms - 1}-99999999` : undefined;
}
export { AuditService } from './service.ts';
