/**
 * The Store contract: what the features need from persistent state and no more.
 *
 * Two implementations (embedded lmdb, Redis) run the same contract suite (test/store/contract.ts),
 * as Dex runs storage/conformance against every backend. Values are JSON-serialisable objects.
 *
 * Key layout is the caller's: `lt:` prefixes are added by the implementation (configurable), callers
 * pass logical keys such as `oidc:AccessToken:{id}`. A `{…}` section is a Redis Cluster hash tag:
 * keys touched by one `batch` must share it to be atomic on Cluster.
 */
export type JsonObject = { [key: string]: unknown };

export type BatchOp =
  | { op: 'put'; key: string; value: JsonObject; ttlSeconds?: number | undefined }
  | { op: 'delete'; key: string }
  | { op: 'sadd'; key: string; members: string[]; ttlSeconds?: number | undefined }
  | { op: 'srem'; key: string; members: string[] }
  | { op: 'expire'; key: string; ttlSeconds: number };

export interface StoredEvent<T extends JsonObject = JsonObject> {
  /** Monotonic, sortable id assigned by the store (`<ms>-<seq>`). */
  id: string;
  value: T;
}

export interface RangeOptions {
  /**
   * Return events strictly after this id: `<ms>-<seq>`, each part at most 19 digits (any such pair, not
   * only an id the log holds). Anything else is refused with StoreInputError.
   */
  after?: string | undefined;
  limit?: number | undefined;
}

export interface Store {
  readonly driver: 'embedded' | 'redis';

  /** The stored object, or undefined when absent or expired. Consumed marks are merged in as fields. */
  get<T extends JsonObject = JsonObject>(key: string): Promise<T | undefined>;
  /** Replaces the value (and its consumed marks); ttlSeconds undefined = no expiry. */
  put(key: string, value: JsonObject, ttlSeconds?: number): Promise<void>;
  /** Writes only when the key is absent (or expired). True when this call wrote. */
  putIfAbsent(key: string, value: JsonObject, ttlSeconds?: number): Promise<boolean>;
  /**
   * Atomically sets `field` = `at` on an existing record unless that field is already set.
   * Returns 'consumed' when this call set it, 'already' (with the earlier value) when another did,
   * 'missing' when there is no such record. Used for one-time artifacts (codes, refresh tokens).
   */
  consume(key: string, field: string, at: number): Promise<{ result: 'consumed' } | { result: 'already'; at: number } | { result: 'missing' }>;
  delete(...keys: string[]): Promise<void>;
  /** Remaining TTL in seconds; undefined when the key has no expiry or does not exist. */
  ttl(key: string): Promise<number | undefined>;

  /** Secondary indexes: unordered sets of strings. */
  sadd(key: string, members: string[], ttlSeconds?: number): Promise<void>;
  srem(key: string, members: string[]): Promise<void>;
  smembers(key: string): Promise<string[]>;

  /** Adds `by` and returns the new value; ttlSeconds applies when the counter is created. */
  incr(key: string, by?: number, ttlSeconds?: number): Promise<number>;
  /** Current values of counters, in order; an absent or expired counter reads 0. Writes nothing. */
  counters(keys: string[]): Promise<number[]>;

  /** Several writes applied together: all or none. */
  batch(ops: BatchOp[]): Promise<void>;

  /** Append-only event log: append returns the assigned id; range reads in id order. */
  append<T extends JsonObject>(log: string, value: T): Promise<string>;
  range<T extends JsonObject = JsonObject>(log: string, options?: RangeOptions): Promise<StoredEvent<T>[]>;

  /** Round trip to the backing store; rejects when it is unreachable (readiness, fail-closed). */
  ping(): Promise<void>;
  /**
   * False when the store already knows it cannot serve (connection down, closed): checked without a
   * round trip on paths that would otherwise not touch the store (fail closed). True promises nothing.
   */
  available(): boolean;
  close(): Promise<void>;
}

/**
 * The longest key (or log name) the store takes, in UTF-8 bytes, before its prefix. Every key the features
 * build is far shorter; a longer one carries an identifier no one issued (a 10 KB "client_id"), and LMDB
 * cannot hold it at all (its limit is 1978 bytes).
 */
export const MAX_KEY_BYTES = 1024;

/** An event id as `range({ after })` takes it: two decimal parts that fit Redis's 64-bit stream ids. */
export const EVENT_ID = /^\d{1,19}-\d{1,19}$/;

/**
 * Thrown, before any backend call, for input no backend should see: a key longer than MAX_KEY_BYTES,
 * a range cursor that is not an event id. It names the caller's mistake (or an attacker's input), not
 * an outage: doors answer it 4xx, never 5xx and never 503.
 */
export class StoreInputError extends Error {
  override readonly name = 'StoreInputError';
  readonly reason: 'key_too_long' | 'invalid_cursor';
  constructor(reason: StoreInputError['reason'], message: string) {
    super(message);
    this.reason = reason;
  }
}

/** Throws StoreInputError for a key over MAX_KEY_BYTES; returns the key. */
export function checkKey(key: string): string {
  // key.length counts UTF-16 units: a string of ≤ MAX/3 units is within the limit whatever it holds.
  if (key.length > MAX_KEY_BYTES / 3 && Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw new StoreInputError('key_too_long', `key longer than ${MAX_KEY_BYTES} bytes: ${key.slice(0, 60)}…`);
  }
  return key;
}

/** Throws StoreInputError unless `after` is absent or an event id. */
export function checkCursor(after: string | undefined): void {
  if (after !== undefined && !EVENT_ID.test(after)) {
    throw new StoreInputError('invalid_cursor', `not an event id: ${after.slice(0, 60)}`);
  }
}

/** Thrown by a store operation when its backend is unreachable; the HTTP layer answers 503. */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
