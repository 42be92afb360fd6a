import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAuthServer, testConfig, CC_SECRET, type AuthServer } from '../support/auth-server.ts';
import { startRedisServer, type RedisServer } from '../support/redis-server.ts';
import { eventually } from '../support/wait.ts';

async function token(server: AuthServer): Promise<Response> {
  return fetch(`${server.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`ingest-svc:${CC_SECRET}`).toString('base64')}` },
    body: 'grant_type=client_credentials&scope=read%3Alogs',
    signal: AbortSignal.timeout(10_000),
  });
}


describe('fail closed when Redis is down', () => {
  let redis: RedisServer;
  let server: AuthServer;

  beforeAll(async () => {
    redis = await startRedisServer();
    server = await startAuthServer({ config: (port) => testConfig(port, { store: { driver: 'redis', url: redis.url } }) });
  });
  afterAll(async () => {
    await server?.stop();
    await server?.cleanup();
    await redis?.stop();
  });

  it('answers 503 temporarily_unavailable at /token and not-ready at /readyz, then recovers by itself', async () => {
    expect((await token(server)).status).toBe(200);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);

    await redis.stop();

    // The server learns of the outage when the connection closes (or a ping fails): within a couple of
    // seconds every token request is refused, none hangs, and none succeeds after the first refusal.
    const started = Date.now();
    let refused = await token(server);
    while (refused.status === 200 && Date.now() - started < 2_000) refused = await token(server);
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ error: 'temporarily_unavailable' });
    for (let i = 0; i < 5; i++) {
      const t0 = Date.now();
      const again = await token(server);
      expect(again.status).toBe(503);
      expect(Date.now() - t0).toBeLessThan(3_000); // a bound against hanging, not a benchmark
    }
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'not_ready' });
    // Liveness is not readiness: the process itself is fine.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);

    await redis.start();
    await eventually(async () => (await fetch(`${server.url}/readyz`)).status === 200, 15);
    await eventually(async () => (await token(server)).status === 200, 10);
  });
});
