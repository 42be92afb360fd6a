/**
 * The Store contract: what the features need from persistent state and no more.
 *
 * Two implementations (embedded lmdb, Redis) run the same contract suite (test/store/contract.ts),
 * as Dex runs storage/conformance against every backend. Values are JSON-serialisable objects.
 *
 * Key layout is the caller's: `lt:` prefixes are added by the implementation (configurable), callers
 * pass logical keys such as `oidc:AccessToken:{id}`. A `{…}` section is a Redis Cluster hash tag: only
 * the tag decides a key's hash slot (a key without one is hashed whole). Every key of one `batch` must
 * have the same hash tag (checkOneSlot): every driver refuses a batch that spans several, so code that
 * would break on Redis Cluster fails its tests on any store.
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

/** What /readyz reports about the store behind this node (counts only: no internal addresses). */
export interface StoreTopology {
  mode: 'embedded' | 'standalone' | 'cluster' | 'sentinel';
  /** Masters this node knows of (the one database for embedded and standalone). */
  masters: number;
  /** Of those, how many answered a PING just now. */
  masters_reachable: number;
  /** Redis Cluster only: CLUSTER INFO's cluster_state (`ok`, or `fail` while a slot has no master). */
  cluster_state?: string;
}

/** Why a store operation failed, for metrics. */
export type StoreErrorKind = 'timeout' | 'connection' | 'readonly' | 'cluster_down' | 'redirections' | 'auth' | 'busy' | 'command' | 'input' | 'replica_ack';

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

  /**
   * Several writes applied together: all or none. Every key must have the same hash tag (one Redis
   * Cluster slot); a batch that spans several is refused with CrossSlotBatchError before any write.
   * Work that touches several entities is several batches, ordered so that a failure between them
   * leaves nothing unsafe (an index entry pointing at nothing, never a record its index misses).
   */
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
  /** The topology behind the store and how much of it answers now (readiness). Never rejects. */
  topology(): Promise<StoreTopology>;
  /**
   * Settings of the backing store that can lose acknowledged writes (eviction, no persistence), as
   * sentences for the start-up log; empty when none is known. Never rejects.
   */
  durabilityWarnings(): Promise<string[]>;
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

/**
 * The part of a key Redis Cluster hashes to choose its slot: the text between the first `{` and the
 * next `}` when that is not empty, else the whole key (the Redis Cluster specification's rule).
 */
export function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  if (close <= open + 1) return key;
  return key.slice(open + 1, close);
}

/**
 * A batch whose keys have different hash tags: Redis Cluster cannot apply it in one transaction. A bug
 * in the caller (answered 500), never the user's input.
 */
export class CrossSlotBatchError extends Error {
  override readonly name = 'CrossSlotBatchError';
}

/** Throws CrossSlotBatchError unless every key has the same hash tag. */
export function checkOneSlot(keys: string[]): void {
  const first = keys[0];
  if (first === undefined) return;
  const tag = hashTagOf(first);
  const other = keys.find((key) => hashTagOf(key) !== tag);
  if (other !== undefined) {
    throw new CrossSlotBatchError(`batch spans several hash tags (${first.slice(0, 80)} and ${other.slice(0, 80)}): one batch must stay within one entity's hash tag`);
  }
}

/**
 * Writes spanning several entities, one after another in the given order, each its own single-slot batch
 * (Redis Cluster applies a transaction only within one hash slot). Callers order them so that a crash
 * between two leaves at worst a stale index entry: index before record, lookups and tokens last, and a
 * deletion takes the record first.
 */
export async function writeInOrder(store: Pick<Store, 'batch'>, ops: BatchOp[]): Promise<void> {
  for (const op of ops) await store.batch([op]);
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
