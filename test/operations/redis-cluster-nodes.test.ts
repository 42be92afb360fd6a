/**
 * Two server processes on one real Redis Cluster (3 masters + 3 replicas, cluster-node-timeout 2 s) behave
 * as one server, and keep serving through a master's death: `kill -9` of a master while both nodes serve
 * a bounded load of token, verify and key-creation requests. Nothing acknowledged is lost (writes wait for
 * a replica: store.wait_for_replicas 1), no request hangs, writes resume by themselves once the replica is
 * promoted, and a revocation on one node is refused on the other.
 *
 * Both nodes also carry DATA_DIR in their environment: with `store: redis` configured it must not give
 * each a private embedded store (the split-brain this guards against).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CC_SECRET, startAuthServer, testConfig, type AuthServer } from '../support/auth-server.ts';
import { api, bootstrap, type Bootstrapped } from '../support/admin.ts';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster.ts';
import { eventually } from '../support/wait.ts';

/** Far above the store's command timeout (1 s): a request still open then is hanging. */
const HANG_MS = 15_000;

describe('two server nodes on a Redis Cluster', () => {
  let cluster: RedisCluster;
  let dataDir: string;
  let a: AuthServer;
  let b: AuthServer;
  let boot: Bootstrapped;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    dataDir = await mkdtemp(path.join(tmpdir(), 'lt-datadir-'));
    const config = (port: number) => testConfig(port, { store: { driver: 'redis', cluster: cluster.seeds.slice(0, 3), prefix: 'ha:', wait_for_replicas: 1 } });
    const env = { DATA_DIR: dataDir };
    [a, b] = await Promise.all([startAuthServer({ config, env }), startAuthServer({ config, env })]);
    boot = bootstrap(a);
  }, 180_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await Promise.all([a?.cleanup(), b?.cleanup()]);
    await cluster?.dispose();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const verify = (server: AuthServer, key: string) => fetch(`${server.url}/v1/keys/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key }), signal: AbortSignal.timeout(HANG_MS) });
  const token = (server: AuthServer) =>
    fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`ingest-svc:${CC_SECRET}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'read:logs', resource: 'https://api.logtrace.test' }),
      signal: AbortSignal.timeout(HANG_MS),
    });
  const createKey = (server: AuthServer, name: string) =>
    fetch(`${server.url}/v1/keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${boot.key.key}` },
      body: JSON.stringify({ project_id: boot.project.id, name, scopes: ['read:logs'], environment: 'live' }),
      signal: AbortSignal.timeout(HANG_MS),
    });

  it('shares one store (DATA_DIR is ignored, and said so), and reports the cluster on /readyz', async () => {
    const created = (await api(a.url, boot.key.key)('POST', '/v1/keys', { project_id: boot.project.id, name: 'shared', scopes: ['read:logs'], environment: 'live' })).body as { key: string; id: string };
    expect((await (await verify(b, created.key)).json()).valid).toBe(true);
    expect(a.output()).toContain('DATA_DIR is ignored');
    const ready = await (await fetch(`${b.url}/readyz`)).json();
    expect(ready).toEqual({ status: 'ready', store: 'redis', topology: { mode: 'cluster', masters: 3, masters_reachable: 3, cluster_state: 'ok' } });
    // Internal addresses are not for whoever reaches /readyz.
    expect(JSON.stringify(ready)).not.toContain('127.0.0.1');
    expect((await token(a)).status).toBe(200);
    expect((await token(b)).status).toBe(200);
  });

  it('loses nothing acknowledged and resumes by itself when a master is killed under load', async () => {
    const keysBefore = new Set<string>();
    const acknowledged: Array<{ key: string; id: string }> = [];
    const statuses = new Map<number, number>();
    const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);
    const probeKey = (await (await createKey(a, 'probe')).json()) as { key: string; id: string };
    acknowledged.push(probeKey);

    let stop = false;
    let killed = false;
    let writesAfterKill = 0;
    const worker = async (server: AuthServer, name: string): Promise<void> => {
      for (let i = 0; !stop; i++) {
        const created = await createKey(server, `${name}-${i}`);
        count(created.status);
        if (created.status === 201) {
          const body = (await created.json()) as { key: string; id: string };
          acknowledged.push(body);
          if (killed) writesAfterKill++;
          else keysBefore.add(body.id);
        } else {
          await created.body?.cancel();
        }
        const issued = await token(server);
        count(issued.status);
        await issued.body?.cancel();
        const verified = await verify(server, probeKey.key);
        count(verified.status);
        await verified.body?.cancel();
      }
    };
    const load = [worker(a, 'a'), worker(b, 'b')];
    try {
      await eventually(async () => acknowledged.length >= 20, 60);
      const [victim] = await cluster.masters();
      victim!.kill();
      killed = true;
      // Enough writes after the kill to have hit every slot range, the victim's included once promoted.
      await eventually(async () => writesAfterKill >= 30 && (await cluster.masters()).length === 3, 90);
    } finally {
      stop = true;
      await Promise.all(load);
    }

    // Client-credentials tokens need no store write: they kept being issued while a master was down.
    expect(statuses.get(200)).toBeGreaterThan(0);
    // Only successes and fail-closed refusals: never a 500, never a request left hanging (it would
    // have thrown a timeout out of the load above).
    expect([...statuses.keys()].filter((s) => s !== 200 && s !== 201 && s !== 503)).toEqual([]);
    expect(keysBefore.size).toBeGreaterThanOrEqual(19);
    // Every key a client was given works, on both nodes.
    for (const { key } of acknowledged) {
      expect((await (await verify(a, key)).json()).valid, key.slice(0, 12)).toBe(true);
      expect((await (await verify(b, key)).json()).valid, key.slice(0, 12)).toBe(true);
    }
    // A revocation on one node is refused on the other at once.
    const revoked = acknowledged.at(-1)!;
    expect((await api(a.url, boot.key.key)('DELETE', `/v1/keys/${revoked.id}`)).status).toBe(200);
    expect(await (await verify(b, revoked.key)).json()).toEqual({ valid: false, code: 'revoked' });
    // The failover was noticed and counted.
    await eventually(async () => {
      const metrics = await Promise.all([a, b].map(async (s) => (await fetch(`${s.url}/metrics`)).text()));
      return metrics.some((text) => /logtrace_store_failovers_total [1-9]/.test(text));
    }, 30);
  }, 240_000);
});
