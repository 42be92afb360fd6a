/**
 * Embedded Store on lmdb: file-backed, durable, no server to run (`npm start` out of the box).
 *
 * Layout: one lmdb environment under `path` with three named databases (JSON-encoded values, so a
 * value round-trips exactly as it does through the Redis store's JSON):
 * - `kv`: `prefix + key` → an entry: a record (`{ t: 'r', v, c }`, `c` = consumed marks), a set
 *   (`{ t: 's', m }`) or a counter (`{ t: 'n', n }`); each with `e`, its expiry (epoch ms), if any.
 * - `exp`: `[expiry, prefix + key]` → true, an index the sweeper walks instead of scanning `kv`.
 *   Entries go stale when a key is rewritten; the sweeper only deletes a key whose `e` still matches.
 * - `log`: `[prefix + log, id]` → event value, ids `<ms 13 digits>-<seq 6 digits>` sort as strings.
 *
 * Every write runs in `transactionSync`: LMDB's single writer lock makes read-check-write atomic even
 * across processes sharing the directory, and the default flags commit and fsync before returning.
 * We do not use lmdb's asynchronous `transaction()`/`childTransaction()`: their callbacks are
 * dispatched from lmdb's writer thread and were seen never to run on some hosts (the promise hangs
 * forever), which for a fail-closed auth server is the worst failure. The cost is that a commit
 * blocks the event loop for one fsync; fine for the embedded store's single-node scale.
 *
 * Sets are stored as one entry holding a member array: `sadd`/`srem` are O(set size), meant for the
 * small secondary indexes the features keep (a grant's tokens, a user's sessions).
 * Expired entries read as absent at once and are removed from disk by the periodic sweep.
 */
import { open } from 'lmdb';
import type { Database, RootDatabase } from 'lmdb';
import { CrossSlotBatchError, StoreInputError, StoreUnavailableError, checkCursor, checkKey, checkOneSlot } from './types.ts';
import type { BatchOp, JsonObject, RangeOptions, Store, StoredEvent } from './types.ts';

interface EmbeddedStoreOptions {
  /** Directory of the lmdb environment; created when missing. */
  path: string;
  /** Prepended to every key and log name; default `lt:`. */
  prefix?: string;
  /** How often expired entries are removed from disk; default 60 s. */
  sweepIntervalMs?: number;
}

type Expiry = { e?: number | undefined };
type RecordEntry = { t: 'r'; v: JsonObject; c?: Record<string, number> | undefined } & Expiry;
type SetEntry = { t: 's'; m: string[] } & Expiry;
type CounterEntry = { t: 'n'; n: number } & Expiry;
type Entry = RecordEntry | SetEntry | CounterEntry;

type ExpiryKey = [number, string];
type LogKey = [string, string];

const DEFAULT_RANGE_LIMIT = 100;
/** LMDB's key limit is 1978 bytes, including our encoding overhead: a bound on prefix + key. */
const LMDB_KEY_BYTES = 1800;
const SWEEP_BATCH = 500;
const MS_DIGITS = 13;
const SEQ_DIGITS = 6;
const MAX_SEQ = 10 ** SEQ_DIGITS - 1;
/** Above every id character (digits and '-'): the upper bound of one log's key range. */
const LOG_KEY_END = '\uffff';

/** A caller error (wrong key type, bad argument): passed through, never reported as unavailability. */
class StoreUsageError extends Error {
  override readonly name = 'StoreUsageError';
}

