import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { parse, stringify } from 'yaml';
import { startAuthServer, testConfig, REDIRECT_URI, TEST_PASSWORD, TEST_PASSWORD_HASH, type AuthServer } from '../support/auth-server.ts';
import { codeFlowTokens, discover } from '../support/http-login.ts';
import { api, bootstrap, cli, type Bootstrapped } from '../support/admin.ts';
import { freePort } from '../support/ports.ts';
import { federatedSignIn as walkFederatedSignIn } from '../support/federated-login.ts';
import { startFakeOidc, type FakeOidc, type FakeOidcSignIn } from '../support/fake-idps/oidc.ts';
import { startFakeVk, type FakeVk, type VkUser } from '../support/fake-idps/vk.ts';
import { directorySettings, startSlapd, PEOPLE, groupDn, personDn, type SlapdServer } from '../support/slapd.ts';
import { eventually } from '../support/wait.ts';
import { openStore, type Store } from '../../src/store/index.ts';

type Json = Record<string, unknown>;
const ALL = 'openid email profile offline_access read:logs write:alerts admin:projects';
const consoleClient = { client_id: 'console', token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: [REDIRECT_URI], scope: ALL };

type Outcome = { ok: true; sub: string; roles: Record<string, string>; refreshToken: string | undefined } | { ok: false; status: number; text: string };

/**
 * A federated sign-in over plain HTTP as a browser makes it (test/support/federated-login.ts), reduced to
 * what these tests compare: the subject and the roles of the access token, or the refusal.
 */
async function federatedSignIn(server: AuthServer, connectorId: string, beforeDecision?: () => Promise<void>): Promise<Outcome> {
  const outcome = await walkFederatedSignIn(await discover(server.url, 'console'), connectorId, ALL, beforeDecision);
  if (!outcome.ok) return { ok: false, status: outcome.status, text: outcome.body };
  const { payload } = await jwtVerify(outcome.tokens.access_token, createRemoteJWKSet(new URL(`${server.url}/jwks`)), { issuer: server.url });
  return { ok: true, sub: String(payload.sub), roles: (payload.project_roles ?? {}) as Record<string, string>, refreshToken: outcome.tokens.refresh_token };
}

