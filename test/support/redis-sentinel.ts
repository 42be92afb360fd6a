/**
 * Redis under Sentinel for tests: a master, one replica and three sentinels (quorum 2), each a real
 * `redis-server` (sentinels run as `redis-server sentinel.conf --sentinel`) on a free 127.0.0.1 port in
 * its own temp directory. Sentinels declare a master down after `downAfterMs` (default 1 s) of silence,
 * so a killed master is replaced within a few seconds. Killed at exit (test/support/redis-server.ts).
 */
import { Redis } from 'ioredis';
import { startRedisServer, type RedisServer } from './redis-server.ts';
import { eventually } from './wait.ts';

export const SENTINEL_MASTER_NAME = 'ltmaster';

export interface RedisSentinelOptions {
  downAfterMs?: number;
  /** Append-only files (fsync always) on master and replica. */
  persist?: boolean;
  /** requirepass on the sentinels (Sentinel's own credentials). */
  sentinelPassword?: string;
  /** requirepass / masterauth on master and replica. */
  password?: string;
}

export interface RedisSentinelSetup {
  name: string;
  /** The data nodes: [initial master, initial replica]. */
  servers: RedisServer[];
  sentinels: RedisServer[];
  /** `127.0.0.1:<port>` of each sentinel: what the store's `sentinel.nodes` takes. */
  sentinelNodes: string[];
  /** The data node the sentinels name as master now. */
  master(): Promise<RedisServer>;
  dispose(): Promise<void>;
}

async function ask(port: number, password: string | undefined, ...args: string[]): Promise<unknown> {
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1000, commandTimeout: 2000, retryStrategy: () => null, ...(password ? { password } : {}) });
  client.on('error', () => {});
  try {
    await client.connect();
    return await client.call(args[0]!, ...args.slice(1));
  } finally {
    client.disconnect();
  }
}

export async function startRedisSentinel(options: RedisSentinelOptions = {}): Promise<RedisSentinelSetup> {
  const downAfterMs = options.downAfterMs ?? 1000;
  const auth = options.password ? ['--requirepass', options.password, '--masterauth', options.password] : [];
  const started: RedisServer[] = [];
  try {
    // Replicas sync at once (Redis 7 waits 5 s to batch diskless syncs).
    const replication = ['--replica-announce-ip', '127.0.0.1', '--repl-diskless-sync-delay', '0'];
    const master = await startRedisServer({ ...(options.persist ? { persist: true } : {}), extraArgs: [...auth, ...replication] });
    started.push(master);
    const replica = await startRedisServer({
      ...(options.persist ? { persist: true } : {}),
      extraArgs: [...auth, ...replication, '--replicaof', '127.0.0.1', String(master.port)],
    });
    started.push(replica);
    const sentinels: RedisServer[] = [];
    for (let i = 0; i < 3; i++) {
      const sentinel = await startRedisServer({
        sentinelConfig: [
          `sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${master.port} 2`,
          `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} ${downAfterMs}`,
          `sentinel failover-timeout ${SENTINEL_MASTER_NAME} ${Math.max(3000, downAfterMs * 3)}`,
          `sentinel parallel-syncs ${SENTINEL_MASTER_NAME} 1`,
          ...(options.password ? [`sentinel auth-pass ${SENTINEL_MASTER_NAME} ${options.password}`] : []),
          ...(options.sentinelPassword ? [`requirepass ${options.sentinelPassword}`, `sentinel sentinel-pass ${options.sentinelPassword}`] : []),
          'sentinel announce-ip 127.0.0.1',
        ].join('\n'),
      });
      started.push(sentinel);
      sentinels.push(sentinel);
    }
    const servers = [master, replica];
    const setup: RedisSentinelSetup = {
      name: SENTINEL_MASTER_NAME,
      servers,
      sentinels,
      sentinelNodes: sentinels.map((s) => `127.0.0.1:${s.port}`),
      async master() {
        for (const sentinel of sentinels) {
          try {
            const reply = (await ask(sentinel.port, options.sentinelPassword, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_MASTER_NAME)) as [string, string];
            const found = servers.find((s) => s.port === Number(reply[1]));
            if (found) return found;
          } catch {
            // try the next sentinel
          }
        }
        throw new Error('no sentinel names a master');
      },
      async dispose() {
        await Promise.all(started.map((s) => s.dispose()));
      },
    };
    // Ready when the replica is in sync and every sentinel knows the replica and the other sentinels.
    await eventually(async () => {
      const info = String(await ask(replica.port, options.password, 'INFO', 'replication'));
      if (!/master_link_status:up/.test(info)) return false;
      for (const sentinel of sentinels) {
        const state = (await ask(sentinel.port, options.sentinelPassword, 'SENTINEL', 'MASTER', SENTINEL_MASTER_NAME)) as string[];
        const field = (name: string): number => Number(state[state.indexOf(name) + 1]);
        if (field('num-slaves') < 1 || field('num-other-sentinels') < 2) return false;
      }
      return true;
    }, 30);
    return setup;
  } catch (error) {
    await Promise.all(started.map((s) => s.dispose()));
    throw error;
  }
}
