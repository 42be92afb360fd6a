import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { startAuthServer, CC_SECRET, type AuthServer } from '../support/auth-server.ts';
import { discover } from '../support/http-login.ts';

const AUDIENCE = 'https://api.logtrace.test';

describe('client credentials (backend services)', () => {
  let server: AuthServer;
  let config: client.Configuration;
  let jwks: ReturnType<typeof createRemoteJWKSet>;

  beforeAll(async () => {
    server = await startAuthServer();
    config = await discover(server.url, 'ingest-svc', CC_SECRET);
    jwks = createRemoteJWKSet(new URL(`${server.url}/jwks`));
  });
  afterAll(async () => {
    await server?.stop();
    await server?.cleanup();
  });

  it('publishes discovery and a JWKS with an ES256 key first and an RS256 key', async () => {
    const metadata = config.serverMetadata();
    expect(metadata.issuer).toBe(server.url);
    expect(metadata.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'refresh_token', 'client_credentials']));
    expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
    expect(metadata.introspection_endpoint).toBe(`${server.url}/token/introspection`);
    expect(metadata.revocation_endpoint).toBe(`${server.url}/token/revocation`);
    const keys = ((await (await fetch(`${server.url}/jwks`)).json()) as { keys: Array<Record<string, string>> }).keys;
    expect(keys.map((k) => k.alg)).toEqual(['ES256', 'RS256']);
    for (const key of keys) {
      expect(key).not.toHaveProperty('d');
      expect(key).not.toHaveProperty('p');
    }
  });

  it('issues a 1-hour RFC 9068 JWT access token that the log API verifies offline via JWKS', async () => {
    const tokens = await client.clientCredentialsGrant(config, { scope: 'read:logs' });
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    expect(tokens.expires_in).toBe(3600);
    expect(tokens.scope).toBe('read:logs');
    expect(decodeProtectedHeader(tokens.access_token)).toMatchObject({ typ: 'at+jwt', alg: 'ES256' });
    const { payload } = await jwtVerify(tokens.access_token, jwks, { issuer: server.url, audience: AUDIENCE, typ: 'at+jwt' });
    expect(payload).toMatchObject({ client_id: 'ingest-svc', sub: 'ingest-svc', scope: 'read:logs' });
    expect(typeof payload.jti).toBe('string');
    expect(payload.exp! - payload.iat!).toBe(3600);
  });

  it('defaults to every scope the client was given when none is asked for', async () => {
    const tokens = await client.clientCredentialsGrant(config);
    expect(tokens.scope?.split(' ').sort()).toEqual(['read:logs', 'write:alerts']);
  });

  it('refuses a scope the client was not given, and an unknown scope, with invalid_scope', async () => {
    await expect(client.clientCredentialsGrant(config, { scope: 'admin:projects' })).rejects.toMatchObject({ error: 'invalid_scope' });
    await expect(client.clientCredentialsGrant(config, { scope: 'read:logs delete:everything' })).rejects.toMatchObject({ error: 'invalid_scope' });
  });

  it('refuses an unknown resource with invalid_target', async () => {
    await expect(client.clientCredentialsGrant(config, { scope: 'read:logs', resource: 'https://elsewhere.example' })).rejects.toMatchObject({ error: 'invalid_target' });
  });

  it('refuses a wrong client secret with invalid_client', async () => {
    const response = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('ingest-svc:not-the-secret-0123456789abcdefghijkl').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&scope=read%3Alogs',
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: 'invalid_client' });
  });

  it('counts grants by type and outcome in /metrics', async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toMatch(/logtrace_oauth_grants_total\{grant_type="client_credentials",outcome="success"\} [1-9]/);
    expect(text).toMatch(/logtrace_oauth_grants_total\{grant_type="client_credentials",outcome="invalid_scope"\} [1-9]/);
    expect(text).toMatch(/logtrace_store_operation_duration_seconds_count\{driver="embedded",operation="get",outcome="ok"\} [1-9]/);
  });
});