describe('identity linking: emails, issuers, IdP groups (through HTTP, real server, real upstreams)', () => {
  let server: AuthServer;
  let upstream: FakeOidc;
  let other: FakeOidc;
  let vk: FakeVk;
  let boot: Bootstrapped;
  let admin: ReturnType<typeof api>;
  let owner: ReturnType<typeof api>;
  let store: Store;
  const secret = `upstream-secret-${randomBytes(8).toString('hex')}`;
  const dataDir = () => path.join(path.dirname(server.configPath), 'data');

  const userByEmail = async (email: string) => (await admin<{ users: Json[] }>('GET', '/v1/users')).body.users.find((u) => u.email === email);
  const userDetail = async (id: string) => (await admin<{ identities: Json[]; memberships: Json[] }>('GET', `/v1/users/${id}`)).body;

  beforeAll(async () => {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const redirectUris = ['corp', 'kc', 'kcs'].map((id) => `${issuer}/federation/${id}/callback`);
    // Two upstreams that could be confused for each other: same client id and secret, same subjects.
    [upstream, other, vk] = await Promise.all([startFakeOidc({ redirectUris, clientSecret: secret }), startFakeOidc({ redirectUris, clientSecret: secret }), startFakeVk()]);
    server = await startAuthServer({
      port,
      env: { LOGTRACE_SECRET_KEY: randomBytes(32).toString('base64') },
      config: (p, dir) => {
        const base = testConfig(p, { store: { driver: 'embedded', path: dir } });
        return {
          ...base,
          clients: [...(base.clients as Json[]), consoleClient],
          users: [
            ...(base.users as Json[]),
            { email: 'victim@corp.example', name: 'Victim', password_hash: TEST_PASSWORD_HASH },
            { email: 'olga@vk.example', name: 'Olga', password_hash: TEST_PASSWORD_HASH },
            { email: 'dora@kc.example', name: 'Dora (local)', password_hash: TEST_PASSWORD_HASH },
          ],
          connectors: [
            // trust_email: an existing account may be linked by an email this upstream reports verified.
            { id: 'corp', type: 'oidc', issuer: upstream.url, client_id: upstream.clientId, client_secret: secret, scopes: ['openid', 'email', 'profile', 'groups'], trust_email: true },
            { id: 'vk', type: 'vk', client_id: vk.clientId, trust_email: true, endpoints: { authorization: `${vk.url}/authorize`, token: `${vk.url}/oauth2/auth`, userinfo: `${vk.url}/oauth2/user_info` } },
          ],
          provisioning: { rules: [{ email_domain: 'kc.example', connectors: ['kc'] }, { email_domain: 'corp.example', connectors: ['corp'] }] },
        };
      },
    });
    boot = bootstrap(server);
    admin = api(server.url, boot.key.key);
    const added = cli(server, ['users', 'add', '--email', 'owner@example.com', '--name', 'Owner', '--project', boot.project.id, '--role', 'owner', '--password-stdin'], TEST_PASSWORD);
    expect(added.status, added.stderr).toBe(0);
    owner = api(server.url, (await codeFlowTokens(await discover(server.url, 'console'), { email: 'owner@example.com', password: TEST_PASSWORD, scope: ALL })).access_token);
    expect((await admin('POST', '/v1/role-mappings', { source: 'corp', group: 'logtrace-admins', project_id: boot.project.id, role: 'admin' })).status).toBe(201);
    store = await openStore({ driver: 'embedded', path: dataDir() });
  });
  afterAll(async () => {
    await store?.close();
    await server?.stop();
    await server?.cleanup();
    await Promise.all([upstream?.close(), other?.close(), vk?.close()]);
  });

  it('trust_email never overrides email_verified: false — no link to the existing account, and no IdP group roles for it', async () => {
    const victim = (await userByEmail('victim@corp.example'))!;
    // Anyone can register the victim's address at the upstream; the upstream says it is not verified.
    upstream.nextSignIn({ accountId: 'attacker-1', claims: { email: 'victim@corp.example', email_verified: false, name: 'Mallory', groups: ['logtrace-admins'] }, amr: ['pwd'] });
    const outcome = await federatedSignIn(server, 'corp');
    expect(outcome).toMatchObject({ ok: false, status: 403 });
    expect(outcome.ok ? '' : outcome.text).toContain('did not confirm your email address');
    const detail = await userDetail(String(victim.id));
    expect(detail.identities).toEqual([]);
    expect(detail.memberships).toEqual([]);
    const events = (await admin<{ events: Json[] }>('GET', '/v1/audit?action=login.failed&limit=100')).body.events;
    expect(events).toContainEqual(expect.objectContaining({ detail: expect.objectContaining({ connector: 'corp', reason: 'email_unverified', email: 'victim@corp.example' }) }));
  });

  it('the same upstream verifying the address links it (trust_email), and only then do its groups give roles', async () => {
    const victim = (await userByEmail('victim@corp.example'))!;
    upstream.nextSignIn({ accountId: 'victim-1', claims: { email: 'victim@corp.example', email_verified: true, name: 'Victim', groups: ['logtrace-admins'] }, amr: ['pwd'] });
    const outcome = await federatedSignIn(server, 'corp');
    expect(outcome).toMatchObject({ ok: true, sub: victim.id, roles: { [boot.project.id]: 'admin' } });
    expect((await userDetail(String(victim.id))).identities).toEqual([expect.objectContaining({ connector_id: 'corp', subject: 'victim-1', issuer: upstream.url })]);
  });

  it('IdP groups of a sign-in whose email is a local account\'s land nowhere unless that account is linked to that subject', async () => {
    // kc: no trust_email. The IdP person claims a local account's verified address and the admins group.
    expect((await owner('POST', '/v1/connections', { id: 'kc', type: 'oidc', issuer: upstream.url, client_id: upstream.clientId, client_secret: secret, scopes: ['openid', 'email', 'profile', 'groups'] })).status).toBe(201);
    expect((await admin('POST', '/v1/role-mappings', { source: 'kc', group: 'logtrace-admins', project_id: boot.project.id, role: 'admin' })).status).toBe(201);
    const local = (await userByEmail('dora@kc.example'))!;
    upstream.nextSignIn({ accountId: 'kc-dora-lookalike', claims: { email: 'dora@kc.example', email_verified: true, name: 'Not Dora', groups: ['logtrace-admins'] }, amr: ['pwd'] });
    const outcome = await federatedSignIn(server, 'kc');
    expect(outcome).toMatchObject({ ok: false, status: 403 });
    expect(outcome.ok ? '' : outcome.text).toContain('already exists');
    expect(await userDetail(String(local.id))).toMatchObject({ identities: [], memberships: [] });
  });

  it('VK with trust_email still links a verified-looking address; a malformed one is never verified', async () => {
    const olga = (await userByEmail('olga@vk.example'))!;
    const person: VkUser = { user_id: '4242', first_name: 'Olga', last_name: 'V', email: 'olga@vk.example' };
    vk.nextSignIn(person);
    expect(await federatedSignIn(server, 'vk')).toMatchObject({ ok: true, sub: olga.id });
    const before = (await admin<{ users: Json[] }>('GET', '/v1/users')).body.users.length;
    vk.nextSignIn({ user_id: '4343', first_name: 'Odd', last_name: 'One', email: 'olga at vk.example' });
    expect(await federatedSignIn(server, 'vk')).toMatchObject({ ok: false, status: 403 });
    expect((await admin<{ users: Json[] }>('GET', '/v1/users')).body.users.length).toBe(before);
  });

  it('repointing a connection (PATCH issuer, as owner, secret resent) does not inherit its links: the same sub is somebody else', async () => {
    const first: FakeOidcSignIn = { accountId: 'sub-7', claims: { email: 'kim@kc.example', email_verified: true, name: 'Kim' }, amr: ['pwd'] };
    upstream.nextSignIn(first);
    const kim = await federatedSignIn(server, 'kc');
    if (!kim.ok) throw new Error(`kim could not sign in: ${kim.status}`);

    const patched = await owner('PATCH', '/v1/connections/kc', { issuer: other.url, client_secret: secret });
    expect(patched.status).toBe(200);
    // The other upstream issues the same subject, with kim's own (verified) address: refused, not kim.
    other.nextSignIn({ ...first, claims: { ...first.claims, name: 'Impostor' } });
    const impostor = await federatedSignIn(server, 'kc');
    expect(impostor).toMatchObject({ ok: false, status: 403 });
    expect(impostor.ok ? '' : impostor.text).toContain('already exists');
    // With an address of its own it is a new person (the provisioning rule lets kc.example in).
    other.nextSignIn({ accountId: 'sub-7', claims: { email: 'lee@kc.example', email_verified: true, name: 'Lee' }, amr: ['pwd'] });
    const lee = await federatedSignIn(server, 'kc');
    expect(lee).toMatchObject({ ok: true });
    expect(lee.ok && lee.sub).not.toBe(kim.sub);

    // An answer of the other upstream that lands as the connection is pointed back is not taken for one
    // of the first upstream's: start again.
    other.nextSignIn({ ...first, claims: { ...first.claims, name: 'Impostor' } });
    const late = await federatedSignIn(server, 'kc', async () => {
      expect((await owner('PATCH', '/v1/connections/kc', { issuer: upstream.url, client_secret: secret })).status).toBe(200);
    });
    expect(late).toMatchObject({ ok: false, status: 403 });
    expect(late.ok ? '' : late.text).toContain('expired or was already used');

    // Pointed back, the link made with the first issuer is kim's again.
    upstream.nextSignIn(first);
    expect(await federatedSignIn(server, 'kc')).toMatchObject({ ok: true, sub: kim.sub });
    expect((await userDetail(kim.sub)).identities).toEqual([expect.objectContaining({ connector_id: 'kc', subject: 'sub-7', issuer: upstream.url })]);
  });

  it('check_upstream_on_refresh never sends an upstream refresh token to the upstream the connection was pointed at since', async () => {
    expect((await owner('POST', '/v1/connections', { id: 'kcs', type: 'oidc', issuer: upstream.url, client_id: upstream.clientId, client_secret: secret, scopes: ['openid', 'email', 'profile', 'offline_access'], prompt: 'consent', check_upstream_on_refresh: true })).status).toBe(201);
    expect((await admin('POST', '/v1/provisioning-rules', { email_domain: 'sess.example', connectors: ['kcs'] })).status).toBe(201);
    upstream.nextSignIn({ accountId: 'sess-1', claims: { email: 'sam@sess.example', email_verified: true, name: 'Sam' }, amr: ['pwd'] });
    const signedIn = await federatedSignIn(server, 'kcs');
    if (!signedIn.ok || !signedIn.refreshToken) throw new Error('sam could not sign in with a refresh token');
    const config = await discover(server.url, 'console');
    const refreshed = await client.refreshTokenGrant(config, signedIn.refreshToken);

    expect((await owner('PATCH', '/v1/connections/kcs', { issuer: other.url, client_secret: secret })).status).toBe(200);
    const otherTokenCalls = other.hits('/token');
    await expect(client.refreshTokenGrant(config, refreshed.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(other.hits('/token')).toBe(otherTokenCalls);
    const events = (await admin<{ events: Json[] }>('GET', '/v1/audit?action=session.upstream_revoked')).body.events;
    expect(events).toContainEqual(expect.objectContaining({ actor: { type: 'system', id: 'kcs' }, detail: expect.objectContaining({ reason: 'access_denied' }) }));
  });

  /** A link as versions before issuers were recorded wrote it (src/directory/identities.ts, legacy layout). */
  async function writeLegacyLink(connectorId: string, subject: string, userId: string): Promise<void> {
    const key = `identity:{${connectorId}:${subject}}`;
    const now = new Date().toISOString();
    // Two entities, so two writes (a batch stays within one hash tag, as on Redis Cluster).
    await store.put(key, { user_id: userId, connector_id: connectorId, subject, email: null, groups: [], linked_at: now, last_login_at: now });
    await store.sadd(`identity:user:{${userId}}`, [key]);
  }

  it('a link made before issuers were recorded keeps working for the unchanged connection, and records its issuer', async () => {
    const bob = (await userByEmail('bob@example.com'))!;
    await writeLegacyLink('corp', 'legacy-bob', String(bob.id));
    upstream.nextSignIn({ accountId: 'legacy-bob', claims: { email: 'bob.upstream@corp.example', email_verified: true, name: 'Bob' }, amr: ['pwd'] });
    expect(await federatedSignIn(server, 'corp')).toMatchObject({ ok: true, sub: bob.id });
    expect((await userDetail(String(bob.id))).identities).toEqual([expect.objectContaining({ connector_id: 'corp', subject: 'legacy-bob', issuer: upstream.url })]);
  });

  it('a link made before issuers were recorded is not inherited by the connection pointed at another upstream', async () => {
    const alice = (await userByEmail('alice@example.com'))!;
    await writeLegacyLink('corp', 'legacy-alice', String(alice.id));
    await store.close();
    // The operator repoints `corp` in the configuration file and restarts.
    await server.stop();
    const config = parse(await readFile(server.configPath, 'utf8')) as Json;
    const connectors = config.connectors as Json[];
    connectors[0] = { ...connectors[0], issuer: other.url };
    await writeFile(server.configPath, stringify(config));
    await server.start();
    store = await openStore({ driver: 'embedded', path: dataDir() });

    other.nextSignIn({ accountId: 'legacy-alice', claims: { email: 'not.alice@corp.example', email_verified: true, name: 'Impostor' }, amr: ['pwd'] });
    const outcome = await federatedSignIn(server, 'corp');
    expect(outcome).toMatchObject({ ok: true });
    expect(outcome.ok && outcome.sub).not.toBe(alice.id);
    // The link recorded with an issuer earlier (victim, through the first upstream) is not inherited either.
    other.nextSignIn({ accountId: 'victim-1', claims: { email: 'someone@corp.example', email_verified: true, name: 'Impostor' }, amr: ['pwd'] });
    const victim = (await userByEmail('victim@corp.example'))!;
    const second = await federatedSignIn(server, 'corp');
    expect(second.ok && second.sub).not.toBe(victim.id);
  });
});

describe('directory roles land only on the directory identity (real slapd)', () => {
  let slapd: SlapdServer;
  let server: AuthServer;
  let boot: Bootstrapped;
  let admin: ReturnType<typeof api>;
  let config: client.Configuration;
  const newhire = { uid: 'newhire', cn: 'New Hire', mail: 'newhire@acme.ru', password: 'directory-pass' };
  const rolesOf = async (email: string) => {
    const users = (await admin<{ users: Json[] }>('GET', '/v1/users')).body.users;
    const user = users.find((u) => u.email === email);
    if (!user) return undefined;
    const detail = (await admin<{ memberships: Array<{ project_id: string; role: string }> }>('GET', `/v1/users/${String(user.id)}`)).body;
    return Object.fromEntries(detail.memberships.map((m) => [m.project_id, m.role]));
  };

  beforeAll(async () => {
    slapd = await startSlapd();
    server = await startAuthServer({
      config: (port, dataDir) => {
        const base = testConfig(port, { store: { driver: 'embedded', path: dataDir } });
        return {
          ...base,
          clients: [...(base.clients as Json[]), consoleClient],
          ldap: directorySettings(slapd.url, { sync_interval_seconds: 1, timeout_ms: 1500 }),
          connectors: [{ id: 'ldap', type: 'ldap', name: 'Corporate account' }],
          provisioning: { rules: [{ email_domain: 'acme.ru', connectors: ['ldap'] }] },
        };
      },
    });
    boot = bootstrap(server);
    admin = api(server.url, boot.key.key);
    config = await discover(server.url, 'console');
    const added = cli(server, ['users', 'add', '--email', 'owner@example.com', '--name', 'Owner', '--project', boot.project.id, '--role', 'owner', '--password-stdin'], TEST_PASSWORD);
    expect(added.status, added.stderr).toBe(0);
    const owner = api(server.url, (await codeFlowTokens(config, { email: 'owner@example.com', password: TEST_PASSWORD, scope: ALL })).access_token);
    expect((await owner('POST', '/v1/role-mappings', { source: 'ldap', group: 'logtrace-admins', project_id: boot.project.id, role: 'owner' })).status).toBe(201);
    expect((await owner('POST', '/v1/role-mappings', { source: 'ldap', group: 'logtrace-viewers', project_id: boot.project.id, role: 'viewer' })).status).toBe(201);
  });
  afterAll(async () => {
    await server?.stop();
    await server?.cleanup();
    await slapd?.dispose();
  });

  it('an invited password account with a directory admin\'s email does not become owner at the next sync', async () => {
    // In the directory, newhire@acme.ru is in logtrace-admins (mapped to owner).
    await slapd.addPerson(newhire);
    await slapd.modify(groupDn('logtrace-admins'), [{ operation: 'add', type: 'member', values: [personDn(newhire.uid)] }]);
    // An admin invites newhire@acme.ru as viewer; whoever holds the link sets a password.
    const invited = await admin<{ url: string }>('POST', `/v1/projects/${boot.project.id}/invitations`, { email: newhire.mail, role: 'viewer' });
    expect(invited.status).toBe(201);
    const accepted = await fetch(invited.body.url, {
      method: 'POST',
      headers: { origin: server.url, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ name: 'New Hire', password: 'a-password-of-my-own', confirm: 'a-password-of-my-own' }).toString(),
    });
    expect(accepted.status).toBe(200);
    expect(await rolesOf(newhire.mail)).toEqual({ [boot.project.id]: 'viewer' });

    // A sync pass that certainly ran after the account existed: bob signs in through LDAP (linked, viewer),
    // then joins logtrace-admins in the directory, and the sync makes him owner.
    const bobTokens = await codeFlowTokens(config, { email: PEOPLE.bob.mail, password: PEOPLE.bob.password, scope: ALL });
    expect((await jwtVerify(bobTokens.access_token, createRemoteJWKSet(new URL(`${server.url}/jwks`)))).payload.project_roles).toEqual({ [boot.project.id]: 'viewer' });
    await slapd.modify(groupDn('logtrace-admins'), [{ operation: 'add', type: 'member', values: [personDn('bob')] }]);
    await eventually(async () => (await rolesOf(PEOPLE.bob.mail))?.[boot.project.id] === 'owner', 15);

    // The password account only has the same email: the directory's roles are not its.
    expect(await rolesOf(newhire.mail)).toEqual({ [boot.project.id]: 'viewer' });
    const tokens = await codeFlowTokens(config, { email: newhire.mail, password: 'a-password-of-my-own', scope: ALL });
    expect((await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${server.url}/jwks`)))).payload.project_roles).toEqual({ [boot.project.id]: 'viewer' });
  });

  it('the directory person signing in through LDAP is refused while the password account holds the address, and gains it nothing', async () => {
    // The sign-in form checks the local account first; its password is not the directory's, and a
    // directory sign-in is never linked to an account that has a password of its own.
    await expect(codeFlowTokens(config, { email: newhire.mail, password: newhire.password })).rejects.toThrow(/401/);
    const users = (await admin<{ users: Json[] }>('GET', '/v1/users')).body.users;
    const account = users.find((u) => u.email === newhire.mail)!;
    expect((await admin<{ identities: Json[] }>('GET', `/v1/users/${String(account.id)}`)).body.identities).toEqual([]);
    expect(await rolesOf(newhire.mail)).toEqual({ [boot.project.id]: 'viewer' });
  });

  it('a directory person linked through LDAP sign-in keeps getting the directory\'s roles from the sync', async () => {
    const tokens = await codeFlowTokens(config, { email: PEOPLE.erin.mail, password: PEOPLE.erin.password, scope: ALL });
    expect((await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${server.url}/jwks`)))).payload.project_roles).toEqual({});
    await slapd.modify(groupDn('logtrace-viewers'), [{ operation: 'add', type: 'member', values: [personDn('erin')] }]);
    await eventually(async () => (await rolesOf(PEOPLE.erin.mail))?.[boot.project.id] === 'viewer', 15);
  });
});
