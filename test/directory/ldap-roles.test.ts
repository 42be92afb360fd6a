import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { Browser } from 'playwright-core';
import { startAuthServer, testConfig, REDIRECT_URI, TEST_PASSWORD, type AuthServer } from '../support/auth-server.ts';
import { codeFlowTokens, discover } from '../support/http-login.ts';
import { api, bootstrap, cli, type Bootstrapped } from '../support/admin.ts';
import { directorySettings, startSlapd, PEOPLE, groupDn, personDn, type SlapdServer } from '../support/slapd.ts';
import { launchBrowser, ARTIFACTS } from '../support/browser.ts';
import { eventually } from '../support/wait.ts';

type Json = Record<string, unknown>;
const ALL = 'openid email profile offline_access read:logs write:alerts admin:projects';


describe('LDAP: password sign-in, groups → project roles, periodic sync', () => {
  let slapd: SlapdServer;
  let server: AuthServer;
  let boot: Bootstrapped;
  let admin: ReturnType<typeof api>;
  let config: client.Configuration;
  let browser: Browser;
  const jwks = () => createRemoteJWKSet(new URL(`${server.url}/jwks`));

  beforeAll(async () => {
    slapd = await startSlapd();
    server = await startAuthServer({
      config: (port, dataDir) => {
        const base = testConfig(port, { store: { driver: 'embedded', path: dataDir } });
        return {
          ...base,
          clients: [...(base.clients as Json[]), { client_id: 'console', token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: [REDIRECT_URI], scope: ALL }],
          ldap: directorySettings(slapd.url, { sync_interval_seconds: 1, timeout_ms: 1500 }),
          connectors: [{ id: 'ldap', type: 'ldap', name: 'Corporate account' }],
          provisioning: { rules: [{ email_domain: 'acme.ru', connectors: ['ldap'] }] },
        };
      },
    });
    boot = bootstrap(server);
    admin = api(server.url, boot.key.key);
    config = await discover(server.url, 'console');
    // Mapping a group to owner hands out owner: it takes an owner (an API key is never one).
    const added = cli(server, ['users', 'add', '--email', 'owner@example.com', '--name', 'Owner', '--project', boot.project.id, '--role', 'owner', '--password-stdin'], TEST_PASSWORD);
    expect(added.status, added.stderr).toBe(0);
    const owner = api(server.url, (await codeFlowTokens(config, { email: 'owner@example.com', password: TEST_PASSWORD, scope: ALL })).access_token);
    expect((await admin('POST', '/v1/role-mappings', { source: 'ldap', group: 'logtrace-admins', project_id: boot.project.id, role: 'owner' }))).toMatchObject({ status: 403, body: { field: 'role' } });
    for (const [group, role] of [['logtrace-admins', 'owner'], ['logtrace-viewers', 'viewer']]) {
      const made = await owner('POST', '/v1/role-mappings', { source: 'ldap', group, project_id: boot.project.id, role });
      expect(made.status).toBe(201);
    }
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await server?.cleanup();
    await slapd?.dispose();
  });

  it('signs a directory user in through the sign-in page in Chromium, with roles from nested groups', async () => {
    const page = await (await browser.newContext()).newPage();
    const verifier = client.randomPKCECodeVerifier();
    await page.route(`${REDIRECT_URI}**`, (route) => route.fulfill({ status: 200, body: 'ok' }));
    await page.goto(client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: ALL, code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' }).href);
    await page.getByLabel('Email').fill(PEOPLE.carol.mail);
    await page.getByLabel('Password').fill(PEOPLE.carol.password);
    await page.screenshot({ path: path.join(ARTIFACTS, 'ldap-sign-in.png') });
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => u.href.startsWith(REDIRECT_URI));
    const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: verifier });
    const { payload } = await jwtVerify(tokens.access_token, jwks(), { issuer: server.url });
    // carol is in platform-team, which is a member of logtrace-admins → owner.
    expect(payload.project_roles).toEqual({ [boot.project.id]: 'owner' });
    expect(String(payload.scope).split(' ').sort()).toEqual(['admin:projects', 'read:logs', 'write:alerts']);
    expect(tokens.claims()).toMatchObject({ email: PEOPLE.carol.mail, name: PEOPLE.carol.cn, amr: ['pwd'] });
  });

  it('refuses a wrong directory password on the sign-in page (401, no redirect)', async () => {
    await expect(codeFlowTokens(config, { email: PEOPLE.bob.mail, password: 'wrong' })).rejects.toThrow(/401/);
  });

  it('drops a role at the next sync when the person leaves the group, and the next refresh shows it', async () => {
    const tokens = await codeFlowTokens(config, { email: PEOPLE.bob.mail, password: PEOPLE.bob.password, scope: ALL });
    expect((await jwtVerify(tokens.access_token, jwks())).payload.project_roles).toEqual({ [boot.project.id]: 'viewer' });
    await slapd.modify(groupDn('logtrace-viewers'), [{ operation: 'delete', type: 'member', values: [personDn('bob')] }]);
    await eventually(async () => {
      const members = (await admin<{ members: Json[] }>('GET', `/v1/projects/${boot.project.id}/members`)).body.members;
      return !members.some((m) => m.email === PEOPLE.bob.mail);
    }, 15);
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    const { payload } = await jwtVerify(refreshed.access_token, jwks());
    expect(payload.project_roles).toEqual({});
    expect(payload.scope).toBeUndefined();
    const audit = (await admin<{ events: Json[] }>('GET', `/v1/audit?project_id=${boot.project.id}&action=member.role_changed`)).body.events;
    expect(audit).toContainEqual(expect.objectContaining({ detail: expect.objectContaining({ cause: 'ldap_sync', from: 'viewer', to: null }) }));
  });

  it('previews a mapping change without applying it', async () => {
    const preview = await admin<{ changes: Json[] }>('POST', '/v1/role-mappings/preview', { add: [{ source: 'ldap', group: 'loop-a', project_id: boot.project.id, role: 'member' }] });
    expect(preview.status).toBe(200);
    expect(preview.body.changes).toEqual([]); // dave has never signed in: nothing known about him yet
    const mappings = (await admin<{ role_mappings: Json[] }>('GET', '/v1/role-mappings')).body.role_mappings;
    const admins = mappings.find((m) => m.group === 'logtrace-admins')!;
    const removal = await admin<{ changes: Json[] }>('POST', '/v1/role-mappings/preview', { remove: [admins.id] });
    expect(removal.body.changes).toContainEqual({ user_id: expect.any(String), email: PEOPLE.carol.mail, project_id: boot.project.id, from: 'owner', to: null });
    // Nothing was applied.
    const members = (await admin<{ members: Json[] }>('GET', `/v1/projects/${boot.project.id}/members`)).body.members;
    expect(members).toContainEqual(expect.objectContaining({ email: PEOPLE.carol.mail, role: 'owner' }));
  });

  it('fails sign-in clearly when the directory is unreachable, and keeps roles it cannot confirm unchanged', async () => {
    await slapd.stop();
    try {
      await expect(codeFlowTokens(config, { email: PEOPLE.alice.mail, password: PEOPLE.alice.password })).rejects.toThrow(/503/);
      await new Promise((r) => setTimeout(r, 2500)); // two sync intervals against a dead directory
      const members = (await admin<{ members: Json[] }>('GET', `/v1/projects/${boot.project.id}/members`)).body.members;
      expect(members).toContainEqual(expect.objectContaining({ email: PEOPLE.carol.mail, role: 'owner' }));
    } finally {
      await slapd.start();
    }
    await expect(codeFlowTokens(config, { email: PEOPLE.alice.mail, password: PEOPLE.alice.password })).resolves.toBeTruthy();
  });
});
