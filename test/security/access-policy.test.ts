import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAuthServer, testConfig, type AuthServer } from '../support/auth-server.ts';
import { api, bootstrap, cli, personApi, type Bootstrapped } from '../support/admin.ts';

type Json = Record<string, unknown>;
type Person = Awaited<ReturnType<typeof personApi>>;

/**
 * The one access policy, attacked through its doors as an organisation admin or an admin of another
 * organisation would: every call here was let through before the policy, and must be refused now.
 */
describe('access policy: no privilege escalation through side doors', () => {
  let server: AuthServer;
  let acme: Bootstrapped;
  let globex: Bootstrapped;
  let keyApi: ReturnType<typeof api>;
  let superOwner: Person;
  let acmeOwner: Person;
  let acmeAdmin: Person;
  let globexAdmin: Person;
  let both: Person;

  beforeAll(async () => {
    server = await startAuthServer({
      env: { LOGTRACE_SECRET_KEY: randomBytes(32).toString('base64') },
      config: (port, dataDir) => testConfig(port, { store: { driver: 'embedded', path: dataDir } }),
    });
    acme = bootstrap(server, 'Acme');
    globex = bootstrap(server, 'Globex');
    keyApi = api(server.url, acme.key.key);
    // The operator's owner of both organisations (connections serve them all).
    superOwner = await personApi(server, { email: 'root@acme.test', project: acme.project.id, role: 'owner' });
    superOwner = await personApi(server, { email: 'root@acme.test', project: globex.project.id, role: 'owner', password: superOwner.password });
    acmeOwner = await personApi(server, { email: 'olga@acme.test', project: acme.project.id, role: 'owner' });
    acmeAdmin = await personApi(server, { email: 'adam@acme.test', project: acme.project.id, role: 'admin' });
    globexAdmin = await personApi(server, { email: 'gary@globex.test', project: globex.project.id, role: 'admin' });
    // A person in both organisations: a viewer at Acme, a member at Globex.
    both = await personApi(server, { email: 'bea@acme.test', project: acme.project.id, role: 'viewer' });
    both = await personApi(server, { email: 'bea@acme.test', project: globex.project.id, role: 'member', password: both.password });
  }, 300_000);
  afterAll(async () => {
    await server?.stop();
    await server?.cleanup();
  });

  describe('connections are owner business', () => {
    const yandex = { id: 'ya', type: 'yandex', name: 'Yandex', client_id: 'ya-client', client_secret: 'ya-secret-0123456789', email_domains: ['acme.test'] };

    it('refuses an admin, an API key and the owner of one organisation of two a new connection', async () => {
      for (const who of [acmeAdmin.call, keyApi, acmeOwner.call]) {
        const refused = await who('POST', '/v1/connections', yandex);
        expect(refused.status).toBe(403);
        expect(refused.body).toMatchObject({ code: 'forbidden' });
      }
      expect((await superOwner.call('GET', '/v1/connections')).body).toMatchObject({ connections: [] });
      expect((await superOwner.call('POST', '/v1/connections', yandex)).status).toBe(201);
    });

    it('refuses an admin every field that decides who an account is, and lets them rename, pause and test', async () => {
      for (const change of [{ trust_email: true }, { email_domains: ['evil.test'] }, { client_id: 'attacker-app' }, { require_mfa: false, scopes: ['login:email'] }]) {
        const refused = await acmeAdmin.call('PATCH', '/v1/connections/ya', change);
        expect(refused.status, JSON.stringify(change)).toBe(403);
      }
      const stored = (await acmeAdmin.call<Json>('GET', '/v1/connections/ya')).body;
      expect(stored).toMatchObject({ client_id: 'ya-client', email_domains: ['acme.test'] });
      expect(stored.trust_email).not.toBe(true);
      expect((await acmeAdmin.call('PATCH', '/v1/connections/ya', { name: 'Yandex ID' })).status).toBe(200);
      expect((await acmeAdmin.call('PATCH', '/v1/connections/ya', { enabled: false })).status).toBe(200);
      expect((await acmeAdmin.call('PATCH', '/v1/connections/ya', { enabled: true })).status).toBe(200);
      // Sending a field unchanged is no change of it.
      expect((await acmeAdmin.call('PATCH', '/v1/connections/ya', { client_id: 'ya-client', name: 'Yandex' })).status).toBe(200);
      expect((await acmeAdmin.call('POST', '/v1/connections/ya/test')).status).toBe(200);
      expect((await acmeAdmin.call('DELETE', '/v1/connections/ya')).status).toBe(403);
      expect((await globexAdmin.call('DELETE', '/v1/connections/ya')).status).toBe(403);
    });

    it('lets the owner of every organisation repoint and delete it', async () => {
      expect((await superOwner.call('PATCH', '/v1/connections/ya', { trust_email: true })).status).toBe(200);
      expect((await superOwner.call('DELETE', '/v1/connections/ya')).status).toBe(204);
    });
  });

  describe('owners are changed only by owners', () => {
    it('refuses an admin disabling, renaming or demoting an owner', async () => {
      expect((await acmeAdmin.call('PATCH', `/v1/users/${acmeOwner.user.id}`, { disabled: true })).status).toBe(403);
      expect((await acmeAdmin.call('PATCH', `/v1/users/${acmeOwner.user.id}`, { name: 'Not Olga' })).status).toBe(403);
      expect((await keyApi('PATCH', `/v1/users/${acmeOwner.user.id}`, { disabled: true })).status).toBe(403);
      expect((await acmeAdmin.call('PUT', `/v1/projects/${acme.project.id}/members/${acmeOwner.user.id}`, { role: 'viewer' })).status).toBe(403);
      expect((await acmeAdmin.call('DELETE', `/v1/projects/${acme.project.id}/members/${acmeOwner.user.id}`)).status).toBe(403);
      const olga = (await acmeOwner.call<Json>('GET', `/v1/users/${acmeOwner.user.id}`)).body;
      expect(olga).toMatchObject({ disabled: false, memberships: [{ project_id: acme.project.id, role: 'owner' }] });
      // Olga's session still works: nobody disabled her.
      expect((await acmeOwner.call('GET', `/v1/projects/${acme.project.id}/members`)).status).toBe(200);
    });

    it('refuses an admin making anyone owner by a grant, an invitation, a mapping or a rule', async () => {
      expect((await acmeAdmin.call('PUT', `/v1/projects/${acme.project.id}/members/${acmeAdmin.user.id}`, { role: 'owner' })).status).toBe(403);
      expect((await acmeAdmin.call('POST', `/v1/projects/${acme.project.id}/invitations`, { email: 'new@acme.test', role: 'owner' })).status).toBe(403);
      expect((await acmeAdmin.call('POST', '/v1/provisioning-rules', { email_domain: 'acme.test', project_id: acme.project.id, role: 'owner' })).status).toBe(403);
      expect((await acmeAdmin.call<Json>('GET', `/v1/users/${acmeAdmin.user.id}`)).body).toMatchObject({ memberships: [{ role: 'admin' }] });
    });

    it('lets an owner change an owner', async () => {
      expect((await superOwner.call('PATCH', `/v1/users/${acmeOwner.user.id}`, { name: 'Olga O.' })).status).toBe(200);
    });
  });

  describe('rotation needs what creation needs', () => {
    it('refuses a key without write:alerts rotating (re-minting) a key that holds it', async () => {
      const full = await keyApi<Json>('POST', '/v1/keys', { project_id: acme.project.id, name: 'ingest', scopes: ['read:logs', 'write:alerts'], environment: 'live' });
      const adminOnly = await keyApi<Json>('POST', '/v1/keys', { project_id: acme.project.id, name: 'admin-only', scopes: ['admin:projects'], environment: 'live' });
      expect(full.status).toBe(201);
      const attacker = api(server.url, String(adminOnly.body.key));
      expect((await attacker('POST', '/v1/keys', { project_id: acme.project.id, name: 'x', scopes: ['write:alerts'], environment: 'live' })).status).toBe(403);
      const rotated = await attacker('POST', '/v1/keys/rotate', { id: full.body.id, grace_seconds: 0 });
      expect(rotated.status).toBe(403);
      expect(rotated.body).toMatchObject({ code: 'forbidden', field: 'scopes' });
      expect(JSON.stringify(rotated.body)).not.toContain('lt_live_');
      // The key was not rotated: it still verifies.
      const verified = await fetch(`${server.url}/v1/keys/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: full.body.key }) });
      expect(await verified.json()).toMatchObject({ valid: true });
      // Its holder may still revoke a key of its project (revoking escalates nothing).
      expect((await attacker('DELETE', `/v1/keys/${String(full.body.id)}`)).status).toBe(200);
    });

    it('refuses a person whose token lacks a scope rotating a key with it', async () => {
      const key = await keyApi<Json>('POST', '/v1/keys', { project_id: acme.project.id, name: 'alerts', scopes: ['write:alerts'], environment: 'test' });
      // An admin's token asked for admin:projects only.
      const narrow = cli(server, ['users', 'add', '--email', 'nia@acme.test', '--project', acme.project.id, '--role', 'admin', '--password-stdin', '--json'], 'nia-password-0123456789\n');
      expect(narrow.status, narrow.stderr).toBe(0);
      const { codeFlowTokens, discover } = await import('../support/http-login.ts');
      const tokens = await codeFlowTokens(await discover(server.url, 'admin-console'), { email: 'nia@acme.test', password: 'nia-password-0123456789', scope: 'openid admin:projects' });
      const nia = api(server.url, tokens.access_token);
      expect((await nia('POST', '/v1/keys/rotate', { id: key.body.id })).status).toBe(403);
    });
  });

  describe('another organisation sees nothing', () => {
    it('lists and reads only the accounts of the organisations the caller administers', async () => {
      const listed = (await globexAdmin.call<{ users: Json[] }>('GET', '/v1/users')).body.users.map((u) => u.email);
      expect(listed).toEqual(expect.arrayContaining(['gary@globex.test', 'bea@acme.test', 'root@acme.test']));
      expect(listed).not.toContain('olga@acme.test');
      expect(listed).not.toContain('adam@acme.test');
      // Static accounts with no role belong to no organisation: only an admin of every organisation sees them.
      expect(listed).not.toContain('alice@example.com');
      expect((await superOwner.call<{ users: Json[] }>('GET', '/v1/users')).body.users.map((u) => u.email)).toContain('alice@example.com');
      const read = await globexAdmin.call('GET', `/v1/users/${acmeOwner.user.id}`);
      expect(read.status).toBe(404);
      // Bea is visible to Globex, but only her Globex membership is shown.
      const bea = (await globexAdmin.call<{ memberships: Json[] }>('GET', `/v1/users/${both.user.id}`)).body;
      expect(bea.memberships).toEqual([expect.objectContaining({ project_id: globex.project.id })]);
    });

    it('never names another organisation in a refusal', async () => {
      const refused = await globexAdmin.call('PATCH', `/v1/users/${both.user.id}`, { name: 'B' });
      expect(refused.status).toBe(403);
      expect(JSON.stringify(refused.body)).not.toContain(acme.project.id);
      // A key found by its id: refused without naming the project it belongs to.
      const acmeKey = await keyApi<Json>('POST', '/v1/keys', { project_id: acme.project.id, name: 'acme-only', scopes: ['read:logs'], environment: 'live' });
      for (const [method, path, body] of [['GET', `/v1/keys/${String(acmeKey.body.id)}`], ['GET', `/v1/keys/${String(acmeKey.body.id)}/usage`], ['POST', '/v1/keys/rotate', { id: acmeKey.body.id }], ['DELETE', `/v1/keys/${String(acmeKey.body.id)}`]] as const) {
        const answer = await globexAdmin.call(method, path, body);
        expect(answer.status, `${method} ${path}`).toBe(403);
        expect(JSON.stringify(answer.body)).not.toContain(acme.project.id);
      }
      const invite = await globexAdmin.call('POST', `/v1/projects/${globex.project.id}/invitations`, { email: 'olga@acme.test', role: 'viewer' });
      expect(invite.status).toBe(409);
      expect(JSON.stringify(invite.body)).not.toContain(acmeOwner.user.id);
    });

    it('shows another organisation neither its sign-ins nor its admin actions', async () => {
      const seen = (await globexAdmin.call<{ events: Json[] }>('GET', '/v1/audit?limit=1000')).body.events;
      const about = (e: Json) => JSON.stringify(e);
      expect(seen.some((e) => e.action === 'login.succeeded' && about(e).includes(globexAdmin.user.id))).toBe(true);
      // (Gary's own failed reads of Acme's ids are his events, so they are his to see.)
      const others = seen.filter((e) => (e.actor as Json).id !== globexAdmin.user.id);
      expect(others.filter((e) => about(e).includes(acmeOwner.user.id) || about(e).includes(acmeAdmin.user.id)).map(about)).toEqual([]);
      expect(seen.filter((e) => e.project_id === acme.project.id)).toEqual([]);
      const acmeSeen = (await acmeOwner.call<{ events: Json[] }>('GET', '/v1/audit?limit=1000')).body.events;
      expect(acmeSeen.some((e) => e.action === 'login.succeeded' && about(e).includes(acmeOwner.user.id))).toBe(true);
      expect((await globexAdmin.call('GET', `/v1/audit?project_id=${acme.project.id}`)).status).toBe(403);
    });
  });
});
