import type { Store } from '../store/index.ts';

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

export const AUDIT_LOG = 'audit:{log}';

export class AuditLog {
  private readonly store: Store;
  constructor(store: Store) {
    this.store = store;
  }

  async record(event: AuditInput): Promise<string> {
    return this.store.append<AuditEvent>(AUDIT_LOG, { ...event, timestamp: event.timestamp ?? new Date().toISOString() });
  }

  async list(options: { after?: string; limit?: number } = {}): Promise<Array<AuditEvent & { id: string }>> {
    const events = await this.store.range<AuditEvent>(AUDIT_LOG, options);
    return events.map((e) => ({ ...e.value, id: e.id }));
  }
}
