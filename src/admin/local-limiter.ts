/**
 * Failures per subject in a fixed window, in this process's memory: for the verify hot path, where a
 * store round trip per call would cost the log API throughput. Several nodes each allow `max`.
 *
 * Memory is bounded: at most `maxEntries` subjects are remembered, least recently failed (or refused)
 * forgotten first. Forgetting only ever lets a subject try again sooner; it never blocks anyone.
 */
export class LocalFailureLimiter {
  private readonly max: number;
  private readonly windowMs: number;
  private readonly maxEntries: number;
  /** Insertion order is recency order: a touched entry is deleted and set again. */
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(options: { max: number; windowMs: number; maxEntries: number }) {
    this.max = options.max;
    this.windowMs = options.windowMs;
    this.maxEntries = Math.max(1, options.maxEntries);
  }

  /** Subjects remembered now (the `logtrace_verify_limiter_entries` metric). */
  get size(): number {
    return this.windows.size;
  }

  /** Seconds until the subject may try again, or 0 when not blocked. A blocked subject stays remembered. */
  blockedFor(subject: string, now = Date.now()): number {
    const entry = this.windows.get(subject);
    if (!entry) return 0;
    if (entry.resetAt <= now) {
      this.windows.delete(subject);
      return 0;
    }
    if (entry.count < this.max) return 0;
    this.windows.delete(subject);
    this.windows.set(subject, entry);
    return Math.ceil((entry.resetAt - now) / 1000);
  }

  recordFailure(subject: string, now = Date.now()): void {
    const entry = this.windows.get(subject);
    this.windows.delete(subject);
    if (entry && entry.resetAt > now) {
      entry.count += 1;
      this.windows.set(subject, entry);
      return;
    }
    while (this.windows.size >= this.maxEntries) {
      const oldest = this.windows.keys().next().value as string;
      this.windows.delete(oldest);
    }
    this.windows.set(subject, { count: 1, resetAt: now + this.windowMs });
  }
}
