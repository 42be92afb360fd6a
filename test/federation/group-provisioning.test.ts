import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startAuthServer, testConfig, REDIRECT_URI, type AuthServer } from '../support/auth-server.ts';
import { discover } from '../support/http-login.ts';
import { api, bootstrap, cli, type Bootstrapped } from '../support/admin.ts';
import { freePort } from '../support/ports.ts';
import { startFakeOidc, type FakeOidc } from '../support/fake-idps/oidc.ts';
import { federatedSignIn } from '../support/federated-login.ts';

type Json = Record<string, unknown>;
type UserView = { id: string; email: string; source: string; memberships: Array<{ project_id: string; role: string; causes: Json[] }>; identities: Json[] };
const SCOPE = 'openid email profile offline_access read:logs write:alerts admin:projects';

/**
 * An IdP that sends groups, and no provisioning rule: a first sign-in whose groups a role mapping of that
 * connector names creates the account with the mapped role; anything else is refused and creates nothing.
 * The upstream is a real OpenID Provider over HTTP (a second oidc-provider).
 */
describe('IdP groups: a role mapping lets a first sign-in in without a provisioning rule', () => {
  let server: AuthServer;
  let upstream: FakeOidc;
  let boot: Bootstrapped;
  let admin: ReturnType<typeof api>;
  let config: client.Configuration;

  const userByEmail = async (email: string): Promise<UserView | undefined> => (await admin<{ users: UserView[] }>('GET', '/v1/users')).body.users.find((u) => u.email === email);
  const person = (accountId: string, email: string, groups: string[], emailVerified = true) =>
    upstream.nextSignIn({ accountId, claims: { email, email_verified: emailVerified, name: accountId, groups }, amr: ['pwd'] });

  beforeAll(async () => {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    upstream = await startFakeOidc({ redirectUris: [`${issuer}/federation/corp/callback`, `${issuer}/federation/partner/callback`] });
    server = await startAuthServer({
      port,
      config: (p, dataDir) => {
        const base = testConfig(p, { store: { driver: 'embedded', path: dataDir } });
        const upstreamClient = { type: 'oidc', issuer: upstream.url, client_id: upstream.clientId, client_secret: upstream.clientSecret, scopes: ['openid', 'email', 'profile', 'groups'] };
        return {
          ...base,
          clients: [...(base.clients as Json[]), { client_id: 'console', token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: [REDIRECT_URI], scope: SCOPE }],
          // Two connectors to the same upstream: each is its own group source.
          connectors: [
            { id: 'corp', name: 'Acme Keycloak', ...upstreamClient },
            { id: 'partner', name: 'Partner IdP', ...upstreamClient },
          ],
        };
      },
    });
    boot = bootstrap(server);
    admin = api(server.url, boot.key.key);
    expect((await admin('POST', '/v1/role-mappings', { source: 'corp', group: 'engineering', project_id: boot.project.id, role: 'member' })).status).toBe(201);
    config = await discover(server.url, 'console');
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    await server?.cleanup();
    await upstream?.close();
  });

  it('creates the account with the mapped role (cause idp_groups) on a first sign-in with a mapped group', async () => {
    person('kc-gina', 'gina@corp.example', ['engineering', 'lunch-club']);
    const outcome = await federatedSignIn(config, 'corp', SCOPE);
    if (!outcome.ok) throw new Error(`refused: ${outcome.status} ${outcome.body.slice(0, 300)}`);
    const { payload } = await jwtVerify(outcome.tokens.access_token, createRemoteJWKSet(new URL(`${server.url}/jwks`)), { issuer: server.url });
    expect(payload.project_roles).toEqual({ [boot.project.id]: 'member' });
    const gina = (await userByEmail('gina@corp.example'))!;
    expect(gina).toMatchObject({ source: 'corp', identities: [expect.objectContaining({ connector_id: 'corp', subject: 'kc-gina' })] });
    expect(gina.memberships).toEqual([{ project_id: boot.project.id, role: 'member', causes: [expect.objectContaining({ role: 'member', cause: 'idp_groups', source: 'corp' })] }]);
  });

  it('refuses groups no mapping names, and creates nothing (default deny)', async () => {
    person('kc-hank', 'hank@corp.example', ['sales']);
    const outcome = await federatedSignIn(config, 'corp', SCOPE);
    expect(outcome).toMatchObject({ ok: false, status: 403 });
    expect(!outcome.ok && outcome.body).toContain('has no access to LogTrace');
    expect(await userByEmail('hank@corp.example')).toBeUndefined();
  });

  it('refuses a mapped group from another connector: mappings are per group source', async () => {
    // The partner IdP says "engineering" too; only corp's engineering is mapped.
    person('kc-pete', 'pete@partner.example', ['engineering']);
    expect(await federatedSignIn(config, 'partner', SCOPE)).toMatchObject({ ok: false, status: 403 });
    expect(await userByEmail('pete@partner.example')).toBeUndefined();
  });

  it('refuses an email the upstream did not verify, even with a mapped group', async () => {
    person('kc-ivan', 'ivan@corp.example', ['engineering'], false);
    const outcome = await federatedSignIn(config, 'corp', SCOPE);
    expect(outcome).toMatchObject({ ok: false, status: 403 });
    expect(await userByEmail('ivan@corp.example')).toBeUndefined();
  });

  it('never gives the mapped role to an existing account that merely has the same email', async () => {
    const made = cli(server, ['users', 'add', '--email', 'olga@corp.example', '--password-stdin'], 'olga-local-password-123');
    expect(made.status, made.stderr).toBe(0);
    person('kc-olga', 'olga@corp.example', ['engineering']);
    const outcome = await federatedSignIn(config, 'corp', SCOPE);
    expect(outcome).toMatchObject({ ok: false, status: 403 });
    expect(await userByEmail('olga@corp.example')).toMatchObject({ source: 'local', memberships: [], identities: [] });
    const refused = (await admin<{ events: Json[] }>('GET', '/v1/audit?action=login.failed&limit=100')).body.events;
    expect(refused.map((e) => (e.detail as Json).reason)).toEqual(expect.arrayContaining(['no_access', 'email_unverified', 'account_exists']));
  });
});
