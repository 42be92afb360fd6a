import argon2 from 'argon2';
import bcrypt from 'bcryptjs';

/**
 * Human passwords: argon2id (RFC 9106 parameters, the argon2 package's defaults: m=64 MiB, t=3, p=4);
 * bcrypt accepted for hashes imported from elsewhere.
 */
export async function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, { type: argon2.argon2id });
}

/** The local password policy (`users add`, invitations): a length range, nothing cleverer (NIST SP 800-63B §5.1.1). */
export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 1024;

export function passwordProblem(password: string): 'too_short' | 'too_long' | undefined {
  if (password.length < PASSWORD_MIN_LENGTH) return 'too_short';
  if (password.length > PASSWORD_MAX_LENGTH) return 'too_long';
  return undefined;
}

async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    if (hash.startsWith('$argon2')) return await argon2.verify(hash, password);
    if (/^\$2[aby]\$/.test(hash)) return await bcrypt.compare(password, hash);
  } catch {
    return false;
  }
  return false;
}

/** Every hasher slot and every queue place is taken: the caller answers 503 "try again", it does not wait. */
export class PasswordBusyError extends Error {
  override readonly name = 'PasswordBusyError';
  constructor() {
    super('too many password hashes in progress');
  }
}

/** What a hasher reports, so the composition root can turn it into metrics (directory imports no HTTP). */
export interface PasswordHasherObserver {
  /** A hash or check starts running; `inFlight` counts it. */
  started?(kind: 'hash' | 'verify' | 'decoy', inFlight: number): void;
  finished?(inFlight: number): void;
  /** Refused with PasswordBusyError. */
  refused?(): void;
}

interface PasswordHasherOptions {
  /** Hashes and checks running at once in this process. */
  maxConcurrent: number;
  /** Callers allowed to wait for a slot; beyond that they are refused at once. */
  maxQueued: number;
  observer?: PasswordHasherObserver | undefined;
}

/**
 * Hashing and checking of human passwords under a concurrency bound. One argon2id hash holds 64 MiB
 * while it runs, and the argon2 binding runs on libuv's thread pool (4 threads by default), which the
 * file system, DNS and zlib share: without a bound a flood of sign-in attempts, each a hash, queues
 * unboundedly there and starves everything else. Here at most `maxConcurrent` run, at most `maxQueued`
 * wait (first come, first served), and the rest get PasswordBusyError at once, which the pages answer
 * with 503 and Retry-After — a caller who is turned away costs a few bytes, not 64 MiB.
 * One per process (built by the container); the bound is per process, as the memory is.
 */
export class PasswordHasher {
  private readonly maxConcurrent: number;
  private readonly maxQueued: number;
  private readonly observer: PasswordHasherObserver;
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private decoy: Promise<string> | undefined;

  constructor(options: PasswordHasherOptions) {
    if (!(options.maxConcurrent >= 1) || !(options.maxQueued >= 0)) throw new RangeError('PasswordHasher: maxConcurrent ≥ 1 and maxQueued ≥ 0');
    this.maxConcurrent = options.maxConcurrent;
    this.maxQueued = options.maxQueued;
    this.observer = options.observer ?? {};
  }

  /** A new argon2id hash (invitations). */
  hash(password: string): Promise<string> {
    return this.run('hash', () => hashPassword(password));
  }

  /** Checks a password against an account's hash. */
  verify(hash: string, password: string): Promise<boolean> {
    return this.run('verify', () => verifyPassword(hash, password));
  }

  /**
   * The cost of a check without an account (unknown email, or one without a local password), so the
   * answer's timing does not tell whether the account exists. Always false.
   */
  burn(password: string): Promise<false> {
    return this.run('decoy', async () => {
      // The first call also makes the decoy hash, inside its own slot.
      this.decoy ??= hashPassword('decoy-password-for-timing').catch((error: unknown) => {
        this.decoy = undefined;
        throw error;
      });
      await verifyPassword(await this.decoy, password);
      return false as const;
    });
  }

  private async run<T>(kind: 'hash' | 'verify' | 'decoy', work: () => Promise<T>): Promise<T> {
    if (this.running < this.maxConcurrent) {
      this.running++;
    } else if (this.waiting.length < this.maxQueued) {
      // The slot is handed over by the finishing caller (`running` stays counted), so no newcomer overtakes.
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.observer.refused?.();
      throw new PasswordBusyError();
    }
    this.observer.started?.(kind, this.running);
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
      this.observer.finished?.(this.running);
    }
  }
}
