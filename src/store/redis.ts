/**
 * Redis Store on ioredis: the production store, shared by many stateless server nodes.
 *
 * Layout (every key prefixed, default `lt:`; a caller's `{…}` hash tag is kept intact):
 * - record: a HASH, field `v` = JSON of the value, consumed marks as fields `c:<field>` (HSETNX),
 *   merged back into the object by `get`. `put` replaces the hash, so it drops earlier marks.
 * - set: a SET; counter: a string (INCRBY); event log: a STREAM (XADD `*`, ids `<ms>-<seq>`).
 * Each write and its PEXPIRE go in one MULTI or one Lua script, so no key is left without its TTL.
 *
 * Fail closed and fast: no offline queue (a command issued while disconnected fails at once), a
 * command timeout, in-flight commands failed (not replayed) when the connection drops, and our own
 * deadline around every call as a last guard. Any failure to reach Redis surfaces as
 * StoreUnavailableError within about `commandTimeoutMs`, never as a hang; the client keeps
 * reconnecting (every ≤ 1 s) forever, so the store recovers by itself when Redis is back.
 * Standalone Redis only (one URL, `redis://` or `rediss://`); keys of one `batch` must share a hash
 * tag to be ready for Cluster.
 */
import { Redis } from 'ioredis';
import type { ChainableCommander } from 'ioredis';
import { StoreInputError, StoreUnavailableError, checkCursor, checkKey } from './types.ts';
import type { BatchOp, JsonObject, RangeOptions, Store, StoredEvent } from './types.ts';

export interface RedisStoreOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…` */
  url: string;
  /** Prepended to every key; default `lt:`. */
  prefix?: string;
  /** Time allowed to open a TCP connection; default 1000 ms. */
  connectTimeoutMs?: number;
  /** Time allowed for a reply before the call fails with StoreUnavailableError; default 1000 ms. */
  commandTimeoutMs?: number;
  /**
   * Told about connection problems, once per outage (again only after a successful reconnect).
   * The error carries ioredis's message (host and port, never credentials). Default: silent;
   * readiness is observable through `ping()`.
   */
  onConnectionError?: (error: Error) => void;
}

const DEFAULT_RANGE_LIMIT = 100;
const MAX_RECONNECT_DELAY_MS = 1000;

/** Server replies meaning "Redis cannot serve right now" rather than "this command is wrong". */
const UNAVAILABLE_REPLIES = /^(LOADING|BUSY|MASTERDOWN|READONLY|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|MISCONF|NOAUTH|WRONGPASS|NOPERM)\b/;

const PUT_IF_ABSENT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1])
local ttl = tonumber(ARGV[2])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1`;

/** {0} missing, {1} consumed by this call, {2, at} consumed earlier at `at`. */
const CONSUME = `
if redis.call('HEXISTS', KEYS[1], 'v') == 0 then return {0} end
local field = 'c:' .. ARGV[1]
if redis.call('HSETNX', KEYS[1], field, ARGV[2]) == 1 then return {1} end
return {2, redis.call('HGET', KEYS[1], field)}`;

/** INCRBY, with the TTL applied only when this call created the counter. */
const INCR = `
local created = redis.call('EXISTS', KEYS[1]) == 0
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = tonumber(ARGV[2])
if created and ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return value`;

/** The commands ioredis adds for our scripts (EVALSHA, falling back to EVAL after a restart). */
interface ScriptCommands {
  ltPutIfAbsent(key: string, json: string, ttlMs: number): Promise<number>;
  ltConsume(key: string, field: string, at: string): Promise<[0] | [1] | [2, string]>;
  ltIncr(key: string, by: number, ttlMs: number): Promise<number>;
}

