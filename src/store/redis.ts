/**
 * Redis Store on ioredis: the production store, shared by many stateless server nodes. One of three
 * topologies: standalone (`url`), Redis Cluster (`cluster`: seed nodes) or a master watched by Sentinel
 * (`sentinel`: the master's name and the sentinels).
 *
 * Layout (every key prefixed, default `lt:`; a caller's `{…}` hash tag is kept intact):
 * - record: a HASH, field `v` = JSON of the value, consumed marks as fields `c:<field>` (HSETNX),
 *   merged back into the object by `get`. `put` replaces the hash, so it drops earlier marks.
 * - set: a SET; counter: a string (INCRBY); event log: a STREAM (XADD `*`, ids `<ms>-<seq>`).
 * Each write and its PEXPIRE go in one MULTI or one Lua script on one key, and a `batch` touches one
 * hash tag only (checkOneSlot), so every transaction and script stays within one Cluster hash slot.
 * Commands over several keys that need no atomicity (`delete`, `counters`) are split per hash tag.
 *
 * Fail closed and fast: no offline queue (a command issued while disconnected fails at once), a
 * command timeout, in-flight commands failed (not replayed) when the connection drops, and our own
 * deadline around every call as a last guard. Any failure to reach Redis surfaces as
 * StoreUnavailableError within about `commandTimeoutMs`, never as a hang; the client keeps
 * reconnecting (every ≤ 1 s) forever, so the store recovers by itself when Redis is back.
 *
 * Cluster: MOVED/ASK redirections and TRYAGAIN/CLUSTERDOWN retries are ioredis's (bounded: a few
 * retries 100 ms apart, well inside the command timeout). A command to a master that has just died is
 * failed at once rather than retried (it may have run: a retry after the caller was told "unavailable"
 * would be a phantom write); the slot map is refreshed every second, so the promoted replica is used as
 * soon as the cluster has promoted it. Scripts are loaded per node (EVALSHA, EVAL on NOSCRIPT).
 * Sentinel: the master is asked of the sentinels on every (re)connection and a failover announced by
 * them (+switch-master) makes the client reconnect; a write answered READONLY (the master it reached was
 * demoted) fails as unavailable and reconnects, so the next one reaches the new master.
 */
import type { ConnectionOptions } from 'node:tls';
import calculateSlot from 'cluster-key-slot';
import { Cluster, Redis } from 'ioredis';
import type { ChainableCommander, ClusterOptions, RedisOptions } from 'ioredis';
import { StoreInputError, StoreUnavailableError, checkCursor, checkKey, checkOneSlot, hashTagOf } from './types.ts';
import type { BatchOp, JsonObject, RangeOptions, Store, StoreErrorKind, StoredEvent, StoreTopology } from './types.ts';

interface RedisSentinelOptions {
  /** The master's name as the sentinels know it (`sentinel monitor <name> …`). */
  name: string;
  /** `host:port` of each sentinel (`[v6]:port` for IPv6). */
  nodes: string[];
  /** Sentinel's own credentials. */
  username?: string | undefined;
  password?: string | undefined;
  /** TLS to the sentinels. */
  tls?: boolean | undefined;
}

