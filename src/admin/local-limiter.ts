/**
 * Failures per subject in a fixed window, in this process's memory: for the verify hot path, where a
 * store round trip per call would cost the log API throughput. Several nodes each allow `max`.
 */
export class LocalFailureLimiter {
  private readonly max: number;
  private readonly windowMs: number;
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(options: { max: number; windowMs: number }) {
    this.max = options.max;
    this.windowMs = options.windowMs;
  }

  /** Seconds until the subject may try again, or 0 when not blocked. */
  blockedFor(subject: string, now = Date.now()): number {
    const entry = this.windows.get(subject);
    if (!entry || entry.resetAt <= now) return 0;
    return entry.count >= this.max ? Math.ceil((entry.resetAt - now) / 1000) : 0;
  }

  recordFailure(subject: string, now = Date.now()): void {
    const entry = this.windows.get(subject);
    if (!entry || entry.resetAt <= now) {
      if (this.windows.size > 100_000) this.prune(now);
      this.windows.set(subject, { count: 1, resetAt: now + this.windowMs });
    } else entry.count += 1;
  }

  private prune(now: number): void {
    for (const [subject, entry] of this.windows) if (entry.resetAt <= now) this.windows.delete(subject);
  }
}
