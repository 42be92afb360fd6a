import { createHash } from 'node:crypto';
import type { Store } from '../store/index.ts';

/**
 * Counts failures per subject in a fixed window and refuses further attempts once `max` is reached.
 * Successes are never counted (a valid caller is never slowed down). Subjects are hashed into the key
 * so emails and addresses are not stored in clear.
 */
export class FailureLimiter {
  private readonly store: Store;
  private readonly name: string;
  private readonly max: number;
  private readonly windowSeconds: number;

  constructor(store: Store, options: { name: string; max: number; windowSeconds: number }) {
    this.store = store;
    this.name = options.name;
    this.max = options.max;
    this.windowSeconds = options.windowSeconds;
  }

  private key(subject: string): string {
    return `ratelimit:${this.name}:{${createHash('sha256').update(subject).digest('base64url').slice(0, 22)}}`;
  }

  /** When blocked, the seconds until the window ends; otherwise undefined. */
  async blockedFor(subject: string): Promise<number | undefined> {
    const key = this.key(subject);
    const ttl = await this.store.ttl(key);
    if (ttl === undefined) return undefined;
    const failures = await this.store.incr(key, 0);
    return failures >= this.max ? Math.max(1, ttl) : undefined;
  }

  async recordFailure(subject: string): Promise<number> {
    return this.store.incr(this.key(subject), 1, this.windowSeconds);
  }

  async reset(subject: string): Promise<void> {
    await this.store.delete(this.key(subject));
  }
}
