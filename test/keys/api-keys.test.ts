import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startAuthServer, testConfig, type AuthServer } from '../support/auth-server.ts';
import { api, bootstrap, cli, type Bootstrapped } from '../support/admin.ts';

type Json = Record<string, unknown>;
const KEY_RE = /^lt_(live|test)_[0-9A-Za-z]{38}$/;

async function exchange(server: AuthServer, key: string) {
  const response = await fetch(`${server.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      client_id: 'logtrace-api-key',
      subject_token: key,
      subject_token_type: 'urn:logtrace:params:oauth:token-type:api-key',
    }),
  });
  return { status: response.status, body: (await response.json()) as Json };
}

describe('project-scoped API keys', () => {
  let server: AuthServer;
  let boot: Bootstrapped;
  let root: ReturnType<typeof api>;
  let child: Json;
  let sibling: Json;

  beforeAll(async () => {
    server = await startAuthServer({
      config: (port, dataDir) => testConfig(port, { store: { driver: 'embedded', path: dataDir }, api_keys: { verify_failures_per_minute: 1000 } }),
    });
    boot = bootstrap(server);
    root = api(server.url, boot.key.key);
    child = (await root('POST', '/v1/projects', { name: 'Payments', parent_id: boot.project.id })).body;
    sibling = (await root('POST', '/v1/projects', { name: 'Search', parent_id: boot.project.id })).body;
  });
  afterAll(async () => {
    await server?.stop();
    await server?.cleanup();
  });

  it('bootstraps the organisation once and never prints an existing key again', () => {
    expect(boot.project.name).toBe('Acme');
    expect(boot.key.key).toMatch(KEY_RE);
    expect(boot.key.scopes).toEqual(['read:logs', 'write:alerts', 'admin:projects']);
    const again = bootstrap(server);
    expect(again.project).toEqual(boot.project);
    expect(again.key).toBeNull();
    expect(JSON.stringify(again)).not.toContain(boot.key.key);
  });

  it('builds a project tree and lists what a credential may see', async () => {
    expect(child).toMatchObject({ name: 'Payments', parent_id: boot.project.id, path: [boot.project.id, child.id] });
    const list = await root<{ projects: Json[] }>('GET', '/v1/projects');
    expect(list.body.projects.map((p) => p.name)).toEqual(expect.arrayContaining(['Acme', 'Payments', 'Search']));
    const missing = await root('POST', '/v1/projects', { name: 'X', parent_id: 'prj_nope' });
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ code: 'not_found', field: 'parent_id' });
  });

  it('creates a key: shown once, checksummed, 90 days by default, stored only as a hash', async () => {
    const created = await root('POST', '/v1/keys', { project_id: child.id, name: 'ingest', scopes: ['read:logs', 'write:alerts'], environment: 'test', ip_allowlist: ['127.0.0.0/8', '::1'] });
    expect(created.status).toBe(201);
    const body = created.body;
    expect(body.key).toMatch(/^lt_test_/);
    expect(body.key).toMatch(KEY_RE);
    expect(body).toMatchObject({ project_id: child.id, name: 'ingest', scopes: ['read:logs', 'write:alerts'], environment: 'test', ip_allowlist: ['127.0.0.0/8', '::1/128'], created_by: { type: 'api_key', id: boot.key.id } });
    expect(String(body.key).startsWith(String(body.prefix))).toBe(true);
    const days = (Date.parse(String(body.expires_at)) - Date.parse(String(body.created_at))) / 86_400_000;
    expect(days).toBe(90);
    expect(String(body.expires_at)).toMatch(/Z$/);

    const read = await root('GET', `/v1/keys/${body.id}`);
    expect(read.status).toBe(200);
    expect(read.body).not.toHaveProperty('key');
    expect(JSON.stringify(read.body)).not.toContain(String(body.key));
    expect(read.body.status).toBe('active');
    const listed = await root<{ keys: Json[] }>('GET', `/v1/keys?project_id=${child.id}`);
    expect(listed.body.keys.map((k) => k.id)).toContain(body.id);
    expect(JSON.stringify(listed.body)).not.toContain(String(body.key));
  });

  it('refuses bad inputs with a specific problem+json and changes nothing', async () => {
    const before = (await root<{ keys: Json[] }>('GET', `/v1/keys?project_id=${child.id}`)).body.keys.length;
    const cases: Array<[Json, number, string]> = [
      [{ project_id: child.id, name: 'k', scopes: ['read:logs', 'delete:everything'], environment: 'live' }, 400, 'scopes'],
      [{ project_id: child.id, name: 'k', scopes: ['read:logs'], environment: 'live', ttl_days: 400 }, 400, 'ttl_days'],
      [{ project_id: child.id, name: 'k', scopes: ['read:logs'], environment: 'live', ip_allowlist: ['10.0.0.0/33'] }, 400, 'ip_allowlist[0]'],
      [{ project_id: child.id, name: 'k', scopes: ['read:logs'], environment: 'prod' }, 400, 'environment'],
      [{ project_id: child.id, name: 'k', scopes: [], environment: 'live' }, 400, 'scopes'],
      [{ project_id: 'prj_unknown', name: 'k', scopes: ['read:logs'], environment: 'live' }, 404, 'project_id'],
    ];
    for (const [input, status, field] of cases) {
      const response = await root('POST', '/v1/keys', input);
      expect(response.status, JSON.stringify(input)).toBe(status);
      expect(response.type).toContain('application/problem+json');
      expect(response.body).toMatchObject({ status, field });
      expect(typeof response.body.detail).toBe('string');
    }
    expect((await root<{ keys: Json[] }>('GET', `/v1/keys?project_id=${child.id}`)).body.keys.length).toBe(before);
  });

  describe('every admin route checks credentials the same way', () => {
    let readOnly: string;
    let siblingAdmin: string;
    let revoked: string;
    const routes = (): Array<[string, string, Json | undefined]> => [
      ['GET', `/v1/keys?project_id=${child.id}`, undefined],
      ['POST', '/v1/keys', { project_id: child.id, name: 'x', scopes: ['read:logs'], environment: 'live' }],
      ['POST', '/v1/webhooks', { project_id: child.id, url: 'https://hooks.example.com/x', events: ['key.created'] }],
      ['GET', `/v1/audit?project_id=${child.id}`, undefined],
      ['GET', `/v1/webhooks?project_id=${child.id}`, undefined],
    ];

    beforeAll(async () => {
      readOnly = String((await root('POST', '/v1/keys', { project_id: child.id, name: 'ro', scopes: ['read:logs'], environment: 'live' })).body.key);
      siblingAdmin = String((await root('POST', '/v1/keys', { project_id: sibling.id, name: 'other', scopes: ['read:logs', 'admin:projects'], environment: 'live' })).body.key);
      const r = (await root('POST', '/v1/keys', { project_id: child.id, name: 'gone', scopes: ['read:logs', 'admin:projects'], environment: 'live' })).body;
      await root('DELETE', `/v1/keys/${r.id}`);
      revoked = String(r.key);
    });

    it('401 without credentials', async () => {
      for (const [method, path, body] of routes()) {
        const response = await api(server.url)(method, path, body);
        expect(response.status, `${method} ${path}`).toBe(401);
        expect(response.body).toMatchObject({ code: 'unauthorized' });
      }
    });
    it('403 with a key lacking admin:projects', async () => {
      for (const [method, path, body] of routes()) expect((await api(server.url, readOnly)(method, path, body)).status, `${method} ${path}`).toBe(403);
    });
    it("403 with another project's key", async () => {
      for (const [method, path, body] of routes()) expect((await api(server.url, siblingAdmin)(method, path, body)).status, `${method} ${path}`).toBe(403);
    });
    it('401 with a revoked key', async () => {
      for (const [method, path, body] of routes()) expect((await api(server.url, revoked)(method, path, body)).status, `${method} ${path}`).toBe(401);
    });
    it('accepts the key in X-Logs-Api-Key too', async () => {
      expect((await api(server.url, boot.key.key, 'x-logs-api-key')('GET', `/v1/keys?project_id=${child.id}`)).status).toBe(200);
    });
    it('never lets a caller create a key with a scope it does not hold', async () => {
      const childAdmin = String((await root('POST', '/v1/keys', { project_id: child.id, name: 'ca', scopes: ['read:logs', 'admin:projects'], environment: 'live' })).body.key);
      const response = await api(server.url, childAdmin)('POST', '/v1/keys', { project_id: child.id, name: 'esc', scopes: ['write:alerts'], environment: 'live' });
      expect(response.status).toBe(403);
      expect(response.body).toMatchObject({ code: 'forbidden', field: 'scopes' });
    });
  });

  describe('verify', () => {
    let key: Json;
    beforeAll(async () => {
      key = (await root('POST', '/v1/keys', { project_id: child.id, name: 'verify-me', scopes: ['read:logs'], environment: 'live', ip_allowlist: ['10.0.0.0/8', '127.0.0.1'] })).body;
    });
    const verify = (body: Json, headers: Record<string, string> = {}) =>
      fetch(`${server.url}/v1/keys/verify`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: (await r.json()) as Json }));

    it('answers valid with the key, project, scopes, environment and expiry', async () => {
      const result = await verify({ key: key.key, ip: '10.1.2.3', scope: 'read:logs', project_id: child.id });
      expect(result).toEqual({ status: 200, body: { valid: true, key_id: key.id, project_id: child.id, scopes: ['read:logs'], environment: 'live', expires_at: key.expires_at } });
    });
    it('takes the key from X-Logs-Api-Key and checks the caller address when no ip is given', async () => {
      const response = await fetch(`${server.url}/v1/keys/verify`, { method: 'POST', headers: { 'x-logs-api-key': String(key.key) } });
      expect(await response.json()).toMatchObject({ valid: true, key_id: key.id });
    });
    it('holds for sub-projects, not for siblings or parents', async () => {
      const grandchild = (await root('POST', '/v1/projects', { name: 'EU', parent_id: child.id })).body;
      expect((await verify({ key: key.key, ip: '10.0.0.1', project_id: grandchild.id })).body).toMatchObject({ valid: true });
      expect((await verify({ key: key.key, ip: '10.0.0.1', project_id: sibling.id })).body).toEqual({ valid: false, code: 'wrong_project' });
      expect((await verify({ key: key.key, ip: '10.0.0.1', project_id: boot.project.id })).body).toEqual({ valid: false, code: 'wrong_project' });
    });
    it('answers each refusal with its code', async () => {
      expect((await verify({ key: key.key, ip: '192.0.2.1' })).body).toEqual({ valid: false, code: 'ip_not_allowed' });
      expect((await verify({ key: key.key, ip: '10.0.0.1', scope: 'write:alerts' })).body).toEqual({ valid: false, code: 'insufficient_scope' });
      const typo = `${String(key.key).slice(0, -1)}${String(key.key).endsWith('a') ? 'b' : 'a'}`;
      expect((await verify({ key: typo })).body).toEqual({ valid: false, code: 'not_found' });
      expect((await verify({ key: 'lt_live_nonsense' })).body).toEqual({ valid: false, code: 'not_found' });
    });
    it('counts verifications per day by outcome and records the last use', async () => {
      const usage = await root<{ days: Array<{ counts: Record<string, number> }>; last_used_ip: string }>('GET', `/v1/keys/${key.id}/usage`);
      expect(usage.status).toBe(200);
      const today = usage.body.days.at(-1)!.counts;
      expect(today.valid).toBeGreaterThanOrEqual(3);
      expect(today.ip_not_allowed).toBe(1);
      expect(today.insufficient_scope).toBe(1);
      expect(today.wrong_project).toBe(2);
      expect(usage.body.last_used_ip).toBeTruthy();
      expect((await root('GET', `/v1/keys/${key.id}`)).body.last_used_at).toBeTruthy();
    });
  });

  it('rotates without downtime: the old key works through the grace period, then answers rotated', async () => {
    const original = (await root('POST', '/v1/keys', { project_id: child.id, name: 'rot', scopes: ['read:logs'], environment: 'live', ip_allowlist: ['127.0.0.1/32'] })).body;
    const rotated = await root('POST', '/v1/keys/rotate', { id: original.id, grace_seconds: 3600 });
    expect(rotated.status).toBe(201);
    expect(rotated.body).toMatchObject({ project_id: child.id, scopes: ['read:logs'], environment: 'live', ip_allowlist: ['127.0.0.1/32'], rotated_from: original.id });
    expect(rotated.body.key).not.toBe(original.key);
    const v = (k: unknown) => api(server.url)<Json>('POST', '/v1/keys/verify', { key: k, ip: '127.0.0.1' });
    expect((await v(original.key)).body.valid).toBe(true);
    expect((await v(rotated.body.key)).body.valid).toBe(true);
    expect((await root('GET', `/v1/keys/${original.id}`)).body.status).toBe('rotating');

    const immediate = await root('POST', '/v1/keys/rotate', { id: rotated.body.id, grace_seconds: 0 });
    expect((await v(rotated.body.key)).body).toEqual({ valid: false, code: 'rotated' });
    expect((await v(immediate.body.key)).body.valid).toBe(true);
    const again = await root('POST', '/v1/keys/rotate', { id: rotated.body.id });
    expect(again.status).toBe(409);
  });

  it('revokes at once, and a revoked key cannot be exchanged', async () => {
    const key = (await root('POST', '/v1/keys', { project_id: child.id, name: 'rev', scopes: ['read:logs'], environment: 'live' })).body;
    expect((await exchange(server, String(key.key))).status).toBe(200);
    expect((await root('DELETE', `/v1/keys/${key.id}`)).body.status).toBe('revoked');
    expect((await api(server.url)('POST', '/v1/keys/verify', { key: key.key })).body).toEqual({ valid: false, code: 'revoked' });
    expect(await exchange(server, String(key.key))).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  it('exchanges a key for a JWT carrying its scopes and project, verifiable offline', async () => {
    const key = (await root('POST', '/v1/keys', { project_id: child.id, name: 'xchg', scopes: ['read:logs', 'write:alerts'], environment: 'live', ttl_days: 1 })).body;
    const result = await exchange(server, String(key.key));
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({ token_type: 'Bearer', issued_token_type: 'urn:ietf:params:oauth:token-type:access_token' });
    const { payload } = await jwtVerify(String(result.body.access_token), createRemoteJWKSet(new URL(`${server.url}/jwks`)), { issuer: server.url, audience: 'https://api.logtrace.test', typ: 'at+jwt' });
    expect(payload).toMatchObject({ sub: key.id, api_key_id: key.id, project_id: child.id, scope: 'read:logs write:alerts', client_id: 'logtrace-api-key' });
    expect(payload.exp!).toBeLessThanOrEqual(Math.floor(Date.parse(String(key.expires_at)) / 1000));
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(3600);

    const fenced = (await root('POST', '/v1/keys', { project_id: child.id, name: 'fenced', scopes: ['read:logs'], environment: 'live', ip_allowlist: ['192.0.2.0/24'] })).body;
    expect(await exchange(server, String(fenced.key))).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(await exchange(server, 'lt_live_not-a-key')).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  it('audits every create, rotate, revoke, exchange and failed admin call', async () => {
    const events = (await root<{ events: Json[] }>('GET', `/v1/audit?project_id=${boot.project.id}&limit=1000`)).body.events;
    const actions = new Set(events.map((e) => e.action));
    for (const action of ['project.created', 'key.created', 'key.rotated', 'key.revoked', 'key.exchanged']) expect(actions, action).toContain(action);
    const created = events.find((e) => e.action === 'key.created' && (e.actor as Json).type === 'api_key')!;
    expect(created).toMatchObject({ actor: { type: 'api_key', id: boot.key.id }, target: { type: 'api_key' }, outcome: 'success', ip: expect.any(String) });
    expect(String(created.timestamp)).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    const failures = (await root<{ events: Json[] }>('GET', '/v1/audit?action=admin.request_failed&limit=1000')).body.events;
    expect(failures.length).toBeGreaterThan(0);
    const keyEvents = (await root<{ events: Json[] }>('GET', `/v1/audit?project_id=${boot.project.id}&action=key&since=${encodeURIComponent(new Date(Date.now() - 60_000).toISOString())}`)).body.events;
    expect(keyEvents.every((e) => String(e.action).startsWith('key.'))).toBe(true);
    for (const method of ['PUT', 'DELETE', 'PATCH']) expect((await root(method, '/v1/audit')).status).toBe(405);
  });

  it('offers keys create|list|rotate|revoke on the CLI with the same rules', () => {
    const created = cli(server, ['keys', 'create', '--project', String(child.id), '--name', 'ops', '--scopes', 'read:logs', '--env', 'test', '--json']);
    expect(created.status, created.stderr).toBe(0);
    const key = JSON.parse(created.stdout) as Json;
    expect(key.key).toMatch(/^lt_test_/);
    const bad = cli(server, ['keys', 'create', '--project', String(child.id), '--name', 'ops', '--scopes', 'read:logs', '--ttl-days', '999']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('ttl_days');
    const listed = JSON.parse(cli(server, ['keys', 'list', '--project', String(child.id), '--json']).stdout) as { keys: Json[] };
    expect(listed.keys.map((k) => k.id)).toContain(key.id);
    expect(cli(server, ['keys', 'list', '--project', String(child.id), '--json']).stdout).not.toContain(String(key.key));
    const rotated = JSON.parse(cli(server, ['keys', 'rotate', '--id', String(key.id), '--grace-seconds', '0', '--json']).stdout) as Json;
    expect(rotated.rotated_from).toBe(key.id);
    const revoked = JSON.parse(cli(server, ['keys', 'revoke', '--id', String(rotated.id), '--json']).stdout) as Json;
    expect(revoked.status).toBe('revoked');
  });
});
