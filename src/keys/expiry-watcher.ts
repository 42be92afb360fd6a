import type { Logger } from 'pino';
import type { Store } from '../store/index.ts';
import type { AuditLog } from '../audit/index.ts';
import type { KeyRepository } from './repository.ts';
import { PeriodicJob } from '../domain/index.ts';
import { publishKeyEvent } from './events.ts';

/** What the watcher needs of the webhooks module: an event that is sent at most once per dedupe key. */
interface OnceEmitter {
  emitOnce(dedupeKey: string, event: { type: string; project_id: string; data: Record<string, unknown> }): Promise<number>;
}

/**
 * Looks at every not-yet-finished key once per interval: `key.expiring` once, `expiring_notice_days`
 * before expiry, for keys with auto_rotate; `key.expired` once when a key expires. Safe with several
 * nodes: one pass at a time holds a lock, and every event is sent through a dedupe key (emitOnce).
 */
export class ExpiryWatcher {
  private job: PeriodicJob | undefined;
  private readonly deps: { store: Store; keys: KeyRepository; webhooks: OnceEmitter; audit: AuditLog; logger: Logger; noticeDays: number };

  constructor(deps: ExpiryWatcher['deps']) {
    this.deps = deps;
  }

  start(intervalSeconds: number): void {
    this.job = new PeriodicJob('API key expiry watch', this.deps.logger, () => this.runOnce(intervalSeconds));
    this.job.start(intervalSeconds);
  }

  async stop(): Promise<void> {
    await this.job?.stop();
  }

  /** One pass; returns early when another node holds the pass. */
  async runOnce(lockSeconds = 60): Promise<void> {
    const { store, keys, webhooks, audit, noticeDays } = this.deps;
    if (!(await store.putIfAbsent('apikey:watcher:{lock}', { pid: process.pid, at: new Date().toISOString() }, Math.max(1, lockSeconds - 1)))) return;
    const now = Date.now();
    for (const id of await keys.watched()) {
      const record = await keys.getRecord(id);
      if (!record || record.revoked_at || (record.grace_until && Date.parse(record.grace_until) <= now)) {
        // Subscribers check grace_until themselves; the event is for those whose clocks disagree.
        if (record && !record.revoked_at) await publishKeyEvent(store, { type: 'key.rotation_ended', key_id: id, project_id: record.project_id });
        await keys.unwatch(id);
        continue;
      }
      const expiresAt = Date.parse(record.expires_at);
      const view = keys.view(record);
      if (expiresAt <= now) {
        const sent = await webhooks.emitOnce(`key.expired:${id}`, { type: 'key.expired', project_id: record.project_id, data: { key: view } });
        await publishKeyEvent(store, { type: 'key.expired', key_id: id, project_id: record.project_id });
        await audit.record({ actor: { type: 'system', id: null }, action: 'key.expired', target: { type: 'api_key', id }, project_id: record.project_id, ip: null, outcome: 'success', detail: { expires_at: record.expires_at, webhooks: sent } });
        await keys.unwatch(id);
      } else if (record.auto_rotate && expiresAt - now <= noticeDays * 86_400_000) {
        await webhooks.emitOnce(`key.expiring:${id}`, { type: 'key.expiring', project_id: record.project_id, data: { key: view } });
      }
    }
  }
}
