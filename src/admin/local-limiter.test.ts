import { describe, expect, it } from 'vitest';
import { LocalFailureLimiter } from './local-limiter.ts';

describe('LocalFailureLimiter', () => {
  it('blocks a subject after max failures until its window ends', () => {
    const limiter = new LocalFailureLimiter({ max: 2, windowMs: 60_000, maxEntries: 10 });
    limiter.recordFailure('a', 0);
    expect(limiter.blockedFor('a', 1)).toBe(0);
    limiter.recordFailure('a', 1);
    expect(limiter.blockedFor('a', 1_000)).toBe(59);
    expect(limiter.blockedFor('b', 1_000)).toBe(0);
    expect(limiter.blockedFor('a', 60_000)).toBe(0);
    expect(limiter.size).toBe(0);
  });

  it('remembers at most maxEntries subjects, forgetting the least recent first', () => {
    const limiter = new LocalFailureLimiter({ max: 1, windowMs: 60_000, maxEntries: 3 });
    for (const subject of ['a', 'b', 'c']) limiter.recordFailure(subject, 0);
    // A refused subject counts as recent: it stays while quieter ones go.
    expect(limiter.blockedFor('a', 1)).toBeGreaterThan(0);
    for (let i = 0; i < 1000; i++) {
      limiter.recordFailure(`x${i}`, 2);
      limiter.blockedFor('a', 2);
      expect(limiter.size).toBeLessThanOrEqual(3);
    }
    expect(limiter.blockedFor('a', 3)).toBeGreaterThan(0);
    expect(limiter.blockedFor('b', 3)).toBe(0);
  });
});
