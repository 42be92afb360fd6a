import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startAuthServer, testConfig, type AuthServer } from '../support/auth-server.ts';
import { api, bootstrap, type Bootstrapped } from '../support/admin.ts';
import { freePort } from '../support/ports.ts';
import { clientCredentialsToken } from '../support/tokens.ts';
import { eventually } from '../support/wait.ts';

/** The README walk-through, against the example log API (examples/log-api) and a real server. */
describe('examples/log-api: the walk-through', () => {
  let server: AuthServer;
  let boot: Bootstrapped;
  let child: ChildProcess | undefined;
  let output = '';
  let logApi: string;

  beforeAll(async () => {
    server = await startAuthServer({ config: (port, dataDir) => testConfig(port, { store: { driver: 'embedded', path: dataDir }, api_keys: { events_poll_ms: 50 } }) });
    boot = bootstrap(server);
    const port = await freePort();
    logApi = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, ['--conditions=logtrace-source', 'examples/log-api/server.ts'], {
      cwd: ROOT,
      env: { ...process.env, LOGTRACE_ISSUER: server.url, LOGTRACE_AUDIENCE: 'https://api.logtrace.test', LOGTRACE_VERIFIER_KEY: boot.key.key, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    await eventually(async () => (await fetch(`${logApi}/logs`)).status === 401, 30);
  });
  afterAll(async () => {
    child?.kill('SIGTERM');
    await server?.stop();
    await server?.cleanup();
  });

  it('refuses a request without a credential, saying how to authenticate', async () => {
    const response = await fetch(`${logApi}/logs`);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="logtrace"');
    expect(await response.json()).toMatchObject({ error: 'missing_credential' });
  });

  it('serves a client-credentials token (scope only: a client holds no project)', async () => {
    const token = await clientCredentialsToken(server);
    const logs = await fetch(`${logApi}/logs`, { headers: { authorization: `Bearer ${token}` } });
    expect(logs.status, output).toBe(200);
    expect(await logs.json()).toMatchObject({ caller: { kind: 'jwt', subject: 'ingest-svc' } });
    expect((await fetch(`${logApi}/projects/${boot.project.id}/logs`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(403);
  });

  it('serves an API key on its project’s subtree, then refuses it once revoked', async () => {
    const root = api(server.url, boot.key.key);
    const payments = (await root('POST', '/v1/projects', { name: 'Payments', parent_id: boot.project.id })).body as { id: string };
    const key = (await root('POST', '/v1/keys', { project_id: boot.project.id, name: 'reader', scopes: ['read:logs'], environment: 'live' })).body as { id: string; key: string };
    const read = () => fetch(`${logApi}/projects/${payments.id}/logs`, { headers: { 'x-logs-api-key': key.key } });
    const ok = await read();
    expect(ok.status, output).toBe(200);
    expect(await ok.json()).toMatchObject({ project: payments.id, caller: { kind: 'api_key', subject: key.id } });
    const alert = await fetch(`${logApi}/projects/${payments.id}/alerts`, { method: 'POST', headers: { 'x-logs-api-key': key.key } });
    expect(alert.status).toBe(403);
    expect(alert.headers.get('www-authenticate')).toContain('insufficient_scope');

    expect((await root('DELETE', `/v1/keys/${key.id}`)).status).toBe(200);
    await eventually(async () => (await read()).status === 401, 10, 20);
    expect(await (await read()).json()).toMatchObject({ error: 'revoked' });
  });
});