export async function openRedisStore(options: RedisStoreOptions): Promise<Store> {
  const prefix = options.prefix ?? 'lt:';
  const connectTimeoutMs = options.connectTimeoutMs ?? 1000;
  const commandTimeoutMs = options.commandTimeoutMs ?? 1000;
  // Our own guard: ioredis's timeouts should always fire first.
  const deadlineMs = commandTimeoutMs + 500;

  const redis = new Redis(options.url, {
    connectTimeout: connectTimeoutMs,
    commandTimeout: commandTimeoutMs,
    enableOfflineQueue: false,
    // Fail in-flight commands when the connection drops instead of replaying them after a
    // reconnect: the caller has already been told "unavailable", a late replay would be a phantom write.
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (attempt) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
    enableReadyCheck: true,
    scripts: {
      ltPutIfAbsent: { lua: PUT_IF_ABSENT, numberOfKeys: 1 },
      ltConsume: { lua: CONSUME, numberOfKeys: 1 },
      ltIncr: { lua: INCR, numberOfKeys: 1 },
    },
  });
  const scripts = redis as Redis & ScriptCommands;

  let closed = false;
  let outageReported = false;
  redis.on('error', (error: Error) => {
    if (outageReported || closed) return;
    outageReported = true;
    options.onConnectionError?.(error);
  });
  redis.on('ready', () => {
    outageReported = false;
  });

  // Give the first connection a moment so a store opened next to a healthy Redis is ready at once;
  // when Redis is down, return anyway (not ready: operations and ping() reject until it is back).
  await new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      redis.off('ready', done);
      redis.off('error', done);
      resolve();
    };
    const timer = setTimeout(done, connectTimeoutMs);
    redis.once('ready', done);
    redis.once('error', done);
  });

  const k = (key: string): string => prefix + checkKey(key);

  async function call<T>(operation: string, command: () => Promise<T>): Promise<T> {
    if (closed) throw new StoreUnavailableError(`redis store is closed (${operation})`);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StoreUnavailableError(`redis ${operation}: no reply within ${deadlineMs} ms`)),
        deadlineMs,
      );
    });
    try {
      return await Promise.race([command(), deadline]);
    } catch (error) {
      throw toStoreError(operation, error);
    } finally {
      clearTimeout(timer);
    }
  }

  async function exec(operation: string, build: (multi: ChainableCommander) => void): Promise<void> {
    const multi = redis.multi();
    build(multi);
    const results = await call(operation, () => multi.exec());
    if (results === null) throw new StoreUnavailableError(`redis ${operation}: transaction aborted`);
    for (const [error] of results) {
      if (error) throw toStoreError(operation, error);
    }
  }

  const store: Store = {
    driver: 'redis',

    async get<T extends JsonObject = JsonObject>(key: string) {
      const hash = await call('get', () => redis.hgetall(k(key)));
      const json = hash.v;
      if (json === undefined) return undefined;
      const value = parseObject(json, key);
      for (const [field, raw] of Object.entries(hash)) {
        if (field.startsWith('c:')) value[field.slice(2)] = Number(raw);
      }
      return value as T;
    },

    async put(key, value, ttlSeconds) {
      const ttl = ttlMs(ttlSeconds);
      const json = JSON.stringify(value);
      await exec('put', (multi) => {
        multi.del(k(key)).hset(k(key), 'v', json);
        if (ttl > 0) multi.pexpire(k(key), ttl);
      });
    },

    async putIfAbsent(key, value, ttlSeconds) {
      const ttl = ttlMs(ttlSeconds);
      const json = JSON.stringify(value);
      return (await call('putIfAbsent', () => scripts.ltPutIfAbsent(k(key), json, ttl))) === 1;
    },

    async consume(key, field, at) {
      const reply = await call('consume', () => scripts.ltConsume(k(key), field, String(at)));
      switch (reply[0]) {
        case 0:
          return { result: 'missing' };
        case 1:
          return { result: 'consumed' };
        case 2:
          return { result: 'already', at: Number(reply[1]) };
      }
    },

    async delete(...keys) {
      if (keys.length === 0) return;
      await call('delete', () => redis.del(...keys.map(k)));
    },

    async ttl(key) {
      const ms = await call('ttl', () => redis.pttl(k(key)));
      return ms < 0 ? undefined : Math.ceil(ms / 1000);
    },

    async sadd(key, members, ttlSeconds) {
      const ttl = ttlMs(ttlSeconds);
      if (members.length === 0) return;
      await exec('sadd', (multi) => {
        multi.sadd(k(key), ...members);
        if (ttl > 0) multi.pexpire(k(key), ttl);
      });
    },

    async srem(key, members) {
      if (members.length === 0) return;
      await call('srem', () => redis.srem(k(key), ...members));
    },

    smembers(key) {
      return call('smembers', () => redis.smembers(k(key)));
    },

    async incr(key, by = 1, ttlSeconds) {
      if (!Number.isSafeInteger(by)) throw new RangeError(`incr: by must be a safe integer, got ${by}`);
      const ttl = ttlMs(ttlSeconds);
      return call('incr', () => scripts.ltIncr(k(key), by, ttl));
    },

    async batch(ops) {
      const prepared = ops.map((op) => prepareOp(op));
      if (prepared.length === 0) return;
      await exec('batch', (multi) => {
        for (const op of prepared) {
          const key = k(op.key);
          switch (op.op) {
            case 'put':
              multi.del(key).hset(key, 'v', op.json);
              if (op.ttl > 0) multi.pexpire(key, op.ttl);
              break;
            case 'delete':
              multi.del(key);
              break;
            case 'sadd':
              if (op.members.length === 0) break;
              multi.sadd(key, ...op.members);
              if (op.ttl > 0) multi.pexpire(key, op.ttl);
              break;
            case 'srem':
              if (op.members.length > 0) multi.srem(key, ...op.members);
              break;
            case 'expire':
              multi.pexpire(key, op.ttl);
              break;
          }
        }
      });
    },

    async append<T extends JsonObject>(log: string, value: T) {
      const json = JSON.stringify(value);
      const id = await call('append', () => redis.xadd(k(log), '*', 'v', json));
      if (id === null) throw new StoreUnavailableError('redis append: no id assigned');
      return id;
    },

    async range<T extends JsonObject = JsonObject>(log: string, rangeOptions: RangeOptions = {}) {
      checkCursor(rangeOptions.after);
      const limit = rangeOptions.limit ?? DEFAULT_RANGE_LIMIT;
      if (limit <= 0) return [];
      const start = rangeOptions.after === undefined ? '-' : `(${rangeOptions.after}`;
      const entries = await call('range', () => redis.xrange(k(log), start, '+', 'COUNT', limit));
      return entries.map(([id, fields]): StoredEvent<T> => {
        const at = fields.indexOf('v');
        const json = at >= 0 && at % 2 === 0 ? fields[at + 1] : undefined;
        if (json === undefined) throw new Error(`redis range: event ${id} of ${log} has no value`);
        return { id, value: parseObject(json, `${log} ${id}`) as T };
      });
    },

    counters(keys) {
      if (keys.length === 0) return Promise.resolve([]);
      return call('counters', async () => {
        const values = await redis.mget(...keys.map(k));
        return values.map((v) => (v === null ? 0 : Number(v)));
      });
    },

    available() {
      return !closed && redis.status === 'ready';
    },
    async ping() {
      await call('ping', () => redis.ping());
    },

    async close() {
      if (closed) return;
      closed = true;
      try {
        await Promise.race([redis.quit(), delay(commandTimeoutMs)]);
      } catch {
        // Not connected: nothing to say goodbye to.
      } finally {
        redis.disconnect();
      }
    },
  };
  return store;
}

