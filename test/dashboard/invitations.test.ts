import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startAuthServer, testConfig, REDIRECT_URI, TEST_PASSWORD, type AuthServer } from '../support/auth-server.ts';
import { api, bootstrap, cli, type Bootstrapped } from '../support/admin.ts';
import { codeFlowTokens, discover } from '../support/http-login.ts';
import { launchBrowser } from '../support/browser.ts';
import { expectAccessible, languageOptions, shot, signInToDashboard } from '../support/pages.ts';
import { freePort } from '../support/ports.ts';
import { startFakeOidc, type FakeOidc } from '../support/fake-idps/oidc.ts';

type Json = Record<string, unknown>;
const MEMBERS = '/dashboard/settings/members';
const ADMIN_SCOPE = 'openid email profile admin:projects read:logs';
const NEW_PASSWORD = 'a new long passphrase';

describe('invitations by email for people with no account yet', () => {
  let server: AuthServer;
  let browser: Browser;
  let boot: Bootstrapped;
  let oidc: FakeOidc;
  let admin: ReturnType<typeof api>;
  let rp: client.Configuration;
  let ownerToken: string;
  let adminToken: string;

  beforeAll(async () => {
    const port = await freePort();
    oidc = await startFakeOidc({ redirectUris: [`http://127.0.0.1:${port}/federation/corp/callback`] });
    server = await startAuthServer({
      port,
      config: (p, dataDir) => {
        const base = testConfig(p, { store: { driver: 'embedded', path: dataDir } });
        return {
          ...base,
          clients: [...(base.clients as Json[]), { client_id: 'console', token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], redirect_uris: [REDIRECT_URI], scope: ADMIN_SCOPE }],
          // No provisioning rules: without an invitation nobody new gets in through the connector.
          connectors: [
            { id: 'corp', type: 'oidc', name: 'Acme Keycloak', issuer: oidc.url, client_id: oidc.clientId, client_secret: oidc.clientSecret, scopes: ['openid', 'email', 'profile'] },
            // Serves other addresses only: never offered to someone invited at example.com.
            { id: 'partner', type: 'yandex', name: 'Partner Yandex', client_id: 'partner-client', client_secret: 'partner-secret', email_domains: ['partner.ru'] },
          ],
        };
      },
    });
    boot = bootstrap(server, 'Acme');
    admin = api(server.url, boot.key.key);
    for (const [email, role] of [['owner@example.com', 'owner'], ['admin@example.com', 'admin']]) {
      const out = cli(server, ['users', 'add', '--email', email!, '--name', `${role} person`, '--project', boot.project.id, '--role', role!, '--password-stdin'], TEST_PASSWORD);
      expect(out.status, out.stderr).toBe(0);
    }
    const consoleClient = await discover(server.url, 'console');
    ownerToken = (await codeFlowTokens(consoleClient, { email: 'owner@example.com', scope: ADMIN_SCOPE })).access_token;
    adminToken = (await codeFlowTokens(consoleClient, { email: 'admin@example.com', scope: ADMIN_SCOPE })).access_token;
    rp = await discover(server.url, 'dashboard');
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await server?.cleanup();
    await oidc?.close();
  });

  async function newContext(lang: 'en' | 'ru' = 'en'): Promise<BrowserContext> {
    const context = await browser.newContext(languageOptions(lang));
    // The relying party's callback: the browser lands there with the code.
    await context.route(`${REDIRECT_URI}**`, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<title>app</title>signed in' }));
    return context;
  }

  const dashboardSignIn = (page: Page, email: string) => signInToDashboard(page, server.url, email);

  /** Starts a relying party's sign-in (authorization code + PKCE) in the page; returns what the code exchange needs. */
  async function startRpSignIn(page: Page): Promise<{ verifier: string; state: string; headers: Record<string, string> }> {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(rp, { redirect_uri: REDIRECT_URI, scope: 'openid email profile read:logs', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state });
    const response = await page.goto(url.href);
    return { verifier, state, headers: response?.headers() ?? {} };
  }

  async function finishRpSignIn(page: Page, flow: { verifier: string; state: string }): Promise<JWTPayload> {
    await page.waitForURL((u) => u.href.startsWith(REDIRECT_URI));
    const tokens = await client.authorizationCodeGrant(rp, new URL(page.url()), { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
    const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${server.url}/jwks`)), { issuer: server.url, audience: 'https://api.logtrace.test' });
    return payload;
  }

  async function inviteInDashboard(page: Page, email: string, role: string): Promise<string> {
    await page.goto(`${server.url}${MEMBERS}?project=${boot.project.id}`);
    await page.getByLabel('Email', { exact: true }).fill(email);
    await page.locator('#invite-role').selectOption(role);
    await page.getByRole('button', { name: 'Add to project' }).click();
    await page.getByRole('heading', { name: `Invitation link for ${email}` }).waitFor();
    return page.getByRole('textbox', { name: 'Invitation link' }).inputValue();
  }

  async function users(): Promise<Array<{ id: string; email: string; memberships: Array<{ project_id: string; role: string }> }>> {
    return (await admin<{ users: Array<{ id: string; email: string; memberships: Array<{ project_id: string; role: string }> }> }>('GET', '/v1/users')).body.users;
  }

  async function pending(): Promise<Array<{ id: string; email: string; role: string }>> {
    const listed = await admin<{ invitations: Array<{ id: string; email: string; role: string }> }>('GET', `/v1/projects/${boot.project.id}/invitations`);
    expect(listed.status).toBe(200);
    return listed.body.invitations;
  }

  async function auditEvents(action: string): Promise<Array<{ action: string; actor: { type: string; id: string | null }; target: { id: string | null }; detail?: Json }>> {
    return (await admin<{ events: Array<{ action: string; actor: { type: string; id: string | null }; target: { id: string | null }; detail?: Json }> }>('GET', `/v1/audit?project_id=${boot.project.id}&action=${action}&limit=1000`)).body.events;
  }

  it('owner invites a new email as viewer: the link is shown once, the person sets a password and signs in as viewer', async () => {
    const ownerContext = await newContext('en');
    await ownerContext.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    const owner = await ownerContext.newPage();
    await dashboardSignIn(owner, 'owner@example.com');
    const link = await inviteInDashboard(owner, 'new.person@example.com', 'viewer');
    expect(link).toMatch(new RegExp(`^${server.url}/invitations/[A-Za-z0-9_-]{32}$`));
    await owner.getByText('There is no account for new.person@example.com yet, so an invitation was made.').waitFor();
    const warning = (await owner.locator('#invitation-warning').textContent()) ?? '';
    expect(warning).toContain('it will not be shown again');
    expect(warning).toMatch(/expires on .*\d{4}.* UTC/);
    await owner.getByRole('button', { name: 'Copy' }).click();
    await owner.getByText('Copied to the clipboard.').waitFor();
    expect(await owner.evaluate(() => navigator.clipboard.readText())).toBe(link);
    const row = owner.getByRole('row', { name: /new\.person@example\.com/ });
    expect(await row.textContent()).toContain('Viewer');
    expect(await row.textContent()).toContain('owner@example.com');
    await expectAccessible(owner, 'members with a new invitation');
    await shot(owner, 'members-created-en');
    // Shown once: the members page afterwards lists the invitation, never its link.
    await owner.getByRole('link', { name: 'Done: back to the members' }).click();
    await owner.getByRole('heading', { level: 3, name: 'Pending invitations' }).waitFor();
    expect(await owner.getByRole('row', { name: /new\.person@example\.com/ }).getByRole('button', { name: 'Revoke new.person@example.com' }).count()).toBe(1);
    expect(await owner.content()).not.toContain(link.split('/').pop()!);
    await expectAccessible(owner, 'members with a pending invitation');
    await shot(owner, 'members-pending-en');

    // The person, in a browser of their own with no session.
    const personContext = await newContext('en');
    const person = await personContext.newPage();
    const opened = await person.goto(link);
    expect(opened?.status()).toBe(200);
    await person.getByRole('heading', { level: 1, name: 'You are invited to Acme as Viewer' }).waitFor();
    expect(await person.getByLabel('Email').inputValue()).toBe('new.person@example.com');
    expect(await person.locator('[data-sso]').textContent()).toContain('Acme Keycloak');
    expect(await person.locator('[data-sso]').textContent()).not.toContain('Partner Yandex');
    expect(await person.locator('script').count()).toBe(0);
    const invitationHeaders = opened!.headers();
    await expectAccessible(person, 'invitation page');
    await shot(person, 'accept-en');

    // Field errors, next to their fields; nothing created yet.
    await person.getByLabel('Name').fill('New Person');
    await person.getByLabel('Password', { exact: true }).fill('short');
    await person.getByLabel('Confirm password').fill('short');
    await person.getByRole('button', { name: 'Create account' }).click();
    await person.getByText('The password must be at least 8 characters.').waitFor();
    expect(await person.getByLabel('Password', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    expect(await person.getByLabel('Name').inputValue()).toBe('New Person');
    await person.getByLabel('Password', { exact: true }).fill(NEW_PASSWORD);
    await person.getByLabel('Confirm password').fill(`${NEW_PASSWORD}!`);
    await person.getByRole('button', { name: 'Create account' }).click();
    await person.getByText('The two passwords do not match.').waitFor();
    await expectAccessible(person, 'invitation page with errors');
    expect((await users()).some((u) => u.email === 'new.person@example.com')).toBe(false);

    await person.getByLabel('Password', { exact: true }).fill(NEW_PASSWORD);
    await person.getByLabel('Confirm password').fill(NEW_PASSWORD);
    await person.getByRole('button', { name: 'Create account' }).click();
    await person.getByRole('heading', { level: 1, name: 'Done: your account is ready' }).waitFor();
    expect(await person.textContent('main')).toContain('You are now Viewer of Acme. You can now sign in as new.person@example.com');
    await shot(person, 'accepted-en');

    // Sign in at a relying party through the normal sign-in page: the token carries viewer on the project.
    const flow = await startRpSignIn(person);
    expect(person.url()).toContain('/interaction/');
    await person.getByLabel('Email').fill('new.person@example.com');
    await person.getByLabel('Password').fill(NEW_PASSWORD);
    await person.getByRole('button', { name: 'Sign in' }).click();
    const access = await finishRpSignIn(person, flow);
    expect(access.project_roles).toEqual({ [boot.project.id]: 'viewer' });
    expect(String(access.scope).split(' ')).toContain('read:logs');
    // The invitation page carries the sign-in page's security headers (CSP without script, no framing).
    for (const name of ['content-security-policy', 'x-frame-options', 'x-content-type-options', 'cross-origin-opener-policy']) {
      expect(flow.headers[name], name).toBeTruthy();
      expect(invitationHeaders[name], name).toBe(flow.headers[name]);
    }
    expect(invitationHeaders['content-security-policy']).not.toContain('script-src');
    expect(invitationHeaders['cache-control']).toBe('no-store');

    const created = (await users()).find((u) => u.email === 'new.person@example.com')!;
    expect(access.sub).toBe(created.id);
    expect(created.memberships).toEqual([{ project_id: boot.project.id, role: 'viewer', causes: [expect.objectContaining({ cause: 'manual', role: 'viewer' })] }]);

    // A used link is dead: the page says so (410) and a replayed post creates nothing.
    expect((await person.goto(link))?.status()).toBe(410);
    await person.getByText('This invitation was already used.').waitFor();
    const replay = await personContext.request.post(link, { form: { name: 'Mallory', password: 'another password', confirm: 'another password' }, headers: { origin: server.url } });
    expect(replay.status()).toBe(410);
    expect((await users()).filter((u) => u.email === 'new.person@example.com')).toHaveLength(1);
    expect((await pending()).some((i) => i.email === 'new.person@example.com')).toBe(false);

    const accepted = (await auditEvents('invitation')).filter((e) => e.detail?.email === 'new.person@example.com');
    expect(accepted.map((e) => e.action)).toEqual(['invitation.created', 'invitation.accepted']);
    expect(accepted[1]!.actor).toEqual({ type: 'user', id: created.id });
    expect(accepted[0]!.actor.type).toBe('user');
    await ownerContext.close();
    await personContext.close();
  });

  it('revoking makes the link dead (410); a post from another origin is refused; an admin cannot invite as owner', async () => {
    const ownerContext = await newContext('en');
    const owner = await ownerContext.newPage();
    await dashboardSignIn(owner, 'owner@example.com');
    const link = await inviteInDashboard(owner, 'revoke.me@example.com', 'member');

    // A form post from another site is refused before anything else.
    const foreign = await fetch(link, { method: 'POST', headers: { origin: 'http://evil.example', 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ name: 'X', password: NEW_PASSWORD, confirm: NEW_PASSWORD }).toString() });
    expect(foreign.status).toBe(403);
    expect(await foreign.text()).toContain('This form was sent from another site and was refused.');
    expect((await users()).some((u) => u.email === 'revoke.me@example.com')).toBe(false);

    await owner.getByRole('link', { name: 'Done: back to the members' }).click();
    await owner.getByRole('button', { name: 'Revoke revoke.me@example.com' }).click();
    await owner.getByText('The invitation for revoke.me@example.com was revoked: its link no longer works.').waitFor();
    expect(await owner.getByRole('row', { name: /revoke\.me@example\.com/ }).count()).toBe(0);

    const person = await (await newContext('en')).newPage();
    expect((await person.goto(link))?.status()).toBe(410);
    await person.getByRole('heading', { level: 1, name: 'This invitation link does not work' }).waitFor();
    await person.getByText('This invitation was withdrawn.').waitFor();
    await expectAccessible(person, 'revoked invitation');
    const late = await person.context().request.post(link, { form: { name: 'Late', password: NEW_PASSWORD, confirm: NEW_PASSWORD }, headers: { origin: server.url } });
    expect(late.status()).toBe(410);
    expect((await users()).some((u) => u.email === 'revoke.me@example.com')).toBe(false);
    expect((await person.goto(`${server.url}/invitations/${'A'.repeat(32)}`))?.status()).toBe(404);
    await person.getByText('This invitation link is not valid.').waitFor();
    expect((await auditEvents('invitation.revoked')).some((e) => e.detail?.email === 'revoke.me@example.com')).toBe(true);
    await person.context().close();
    await ownerContext.close();

    // An administrator (not an owner) is not offered owner, and a forged post is refused as the API refuses it.
    const adminContext = await newContext('en');
    const adminPage = await adminContext.newPage();
    await dashboardSignIn(adminPage, 'admin@example.com');
    await adminPage.goto(`${server.url}${MEMBERS}?project=${boot.project.id}`);
    expect(await adminPage.locator('#invite-role option[value="owner"]').count()).toBe(0);
    const csrf = await adminPage.locator('input[name="_csrf"]').first().inputValue();
    const forged = await adminContext.request.post(`${server.url}${MEMBERS}/invite?project=${boot.project.id}`, { form: { _csrf: csrf, email: 'boss@example.com', role: 'owner' }, headers: { origin: server.url } });
    expect(forged.status()).toBe(403);
    expect(await forged.text()).toContain('Only an owner of this project may grant, change or remove the owner role.');
    expect((await pending()).some((i) => i.email === 'boss@example.com')).toBe(false);
    // …while inviting as admin works for them.
    await inviteInDashboard(adminPage, 'helper@example.com', 'admin');
    expect((await pending()).find((i) => i.email === 'helper@example.com')?.role).toBe('admin');
    await adminContext.close();
  });

  it('an account that appeared after the invitation is not taken over', async () => {
    const made = await admin<{ token: string; url: string }>('POST', `/v1/projects/${boot.project.id}/invitations`, { email: 'later@example.com', role: 'member' });
    expect(made.status).toBe(201);
    const out = cli(server, ['users', 'add', '--email', 'later@example.com', '--name', 'Later', '--password-stdin'], TEST_PASSWORD);
    expect(out.status, out.stderr).toBe(0);
    const page = await (await newContext('en')).newPage();
    await page.goto(made.body.url);
    await page.getByLabel('Name').fill('Someone Else');
    await page.getByLabel('Password', { exact: true }).fill(NEW_PASSWORD);
    await page.getByLabel('Confirm password').fill(NEW_PASSWORD);
    const answer = page.waitForResponse((r) => r.request().method() === 'POST');
    await page.getByRole('button', { name: 'Create account' }).click();
    expect((await answer).status()).toBe(409);
    await page.getByText('An account with later@example.com already exists').waitFor();
    await page.context().close();
    // The old password still works, the new one does not, and no role was given.
    const tokens = await codeFlowTokens(rp, { email: 'later@example.com', scope: 'openid' });
    expect(tokens.claims()!.sub).toBe((await users()).find((u) => u.email === 'later@example.com')!.id);
    await expect(codeFlowTokens(rp, { email: 'later@example.com', scope: 'openid', password: NEW_PASSWORD })).rejects.toThrow(/401/);
    expect((await users()).find((u) => u.email === 'later@example.com')!.memberships).toEqual([]);
  });

  it('the acceptance page in Russian', async () => {
    const made = await admin<{ url: string }>('POST', `/v1/projects/${boot.project.id}/invitations`, { email: 'ru.person@example.com', role: 'viewer' });
    expect(made.status).toBe(201);
    const context = await newContext('ru');
    const page = await context.newPage();
    await page.goto(made.body.url);
    await page.getByRole('heading', { level: 1, name: 'Вас пригласили в Acme, роль: Наблюдатель' }).waitFor();
    expect(await page.getAttribute('html', 'lang')).toBe('ru');
    await page.getByLabel('Имя').fill('Пётр');
    await page.getByLabel('Пароль', { exact: true }).fill(NEW_PASSWORD);
    await page.getByLabel('Пароль ещё раз').fill('не тот пароль');
    await page.getByRole('button', { name: 'Создать учётную запись' }).click();
    await page.getByText('Пароли не совпадают.').waitFor();
    await expectAccessible(page, 'invitation page ru');
    await shot(page, 'accept-ru');
    await page.getByLabel('Пароль', { exact: true }).fill(NEW_PASSWORD);
    await page.getByLabel('Пароль ещё раз').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Создать учётную запись' }).click();
    await page.getByRole('heading', { level: 1, name: 'Готово: учётная запись создана' }).waitFor();
    expect((await page.goto(made.body.url))?.status()).toBe(410);
    await page.getByText('Приглашение уже использовано.').waitFor();
    await context.close();
  });

  it('API: create (token and link once), list, revoke; problem+json for 400, 401, 403, 404, 409', async () => {
    const projectPath = `/v1/projects/${boot.project.id}/invitations`;
    const created = await admin<Json & { id: string; token: string; url: string }>('POST', projectPath, { email: 'API.Person@Example.com', role: 'member', expires_in_days: 3 });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ email: 'api.person@example.com', project_id: boot.project.id, role: 'member', status: 'pending', invited_by: { type: 'api_key', id: boot.key.id } });
    expect(created.body.url).toBe(`${server.url}/invitations/${created.body.token}`);
    expect(Date.parse(String(created.body.expires_at)) - Date.parse(String(created.body.created_at))).toBe(3 * 86_400_000);
    const listed = await pending();
    const entry = listed.find((i) => i.id === created.body.id)!;
    expect(entry).toBeTruthy();
    expect(JSON.stringify(listed)).not.toContain(created.body.token);
    expect(Object.keys(entry)).not.toContain('token');

    // Inviting the same email again replaces the pending invitation.
    const again = await admin<{ id: string; token: string }>('POST', projectPath, { email: 'api.person@example.com', role: 'viewer' });
    expect(again.status).toBe(201);
    expect((await pending()).filter((i) => i.email === 'api.person@example.com').map((i) => [i.id, i.role])).toEqual([[again.body.id, 'viewer']]);
    expect((await fetch(created.body.url)).status).toBe(410);

    const problem = async (response: { status: number; type: string | null; body: unknown }, status: number, code: string, field?: string) => {
      expect(response.status).toBe(status);
      expect(response.type).toContain('application/problem+json');
      expect(response.body).toMatchObject({ type: `urn:logtrace:problem:${code}`, status, code, ...(field ? { field } : {}) });
    };
    await problem(await admin('POST', projectPath, { email: 'not-an-email', role: 'member' }), 400, 'invalid_request', 'email');
    await problem(await admin('POST', projectPath, { email: 'x@example.com', role: 'boss' }), 400, 'invalid_request', 'role');
    await problem(await admin('POST', projectPath, { email: 'x@example.com', role: 'member', expires_in_days: 0 }), 400, 'invalid_request', 'expires_in_days');
    await problem(await admin('POST', projectPath, { email: 'x@example.com', role: 'member', extra: true }), 400, 'invalid_request');
    await problem(await admin('POST', projectPath, { email: 'alice@example.com', role: 'member' }), 409, 'conflict', 'email');
    await problem(await api(server.url)('POST', projectPath, { email: 'x@example.com', role: 'member' }), 401, 'unauthorized');
    await problem(await admin('POST', '/v1/projects/prj_doesnotexist/invitations', { email: 'x@example.com', role: 'member' }), 404, 'not_found', 'id');
    // Owner only by owners: not by an API key, not by an admin; an owner may.
    await problem(await admin('POST', projectPath, { email: 'chief@example.com', role: 'owner' }), 403, 'forbidden', 'role');
    await problem(await api(server.url, adminToken)('POST', projectPath, { email: 'chief@example.com', role: 'owner' }), 403, 'forbidden', 'role');
    const chief = await api(server.url, ownerToken)<{ id: string; invited_by: Json }>('POST', projectPath, { email: 'chief@example.com', role: 'owner' });
    expect(chief.status).toBe(201);
    expect(chief.body.invited_by).toMatchObject({ type: 'user' });
    await problem(await api(server.url, adminToken)('DELETE', `${projectPath}/${chief.body.id}`), 403, 'forbidden');

    // A key of another organisation sees nothing here.
    const other = await admin<{ id: string }>('POST', '/v1/projects', { name: 'Other Org' });
    expect(other.status).toBe(201);
    const otherKey = JSON.parse(cli(server, ['keys', 'create', '--project', other.body.id, '--name', 'other', '--scopes', 'admin:projects', '--json']).stdout) as { key: string };
    await problem(await api(server.url, otherKey.key)('POST', projectPath, { email: 'x@example.com', role: 'member' }), 403, 'forbidden');
    await problem(await api(server.url, otherKey.key)('GET', projectPath), 403, 'forbidden');
    await problem(await api(server.url, otherKey.key)('DELETE', `${projectPath}/${again.body.id}`), 403, 'forbidden');
    const readOnlyKey = JSON.parse(cli(server, ['keys', 'create', '--project', boot.project.id, '--name', 'reader', '--scopes', 'read:logs', '--json']).stdout) as { key: string };
    await problem(await api(server.url, readOnlyKey.key)('GET', projectPath), 403, 'forbidden');

    // Revoke: 204, then the link is dead; again → 409; unknown → 404.
    const revoked = await admin('DELETE', `${projectPath}/${again.body.id}`);
    expect(revoked.status).toBe(204);
    expect((await fetch(`${server.url}/invitations/${again.body.token}`)).status).toBe(410);
    expect((await pending()).some((i) => i.id === again.body.id)).toBe(false);
    await problem(await admin('DELETE', `${projectPath}/${again.body.id}`), 409, 'conflict', 'invitation_id');
    await problem(await admin('DELETE', `${projectPath}/inv_doesnotexist0000`), 404, 'not_found', 'invitation_id');
    await problem(await api(server.url, ownerToken)('DELETE', `/v1/projects/${other.body.id}/invitations/${chief.body.id}`), 403, 'forbidden');
    const audit = await auditEvents('invitation');
    expect(audit.filter((e) => e.target.id === again.body.id).map((e) => e.action)).toEqual(['invitation.created', 'invitation.revoked']);
  });

  it('federated: an invited person with a verified email gets in with the invited role, without a provisioning rule; an unverified email does not', async () => {
    const made = await admin<{ id: string }>('POST', `/v1/projects/${boot.project.id}/invitations`, { email: 'fed.person@corp.example', role: 'member' });
    expect(made.status).toBe(201);
    const unverified = await admin<{ id: string }>('POST', `/v1/projects/${boot.project.id}/invitations`, { email: 'unverified@corp.example', role: 'member' });
    expect(unverified.status).toBe(201);

    // Unverified first: refused, nothing created, the invitation still waits.
    oidc.nextSignIn({ accountId: 'kc-unverified', claims: { email: 'unverified@corp.example', email_verified: false, name: 'Unverified' }, amr: ['pwd'] });
    const refusedContext = await newContext('en');
    const refusedPage = await refusedContext.newPage();
    await startRpSignIn(refusedPage);
    await refusedPage.locator('[data-connector="corp"]').click();
    const alert = refusedPage.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('this account has no access to LogTrace');
    expect((await users()).some((u) => u.email === 'unverified@corp.example')).toBe(false);
    expect((await pending()).some((i) => i.id === unverified.body.id)).toBe(true);
    await refusedContext.close();

    // Without an invitation, a verified email of the same domain is refused too (no rule: default deny).
    oidc.nextSignIn({ accountId: 'kc-stranger', claims: { email: 'stranger@corp.example', email_verified: true, name: 'Stranger' }, amr: ['pwd'] });
    const strangerContext = await newContext('en');
    const strangerPage = await strangerContext.newPage();
    await startRpSignIn(strangerPage);
    await strangerPage.locator('[data-connector="corp"]').click();
    await strangerPage.getByRole('alert').waitFor();
    expect((await users()).some((u) => u.email === 'stranger@corp.example')).toBe(false);
    await strangerContext.close();

    oidc.nextSignIn({ accountId: 'kc-fed', claims: { email: 'Fed.Person@corp.example', email_verified: true, name: 'Fed Person' }, amr: ['pwd'] });
    const context = await newContext('en');
    const page = await context.newPage();
    const flow = await startRpSignIn(page);
    await page.locator('[data-connector="corp"]').click();
    const access = await finishRpSignIn(page, flow);
    expect(access.project_roles).toEqual({ [boot.project.id]: 'member' });
    await context.close();
    const person = (await users()).find((u) => u.email === 'fed.person@corp.example')!;
    expect(person.id).toBe(access.sub);
    expect((await pending()).some((i) => i.id === made.body.id)).toBe(false);
    const accepted = (await auditEvents('invitation.accepted')).find((e) => e.target.id === made.body.id)!;
    expect(accepted.actor).toEqual({ type: 'user', id: person.id });
    expect(accepted.detail).toMatchObject({ via: 'corp', role: 'member' });
  });
});