interface RedisStoreOptions {
  /** Standalone: `redis://[user:password@]host:port[/db]` or `rediss://…` */
  url?: string | undefined;
  /** Redis Cluster seed nodes, as URLs (`redis://host:port`; credentials and scheme from the first). */
  cluster?: string[] | undefined;
  /** A master found through Sentinel. */
  sentinel?: RedisSentinelOptions | undefined;
  /** Prepended to every key; default `lt:`. */
  prefix?: string | undefined;
  /** The data nodes' credentials (override a URL's). */
  username?: string | undefined;
  password?: string | undefined;
  /** TLS to the data nodes (implied by `rediss://`); `ca` (PEM) replaces the system's trusted CAs. */
  tls?: { ca?: string | undefined } | undefined;
  /** Time allowed to open a TCP connection; default 1000 ms. */
  connectTimeoutMs?: number | undefined;
  /** Time allowed for a reply before the call fails with StoreUnavailableError; default 1000 ms. */
  commandTimeoutMs?: number | undefined;
  /**
   * Told about connection problems, once per outage (again only after a successful reconnect).
   * The error carries ioredis's message (host and port, never credentials). Default: silent;
   * readiness is observable through `ping()`.
   */
  onConnectionError?: ((error: Error) => void) | undefined;
  /**
   * After each write, wait (WAIT) until this many replicas hold it before acknowledging it; default 0.
   * Redis replicates asynchronously: a master killed just after a write loses it on failover unless a
   * replica had it. A write whose master fails before the replicas confirm it is answered as unavailable;
   * one that fewer replicas confirm within half the command timeout (a replica is down) still succeeds,
   * reported as a `replica_ack` error.
   */
  waitForReplicas?: number | undefined;
  /** Told of every failed operation, by kind (metrics). */
  onError?: ((kind: StoreErrorKind) => void) | undefined;
  /** Told when the store notices that another node became the master (a failover). */
  onFailover?: ((detail: string) => void) | undefined;
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

const SCRIPTS = {
  ltPutIfAbsent: { lua: PUT_IF_ABSENT, numberOfKeys: 1 },
  ltConsume: { lua: CONSUME, numberOfKeys: 1 },
  ltIncr: { lua: INCR, numberOfKeys: 1 },
};

/** The commands ioredis adds for our scripts (EVALSHA, falling back to EVAL after a restart). */
interface ScriptCommands {
  ltPutIfAbsent(key: string, json: string, ttlMs: number): Promise<number>;
  ltConsume(key: string, field: string, at: string): Promise<[0] | [1] | [2, string]>;
  ltIncr(key: string, by: number, ttlMs: number): Promise<number>;
}

type Mode = StoreTopology['mode'];

/** `host:port` or `[v6]:port` → host and port. */
function parseHostPort(text: string): { host: string; port: number } {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(text);
  if (!match) throw new RangeError(`expected host:port, got ${text}`);
  return { host: match[1] ?? match[2] ?? '', port: Number(match[3]) };
}

/** The pieces of a redis:// URL ioredis's Cluster needs per node. */
function parseNodeUrl(text: string): { host: string; port: number; username?: string; password?: string; tls: boolean } {
  const url = new URL(text);
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : 6379,
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    tls: url.protocol === 'rediss:',
  };
}

function modeOf(options: RedisStoreOptions): Mode {
  const given = [options.url !== undefined, options.cluster !== undefined, options.sentinel !== undefined].filter(Boolean).length;
  if (given !== 1) throw new RangeError('redis store: set exactly one of url, cluster, sentinel');
  return options.url !== undefined ? 'standalone' : options.cluster !== undefined ? 'cluster' : 'sentinel';
}

