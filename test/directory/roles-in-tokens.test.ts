import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startAuthServer, testConfig, REDIRECT_URI, type AuthServer } from '../support/auth-server.ts';
import { codeFlowTokens, discover } from '../support/http-login.ts';
import { api, bootstrap, cli, personApi, type Bootstrapped } from '../support/admin.ts';

type Json = Record<string, unknown>;
const ALL = 'openid email profile offline_access read:logs write:alerts admin:projects';

describe('project roles: memberships, roles in tokens, users API', () => {
  let server: AuthServer;
  let boot: Bootstrapped;
  let rootApi: ReturnType<typeof api>;
  let config: client.Configuration;
  let team: Json;
  let carol: { id: string };
  let owner: { id: string };
  const jwks = () => createRemoteJWKSet(new URL(`${server.url}/jwks`));

  beforeAll(async () => {
    server = await startAuthServer({
      config: (port, dataDir) => {
        const base = testConfig(port, { store: { driver: 'embedded', path: dataDir } });
        const consoleClient = { client_id: 'console', token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: [REDIRECT_URI], scope: ALL };
        return { ...base, clients: [...(base.clients as Json[]), consoleClient] };
      },
    });
    boot = bootstrap(server);
    rootApi = api(server.url, boot.key.key);
    team = (await rootApi('POST', '/v1/projects', { name: 'Team', parent_id: boot.project.id })).body;
    const made = cli(server, ['users', 'add', '--email', 'carol@example.com', '--name', 'Carol', '--project', String(team.id), '--role', 'viewer', '--password-stdin', '--json'], 'carol-password-123\n');
    expect(made.status, made.stderr).toBe(0);
    carol = (JSON.parse(made.stdout) as { user: { id: string } }).user;
    const o = cli(server, ['users', 'add', '--email', 'olga@example.com', '--name', 'Olga', '--project', 'Acme', '--role', 'owner', '--password-stdin', '--json'], 'olga-password-123\n');
    expect(o.status, o.stderr).toBe(0);
    owner = (JSON.parse(o.stdout) as { user: { id: string } }).user;
    config = await discover(server.url, 'console');
  });
  afterAll(async () => {
    await server?.stop();
    await server?.cleanup();
  });

  it('gives a viewer only read:logs, and names the role per project in the token and /me', async () => {
    const tokens = await codeFlowTokens(config, { email: 'carol@example.com', password: 'carol-password-123', scope: ALL });
    const { payload } = await jwtVerify(tokens.access_token, jwks(), { issuer: server.url, audience: 'https://api.logtrace.test' });
    expect(payload.scope).toBe('read:logs');
    expect(payload.project_roles).toEqual({ [String(team.id)]: 'viewer' });
    expect(tokens.claims()!.project_roles).toEqual({ [String(team.id)]: 'viewer' });

    const me = await codeFlowTokens(config, { email: 'carol@example.com', password: 'carol-password-123', scope: 'openid email' });
    const info = await client.fetchUserInfo(config, me.access_token, me.claims()!.sub);
    expect(info.project_roles).toEqual({ [String(team.id)]: 'viewer' });
  });

  it('reflects a role change at the next refresh, and audits it with its cause', async () => {
    const tokens = await codeFlowTokens(config, { email: 'carol@example.com', password: 'carol-password-123', scope: ALL });
    const put = await rootApi('PUT', `/v1/projects/${team.id}/members/${carol.id}`, { role: 'member' });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ role: 'member' });
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    const { payload } = await jwtVerify(refreshed.access_token, jwks(), { issuer: server.url });
    expect(String(payload.scope).split(' ').sort()).toEqual(['read:logs', 'write:alerts']);
    expect(payload.project_roles).toEqual({ [String(team.id)]: 'member' });

    const members = await rootApi<{ members: Json[] }>('GET', `/v1/projects/${team.id}/members`);
    expect(members.body.members).toEqual([expect.objectContaining({ user_id: carol.id, email: 'carol@example.com', role: 'member', causes: [expect.objectContaining({ cause: 'manual', role: 'member' })] })]);
    const audit = await rootApi<{ events: Json[] }>('GET', `/v1/audit?project_id=${team.id}&action=member.role_changed`);
    expect(audit.body.events.at(-1)).toMatchObject({ target: { type: 'user', id: carol.id }, detail: { cause: 'manual', from: 'viewer', to: 'member' }, actor: { type: 'api_key', id: boot.key.id } });
  });

  it('lets only an owner grant owner', async () => {
    const byKey = await rootApi('PUT', `/v1/projects/${team.id}/members/${carol.id}`, { role: 'owner' });
    expect(byKey.status).toBe(403);
    expect(byKey.body).toMatchObject({ code: 'forbidden', field: 'role' });
    const ownerTokens = await codeFlowTokens(config, { email: 'olga@example.com', password: 'olga-password-123', scope: ALL });
    const asOwner = api(server.url, ownerTokens.access_token);
    expect((await asOwner('PUT', `/v1/projects/${team.id}/members/${carol.id}`, { role: 'owner' })).status).toBe(200);
    expect((await asOwner('PUT', `/v1/projects/${team.id}/members/${carol.id}`, { role: 'member' })).status).toBe(200);
    expect((await rootApi('PUT', `/v1/projects/${team.id}/members/${carol.id}`, { role: 'superuser' })).body).toMatchObject({ status: 400, field: 'role' });
  });

  it('lists users with identities, memberships and their causes', async () => {
    const list = await rootApi<{ users: Json[] }>('GET', '/v1/users');
    expect(list.body.users.map((u) => u.email)).toEqual(expect.arrayContaining(['carol@example.com', 'olga@example.com', 'alice@example.com']));
    const one = await rootApi('GET', `/v1/users/${carol.id}`);
    expect(one.body).toMatchObject({ id: carol.id, email: 'carol@example.com', disabled: false, memberships: [{ project_id: team.id, role: 'member' }] });
    expect(one.body.last_login_at).toBeTruthy();
  });

  it('disables an account: refreshes and its admin API access fail at once', async () => {
    const tokens = await codeFlowTokens(config, { email: 'olga@example.com', password: 'olga-password-123', scope: ALL });
    expect((await api(server.url, tokens.access_token)('GET', `/v1/projects/${team.id}/members`)).status).toBe(200);
    // Only an owner disables an owner: the organisation's admin key is refused, another owner may.
    expect((await rootApi('PATCH', `/v1/users/${owner.id}`, { disabled: true })).status).toBe(403);
    const otto = await personApi(server, { email: 'otto@example.com', project: boot.project.id, role: 'owner' });
    const patched = await otto.call('PATCH', `/v1/users/${owner.id}`, { disabled: true });
    expect(patched.body).toMatchObject({ disabled: true });
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await api(server.url, tokens.access_token)('GET', `/v1/projects/${team.id}/members`)).status).toBe(401);
    await expect(codeFlowTokens(config, { email: 'olga@example.com', password: 'olga-password-123' })).rejects.toThrow();
    await otto.call('PATCH', `/v1/users/${owner.id}`, { disabled: false });
  });
});
