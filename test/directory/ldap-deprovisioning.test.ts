import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startAuthServer, testConfig, REDIRECT_URI, TEST_PASSWORD, type AuthServer } from '../support/auth-server.ts';
import { CookieJar, codeFlowTokens, discover } from '../support/http-login.ts';
import { api, bootstrap, cli, type Bootstrapped } from '../support/admin.ts';
import { startSlapd, PEOPLE, READER_DN, READER_PASSWORD, PEOPLE_DN, GROUPS_DN, groupDn, personDn, type SeedPerson, type SlapdServer } from '../support/slapd.ts';
import { eventually } from '../support/wait.ts';

type Json = Record<string, unknown>;
type UserView = { id: string; email: string; disabled: boolean; source: string; deprovisioned: Json | null; memberships: Array<{ project_id: string; role: string; causes: Json[] }>; identities: Json[] };
const ALL = 'openid email profile offline_access read:logs write:alerts admin:projects';
const FRANK: SeedPerson = { uid: 'frank', cn: 'Frank Leaver', mail: 'frank@acme.ru', password: 'frank-pass' };

/**
 * One browser over HTTP (its cookies kept in `jar`): follows redirects from `start`, fills the sign-in form
 * once when `credentials` are given, and stops at the first page that is not a redirect, or at the client's
 * redirect URI (a code was issued).
 */
async function browse(jar: CookieJar, start: string, credentials?: { email: string; password: string }): Promise<{ status: number; url: string; body: string }> {
  let url = start;
  let form: string | undefined;
  for (let hop = 0; hop < 20; hop++) {
    if (url.startsWith(REDIRECT_URI)) return { status: 302, url, body: '' };
    const response = await fetch(url, { method: form ? 'POST' : 'GET', redirect: 'manual', headers: { cookie: jar.header(), ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) }, body: form });
    jar.store(response);
    form = undefined;
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel();
      url = new URL(location, url).href;
      continue;
    }
    const body = await response.text();
    const login = /<form method="post" action="([^"]+\/login)"/.exec(body);
    if (credentials && login) {
      url = new URL(login[1]!, url).href;
      form = new URLSearchParams({ email: credentials.email, password: credentials.password }).toString();
      credentials = undefined;
      continue;
    }
    return { status: response.status, url, body };
  }
  throw new Error('too many redirects');
}

/**
 * The directory is the source of truth, against a real slapd: a role mapping alone lets a directory
 * person in (no provisioning rule is configured here), and the periodic sync takes access away from people
 * the directory disables (`user_search.disabled_filter`) or no longer lists, and gives it back when they
 * return — except to an account an admin disabled.
 */