export async function openRedisStore(options: RedisStoreOptions): Promise<Store> {
  const mode = modeOf(options);
  const prefix = options.prefix ?? 'lt:';
  const connectTimeoutMs = options.connectTimeoutMs ?? 1000;
  const commandTimeoutMs = options.commandTimeoutMs ?? 1000;
  // Our own guard: ioredis's timeouts should always fire first.
  const deadlineMs = commandTimeoutMs + 500;

  const credentials = {
    ...(options.username !== undefined ? { username: options.username } : {}),
    ...(options.password !== undefined ? { password: options.password } : {}),
  };
  const tlsOptions = (enabled: boolean): { tls?: ConnectionOptions } =>
    enabled || options.tls ? { tls: options.tls?.ca !== undefined ? { ca: options.tls.ca } : {} } : {};
  const connection = {
    connectTimeout: connectTimeoutMs,
    commandTimeout: commandTimeoutMs,
    // Fail in-flight commands when the connection drops instead of replaying them after a
    // reconnect: the caller has already been told "unavailable", a late replay would be a phantom write.
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    enableReadyCheck: true,
    // A master demoted under us answers writes READONLY: reconnect (Sentinel names the new master); the
    // failed write is not resent (1, not 2): its caller was already told.
    reconnectOnError: (error: Error) => (error.message.startsWith('READONLY') ? 1 : false),
  } satisfies RedisOptions;
  const retryStrategy = (attempt: number): number => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS);

  let client: Redis | Cluster;
  if (mode === 'cluster') {
    const seeds = (options.cluster ?? []).map(parseNodeUrl);
    const first = seeds[0];
    if (!first) throw new RangeError('redis store: cluster needs at least one seed node');
    const clusterOptions: ClusterOptions = {
      enableOfflineQueue: false,
      enableReadyCheck: true,
      scripts: SCRIPTS,
      clusterRetryStrategy: retryStrategy,
      // Redirections and TRYAGAIN / CLUSTERDOWN retries (commands that did not run) stay well inside the
      // command timeout: 8 × 100 ms.
      maxRedirections: 8,
      retryDelayOnClusterDown: 100,
      retryDelayOnTryAgain: 100,
      // A command whose master connection closed may have run: fail it, never resend it (see above).
      retryDelayOnFailover: 0,
      slotsRefreshInterval: 1000,
      slotsRefreshTimeout: connectTimeoutMs,
      redisOptions: {
        ...connection,
        ...(first.username !== undefined ? { username: first.username } : {}),
        ...(first.password !== undefined ? { password: first.password } : {}),
        ...credentials,
        ...tlsOptions(first.tls),
      },
    };
    client = new Cluster(seeds.map(({ host, port }) => ({ host, port })), clusterOptions);
  } else if (mode === 'sentinel') {
    const sentinel = options.sentinel!;
    client = new Redis({
      ...connection,
      ...credentials,
      ...tlsOptions(false),
      sentinels: sentinel.nodes.map(parseHostPort),
      name: sentinel.name,
      role: 'master',
      ...(sentinel.username !== undefined ? { sentinelUsername: sentinel.username } : {}),
      ...(sentinel.password !== undefined ? { sentinelPassword: sentinel.password } : {}),
      ...(sentinel.tls ? { enableTLSForSentinelMode: true, sentinelTLS: options.tls?.ca !== undefined ? { ca: options.tls.ca } : {} } : {}),
      // Subscribe to the sentinels' +switch-master: reconnect to the new master as soon as it is named.
      failoverDetector: true,
      sentinelRetryStrategy: retryStrategy,
      sentinelMaxConnections: 10,
      enableOfflineQueue: false,
      retryStrategy,
      scripts: SCRIPTS,
    });
  } else {
    const url = options.url!;
    client = new Redis(url, {
      ...connection,
      ...credentials,
      ...tlsOptions(url.startsWith('rediss:')),
      enableOfflineQueue: false,
      retryStrategy,
      scripts: SCRIPTS,
    });
  }
  const redis = client;
  const scripts = redis as (Redis | Cluster) & ScriptCommands;

  let closed = false;
  let outageReported = false;
  const reportOutage = (error: Error): void => {
    if (outageReported || closed) return;
    outageReported = true;
    options.onConnectionError?.(error);
  };
  redis.on('error', reportOutage);
  redis.on('node error', (error: Error) => reportOutage(error));
  redis.on('ready', () => {
    outageReported = false;
  });
  if (mode === 'cluster') {
    // ioredis connects to a node on its first command, and without an offline queue the commands that
    // arrive while that connection is being made fail. Connect to every node as soon as it is known.
    const cluster = redis as Cluster;
    const connectAll = (): void => {
      for (const node of cluster.nodes()) if (node.status === 'wait') node.connect().catch(() => {});
    };
    cluster.on('ready', connectAll);
    cluster.on('refresh', connectAll);
    cluster.on('+node', connectAll);
  }
  watchFailovers(redis, mode, (detail) => {
    if (!closed) options.onFailover?.(detail);
  });

  // Give the first connection a moment so a store opened next to a healthy Redis is ready at once;
  // when Redis is down, return anyway (not ready: operations and ping() reject until it is back).
  // A cluster's first connection includes discovering its slots: allow it a little longer.
  const startWaitMs = mode === 'standalone' ? connectTimeoutMs : connectTimeoutMs * 3;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      redis.off('ready', done);
      if (mode === 'standalone') redis.off('error', done);
      resolve();
    };
    const timer = setTimeout(done, startWaitMs);
    redis.once('ready', done);
    // Sentinel and Cluster report errors of single nodes or sentinels while the next is tried.
    if (mode === 'standalone') redis.once('error', done);
  });
  if (mode === 'cluster' && redis.status === 'ready') {
    const nodes = (redis as Cluster).nodes();
    const allReady = Promise.all(nodes.map((node) => (node.status === 'ready' ? undefined : new Promise((resolve) => node.once('ready', resolve)))));
    await Promise.race([allReady, delay(connectTimeoutMs)]);
  }

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
      const failure = toStoreError(operation, error);
      options.onError?.(errorKind(failure));
      throw failure;
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
      if (error) {
        const failure = toStoreError(operation, error);
        options.onError?.(errorKind(failure));
        throw failure;
      }
    }
  }

  const waitReplicas = options.waitForReplicas ?? 0;
  const replicaWaitMs = Math.max(50, Math.floor(commandTimeoutMs / 2));
  /**
   * Online replicas per master (`host:port`; `single` outside Cluster), read every second. WAIT holds the
   * connection it is sent on, so it is sent only to a master known to have the replicas it waits for: a
   * master whose replica is gone (just after a failover, before the old master returns as a replica)
   * acknowledges on its own, reported as `replica_ack`, instead of stalling every write behind a timeout.
   */
  const onlineReplicas = new Map<string, number>();
  const masterOf = (key: string): string => (mode === 'cluster' ? ((redis as Cluster).slots[calculateSlot(key)]?.[0] ?? '') : 'single');
  const readReplicas = async (): Promise<void> => {
    const masters: Array<[string, Redis]> = mode === 'cluster' ? (redis as Cluster).nodes('master').map((node) => [`${node.options.host}:${node.options.port}`, node]) : [['single', redis as Redis]];
    await Promise.all(
      masters.map(async ([address, node]) => {
        try {
          // Not through call(): a background read, not an operation to count in the error metrics.
          const info = await node.info('replication');
          onlineReplicas.set(address, (info.match(/^slave\d+:.*state=online/gm) ?? []).length);
        } catch {
          onlineReplicas.delete(address);
        }
      }),
    );
  };
  const replicaTimer = waitReplicas > 0 ? setInterval(() => void readReplicas(), 1000) : undefined;
  replicaTimer?.unref();

  /** Resolves once `waitReplicas` replicas hold the writes made so far on the connection that serves `key`. */
  async function replicated(key: string): Promise<void> {
    if (waitReplicas <= 0) return;
    const known = onlineReplicas.get(masterOf(key));
    if (known !== undefined && known < waitReplicas) {
      options.onError?.('replica_ack');
      return;
    }
    const acknowledged = await call('wait', async () => {
      if (mode !== 'cluster') return (redis as Redis).wait(waitReplicas, replicaWaitMs);
      // WAIT names no key: a keyed command in the same pipeline sends it to the key's master.
      const results = await (redis as Cluster).pipeline().exists(key).wait(waitReplicas, replicaWaitMs).exec();
      const [error, count] = results?.[1] ?? [new Error('no reply to WAIT'), 0];
      if (error) throw error;
      return Number(count);
    });
    if (acknowledged < waitReplicas) options.onError?.('replica_ack');
  }

  /** Keys grouped by hash tag: one command per group is one hash slot (Cluster refuses cross-slot commands). */
  const bySlot = (keys: string[]): string[][] => {
    if (mode !== 'cluster') return [keys];
    const groups = new Map<string, string[]>();
    for (const key of keys) {
      const tag = hashTagOf(key);
      groups.set(tag, [...(groups.get(tag) ?? []), key]);
    }
    return [...groups.values()];
  };

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
      await replicated(k(key));
    },

    async putIfAbsent(key, value, ttlSeconds) {
      const ttl = ttlMs(ttlSeconds);
      const json = JSON.stringify(value);
      const wrote = (await call('putIfAbsent', () => scripts.ltPutIfAbsent(k(key), json, ttl))) === 1;
      if (wrote) await replicated(k(key));
      return wrote;
    },

    async consume(key, field, at) {
      const reply = await call('consume', () => scripts.ltConsume(k(key), field, String(at)));
      switch (reply[0]) {
        case 0:
          return { result: 'missing' };
        case 1:
          await replicated(k(key));
          return { result: 'consumed' };
        case 2:
          return { result: 'already', at: Number(reply[1]) };
      }
    },

    async delete(...keys) {
      if (keys.length === 0) return;
      const groups = bySlot(keys.map(k));
      await call('delete', () => Promise.all(groups.map((group) => redis.del(...group))));
      await Promise.all(groups.map((group) => replicated(group[0]!)));
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
      await replicated(k(key));
    },

    async srem(key, members) {
      if (members.length === 0) return;
      await call('srem', () => redis.srem(k(key), ...members));
      await replicated(k(key));
    },

    smembers(key) {
      return call('smembers', () => redis.smembers(k(key)));
    },

    async incr(key, by = 1, ttlSeconds) {
      if (!Number.isSafeInteger(by)) throw new RangeError(`incr: by must be a safe integer, got ${by}`);
      const ttl = ttlMs(ttlSeconds);
      const value = await call('incr', () => scripts.ltIncr(k(key), by, ttl));
      await replicated(k(key));
      return value;
    },

    async batch(ops) {
      const prepared = ops.map((op) => prepareOp(op));
      if (prepared.length === 0) return;
      checkOneSlot(prepared.map((op) => checkKey(op.key)));
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
      await replicated(k(prepared[0]!.key));
    },

    async append<T extends JsonObject>(log: string, value: T) {
      const json = JSON.stringify(value);
      const id = await call('append', () => redis.xadd(k(log), '*', 'v', json));
      if (id === null) throw new StoreUnavailableError('redis append: no id assigned');
      await replicated(k(log));
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

    async counters(keys) {
      if (keys.length === 0) return [];
      const prefixed = keys.map(k);
      return call('counters', async () => {
        const values = new Map<string, string | null>();
        await Promise.all(
          bySlot([...new Set(prefixed)]).map(async (group) => {
            const read = await redis.mget(...group);
            group.forEach((key, i) => values.set(key, read[i] ?? null));
          }),
        );
        return prefixed.map((key) => {
          const v = values.get(key);
          return v === null || v === undefined ? 0 : Number(v);
        });
      });
    },

    available() {
      return !closed && redis.status === 'ready';
    },
    async ping() {
      // Cluster: any node. A master that is down fails the calls to its slots by themselves (fast); the
      // rest of the store keeps serving, so this node stays ready (/readyz reports the masters reachable).
      await call('ping', () => redis.ping());
    },

    async topology() {
      if (closed) return { mode, masters: 0, masters_reachable: 0 };
      if (mode !== 'cluster') {
        const up = await call('ping', () => redis.ping()).then(() => 1, () => 0);
        return { mode, masters: 1, masters_reachable: up };
      }
      const cluster = redis as Cluster;
      // CLUSTER INFO of a reachable node says whether every slot has a master; the client's slot map
      // names the masters it sends to.
      const masters = cluster.nodes('master');
      const answers = await Promise.all(masters.map((node) => call('ping', () => node.ping()).then(() => true, () => false)));
      const reachable = masters.filter((_, i) => answers[i]);
      const info = reachable[0] ? await call('ping', () => reachable[0]!.cluster('INFO')).catch(() => '') : '';
      const state = /cluster_state:(\w+)/.exec(String(info))?.[1];
      return { mode, masters: masters.length, masters_reachable: reachable.length, ...(state ? { cluster_state: state } : {}) };
    },

    async durabilityWarnings() {
      const nodes = mode === 'cluster' ? (redis as Cluster).nodes('master') : [redis as Redis];
      const warnings = new Set<string>();
      for (const node of nodes) {
        let policy: unknown;
        let appendonly: unknown;
        let fsync: unknown;
        try {
          policy = (await call('config', () => node.config('GET', 'maxmemory-policy')))[1];
          appendonly = (await call('config', () => node.config('GET', 'appendonly')))[1];
          fsync = (await call('config', () => node.config('GET', 'appendfsync')))[1];
        } catch (error) {
          // Managed Redis often disables CONFIG: say what could not be checked, not that it is wrong.
          warnings.add(`could not read the Redis configuration (${(error as Error).message.slice(0, 120)}): make sure maxmemory-policy is noeviction and appendonly is yes (see README, "Redis durability")`);
          continue;
        }
        if (policy !== undefined && policy !== 'noeviction') {
          warnings.add(`Redis maxmemory-policy is ${String(policy)}: when memory runs out Redis deletes keys, silently losing refresh tokens, API keys and accounts; set it to noeviction`);
        }
        if (appendonly !== undefined && appendonly !== 'yes') {
          warnings.add('Redis appendonly is no: a Redis crash or restart loses everything written since the last snapshot (refresh tokens, API keys); set appendonly yes with appendfsync everysec or always');
        } else if (fsync === 'no') {
          warnings.add('Redis appendfsync is no: the operating system decides when writes reach disk, so a machine crash can lose tens of seconds of writes; use everysec or always');
        }
      }
      return [...warnings];
    },

    async close() {
      if (closed) return;
      closed = true;
      clearInterval(replicaTimer);
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

/**
 * Counts a change of master as a failover. Cluster: a node that serves slots as master and did not
 * before, seen on a slot-map refresh. Sentinel: a (re)connection to a master at another address.
 */
function watchFailovers(redis: Redis | Cluster, mode: Mode, onFailover: (detail: string) => void): void {
  if (mode === 'cluster') {
    const cluster = redis as Cluster;
    let masters: Set<string> | undefined;
    cluster.on('refresh', () => {
      const now = new Set(cluster.nodes('master').map((node) => `${node.options.host}:${node.options.port}`));
      if (masters) for (const address of now) if (!masters.has(address)) onFailover('a replica was promoted to master');
      masters = now;
    });
  } else if (mode === 'sentinel') {
    const single = redis as Redis;
    let master: string | undefined;
    single.on('ready', () => {
      const address = `${single.stream?.remoteAddress ?? ''}:${single.stream?.remotePort ?? ''}`;
      if (master !== undefined && master !== address) onFailover('sentinel named another master');
      master = address;
    });
  }
}

/** What a failure was, for metrics: a timeout, a connection failure, or the reply Redis gave. */
function errorKind(error: Error): StoreErrorKind {
  const message = error.message;
  if (error instanceof StoreInputError) return 'input';
  if (!(error instanceof StoreUnavailableError)) return 'command';
  if (/timed out|no reply within/i.test(message)) return 'timeout';
  const reply = /: (LOADING|BUSY|MASTERDOWN|READONLY|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|MISCONF|NOAUTH|WRONGPASS|NOPERM)\b/.exec(message)?.[1];
  if (reply === 'READONLY') return 'readonly';
  if (reply === 'CLUSTERDOWN' || reply === 'TRYAGAIN') return 'cluster_down';
  if (reply === 'NOAUTH' || reply === 'WRONGPASS' || reply === 'NOPERM') return 'auth';
  if (reply !== undefined) return 'busy';
  if (/redirection/i.test(message)) return 'redirections';
  return 'connection';
}

/** Connection-level failures become StoreUnavailableError; command and input errors (WRONGTYPE…) pass through. */
function toStoreError(operation: string, error: unknown): Error {
  if (error instanceof StoreUnavailableError || error instanceof StoreInputError) return error;
  if (error instanceof Error && /^EXECABORT\b/.test(error.message)) {
    // The transaction was discarded (nothing written) because a queued command was refused: by a node
    // that cannot serve it now (a slot moving or without a master), or for a real mistake.
    const previous = (error as Error & { previousErrors?: unknown[] }).previousErrors ?? [];
    const transient = previous.length > 0 && previous.every((e) => e instanceof Error && (e.name !== 'ReplyError' || UNAVAILABLE_REPLIES.test(e.message) || /^(MOVED|ASK)\b/.test(e.message)));
    if (transient) return new StoreUnavailableError(`redis ${operation}: transaction refused (${previous.map((e) => (e as Error).message.split(' ')[0]).join(', ')})`, { cause: error });
    return error;
  }
  if (error instanceof Error && error.name === 'ReplyError' && !UNAVAILABLE_REPLIES.test(error.message)) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new StoreUnavailableError(`redis ${operation}: ${reason}`, { cause: error });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