type PreparedOp =
  | { op: 'put'; key: string; json: string; ttl: number }
  | { op: 'delete'; key: string }
  | { op: 'sadd'; key: string; members: string[]; ttl: number }
  | { op: 'srem'; key: string; members: string[] }
  | { op: 'expire'; key: string; ttl: number };

/** Validates and serialises one batch op up front, so a bad op fails the batch before any write. */
function prepareOp(op: BatchOp): PreparedOp {
  switch (op.op) {
    case 'put':
      return { op: 'put', key: op.key, json: JSON.stringify(op.value), ttl: ttlMs(op.ttlSeconds) };
    case 'delete':
      return op;
    case 'sadd':
      return { op: 'sadd', key: op.key, members: op.members, ttl: ttlMs(op.ttlSeconds) };
    case 'srem':
      return op;
    case 'expire':
      return { op: 'expire', key: op.key, ttl: ttlMs(op.ttlSeconds) };
  }
}

/** TTL in whole milliseconds (at least 1), or 0 for "no expiry". */
function ttlMs(ttlSeconds: number | undefined): number {
  if (ttlSeconds === undefined) return 0;
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw new RangeError(`ttlSeconds must be a positive number, got ${ttlSeconds}`);
  }
  return Math.max(1, Math.round(ttlSeconds * 1000));
}

function parseObject(json: string, what: string): JsonObject {
  const value: unknown = JSON.parse(json);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`redis store: ${what} does not hold a JSON object`);
  }
  return value as JsonObject;
}

/** Connection-level failures become StoreUnavailableError; command and input errors (WRONGTYPE…) pass through. */
function toStoreError(operation: string, error: unknown): Error {
  if (error instanceof StoreUnavailableError || error instanceof StoreInputError) return error;
  if (error instanceof Error && error.name === 'ReplyError' && !UNAVAILABLE_REPLIES.test(error.message)) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new StoreUnavailableError(`redis ${operation}: ${reason}`, { cause: error });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