export async function openEmbeddedStore(options: EmbeddedStoreOptions): Promise<Store> {
  const prefix = options.prefix ?? 'lt:';
  let root: RootDatabase;
  try {
    root = open({ path: options.path, encoding: 'json', maxDbs: 4 });
  } catch (error) {
    throw new StoreUnavailableError(`cannot open the embedded store at ${options.path}`, { cause: error });
  }
  const kv: Database<Entry, string> = root.openDB<Entry, string>({ name: 'kv', encoding: 'json' });
  const exp: Database<true, ExpiryKey> = root.openDB<true, ExpiryKey>({ name: 'exp', encoding: 'json' });
  const log: Database<JsonObject, LogKey> = root.openDB<JsonObject, LogKey>({ name: 'log', encoding: 'json' });

  let closed = false;
  let sweeping = false;

  const k = (key: string): string => {
    const full = prefix + checkKey(key);
    // Only a very long prefix gets here with a key the contract allows.
    if (Buffer.byteLength(full) > LMDB_KEY_BYTES) throw new StoreInputError('key_too_long', `key too long for the embedded store: ${full.slice(0, 80)}…`);
    return full;
  };

  function live(entry: Entry | undefined, now: number): Entry | undefined {
    return entry !== undefined && (entry.e === undefined || entry.e > now) ? entry : undefined;
  }

  function write<T>(action: () => T): T {
    return root.transactionSync(action);
  }

  /** Runs one operation: rejects once closed, maps backend failures to StoreUnavailableError. */
  async function run<T>(operation: string, action: () => T): Promise<T> {
    if (closed) throw new StoreUnavailableError(`embedded store is closed (${operation})`);
    try {
      return action();
    } catch (error) {
      if (error instanceof StoreUsageError || error instanceof StoreInputError || error instanceof CrossSlotBatchError || error instanceof RangeError || error instanceof TypeError) throw error;
      throw new StoreUnavailableError(`embedded store ${operation} failed`, { cause: error });
    }
  }

  // The helpers below run inside a write transaction.

  function putEntry(key: string, entry: Entry): void {
    kv.putSync(key, entry);
    if (entry.e !== undefined) exp.putSync([entry.e, key], true);
  }

  function putRecord(key: string, value: JsonObject, ttlSeconds: number | undefined, now: number): void {
    putEntry(key, { t: 'r', v: value, e: expiresAt(ttlSeconds, now) });
  }

  function sadd(key: string, members: string[], ttlSeconds: number | undefined, now: number): void {
    if (members.length === 0) return;
    const current = live(kv.get(key), now);
    if (current !== undefined && current.t !== 's') throw wrongType(key);
    const set = new Set(current?.m ?? []);
    for (const member of members) set.add(member);
    const e = ttlSeconds === undefined ? current?.e : expiresAt(ttlSeconds, now);
    putEntry(key, { t: 's', m: [...set], e });
  }

  function srem(key: string, members: string[], now: number): void {
    const current = live(kv.get(key), now);
    if (current === undefined) return;
    if (current.t !== 's') throw wrongType(key);
    const removed = new Set(members);
    const remaining = current.m.filter((member) => !removed.has(member));
    if (remaining.length === 0) kv.removeSync(key);
    else kv.putSync(key, { ...current, m: remaining });
  }

  function expire(key: string, ttlSeconds: number, now: number): void {
    const current = live(kv.get(key), now);
    if (current === undefined) return;
    putEntry(key, { ...current, e: expiresAt(ttlSeconds, now) });
  }

  function applyOp(op: BatchOp, now: number): void {
    switch (op.op) {
      case 'put':
        putRecord(k(op.key), op.value, op.ttlSeconds, now);
        return;
      case 'delete':
        kv.removeSync(k(op.key));
        return;
      case 'sadd':
        sadd(k(op.key), op.members, op.ttlSeconds, now);
        return;
      case 'srem':
        srem(k(op.key), op.members, now);
        return;
      case 'expire':
        expire(k(op.key), op.ttlSeconds, now);
        return;
    }
  }

  /**
   * Deletes entries whose expiry has passed, walking the expiry index in small transactions and
   * yielding to the event loop between them, so a large backlog does not stall requests.
   */
  async function sweep(): Promise<void> {
    if (sweeping || closed) return;
    sweeping = true;
    try {
      for (;;) {
        const now = Date.now();
        const due = [...exp.getKeys({ end: [now + 1], limit: SWEEP_BATCH })];
        if (due.length === 0 || closed) return;
        write(() => {
          for (const indexKey of due) {
            const [e, key] = indexKey;
            const entry = kv.get(key);
            if (entry !== undefined && entry.e === e && e <= now) kv.removeSync(key);
            exp.removeSync(indexKey);
          }
        });
        if (due.length < SWEEP_BATCH) return;
        await new Promise((resolve) => setImmediate(resolve));
        if (closed) return;
      }
    } catch (error) {
      if (!closed) console.error('embedded store: sweeping expired entries failed', error);
    } finally {
      sweeping = false;
    }
  }

  const sweepTimer = setInterval(() => void sweep(), options.sweepIntervalMs ?? 60_000);
  sweepTimer.unref();

  const store: Store = {
    driver: 'embedded',

    get<T extends JsonObject = JsonObject>(key: string) {
      return run('get', () => {
        const entry = live(kv.get(k(key)), Date.now());
        if (entry === undefined) return undefined;
        if (entry.t !== 'r') throw wrongType(key);
        return { ...entry.v, ...entry.c } as T;
      });
    },

    put(key, value, ttlSeconds) {
      return run('put', () => {
        checkTtl(ttlSeconds);
        write(() => putRecord(k(key), value, ttlSeconds, Date.now()));
      });
    },

    putIfAbsent(key, value, ttlSeconds) {
      return run('putIfAbsent', () => {
        checkTtl(ttlSeconds);
        return write(() => {
          const now = Date.now();
          if (live(kv.get(k(key)), now) !== undefined) return false;
          putRecord(k(key), value, ttlSeconds, now);
          return true;
        });
      });
    },

    consume(key, field, at) {
      return run('consume', () =>
        write((): Awaited<ReturnType<Store['consume']>> => {
          const entry = live(kv.get(k(key)), Date.now());
          if (entry === undefined) return { result: 'missing' };
          if (entry.t !== 'r') throw wrongType(key);
          const earlier = entry.c?.[field];
          if (earlier !== undefined) return { result: 'already', at: earlier };
          kv.putSync(k(key), { ...entry, c: { ...entry.c, [field]: at } });
          return { result: 'consumed' };
        }),
      );
    },

    delete(...keys) {
      return run('delete', () => {
        if (keys.length === 0) return;
        write(() => {
          for (const key of keys) kv.removeSync(k(key));
        });
      });
    },

    ttl(key) {
      return run('ttl', () => {
        const now = Date.now();
        const entry = live(kv.get(k(key)), now);
        if (entry?.e === undefined) return undefined;
        return Math.ceil((entry.e - now) / 1000);
      });
    },

    sadd(key, members, ttlSeconds) {
      return run('sadd', () => {
        checkTtl(ttlSeconds);
        write(() => sadd(k(key), members, ttlSeconds, Date.now()));
      });
    },

    srem(key, members) {
      return run('srem', () => {
        if (members.length === 0) return;
        write(() => srem(k(key), members, Date.now()));
      });
    },

    smembers(key) {
      return run('smembers', () => {
        const entry = live(kv.get(k(key)), Date.now());
        if (entry === undefined) return [];
        if (entry.t !== 's') throw wrongType(key);
        return [...entry.m];
      });
    },

    incr(key, by = 1, ttlSeconds) {
      return run('incr', () => {
        if (!Number.isSafeInteger(by)) throw new RangeError(`incr: by must be a safe integer, got ${by}`);
        checkTtl(ttlSeconds);
        return write(() => {
          const now = Date.now();
          const entry = live(kv.get(k(key)), now);
          if (entry !== undefined && entry.t !== 'n') throw wrongType(key);
          const next: CounterEntry =
            entry === undefined ? { t: 'n', n: by, e: expiresAt(ttlSeconds, now) } : { ...entry, n: entry.n + by };
          putEntry(k(key), next);
          return next.n;
        });
      });
    },

    counters(keys) {
      return run('counters', () => {
        const now = Date.now();
        return keys.map((key) => {
          const entry = live(kv.get(k(key)), now);
          if (entry === undefined) return 0;
          if (entry.t !== 'n') throw wrongType(key);
          return entry.n;
        });
      });
    },

    batch(ops) {
      return run('batch', () => {
        for (const op of ops) if (op.op !== 'delete' && op.op !== 'srem') checkTtl(op.ttlSeconds);
        if (ops.length === 0) return;
        // Held to Redis Cluster's rule here too, so a batch that would break on Cluster fails every test.
        checkOneSlot(ops.map((op) => checkKey(op.key)));
        // Abortable transaction: if any op throws (wrong type), none of the batch is committed.
        write(() => {
          const now = Date.now();
          for (const op of ops) applyOp(op, now);
        });
      });
    },

    append<T extends JsonObject>(name: string, value: T) {
      return run('append', () =>
        write(() => {
          const logKey = k(name);
          const [last] = [...log.getKeys({ start: [logKey, LOG_KEY_END], end: [logKey], reverse: true, limit: 1 })];
          const id = nextEventId(last?.[1], Date.now());
          log.putSync([logKey, id], value);
          return id;
        }),
      );
    },

    range<T extends JsonObject = JsonObject>(name: string, rangeOptions: RangeOptions = {}) {
      return run('range', () => {
        const limit = rangeOptions.limit ?? DEFAULT_RANGE_LIMIT;
        if (limit <= 0) return [];
        const logKey = k(name);
        const after = storedCursor(rangeOptions.after);
        if (after === 'end') return [];
        const entries = [
          ...log.getRange({
            start: [logKey, after ?? ''],
            end: [logKey, LOG_KEY_END],
            exclusiveStart: after !== undefined,
            limit,
          }),
        ];
        return entries.map(({ key, value }): StoredEvent<T> => ({ id: key[1], value: value as T }));
      });
    },

    available() {
      return !closed;
    },
    async topology() {
      return { mode: 'embedded' as const, masters: 1, masters_reachable: closed ? 0 : 1 };
    },
    async durabilityWarnings() {
      // Every write is committed and fsynced before it is acknowledged (transactionSync): nothing to warn about.
      return [];
    },
    ping() {
      return run('ping', () => {
        kv.get(k('ping'));
      });
    },

    async close() {
      if (closed) return;
      closed = true;
      clearInterval(sweepTimer);
      await root.close();
    },
  };
  return store;
}

