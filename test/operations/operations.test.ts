import { spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { startAuthServer, testConfig, CC_SECRET, ROOT, type AuthServer } from '../support/auth-server.ts';
import { discover } from '../support/http-login.ts';

describe('operations', () => {
  let server: AuthServer;

  beforeAll(async () => {
    server = await startAuthServer({
      config: (port, dataDir) => testConfig(port, { store: { driver: 'embedded', path: dataDir }, signing_keys: { reload_interval: 1, jwks_max_age: 1, publish_ahead: 3 }, log_level: 'info' }),
    });
  });
  afterAll(async () => {
    await server?.stop();
    await server?.cleanup();
  });

  it('answers /healthz and /readyz, and exposes Prometheus metrics', async () => {
    expect(await (await fetch(`${server.url}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${server.url}/readyz`)).json()).toMatchObject({ status: 'ready', store: 'embedded' });
    const metrics = await fetch(`${server.url}/metrics`);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    const text = await metrics.text();
    expect(text).toContain('logtrace_http_requests_total');
    expect(text).toContain('logtrace_store_operation_duration_seconds');
    expect(text).toContain('logtrace_process_cpu_seconds_total');
  });

  it('echoes a request id and logs JSON lines carrying it, without secrets', async () => {
    const response = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { 'x-request-id': 'req-abc-123', 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=client_credentials&client_id=ingest-svc&client_secret=${CC_SECRET}`,
    });
    expect(response.headers.get('x-request-id')).toBe('req-abc-123');
    await new Promise((r) => setTimeout(r, 200));
    const lines = server.output().split('\n').filter((l) => l.startsWith('{'));
    const line = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.req_id === 'req-abc-123');
    expect(line).toMatchObject({ method: 'POST', path: '/token', status: 200 });
    expect(server.output()).not.toContain(CC_SECRET);
  });

  it('rotates signing keys with the operator command: new tokens use the new key, old tokens still verify', async () => {
    const config = await discover(server.url, 'ingest-svc', CC_SECRET);
    const before = await client.clientCredentialsGrant(config, { scope: 'read:logs' });
    const oldKid = decodeProtectedHeader(before.access_token).kid;

    const rotate = spawnSync(process.execPath, ['src/cli/main.ts', 'signing-keys', 'rotate', '--json'], {
      cwd: ROOT,
      env: { ...process.env, LOGTRACE_CONFIG: server.configPath },
      encoding: 'utf8',
    });
    expect(rotate.status, rotate.stderr).toBe(0);
    const result = JSON.parse(rotate.stdout) as { added: { kid: string; alg: string }; retired: Array<{ kid: string }> };
    expect(result.added.alg).toBe('ES256');
    expect(result.retired.map((k) => k.kid)).toEqual([oldKid]);
    expect(rotate.stdout).not.toMatch(/"d"/);

    // The running server picks the new key set up by itself (reload_interval: 1 s in this test) and signs
    // with the new key once it has been published for publish_ahead (3 s here).
    let after = before;
    for (let i = 0; i < 40 && decodeProtectedHeader(after.access_token).kid === oldKid; i++) {
      await new Promise((r) => setTimeout(r, 250));
      after = await client.clientCredentialsGrant(config, { scope: 'read:logs' });
    }
    expect(decodeProtectedHeader(after.access_token).kid).toBe(result.added.kid);
    const jwks = createRemoteJWKSet(new URL(`${server.url}/jwks`));
    await expect(jwtVerify(after.access_token, jwks, { issuer: server.url })).resolves.toBeTruthy();
    await expect(jwtVerify(before.access_token, jwks, { issuer: server.url })).resolves.toBeTruthy();
  });

  it('hashes a password from standard input as argon2id', () => {
    const out = spawnSync(process.execPath, ['src/cli/main.ts', 'hash-password'], { cwd: ROOT, input: 'a long enough password\n', encoding: 'utf8' });
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout.trim()).toMatch(/^\$argon2id\$v=19\$/);
  });

  it('refuses to start on an invalid configuration, naming every bad key path', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'lt-bad-'));
    const file = path.join(dir, 'bad.yaml');
    await writeFile(file, 'issuer: http://localhost:3000\ntokens:\n  access_token_ttl: soon\nclients:\n  - { client_id: x, grant_types: [client_credentials] }\nbogus: 1\n');
    const out = spawnSync(process.execPath, ['src/main.ts'], { cwd: ROOT, env: { ...process.env, LOGTRACE_CONFIG: file }, encoding: 'utf8', timeout: 20_000 });
    expect(out.status).toBe(1);
    expect(out.stderr).toContain('tokens.access_token_ttl: expected a number');
    expect(out.stderr).toContain('clients.0.grant_types: client_credentials needs an authenticated client');
    expect(out.stderr).toContain('(root): unknown key bogus');
  });
});
