import type { Logger } from 'pino';
import type { Store, StoredEvent } from '../store/index.ts';

/**
 * Key events for resource servers that cache verified API keys (the verifier library): whatever makes a
 * key that verified once stop verifying is appended here, after the key record is written, and streamed to
 * subscribers (GET /v1/keys/events). The log is the store's append-only event log, so every server node
 * sees every event, whichever node (or the CLI) made the change, and a subscriber resumes from an event id
 * without missing one.
 *
 * - key.revoked            revoked (by an admin, the key itself, or the CLI)
 * - key.rotated            the old key of a rotation: it verifies until its grace ends (the event carries
 *                          grace_until), then answers `rotated`
 * - key.rotation_ended     the grace period of a rotated key is over (the expiry watcher, best effort:
 *                          subscribers also check grace_until themselves)
 * - key.expired            expires_at passed (the expiry watcher; subscribers check expires_at too)
 *
 * Keys' allowlists and scopes cannot be changed after creation (a new key is created instead); an event
 * type for that is reserved (`key.updated`) so subscribers already drop their cache entry on it.
 */
type KeyEventType = 'key.revoked' | 'key.rotated' | 'key.rotation_ended' | 'key.expired' | 'key.updated';

export interface KeyEvent {
  [key: string]: unknown;
  type: KeyEventType;
  key_id: string;
  project_id: string;
  at: string;
  grace_until?: string;
}

const KEY_EVENTS_LOG = 'apikey:events:{log}';

/**
 * Where a subscriber that names no event id starts: this far back in time, so that a clock difference
 * between this node and the store (Redis assigns stream ids by its own clock) cannot skip an event.
 * Replaying a minute of events is harmless: subscribers only drop cache entries.
 */
const LOOKBACK_MS = 60_000;
const PAGE = 200;

export async function publishKeyEvent(store: Store, event: { type: KeyEventType; key_id: string; project_id: string; grace_until?: string }): Promise<string> {
  return store.append<KeyEvent>(KEY_EVENTS_LOG, { ...event, at: new Date().toISOString() });
}

interface FeedBatch {
  events: StoredEvent<KeyEvent>[];
  /** The id to resume after: the last event read, or the cursor the read started from. */
  cursor: string;
}

/**
 * Follows the key event log for the streams of one node. Each stream polls the log from its own cursor
 * (one range read per `pollMs`, a few dozen per second per node at most: cheaper than a second connection
 * per stream), so a subscriber that resumes from an old id catches up at its own pace.
 */
export class KeyEventFeed {
  private readonly store: Store;
  private readonly logger: Logger;
  private readonly pollMs: number;
  private readonly streams = new Set<AbortController>();

  constructor(store: Store, logger: Logger, options: { pollMs: number }) {
    this.store = store;
    this.logger = logger;
    this.pollMs = options.pollMs;
  }

  startCursor(now = Date.now()): string {
    return `${Math.max(0, now - LOOKBACK_MS)}-0`;
  }

  /**
   * Yields after every successful read (with no events when nothing happened): a stream's heartbeat is
   * proof that the log was read, so a subscriber never takes a node that cannot reach the store for live.
   * A failed read yields nothing and is retried; the generator ends when `signal` aborts or stop() is called.
   */
  async *follow(after: string, signal: AbortSignal): AsyncGenerator<FeedBatch> {
    const controller = new AbortController();
    const abort = () => controller.abort();
    signal.addEventListener('abort', abort, { once: true });
    this.streams.add(controller);
    let cursor = after;
    let failures = 0;
    try {
      while (!controller.signal.aborted) {
        let events: StoredEvent<KeyEvent>[];
        try {
          events = await this.store.range<KeyEvent>(KEY_EVENTS_LOG, { after: cursor, limit: PAGE });
          failures = 0;
        } catch (err) {
          if (failures++ === 0) this.logger.warn({ err: String(err) }, 'key event stream: cannot read the event log; retrying');
          await wait(Math.min(5000, this.pollMs * 2 ** Math.min(failures, 6)), controller.signal);
          continue;
        }
        if (events.length) cursor = events[events.length - 1]!.id;
        yield { events, cursor };
        if (events.length < PAGE) await wait(this.pollMs, controller.signal);
      }
    } finally {
      signal.removeEventListener('abort', abort);
      this.streams.delete(controller);
    }
  }

  /** Ends every stream (shutdown): subscribers reconnect to another node and resume. */
  stop(): void {
    for (const stream of this.streams) stream.abort();
  }
}

function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
