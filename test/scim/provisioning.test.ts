import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startAuthServer, testConfig, TEST_PASSWORD_HASH, type AuthServer } from '../support/auth-server.ts';
import { discover } from '../support/http-login.ts';
import { api, bootstrap, personApi, ADMIN_SCOPES, type Bootstrapped } from '../support/admin.ts';
import { freePort } from '../support/ports.ts';
import { federatedSignIn as walkFederatedSignIn } from '../support/federated-login.ts';
import { startFakeOidc, type FakeOidc } from '../support/fake-idps/oidc.ts';

type Json = Record<string, unknown>;
const FIXTURES = path.join(import.meta.dirname, 'fixtures');

interface Step {
  name: string;
  method: string;
  path: string;
  body?: unknown;
  capture?: string;
  expect: { status: number; body?: Json; absent?: string[] };
  then?: 'member-admin' | 'member-none' | 'account-disabled' | 'account-enabled';
}

/** A SCIM client over HTTP with one bearer token (Entra ID and Okta both send application/scim+json). */
function scimClient(baseUrl: string, token: string | undefined, contentType = 'application/scim+json') {
  return async function call(method: string, path: string, body?: unknown, raw?: string): Promise<{ status: number; type: string | null; body: Json }> {
    const headers: Record<string, string> = { accept: 'application/scim+json', 'user-agent': 'Okta SCIM Client 1.0.0' };
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined || raw !== undefined) headers['content-type'] = contentType;
    const response = await fetch(`${baseUrl}/scim/v2${path.replaceAll(' ', '%20').replaceAll('"', '%22')}`, { method, headers, body: raw ?? (body === undefined ? undefined : JSON.stringify(body)) });
    const text = await response.text();
    return { status: response.status, type: response.headers.get('content-type'), body: (text ? JSON.parse(text) : {}) as Json };
  };
}

/** `${name}` placeholders in a fixture (paths and bodies) replaced by the ids captured so far. */
function fill<T>(value: T, captured: Map<string, string>): T {
  return JSON.parse(JSON.stringify(value).replace(/\$\{(\w+)\}/g, (all, name: string) => captured.get(name) ?? all)) as T;
}

type Outcome = { ok: true; sub: string; roles: Record<string, string>; refreshToken: string | undefined } | { ok: false; status: number; text: string };

/**
 * A federated sign-in over plain HTTP as a browser makes it (test/support/federated-login.ts), reduced to
 * what these tests compare: the subject and the roles of the access token, or the refusal.
 */
async function federatedSignIn(server: AuthServer, connectorId: string): Promise<Outcome> {
  const outcome = await walkFederatedSignIn(await discover(server.url, 'admin-console'), connectorId, ADMIN_SCOPES);
  if (!outcome.ok) return { ok: false, status: outcome.status, text: outcome.body };
  const { payload } = await jwtVerify(outcome.tokens.access_token, createRemoteJWKSet(new URL(`${server.url}/jwks`)), { issuer: server.url });
  return { ok: true, sub: String(payload.sub), roles: (payload.project_roles ?? {}) as Record<string, string>, refreshToken: outcome.tokens.refresh_token };
}

