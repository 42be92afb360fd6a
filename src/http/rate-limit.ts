import { createHash } from 'node:crypto';
import type { Store } from '../store/index.ts';

/** Subjects are hashed into the key so emails and addresses are not stored in clear; `{…}` is the Cluster hash tag. */
function limitKey(name: string, subject: string): string {
  return `ratelimit:${name}:{${createHash('sha256').update(subject).digest('base64url').slice(0, 22)}}`;
}

type Reservation = { ok: true } | { ok: false; retryAfter: number };

/**
 * At most `max` attempts per subject in a fixed window (from the first attempt), reserve-then-check: an
 * attempt is counted by one atomic increment *before* the check it guards runs, and the new count decides.
 * Checking first and counting after the verdict would let any number of concurrent requests read "not
 * yet blocked" and all run their check. A success resets the count (a valid caller is not slowed down);
 * an attempt that got no verdict (the checker was unavailable) is given back.
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

  /** Counts one attempt; refused (with the seconds until the window ends) when it is beyond `max`. */
  async reserve(subject: string): Promise<Reservation> {
    const key = limitKey(this.name, subject);
    const attempts = await this.store.incr(key, 1, this.windowSeconds);
    if (attempts <= this.max) return { ok: true };
    return { ok: false, retryAfter: Math.max(1, (await this.store.ttl(key)) ?? this.windowSeconds) };
  }

  /** Gives back a reservation whose check gave no verdict. */
  async release(subject: string): Promise<void> {
    await giveBack(this.store, limitKey(this.name, subject), this.windowSeconds);
  }

  async reset(subject: string): Promise<void> {
    await this.store.delete(limitKey(this.name, subject));
  }
}

/**
 * One decrement. A counter back at zero is removed rather than kept for its window (a flood of attempts
 * turned away must not leave a key per guessed email behind); one that expired in between would read
 * below zero and is removed too. (A reservation landing between the two steps is lost: one extra
 * attempt at most, for a counter that was at zero anyway.)
 */
async function giveBack(store: Store, key: string, windowSeconds: number): Promise<void> {
  if ((await store.incr(key, -1, windowSeconds)) <= 0) await store.delete(key);
}

interface LoginThrottleOptions {
  /** Per (account, client address): attempts per window, then refused until the window ends. */
  maxFailedAttempts: number;
  windowSeconds: number;
  /** Per account, from every address: attempts per window before the back-off starts. */
  accountMaxFailedAttempts: number;
  accountWindowSeconds: number;
  /** The first back-off interval; it doubles with each further attempt, up to the maximum. */
  accountBackoffSeconds: number;
  accountBackoffMaxSeconds: number;
}

/** A sign-in attempt let through: hand it back with the verdict. */
export interface LoginTicket {
  readonly account: string;
  readonly pair: string;
  /** This attempt holds the account's back-off slot. */
  readonly slot: boolean;
}

type LoginAdmission =
  | { ok: true; ticket: LoginTicket }
  | { ok: false; limit: 'address' | 'account'; retryAfter: number };

/**
 * Throttles password sign-in (local accounts and directory binds alike). Every password check is admitted
 * here first, and admission is a reservation (see FailureLimiter), so concurrent requests cannot overrun a
 * limit: 30 wrong passwords sent at once run at most `maxFailedAttempts` checks.
 *
 * Two limits side by side:
 * - per (account, client address): `maxFailedAttempts` per `windowSeconds`, then refused until the window
 *   ends. It stops one source guessing; it does nothing against a botnet rotating addresses.
 * - per account, across all addresses: after `accountMaxFailedAttempts` attempts in `accountWindowSeconds`,
 *   a back-off, not a lock-out: one password check per interval (`accountBackoffSeconds`, doubling with each
 *   further attempt, capped at `accountBackoffMaxSeconds`). The trade-off: a hard per-account lock-out would
 *   bound guessing completely, but anyone who knows a person's email could then lock them out at will;
 *   the back-off lets an attacker aim only a wait of at most the cap at the real person, and once the attack
 *   stops the person signs in after that wait. While an attack is running, the person competes with it for
 *   the one check per interval — the price of keeping distributed guessing to about one guess per interval.
 *   Unknown emails are throttled exactly like known ones, so the answers tell nobody which accounts exist.
 * A success resets both limits for its account (and address).
 */
export class LoginThrottle {
  private readonly store: Store;
  private readonly options: LoginThrottleOptions;
  private readonly perAddress: FailureLimiter;

  constructor(store: Store, options: LoginThrottleOptions) {
    this.store = store;
    this.options = options;
    // The key name of the former single limit: counters in flight during an upgrade keep counting.
    this.perAddress = new FailureLimiter(store, { name: 'login', max: options.maxFailedAttempts, windowSeconds: options.windowSeconds });
  }

  private accountKeys(account: string) {
    const count = limitKey('login-account', account);
    // The same hash tag as the count: one slot for one account, on the same Cluster node.
    return { count, slot: count.replace('ratelimit:login-account:', 'ratelimit:login-account-slot:') };
  }

  async admit(account: string, address: string): Promise<LoginAdmission> {
    const pair = `${account}|${address}`;
    const byAddress = await this.perAddress.reserve(pair);
    if (!byAddress.ok) return { ok: false, limit: 'address', retryAfter: byAddress.retryAfter };
    const byAccount = await this.admitAccount(account);
    if (!byAccount.ok) {
      // Refused before any check: the real person's own address budget is not spent by waiting.
      await this.perAddress.release(pair);
      return { ok: false, limit: 'account', retryAfter: byAccount.retryAfter };
    }
    return { ok: true, ticket: { account, pair, slot: byAccount.slot } };
  }

  private async admitAccount(account: string): Promise<{ ok: true; slot: boolean } | { ok: false; retryAfter: number }> {
    const { count, slot } = this.accountKeys(account);
    const { accountMaxFailedAttempts: free, accountWindowSeconds, accountBackoffSeconds, accountBackoffMaxSeconds } = this.options;
    // A check already holds this interval: refuse without counting (a flood must not push the interval up).
    const held = await this.store.ttl(slot);
    if (held !== undefined) return { ok: false, retryAfter: held };
    const attempts = await this.store.incr(count, 1, accountWindowSeconds);
    if (attempts <= free) return { ok: true, slot: false };
    const step = attempts - free;
    const interval = Math.min(accountBackoffMaxSeconds, accountBackoffSeconds * 2 ** Math.min(step - 1, 30));
    // Create-if-absent is the atomic step: of concurrent attempts past the budget, one gets the interval.
    if (await this.store.putIfAbsent(slot, { step }, interval)) return { ok: true, slot: true };
    await giveBack(this.store, count, accountWindowSeconds);
    return { ok: false, retryAfter: Math.max(1, (await this.store.ttl(slot)) ?? 1) };
  }

  /** The password was right: both limits start afresh for this account. */
  async succeeded(ticket: LoginTicket): Promise<void> {
    const { count, slot } = this.accountKeys(ticket.account);
    await this.perAddress.reset(ticket.pair);
    await this.store.delete(count, slot);
  }

  /**
   * No verdict was reached (no slot to hash in, every directory unreachable): the attempt is given back,
   * so an outage does not eat into the real person's budget. A wrong password needs no call: the
   * reservation already counts it.
   */
  async unanswered(ticket: LoginTicket): Promise<void> {
    const { count, slot } = this.accountKeys(ticket.account);
    await this.perAddress.release(ticket.pair);
    await giveBack(this.store, count, this.options.accountWindowSeconds);
    if (ticket.slot) await this.store.delete(slot);
  }
}
