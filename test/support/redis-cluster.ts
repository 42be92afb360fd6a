/**
 * A real Redis Cluster for tests: `masters` masters with `replicasPerMaster` replicas each (default 3 + 3),
 * every node a `redis-server` on a free 127.0.0.1 port in its own temp directory, joined with
 * `redis-cli --cluster create … --cluster-replicas N --cluster-yes`. A short cluster-node-timeout (2 s by
 * default) makes a killed master fail over to its replica within a few seconds.
 * Nodes are killed when the test process exits (test/support/redis-server.ts), and by `dispose()`.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { startRedisServer, type RedisServer } from './redis-server.ts';
import { eventually } from './wait.ts';

const run = promisify(execFile);

export interface RedisClusterOptions {
  masters?: number;
  replicasPerMaster?: number;
  /** cluster-node-timeout in ms: how long a silent master stays master before its replica takes over. */
  nodeTimeoutMs?: number;
  /** Append-only files (fsync always) on every node. */
  persist?: boolean;
}

export interface RedisCluster {
  /** Every node, in start order (not role order: roles change on failover). */
  nodes: RedisServer[];
  /** `redis://127.0.0.1:<port>` of every node: the seed list a client is given. */
  seeds: string[];
  /** The nodes that are masters now (serving slots), as CLUSTER NODES of a live node says. */
  masters(): Promise<RedisServer[]>;
  /**
   * Resolves when every slot is served by a master that is up (cluster_state:ok on every live node) and
   * every live replica is in sync with its master.
   */
  healthy(seconds?: number): Promise<void>;
  dispose(): Promise<void>;
}

/** One command to one node on a short-lived connection; rejects when the node does not answer. */
async function ask(port: number, ...args: string[]): Promise<unknown> {
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1000, commandTimeout: 2000, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    return await client.call(args[0]!, ...args.slice(1));
  } finally {
    client.disconnect();
  }
}

export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  const replicas = options.replicasPerMaster ?? 1;
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 2000;
  const count = masters * (1 + replicas);
  const nodes: RedisServer[] = [];
  try {
    for (let i = 0; i < count; i++) {
      nodes.push(
        await startRedisServer({
          ...(options.persist ? { persist: true } : {}),
          extraArgs: [
            '--cluster-enabled', 'yes',
            '--cluster-config-file', 'nodes.conf',
            '--cluster-node-timeout', String(nodeTimeoutMs),
            '--cluster-announce-ip', '127.0.0.1',
            // A replica whose master was down a while may still take over (tests kill masters on purpose).
            '--cluster-replica-validity-factor', '0',
            // Replicas sync at once (Redis 7 waits 5 s to batch diskless syncs).
            '--repl-diskless-sync-delay', '0',
          ],
        }),
      );
    }
    const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', String(replicas), '--cluster-yes'], { timeout: 60_000 });
  } catch (error) {
    await Promise.all(nodes.map((node) => node.dispose()));
    throw error;
  }

  const cluster: RedisCluster = {
    nodes,
    seeds: nodes.map((node) => node.url),
    async masters() {
      for (const node of nodes) {
        let text: unknown;
        try {
          text = await ask(node.port, 'CLUSTER', 'NODES');
        } catch {
          continue;
        }
        const ports = String(text)
          .split('\n')
          .filter((line) => /\bmaster\b/.test(line) && !/\bfail\b/.test(line) && /\d+-\d+|\s\d+$/.test(line.split(' ').slice(8).join(' ')))
          .map((line) => Number(/:(\d+)@/.exec(line)?.[1]));
        return nodes.filter((n) => ports.includes(n.port));
      }
      throw new Error('no cluster node answers');
    },
    async healthy(seconds = 30) {
      await eventually(async () => {
        let live = 0;
        for (const node of nodes) {
          let info: unknown;
          try {
            info = await ask(node.port, 'CLUSTER', 'INFO');
          } catch {
            continue; // a killed node
          }
          live++;
          if (!/cluster_state:ok/.test(String(info))) return false;
          // A replica counts once it holds its master's data (the link is up after the initial sync).
          const replication = String(await ask(node.port, 'INFO', 'replication'));
          if (/role:slave/.test(replication) && !/master_link_status:up/.test(replication)) return false;
        }
        return live > 0 && (await cluster.masters()).length === masters;
      }, seconds);
    },
    async dispose() {
      await Promise.all(nodes.map((node) => node.dispose()));
    },
  };
  await cluster.healthy();
  return cluster;
}
