/**
 * Many nodes behave as one server: two server processes with one issuer behind a round-robin balancer (each
 * request to the other node), on one Redis Cluster. A browser sign-in hops between the nodes at every
 * step and still completes; a refresh token rotated through one node is refused as replayed on the other,
 * and the replay ends the grant everywhere.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAuthServer, testConfig, type AuthServer } from '../support/auth-server.ts';
import { codeFlowTokens, discover } from '../support/http-login.ts';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster.ts';
import { freePort } from '../support/ports.ts';

/** A load balancer that sends each request to the next node in turn (no stickiness at all). */
async function startRoundRobin(port: number, upstreams: () => string[]): Promise<{ url: string; served: Map<string, number>; close(): Promise<void> }> {
  let next = 0;
  const served = new Map<string, number>();
  const agent = new http.Agent({ keepAlive: false });
  const server = http.createServer((req, res) => {
    const nodes = upstreams();
    const target = new URL(nodes[next++ % nodes.length]!);
    served.set(target.port, (served.get(target.port) ?? 0) + 1);
    const forward = http.request({ agent, host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', () => res.writeHead(502).end());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, served, close: () => new Promise((r) => server.close(() => r())) };
}

describe('two nodes behind a round-robin balancer, one Redis Cluster', () => {
  let cluster: RedisCluster;
  let a: AuthServer;
  let b: AuthServer;
  let balancer: Awaited<ReturnType<typeof startRoundRobin>>;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    const publicPort = await freePort();
    const issuer = `http://127.0.0.1:${publicPort}`;
    const config = (port: number) => testConfig(port, { issuer, store: { driver: 'redis', cluster: cluster.seeds.slice(0, 2), prefix: 'many:', wait_for_replicas: 1 } });
    [a, b] = await Promise.all([startAuthServer({ config }), startAuthServer({ config })]);
    balancer = await startRoundRobin(publicPort, () => [a.url, b.url]);
  }, 180_000);
  afterAll(async () => {
    await balancer?.close();
    await Promise.all([a?.stop(), b?.stop()]);
    await Promise.all([a?.cleanup(), b?.cleanup()]);
    await cluster?.dispose();
  });

  it('completes a sign-in whose steps land on alternating nodes, and refuses a refresh token replayed on the other node', async () => {
    const config = await discover(balancer.url, 'dashboard');
    const tokens = await codeFlowTokens(config, { email: 'alice@example.com' });
    expect(tokens.access_token).toBeTruthy();
    expect(tokens.refresh_token).toBeTruthy();
    // Both nodes took part in the flow.
    expect(balancer.served.get(String(a.port))).toBeGreaterThan(2);
    expect(balancer.served.get(String(b.port))).toBeGreaterThan(2);

    // Rotated through one node…
    const rotated = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(rotated.refresh_token).toBeTruthy();
    expect(rotated.refresh_token).not.toBe(tokens.refresh_token);
    // …the old one is a replay on whichever node gets it (the balancer sends the next request to the other),
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    // and the replay revoked the whole grant: the rotated token is refused too, on both nodes.
    await expect(client.refreshTokenGrant(config, rotated.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(client.refreshTokenGrant(config, rotated.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  }, 120_000);
});