function checkTtl(ttlSeconds: number | undefined): void {
  if (ttlSeconds === undefined) return;
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw new RangeError(`ttlSeconds must be a positive number, got ${ttlSeconds}`);
  }
}

function expiresAt(ttlSeconds: number | undefined, now: number): number | undefined {
  return ttlSeconds === undefined ? undefined : now + Math.max(1, Math.round(ttlSeconds * 1000));
}

function wrongType(key: string): StoreUsageError {
  return new StoreUsageError(`WRONGTYPE: ${key} holds another kind of value`);
}

/**
 * A cursor in the zero-padded form ids are stored in, so that string order is id order (`5-10` from a
 * caller must not sort after `0000000000005-000009`). A sequence number past the largest we assign
 * means "after all of that millisecond"; a millisecond past 13 digits, "after everything" ('end').
 */
function storedCursor(after: string | undefined): string | 'end' | undefined {
  checkCursor(after);
  if (after === undefined) return undefined;
  const [msPart = '', seqPart = ''] = after.split('-');
  const ms = msPart.replace(/^0+(?=\d)/, '');
  if (ms.length > MS_DIGITS) return 'end';
  const seq = Math.min(Number(seqPart), MAX_SEQ);
  return `${ms.padStart(MS_DIGITS, '0')}-${String(seq).padStart(SEQ_DIGITS, '0')}`;
}

/** `<ms>-<seq>`, zero-padded so string order is id order; never goes backwards, even if the clock does. */
function nextEventId(lastId: string | undefined, now: number): string {
  let ms = now;
  let seq = 0;
  if (lastId !== undefined) {
    const [lastMs, lastSeq] = lastId.split('-').map(Number);
    if (lastMs !== undefined && lastSeq !== undefined && lastMs >= ms) {
      ms = lastMs;
      seq = lastSeq + 1;
      if (seq > MAX_SEQ) {
        ms += 1;
        seq = 0;
      }
    }
  }
  return `${String(ms).padStart(MS_DIGITS, '0')}-${String(seq).padStart(SEQ_DIGITS, '0')}`;
}
