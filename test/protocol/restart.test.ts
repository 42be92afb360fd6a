import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startAuthServer, testConfig, type AuthServer } from '../support/auth-server.ts';
import { startRedisServer, type RedisServer } from '../support/redis-server.ts';
import { codeFlowTokens, discover } from '../support/http-login.ts';

describe.each(['embedded', 'redis'] as const)('restart on the %s store', (driver) => {
  let redis: RedisServer | undefined;
  let server: AuthServer;

  beforeAll(async () => {
    if (driver === 'redis') redis = await startRedisServer();
    server = await startAuthServer({
      config: (port, dataDir) =>
        testConfig(port, { store: driver === 'redis' ? { driver: 'redis', url: redis!.url, prefix: `t${port}:` } : { driver: 'embedded', path: dataDir } }),
    });
  });
  afterAll(async () => {
    await server?.stop();
    await server?.cleanup();
    await redis?.stop();
  });

  it('keeps signing keys, accounts and refresh tokens: a refresh token from before a restart works after it', async () => {
    let config = await discover(server.url, 'dashboard');
    const before = await codeFlowTokens(config, { email: 'alice@example.com' });
    const keysBefore = await (await fetch(`${server.url}/jwks`)).json();

    expect(await server.stop()).toBe(0); // graceful SIGTERM exit
    await server.start();

    expect(await (await fetch(`${server.url}/jwks`)).json()).toEqual(keysBefore);
    config = await discover(server.url, 'dashboard');
    const after = await client.refreshTokenGrant(config, before.refresh_token!);
    const { payload } = await jwtVerify(after.access_token, createRemoteJWKSet(new URL(`${server.url}/jwks`)), { issuer: server.url });
    expect(payload.sub).toBe(before.claims()!.sub);
    // The token signed before the restart still verifies against the JWKS served after it.
    await expect(jwtVerify(before.access_token, createRemoteJWKSet(new URL(`${server.url}/jwks`)), { issuer: server.url })).resolves.toBeTruthy();
  });
});