describe('SCIM 2.0 provisioning (real server over HTTP, Entra ID and Okta request sequences, fake OIDC upstream)', () => {
  let server: AuthServer;
  let upstream: FakeOidc;
  let boot: Bootstrapped;
  let admin: ReturnType<typeof api>;
  let owner: Awaited<ReturnType<typeof personApi>>;
  let entraToken: string;
  let oktaToken: string;

  const account = async (id: string) => (await admin<Json & { memberships: Array<{ project_id: string; role: string; causes: Json[] }>; disabled: boolean; identities: Json[] }>('GET', `/v1/users/${id}`)).body;

  beforeAll(async () => {
    const port = await freePort();
    upstream = await startFakeOidc({ redirectUris: [`http://127.0.0.1:${port}/federation/corp/callback`] });
    server = await startAuthServer({
      port,
      config: (p, dir) => ({
        ...testConfig(p, { store: { driver: 'embedded', path: dir } }),
        users: [{ email: 'local@corp.example', name: 'Local', password_hash: TEST_PASSWORD_HASH }],
        // No trust_email: a SCIM connection vouches for the people it provisions, nobody else is linked by email.
        connectors: [{ id: 'corp', type: 'oidc', issuer: upstream.url, client_id: upstream.clientId, client_secret: upstream.clientSecret, scopes: ['openid', 'email', 'profile'] }],
      }),
    });
    boot = bootstrap(server);
    admin = api(server.url, boot.key.key);
    owner = await personApi(server, { email: 'owner@example.com', project: boot.project.id, role: 'owner' });
    const entra = await owner.call<Json>('POST', '/v1/connections', { id: 'entra-scim', type: 'scim', connector: 'corp' });
    expect(entra.status, JSON.stringify(entra.body)).toBe(201);
    entraToken = String(entra.body.token);
    const okta = await owner.call<Json>('POST', '/v1/connections', { id: 'okta-scim', type: 'scim', name: 'Okta', connector: 'corp' });
    expect(okta.status, JSON.stringify(okta.body)).toBe(201);
    oktaToken = String(okta.body.token);
    const mapping = await admin('POST', '/v1/role-mappings', { source: 'entra-scim', group: 'logtrace-admins', project_id: boot.project.id, role: 'admin' });
    expect(mapping.status, JSON.stringify(mapping.body)).toBe(201);
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    await server?.cleanup();
    await upstream?.close();
  });

  describe('SCIM connections in the admin API', () => {
    it('the token is shown once, prefixed and long; the connection shows no token or hash afterwards', async () => {
      expect(entraToken).toMatch(/^lts_scim_[A-Za-z0-9_-]{43}$/);
      const shown = await owner.call<Json>('GET', '/v1/connections/entra-scim');
      expect(shown.status).toBe(200);
      expect(shown.body).toMatchObject({ id: 'entra-scim', type: 'scim', connector: 'corp', enabled: true });
      expect(JSON.stringify(shown.body)).not.toMatch(/token|lts_scim_/);
      const tested = await owner.call<Json>('POST', '/v1/connections/entra-scim/test');
      expect(tested.body).toMatchObject({ ok: true });
    });

    it('creating or rotating one is owner business; a bad connector or an unknown field is a clear 400', async () => {
      expect((await admin('POST', '/v1/connections', { id: 'sneaky-scim', type: 'scim', connector: 'corp' })).status).toBe(403);
      expect((await admin('POST', '/v1/connections/entra-scim/token/rotate')).status).toBe(403);
      const noConnector = await owner.call<Json>('POST', '/v1/connections', { id: 'x-scim', type: 'scim', connector: 'nope' });
      expect(noConnector).toMatchObject({ status: 400, body: { field: 'connector' } });
      const tiedToScim = await owner.call<Json>('POST', '/v1/connections', { id: 'x-scim', type: 'scim', connector: 'entra-scim' });
      expect(tiedToScim).toMatchObject({ status: 400, body: { field: 'connector' } });
      const unknown = await owner.call<Json>('POST', '/v1/connections', { id: 'x-scim', type: 'scim', connector: 'corp', client_secret: 'x' });
      expect(unknown.status).toBe(400);
      expect(String(unknown.body.detail)).toContain('client_secret');
      expect((await owner.call<Json>('GET', '/v1/connections/x-scim')).status).toBe(404);
    });

    it('its groups are a group source for role mappings', async () => {
      const refused = await admin<Json>('POST', '/v1/role-mappings', { source: 'no-such-source', group: 'g', project_id: boot.project.id, role: 'viewer' });
      expect(refused.status).toBe(400);
      expect(String(refused.body.detail)).toContain('entra-scim');
    });
  });

  describe('discovery documents', () => {
    it('ServiceProviderConfig, ResourceTypes and Schemas describe what is served', async () => {
      const anonymous = scimClient(server.url, undefined);
      const spc = await anonymous('GET', '/ServiceProviderConfig');
      expect(spc.status).toBe(200);
      expect(spc.type).toContain('application/scim+json');
      expect(spc.body).toMatchObject({ patch: { supported: true }, filter: { supported: true }, bulk: { supported: false }, authenticationSchemes: [{ type: 'oauthbearertoken' }] });
      const types = await anonymous('GET', '/ResourceTypes');
      expect(types.body).toMatchObject({ totalResults: 2, Resources: [{ id: 'User', endpoint: '/Users' }, { id: 'Group', endpoint: '/Groups' }] });
      const schemas = await anonymous('GET', '/Schemas');
      expect((schemas.body.Resources as Json[]).map((s) => s.id)).toEqual(['urn:ietf:params:scim:schemas:core:2.0:User', 'urn:ietf:params:scim:schemas:core:2.0:Group']);
      expect((await anonymous('GET', '/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group')).body).toMatchObject({ name: 'Group' });
    });
  });

  async function replay(fixture: string, token: string): Promise<Map<string, string>> {
    const { steps } = JSON.parse(await readFile(path.join(FIXTURES, fixture), 'utf8')) as { steps: Step[] };
    const scim = scimClient(server.url, token);
    const captured = new Map<string, string>();
    for (const raw of steps) {
      const step = fill(raw, captured);
      const response = await scim(step.method, step.path, step.body);
      expect(response.status, `${step.name}: ${JSON.stringify(response.body)}`).toBe(step.expect.status);
      if (step.expect.body) expect(response.body, step.name).toMatchObject(step.expect.body);
      for (const absent of step.expect.absent ?? []) expect(response.body, `${step.name}: no ${absent}`).not.toHaveProperty(absent);
      if (step.capture) captured.set(step.capture, String(response.body.id));
      const user = captured.get('user');
      if (step.then && user) {
        const detail = await account(user);
        const scimRoles = detail.memberships.filter((m) => m.causes.some((c) => c.cause === 'scim'));
        if (step.then === 'member-admin') expect(scimRoles, step.name).toEqual([expect.objectContaining({ project_id: boot.project.id, role: 'admin', causes: [expect.objectContaining({ cause: 'scim', source: 'entra-scim', role: 'admin' })] })]);
        if (step.then === 'member-none') expect(scimRoles, step.name).toEqual([]);
        if (step.then === 'account-disabled') expect(detail.disabled, step.name).toBe(true);
        if (step.then === 'account-enabled') expect(detail.disabled, step.name).toBe(false);
      }
    }
    return captured;
  }

  it('replays the Entra ID provisioning sequence: users, groups to roles (cause scim), deactivation, deletion', async () => {
    const captured = await replay('entra-id.json', entraToken);
    const user = captured.get('user')!;
    // The SCIM id is the account id of /v1/users; after the delete the account stays, disabled, for the audit.
    const detail = await account(user);
    expect(detail).toMatchObject({ id: user, email: 'test_user_fd0ea19b@corp.example', source: 'entra-scim', disabled: true, memberships: [] });
    const events = (await admin<{ events: Json[] }>('GET', `/v1/audit?target_id=${user}&limit=100`)).body.events.map((e) => e.action);
    expect(events).toEqual(expect.arrayContaining(['scim.user_created', 'scim.user_updated', 'member.role_changed', 'user.disabled', 'user.enabled', 'scim.user_deleted']));
  });

  it('replays the Okta provisioning sequence (PUT replaces: the name follows); passwords and unknown attributes are ignored', async () => {
    const captured = await replay('okta.json', oktaToken);
    expect(await account(captured.get('user')!)).toMatchObject({ email: 'test.user@corp.example', name: 'Another User', source: 'okta-scim', disabled: true });
  });

  describe('bad input and attacks', () => {
    it('a wrong, missing or foreign token is 401 with a SCIM error; a person token or an API key is not a SCIM token', async () => {
      for (const token of [undefined, 'lts_scim_wrong', `${entraToken}x`, owner.token, boot.key.key]) {
        const answer = await scimClient(server.url, token)('GET', '/Users');
        expect(answer.status).toBe(401);
        expect(answer.body).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '401' });
      }
      const failures = (await admin<{ events: Json[] }>('GET', '/v1/audit?action=scim.request_failed&limit=100')).body.events;
      expect(failures.length).toBeGreaterThanOrEqual(5);
    });

    it('malformed or unsupported filters are 400 invalidFilter; bad paging is 400 invalidValue', async () => {
      const scim = scimClient(server.url, entraToken);
      for (const filter of ['userName', 'userName eq', 'userName eq "x" and', '(userName eq "x"', 'userName zz "x"', 'password eq "x"', 'emails[type eq "work"', 'userName eq "unterminated']) {
        const answer = await scim('GET', `/Users?filter=${encodeURIComponent(filter)}`);
        expect(answer.status, filter).toBe(400);
        expect(answer.body, filter).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], scimType: 'invalidFilter', status: '400' });
      }
      expect((await scim('GET', '/Groups?filter=owner%20eq%20%22x%22')).body).toMatchObject({ scimType: 'invalidFilter' });
      expect((await scim('GET', '/Users?count=ten')).body).toMatchObject({ status: '400', scimType: 'invalidValue' });
    });

    it('bodies: unknown attributes ignored; not JSON, wrong type, too large, or no userName are refused and change nothing', async () => {
      const scim = scimClient(server.url, entraToken);
      const made = await scim('POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'extra@corp.example', favouriteColour: 'teal', 'urn:example:custom:1.0:User': { x: 1 }, active: true });
      expect(made.status).toBe(201);
      expect(JSON.stringify(made.body)).not.toMatch(/favouriteColour|teal|urn:example/);
      expect((await scim('POST', '/Users', undefined, '{"userName": ')).body).toMatchObject({ status: '400', scimType: 'invalidSyntax' });
      expect((await scimClient(server.url, entraToken, 'text/plain')('POST', '/Users', { userName: 'plain@corp.example' })).status).toBe(415);
      const huge = await scim('POST', '/Users', { userName: 'huge@corp.example', displayName: 'x'.repeat(2 * 1024 * 1024) });
      expect(huge.status).toBe(413);
      expect((await scim('POST', '/Users', { displayName: 'No Name' })).body).toMatchObject({ status: '400', scimType: 'invalidValue' });
      expect((await scim('POST', '/Users', { userName: 'jdoe' })).body).toMatchObject({ status: '400', scimType: 'invalidValue' });
      expect((await scim('PATCH', `/Users/${String(made.body.id)}`, { Operations: [{ op: 'Explode', path: 'active' }] })).body).toMatchObject({ status: '400', scimType: 'invalidSyntax' });
      const listed = await scim('GET', '/Users?filter=userName%20sw%20%22huge%22');
      expect(listed.body).toMatchObject({ totalResults: 0 });
    });

    it("another SCIM connection's token cannot see, change, delete or group this one's users (404), nor add them to its groups", async () => {
      const entra = scimClient(server.url, entraToken);
      const okta = scimClient(server.url, oktaToken);
      const victim = await entra('POST', '/Users', { userName: 'victim@corp.example', active: true });
      expect(victim.status).toBe(201);
      const id = String(victim.body.id);
      expect((await okta('GET', `/Users/${id}`)).status).toBe(404);
      expect((await okta('PUT', `/Users/${id}`, { userName: 'victim@corp.example', active: false })).status).toBe(404);
      expect((await okta('PATCH', `/Users/${id}`, { Operations: [{ op: 'replace', value: { active: false } }] })).status).toBe(404);
      expect((await okta('DELETE', `/Users/${id}`)).status).toBe(404);
      expect((await okta('GET', '/Users?filter=userName%20eq%20%22victim@corp.example%22')).body).toMatchObject({ totalResults: 0 });
      // Nor take it over by creating a user with its address.
      expect((await okta('POST', '/Users', { userName: 'victim@corp.example', active: false })).body).toMatchObject({ status: '409', scimType: 'uniqueness' });
      // Nor give it roles through a group of its own.
      const group = await okta('POST', '/Groups', { displayName: 'logtrace-admins', members: [{ value: id }] });
      expect(group.body).toMatchObject({ status: '400', scimType: 'invalidValue' });
      const empty = await okta('POST', '/Groups', { displayName: 'okta-admins' });
      expect((await okta('PATCH', `/Groups/${String(empty.body.id)}`, { Operations: [{ op: 'add', path: 'members', value: [{ value: id }] }] })).status).toBe(400);
      // Groups are per connection too.
      const entraGroup = await entra('POST', '/Groups', { displayName: 'entra-only' });
      expect((await okta('GET', `/Groups/${String(entraGroup.body.id)}`)).status).toBe(404);
      expect((await okta('DELETE', `/Groups/${String(entraGroup.body.id)}`)).status).toBe(404);
      expect(await account(id)).toMatchObject({ disabled: false, memberships: [] });
    });

    it('an account SCIM did not provision (a password account) is not taken over: 409 uniqueness', async () => {
      const answer = await scimClient(server.url, entraToken)('POST', '/Users', { userName: 'local@corp.example', active: false });
      expect(answer.body).toMatchObject({ status: '409', scimType: 'uniqueness' });
      const local = (await admin<{ users: Json[] }>('GET', '/v1/users')).body.users.find((u) => u.email === 'local@corp.example');
      expect(local).toMatchObject({ disabled: false, source: 'static' });
    });

    it('a rotated token replaces the old one at once', async () => {
      const rotated = await owner.call<Json>('POST', '/v1/connections/okta-scim/token/rotate');
      expect(rotated.status).toBe(200);
      expect((await scimClient(server.url, oktaToken)('GET', '/Users')).status).toBe(401);
      oktaToken = String(rotated.body.token);
      expect((await scimClient(server.url, oktaToken)('GET', '/Users')).status).toBe(200);
    });

    it('races: two creates of one userName make one User; two PATCHes adding different members both land', async () => {
      const scim = scimClient(server.url, entraToken);
      const answers = await Promise.all([1, 2, 3].map(() => scim('POST', '/Users', { userName: 'racer@corp.example', active: true })));
      expect(answers.map((a) => a.status).sort()).toEqual([201, 409, 409]);
      expect((await scim('GET', '/Users?filter=userName%20eq%20%22racer@corp.example%22')).body).toMatchObject({ totalResults: 1 });
      const [a, b] = await Promise.all(['race-a@corp.example', 'race-b@corp.example'].map((userName) => scim('POST', '/Users', { userName })));
      const group = await scim('POST', '/Groups', { displayName: 'racers' });
      const patches = await Promise.all([a, b].map((u) => scim('PATCH', `/Groups/${String(group.body.id)}`, { Operations: [{ op: 'Add', path: 'members', value: [{ value: String(u!.body.id) }] }] })));
      expect(patches.map((p) => p.status)).toEqual([204, 204]);
      const members = ((await scim('GET', `/Groups/${String(group.body.id)}`)).body.members as Json[]).map((m) => m.value);
      expect(members.sort()).toEqual([String(a!.body.id), String(b!.body.id)].sort());
    });

    it('paging: startIndex and count walk the list in a stable order', async () => {
      const scim = scimClient(server.url, entraToken);
      for (const n of [1, 2, 3]) expect((await scim('POST', '/Users', { userName: `page${n}@corp.example` })).status).toBe(201);
      const all = (await scim('GET', '/Users?startIndex=1&count=500')).body;
      const ids = (all.Resources as Json[]).map((r) => r.id);
      const pages: unknown[] = [];
      for (let start = 1; start <= ids.length; start += 2) {
        const page = (await scim('GET', `/Users?startIndex=${start}&count=2`)).body;
        expect(page).toMatchObject({ totalResults: ids.length, startIndex: start });
        pages.push(...(page.Resources as Json[]).map((r) => r.id));
      }
      expect(pages).toEqual(ids);
      expect((await scim('GET', '/Users?startIndex=0&count=-5')).body).toMatchObject({ startIndex: 1, itemsPerPage: 0, Resources: [] });
    });
  });

  it('deleting a SCIM connection stops its token and takes the roles its groups gave; the accounts stay', async () => {
    const made = await owner.call<Json>('POST', '/v1/connections', { id: 'temp-scim', type: 'scim', connector: 'corp' });
    expect(made.status).toBe(201);
    const scim = scimClient(server.url, String(made.body.token));
    expect((await admin('POST', '/v1/role-mappings', { source: 'temp-scim', group: 'viewers', project_id: boot.project.id, role: 'viewer' })).status).toBe(201);
    const user = await scim('POST', '/Users', { userName: 'temp@corp.example' });
    expect((await scim('POST', '/Groups', { displayName: 'viewers', members: [{ value: String(user.body.id) }] })).status).toBe(201);
    expect((await account(String(user.body.id))).memberships).toEqual([expect.objectContaining({ role: 'viewer', causes: [expect.objectContaining({ cause: 'scim', source: 'temp-scim' })] })]);
    const preview = await admin<{ changes: Json[] }>('POST', '/v1/role-mappings/preview', { add: [{ source: 'temp-scim', group: 'viewers', project_id: boot.project.id, role: 'member' }] });
    expect(preview.body.changes).toContainEqual(expect.objectContaining({ user_id: user.body.id, from: 'viewer', to: 'member' }));
    expect((await owner.call('DELETE', '/v1/connections/temp-scim')).status).toBe(204);
    expect((await scim('GET', '/Users')).status).toBe(401);
    expect(await account(String(user.body.id))).toMatchObject({ disabled: false, memberships: [] });
  });

  describe('sign-in through the tied connector', () => {
    it('a provisioned person is linked at the first sign-in by a verified email, gets the SCIM group role, and loses refresh at deactivation', async () => {
      const scim = scimClient(server.url, entraToken);
      // userName is the UPN; the primary email is what the upstream verifies.
      const made = await scim('POST', '/Users', { userName: 'dana@corp.onmicrosoft.example', emails: [{ value: 'dana@corp.example', type: 'work', primary: true }], displayName: 'Dana', active: true });
      expect(made.status).toBe(201);
      const id = String(made.body.id);
      const group = await scim('POST', '/Groups', { displayName: 'logtrace-admins', members: [{ value: id }] });
      expect(group.status, JSON.stringify(group.body)).toBe(201);

      // Not verified at the upstream: not linked, nothing changes.
      upstream.nextSignIn({ accountId: 'dana-unverified', claims: { email: 'dana@corp.example', email_verified: false, name: 'Dana?' } });
      expect(await federatedSignIn(server, 'corp')).toMatchObject({ ok: false });
      expect((await account(id)).identities).toEqual([]);

      upstream.nextSignIn({ accountId: 'dana-1', claims: { email: 'dana@corp.example', email_verified: true, name: 'Dana' } });
      const signedIn = await federatedSignIn(server, 'corp');
      expect(signedIn).toMatchObject({ ok: true, sub: id, roles: { [boot.project.id]: 'admin' } });
      if (!signedIn.ok || !signedIn.refreshToken) throw new Error('no refresh token');
      expect((await account(id)).identities).toEqual([expect.objectContaining({ connector_id: 'corp', subject: 'dana-1' })]);

      // Another subject of the same upstream with the same address is not linked to the account already linked.
      upstream.nextSignIn({ accountId: 'dana-2', claims: { email: 'dana@corp.example', email_verified: true, name: 'Not Dana' } });
      expect(await federatedSignIn(server, 'corp')).toMatchObject({ ok: false });

      const config = await discover(server.url, 'admin-console');
      const refreshed = await client.refreshTokenGrant(config, signedIn.refreshToken);
      expect(refreshed.refresh_token).toBeTruthy();

      expect((await scim('PATCH', `/Users/${id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] })).body).toMatchObject({ active: false });
      await expect(client.refreshTokenGrant(config, refreshed.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
      upstream.nextSignIn({ accountId: 'dana-1', claims: { email: 'dana@corp.example', email_verified: true, name: 'Dana' } });
      expect(await federatedSignIn(server, 'corp')).toMatchObject({ ok: false, status: 403 });
    });

    it('a person nobody provisioned is not linked to an account by email (no trust_email), and a deleted User is not linked', async () => {
      const scim = scimClient(server.url, entraToken);
      const made = await scim('POST', '/Users', { userName: 'erin@corp.example', active: true });
      expect((await scim('DELETE', `/Users/${String(made.body.id)}`)).status).toBe(204);
      upstream.nextSignIn({ accountId: 'erin-1', claims: { email: 'erin@corp.example', email_verified: true, name: 'Erin' } });
      expect(await federatedSignIn(server, 'corp')).toMatchObject({ ok: false, status: 403 });
      expect((await account(String(made.body.id))).identities).toEqual([]);
      // A deleted User comes back with a new POST of the same userName: the same account, enabled again.
      const back = await scim('POST', '/Users', { userName: 'erin@corp.example', active: true });
      expect(back).toMatchObject({ status: 201, body: { id: made.body.id, active: true } });
      expect(await account(String(made.body.id))).toMatchObject({ disabled: false });
    });
  });
});