describe('LDAP: mapped groups let people in; the sync deprovisions leavers', () => {
  let slapd: SlapdServer;
  let server: AuthServer;
  let boot: Bootstrapped;
  let admin: ReturnType<typeof api>;
  let owner: ReturnType<typeof api>;
  let config: client.Configuration;
  const jwks = () => createRemoteJWKSet(new URL(`${server.url}/jwks`));

  const signIn = (person: { mail: string; password: string }) => codeFlowTokens(config, { email: person.mail, password: person.password, scope: ALL });
  const userByEmail = async (email: string): Promise<UserView | undefined> => (await admin<{ users: UserView[] }>('GET', '/v1/users')).body.users.find((u) => u.email === email);
  const user = async (id: string): Promise<UserView> => (await admin<UserView>('GET', `/v1/users/${id}`)).body;
  const events = async (action: string, targetId: string): Promise<Json[]> => (await admin<{ events: Json[] }>('GET', `/v1/audit?action=${action}&target_id=${targetId}&limit=100`)).body.events;
  const rolesIn = async (accessToken: string) => (await jwtVerify(accessToken, jwks(), { issuer: server.url })).payload.project_roles;

  beforeAll(async () => {
    slapd = await startSlapd();
    server = await startAuthServer({
      config: (port, dataDir) => {
        const base = testConfig(port, { store: { driver: 'embedded', path: dataDir } });
        return {
          ...base,
          clients: [...(base.clients as Json[]), { client_id: 'console', token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: [REDIRECT_URI], scope: ALL }],
          ldap: {
            url: slapd.url,
            bind_dn: READER_DN,
            bind_password: READER_PASSWORD,
            user_search: { base_dn: PEOPLE_DN, filter: '(mail={email})', id_attr: 'uid', email_attr: 'mail', name_attr: 'cn', disabled_filter: '(employeeType=disabled)' },
            group_search: { base_dn: GROUPS_DN, filter: '(member={dn})', name_attr: 'cn', nested: true },
            sync_interval_seconds: 1,
            timeout_ms: 1500,
          },
          connectors: [{ id: 'ldap', type: 'ldap', name: 'Corporate account' }],
          // No provisioning rule at all: only the role mappings say who may come in.
        };
      },
    });
    boot = bootstrap(server);
    admin = api(server.url, boot.key.key);
    config = await discover(server.url, 'console');
    const added = cli(server, ['users', 'add', '--email', 'owner@example.com', '--name', 'Owner', '--project', boot.project.id, '--role', 'owner', '--password-stdin'], TEST_PASSWORD);
    expect(added.status, added.stderr).toBe(0);
    owner = api(server.url, (await codeFlowTokens(config, { email: 'owner@example.com', password: TEST_PASSWORD, scope: ALL })).access_token);
    for (const [group, role] of [['logtrace-admins', 'admin'], ['logtrace-viewers', 'viewer'], ['loop-a', 'member']]) {
      expect((await owner('POST', '/v1/role-mappings', { source: 'ldap', group, project_id: boot.project.id, role })).status).toBe(201);
    }
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    await server?.cleanup();
    await slapd?.dispose();
  });

  it('a first LDAP sign-in whose groups a mapping names creates the account with the mapped roles (cause ldap_sync)', async () => {
    const tokens = await signIn(PEOPLE.alice);
    expect(await rolesIn(tokens.access_token)).toEqual({ [boot.project.id]: 'admin' });
    const alice = (await userByEmail(PEOPLE.alice.mail))!;
    expect(alice).toMatchObject({ source: 'ldap', disabled: false, deprovisioned: null });
    expect(alice.memberships).toEqual([{ project_id: boot.project.id, role: 'admin', causes: expect.arrayContaining([expect.objectContaining({ role: 'admin', cause: 'ldap_sync', source: 'ldap' })]) }]);
    expect(alice.identities).toEqual([expect.objectContaining({ connector_id: 'ldap', subject: 'alice' })]);
  });

  it('refuses a directory person whose groups no mapping names, and creates nothing (default deny)', async () => {
    // erin is in no group; no rule and no invitation let her in either.
    await expect(signIn(PEOPLE.erin)).rejects.toThrow(/403/);
    expect(await userByEmail(PEOPLE.erin.mail)).toBeUndefined();
    const refused = (await admin<{ events: Json[] }>('GET', '/v1/audit?action=login.failed&limit=100')).body.events;
    expect(refused).toContainEqual(expect.objectContaining({ detail: expect.objectContaining({ reason: 'no_access', email: PEOPLE.erin.mail }) }));
  });

  it('never gives the directory roles to a local account with the same email', async () => {
    // dave (loop-a → member) already has an account here (made by the CLI, no password yet, so his
    // directory password is tried): the directory does not vouch for that account, so nothing links.
    const made = cli(server, ['users', 'add', '--email', PEOPLE.dave.mail]);
    expect(made.status, made.stderr).toBe(0);
    await expect(signIn(PEOPLE.dave)).rejects.toThrow(/403/);
    const refused = (await admin<{ events: Json[] }>('GET', '/v1/audit?action=login.failed&limit=100')).body.events;
    expect(refused).toContainEqual(expect.objectContaining({ detail: expect.objectContaining({ reason: 'account_exists', email: PEOPLE.dave.mail }) }));
    const dave = (await userByEmail(PEOPLE.dave.mail))!;
    expect(dave).toMatchObject({ source: 'local', memberships: [], identities: [] });
  });

  it('a person the directory disables (OpenLDAP filter) loses roles and access; coming back re-enables the account', async () => {
    const tokens = await signIn(PEOPLE.bob);
    expect(await rolesIn(tokens.access_token)).toEqual({ [boot.project.id]: 'viewer' });
    const bobId = (await userByEmail(PEOPLE.bob.mail))!.id;
    // A viewer's token authenticates on /v1 (and is refused for lack of admin:projects there).
    expect((await api(server.url, tokens.access_token)('GET', '/v1/users')).status).toBe(403);

    await slapd.modify(personDn('bob'), [{ operation: 'add', type: 'employeeType', values: ['disabled'] }]);
    await eventually(async () => (await user(bobId)).disabled, 20);
    expect(await user(bobId)).toMatchObject({ disabled: true, deprovisioned: { source: 'ldap', reason: 'disabled' }, memberships: [] });
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await api(server.url, tokens.access_token)('GET', '/v1/users')).status).toBe(401);
    // A disabled directory person cannot sign in either (the same answer as a wrong password).
    await expect(signIn(PEOPLE.bob)).rejects.toThrow(/401/);
    expect(await events('user.deprovisioned', bobId)).toEqual([expect.objectContaining({ actor: expect.objectContaining({ type: 'system', id: 'ldap_sync' }), detail: { source: 'ldap', reason: 'disabled' } })]);

    await slapd.modify(personDn('bob'), [{ operation: 'delete', type: 'employeeType', values: ['disabled'] }]);
    await eventually(async () => !(await user(bobId)).disabled, 20);
    expect(await user(bobId)).toMatchObject({ deprovisioned: null, memberships: [expect.objectContaining({ role: 'viewer' })] });
    expect(await events('user.reprovisioned', bobId)).toHaveLength(1);
    // What was issued before stays void: coming back needs a new sign-in.
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await api(server.url, tokens.access_token)('GET', '/v1/users')).status).toBe(401);
    const again = await signIn(PEOPLE.bob);
    expect(await rolesIn(again.access_token)).toEqual({ [boot.project.id]: 'viewer' });
    expect((await client.refreshTokenGrant(config, again.refresh_token!)).access_token).toBeTruthy();
  });

  it('a person removed from the directory between two syncs loses roles and access; coming back re-enables the account', async () => {
    await slapd.addPerson(FRANK);
    await slapd.modify(groupDn('logtrace-admins'), [{ operation: 'add', type: 'member', values: [personDn('frank')] }]);
    const tokens = await signIn(FRANK);
    expect(await rolesIn(tokens.access_token)).toEqual({ [boot.project.id]: 'admin' });
    const frankId = (await userByEmail(FRANK.mail))!.id;
    const frankApi = api(server.url, tokens.access_token);
    expect((await frankApi('GET', `/v1/projects/${boot.project.id}/members`)).status).toBe(200);
    // The same person in one browser: a dashboard session, and a session at /auth.
    const browser = new CookieJar();
    const signedIn = await browse(browser, `${server.url}/dashboard/login`, { email: FRANK.mail, password: FRANK.password });
    expect(signedIn.status).toBe(200);
    expect(signedIn.url).toMatch(new RegExp(`^${server.url}/dashboard(/settings/|$)`));
    const authorize = () => client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: client.randomPKCECodeVerifier(), code_challenge_method: 'S256' }).href;
    expect((await browse(browser, authorize())).url).toMatch(/[?&]code=/); // signed in: straight back with a code

    // dave leaves first: his local account (never linked to the directory) must be left alone.
    await slapd.del(personDn('dave'));
    await slapd.del(personDn('frank'));
    await eventually(async () => (await user(frankId)).disabled, 20);
    expect(await user(frankId)).toMatchObject({ disabled: true, deprovisioned: { source: 'ldap', reason: 'gone' }, memberships: [] });
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await frankApi('GET', `/v1/projects/${boot.project.id}/members`)).status).toBe(401);
    const dave = (await userByEmail(PEOPLE.dave.mail))!;
    expect(dave).toMatchObject({ source: 'local', disabled: false, memberships: [] });
    expect(await events('user.deprovisioned', dave.id)).toEqual([]);

    // Back in the directory (the group still names the entry): enabled again, roles back.
    await slapd.addPerson(FRANK);
    await eventually(async () => !(await user(frankId)).disabled, 20);
    expect(await user(frankId)).toMatchObject({ deprovisioned: null, memberships: [expect.objectContaining({ role: 'admin' })] });
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    // The browser's sessions ended too: the dashboard signs it out, and /auth asks for a new sign-in.
    const dashboard = await browse(browser, `${server.url}/dashboard`);
    expect(dashboard.url).toBe(`${server.url}/dashboard/signed-out`);
    const again = await browse(browser, authorize());
    expect(again.url).toContain('/interaction/');
    expect(again.body).toMatch(/<form method="post" action="[^"]+\/login"/);
    expect(await rolesIn((await signIn(FRANK)).access_token)).toEqual({ [boot.project.id]: 'admin' });
  });

  it('never re-enables an account an admin disabled, whatever the directory says', async () => {
    // carol (platform-team ∈ logtrace-admins) is disabled by an owner while the directory still lists her.
    await signIn(PEOPLE.carol);
    const carolId = (await userByEmail(PEOPLE.carol.mail))!.id;
    expect((await owner('PATCH', `/v1/users/${carolId}`, { disabled: true })).status).toBe(200);
    // The directory disables her and takes her back: the sync strips and restores her roles, nothing else.
    await slapd.modify(personDn('carol'), [{ operation: 'add', type: 'employeeType', values: ['disabled'] }]);
    await eventually(async () => (await user(carolId)).memberships.length === 0, 20);
    await slapd.modify(personDn('carol'), [{ operation: 'delete', type: 'employeeType', values: ['disabled'] }]);
    await eventually(async () => (await user(carolId)).memberships.length === 1, 20);
    expect(await user(carolId)).toMatchObject({ disabled: true, deprovisioned: null });
    expect(await events('user.deprovisioned', carolId)).toEqual([]);
    expect(await events('user.reprovisioned', carolId)).toEqual([]);

    // alice leaves, is deprovisioned, then an owner disables her by hand: her return does not enable her.
    const aliceId = (await userByEmail(PEOPLE.alice.mail))!.id;
    await slapd.del(personDn('alice'));
    await eventually(async () => (await user(aliceId)).disabled, 20);
    expect((await owner('PATCH', `/v1/users/${aliceId}`, { disabled: true })).body).toMatchObject({ disabled: true, deprovisioned: null });
    await slapd.addPerson(PEOPLE.alice);
    await eventually(async () => (await user(aliceId)).memberships.length === 1, 20);
    expect(await user(aliceId)).toMatchObject({ disabled: true, deprovisioned: null });
    expect(await events('user.reprovisioned', aliceId)).toEqual([]);
    await expect(signIn(PEOPLE.alice)).rejects.toThrow();
  });
});
