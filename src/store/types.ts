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
  /** Return events strictly after this id. */
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

/** Thrown by a store operation when its backend is unreachable; the HTTP layer answers 503. */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
