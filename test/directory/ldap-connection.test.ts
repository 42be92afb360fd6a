import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startAuthServer, testConfig, REDIRECT_URI, type AuthServer } from '../support/auth-server.ts';
import { codeFlowTokens, discover } from '../support/http-login.ts';
import { api, bootstrap, personApi, type Bootstrapped } from '../support/admin.ts';
import { startSlapd, PEOPLE, READER_DN, READER_PASSWORD, PEOPLE_DN, GROUPS_DN, personDn, type SlapdServer } from '../support/slapd.ts';
import { eventually } from '../support/wait.ts';

type Json = Record<string, unknown>;
const ALL = 'openid email profile offline_access read:logs write:alerts admin:projects';

/**
 * LDAP managed at run time (the SSO wizard's LDAP type) and provisioning rules managed at run time, on a
 * server whose configuration file has neither an ldap: block nor a rule.
 */
describe('LDAP connections and provisioning rules through the API', () => {
  let slapd: SlapdServer;
  let server: AuthServer;
  let boot: Bootstrapped;
  let admin: ReturnType<typeof api>;
  let config: client.Configuration;
  let team: { id: string };
  const jwks = () => createRemoteJWKSet(new URL(`${server.url}/jwks`));
  const directory = (overrides: Json = {}) => ({
    url: slapd.url,
    bind_dn: READER_DN,
    bind_password: READER_PASSWORD,
    user_search: { base_dn: PEOPLE_DN },
    group_search: { base_dn: GROUPS_DN, nested: true },
    sync_interval_seconds: 1,
    timeout_ms: 1500,
    ...overrides,
  });

  beforeAll(async () => {
    slapd = await startSlapd();
    server = await startAuthServer({
      env: { LOGTRACE_SECRET_KEY: randomBytes(32).toString('base64') },
      config: (port, dataDir) => {
        const base = testConfig(port, { store: { driver: 'embedded', path: dataDir } });
        return { ...base, clients: [...(base.clients as Json[]), { client_id: 'console', token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: [REDIRECT_URI], scope: ALL }] };
      },
    });
    boot = bootstrap(server);
    // Connections are an owner's business: an API key (never an owner) may only read and test them.
    admin = (await personApi(server, { email: 'owner@acme.test', project: boot.project.id, role: 'owner' })).call;
    team = (await admin<{ id: string }>('POST', '/v1/projects', { name: 'Team', parent_id: boot.project.id })).body;
    config = await discover(server.url, 'console');
  });
  afterAll(async () => {
    await server?.stop();
    await server?.cleanup();
    await slapd?.dispose();
  });

  it('refuses an LDAP connection without directory settings, or one that names files on the server', async () => {
    const bare = await admin('POST', '/v1/connections', { id: 'corp-ldap', type: 'ldap' });
    expect(bare.status).toBe(400);
    expect(bare.type).toMatch(/problem\+json/);
    expect(bare.body).toMatchObject({ code: 'invalid_request', field: 'ldap' });
    const file = await admin('POST', '/v1/connections', { id: 'corp-ldap', type: 'ldap', ldap: { ...directory(), bind_password: undefined, bind_password_file: '/etc/shadow' } });
    expect(file.status).toBe(400);
    expect(file.body).toMatchObject({ field: 'ldap.bind_password_file' });
    const badFilter = await admin('POST', '/v1/connections', { id: 'corp-ldap', type: 'ldap', ldap: directory({ user_search: { base_dn: PEOPLE_DN, filter: '(mail=' } }) });
    expect(badFilter.status).toBe(400);
    expect(String(badFilter.body.detail)).toMatch(/filter/);
    expect((await admin<{ connections: Json[] }>('GET', '/v1/connections')).body.connections).toEqual([]);
  });

  it('stores an LDAP connection with its bind password sealed and write-only, and tests it in plain words', async () => {
    const made = await admin('POST', '/v1/connections', { id: 'corp-ldap', type: 'ldap', name: 'ACME directory', ldap: directory() });
    expect(made.status).toBe(201);
    expect(made.body.secrets_set).toEqual(['ldap.bind_password']);
    const read = await admin('GET', '/v1/connections/corp-ldap');
    expect(read.body).toMatchObject({ type: 'ldap', origin: 'api', ldap: { url: slapd.url, bind_dn: READER_DN, user_search: { base_dn: PEOPLE_DN } } });
    expect(JSON.stringify(read.body)).not.toContain(READER_PASSWORD);
    const tested = await admin<{ ok: boolean; checks: Array<{ check: string; ok: boolean; detail: string }> }>('POST', '/v1/connections/corp-ldap/test');
    expect(tested.body.ok).toBe(true);
    expect(tested.body.checks.map((c) => c.check)).toEqual(['connect', 'service_bind', 'user_search', 'group_search']);
    expect(tested.body.checks.find((c) => c.check === 'user_search')!.detail).toMatch(/5 people found/);
  });

  it('says what is wrong when the bind password or a base DN is wrong; a PATCH keeps the stored password', async () => {
    // A merge patch of one nested field keeps the rest of the ldap block and the sealed password.
    const moved = await admin('PATCH', '/v1/connections/corp-ldap', { ldap: { user_search: { base_dn: 'ou=nobody,dc=acme,dc=ru' } } });
    expect(moved.status).toBe(200);
    expect(moved.body.secrets_set).toEqual(['ldap.bind_password']);
    let tested = await admin<{ ok: boolean; checks: Array<{ check: string; ok: boolean; detail: string }> }>('POST', '/v1/connections/corp-ldap/test');
    expect(tested.body.ok).toBe(false);
    expect(tested.body.checks).toContainEqual({ check: 'user_search', ok: false, detail: 'the base DN ou=nobody,dc=acme,dc=ru does not exist' });
    await admin('PATCH', '/v1/connections/corp-ldap', { ldap: { user_search: { base_dn: PEOPLE_DN }, bind_password: 'not-the-password' } });
    tested = await admin('POST', '/v1/connections/corp-ldap/test');
    expect(tested.body.checks).toContainEqual({ check: 'service_bind', ok: false, detail: `the directory refused the service account ${READER_DN}: check the bind DN and its password` });
    await admin('PATCH', '/v1/connections/corp-ldap', { ldap: { bind_password: READER_PASSWORD } });
    // The stored password is never sent to a new server: another URL needs the password again.
    const elsewhere = await admin('PATCH', '/v1/connections/corp-ldap', { ldap: { url: 'ldap://127.0.0.2:389' } });
    expect(elsewhere).toMatchObject({ status: 400, body: { field: 'ldap.bind_password' } });
    expect((await admin('GET', '/v1/connections/corp-ldap')).body).toMatchObject({ ldap: { url: slapd.url } });
    expect((await admin<{ ok: boolean }>('POST', '/v1/connections/corp-ldap/test')).body.ok).toBe(true);
    await slapd.stop();
    try {
      tested = await admin('POST', '/v1/connections/corp-ldap/test');
      expect(tested.body.checks[0]).toMatchObject({ check: 'connect', ok: false, detail: expect.stringContaining('unreachable') });
    } finally {
      await slapd.start();
    }
  });

  it('manages provisioning rules: validation, owner only by owners, conflicts, audit', async () => {
    const bad = await admin('POST', '/v1/provisioning-rules', { email_domain: 'not a domain' });
    expect(bad).toMatchObject({ status: 400, body: { code: 'invalid_request', field: 'email_domain' } });
    const roleOnly = await admin('POST', '/v1/provisioning-rules', { email_domain: 'acme.ru', role: 'viewer' });
    expect(roleOnly).toMatchObject({ status: 400, body: { field: 'project_id' } });
    const unknownConnector = await admin('POST', '/v1/provisioning-rules', { email_domain: 'acme.ru', connectors: ['nope'] });
    expect(unknownConnector).toMatchObject({ status: 400, body: { field: 'connectors.0' } });
    // An API key holds admin:projects but is no owner: it cannot make new accounts owners.
    const owner = await api(server.url, boot.key.key)('POST', '/v1/provisioning-rules', { email_domain: 'acme.ru', connectors: ['corp-ldap'], project_id: team.id, role: 'owner' });
    expect(owner).toMatchObject({ status: 403, body: { code: 'forbidden', field: 'role' } });
    const made = await admin('POST', '/v1/provisioning-rules', { email_domain: 'ACME.ru', connectors: ['corp-ldap'], project_id: team.id, role: 'viewer' });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ id: expect.stringMatching(/^pr_/), email_domain: 'acme.ru', connectors: ['corp-ldap'], project: team.id, role: 'viewer', origin: 'api' });
    const twice = await admin('POST', '/v1/provisioning-rules', { email_domain: 'acme.ru', connectors: ['corp-ldap'], project_id: boot.project.id, role: 'member' });
    expect(twice).toMatchObject({ status: 409, body: { code: 'conflict' } });
    const listed = await admin<{ provisioning_rules: Json[] }>('GET', '/v1/provisioning-rules');
    expect(listed.body.provisioning_rules).toEqual([made.body]);
    const events = (await admin<{ events: Json[] }>('GET', `/v1/audit?action=provisioning_rule.created`)).body.events;
    expect(events).toContainEqual(expect.objectContaining({ target: { type: 'provisioning_rule', id: made.body.id }, project_id: team.id, outcome: 'success' }));
    expect((await admin('DELETE', '/v1/provisioning-rules/pr_missing')).status).toBe(404);
    expect((await fetch(`${server.url}/v1/provisioning-rules`)).status).toBe(401);
  });

  it('a first LDAP sign-in makes an account by the stored rule, with the rule role and the mapped groups', async () => {
    // A directory of its own is a group source of its own (its connection id); there is no shared `ldap` here.
    const shared = await admin('POST', '/v1/role-mappings', { source: 'ldap', group: 'logtrace-admins', project_id: boot.project.id, role: 'admin' });
    expect(shared).toMatchObject({ status: 400, body: { field: 'source', detail: 'source must be one of corp-ldap' } });
    const mapped = await admin('POST', '/v1/role-mappings', { source: 'corp-ldap', group: 'logtrace-admins', project_id: boot.project.id, role: 'admin' });
    expect(mapped.status).toBe(201);
    const tokens = await codeFlowTokens(config, { email: PEOPLE.carol.mail, password: PEOPLE.carol.password, scope: ALL });
    const { payload } = await jwtVerify(tokens.access_token, jwks(), { issuer: server.url });
    // viewer on Team from the rule; admin on Acme (and so on Team below it) from the nested admins group.
    expect(payload.project_roles).toEqual({ [team.id]: 'viewer', [boot.project.id]: 'admin' });
    const members = (await admin<{ members: Json[] }>('GET', `/v1/projects/${team.id}/members`)).body.members;
    expect(members).toContainEqual(expect.objectContaining({ email: PEOPLE.carol.mail, role: 'viewer' }));
  });

  it('refuses a person whose domain has no rule once the rule is deleted, and syncs run-time directories', async () => {
    const rules = (await admin<{ provisioning_rules: Json[] }>('GET', '/v1/provisioning-rules')).body.provisioning_rules;
    expect((await admin('DELETE', `/v1/provisioning-rules/${String(rules[0]!.id)}`)).status).toBe(204);
    await expect(codeFlowTokens(config, { email: PEOPLE.erin.mail, password: PEOPLE.erin.password })).rejects.toThrow();
    // A second directory that refuses the search (no such base DN) does not stop this one's sync.
    expect((await admin('POST', '/v1/connections', { id: 'broken-ldap', type: 'ldap', ldap: directory({ user_search: { base_dn: 'ou=nobody,dc=acme,dc=ru' } }) })).status).toBe(201);
    // carol leaves the directory altogether: the periodic sync (1 s here) takes the roles its groups gave.
    await slapd.del(personDn('carol'));
    await eventually(async () => {
      const members = (await admin<{ members: Json[] }>('GET', `/v1/projects/${boot.project.id}/members`)).body.members;
      return !members.some((m) => m.email === PEOPLE.carol.mail && m.role === 'admin');
    }, 15);
    const audit = (await admin<{ events: Json[] }>('GET', `/v1/audit?project_id=${boot.project.id}&action=member.role_changed`)).body.events;
    expect(audit).toContainEqual(expect.objectContaining({ actor: { type: 'system', id: 'ldap_sync' }, detail: expect.objectContaining({ cause: 'ldap_sync', from: 'admin', to: null }) }));
  });
});
