import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startAuthServer, testConfig, TEST_PASSWORD, type AuthServer } from '../support/auth-server.ts';
import { discover } from '../support/http-login.ts';
import { api, bootstrap, type Bootstrapped } from '../support/admin.ts';
import { freePort } from '../support/ports.ts';
import { launchBrowser } from '../support/browser.ts';
import { startCallbackServer } from '../support/wait.ts';
import { startFakeOidc, type FakeOidc } from '../support/fake-idps/oidc.ts';
import { followRedirects } from '../support/fake-idps/follow-redirects.ts';
import { defaultSamlUser, startSamlIdp, type TestSamlIdp } from '../support/saml-idp.ts';

type Json = Record<string, unknown>;
const SCOPE = 'openid email profile read:logs';
const OTHER_BROWSER = 'started in another browser';

/**
 * Login CSRF and session swapping across federated sign-in (RFC 9700 §4.7, OIDC Core §3.1.2.1): every
 * upstream round trip is bound to the browser that started it. Two Chromium contexts are two browsers
 * (separate cookie jars): the attacker's and the victim's. The SAML IdP is served as `localhost` while we
 * are `127.0.0.1`, so its POST to our ACS is cross-site, as it is in production.
 */
describe('federated sign-in is bound to the browser that started it', () => {
  let server: AuthServer;
  let oidc: FakeOidc;
  let idp: TestSamlIdp;
  let boot: Bootstrapped;
  let admin: ReturnType<typeof api>;
  let config: client.Configuration;
  let browser: Browser;
  let rp: Awaited<ReturnType<typeof startCallbackServer>>;

  beforeAll(async () => {
    rp = await startCallbackServer();
    const port = await freePort();
    [oidc, idp] = await Promise.all([
      startFakeOidc({ redirectUris: [`http://127.0.0.1:${port}/federation/corp/callback`] }),
      startSamlIdp({ ssoHost: 'localhost' }),
    ]);
    server = await startAuthServer({
      port,
      config: (p, dataDir) => {
        const base = testConfig(p, { store: { driver: 'embedded', path: dataDir } });
        return {
          ...base,
          clients: [...(base.clients as Json[]), { client_id: 'console', token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], redirect_uris: [rp.uri], scope: SCOPE }],
          connectors: [
            { id: 'corp', type: 'oidc', name: 'Acme Keycloak', issuer: oidc.url, client_id: oidc.clientId, client_secret: oidc.clientSecret, scopes: ['openid', 'email', 'profile'] },
            { id: 'adfs', type: 'saml', name: 'ADFS', idp_metadata_url: idp.metadataUrl },
          ],
          provisioning: {
            rules: [
              { email_domain: 'corp.example', connectors: ['corp'], project: 'Acme', role: 'viewer' },
              { email_domain: 'saml.example', connectors: ['adfs'], project: 'Acme', role: 'viewer' },
            ],
          },
        };
      },
    });
    boot = bootstrap(server);
    admin = api(server.url, boot.key.key);
    config = await discover(server.url, 'console');
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await server?.cleanup();
    await Promise.all([oidc?.close(), idp?.close(), rp?.close()]);
  });

  /** A separate browser: its own cookies. */
  async function newBrowser(): Promise<BrowserContext> {
    return browser.newContext({ locale: 'en-US' });
  }

  /** Opens the client's authorization request; returns the sign-in page and its interaction uid. */
  async function signInPage(context: BrowserContext): Promise<{ page: Page; uid: string; verifier: string }> {
    const page = await context.newPage();
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, { redirect_uri: rp.uri, scope: SCOPE, code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    await page.goto(url.href);
    const uid = /\/interaction\/([^/?#]+)$/.exec(new URL(page.url()).pathname)?.[1];
    if (!uid) throw new Error(`not on a sign-in page: ${page.url()}`);
    return { page, uid, verifier };
  }

  /**
   * Walks redirects (and our sign-in form, with `credentials`) with this browser's cookies, without following
   * the redirect to `stop`: the URL the browser was about to open there.
   */
  async function walkUntil(context: BrowserContext, start: string, stop: string, credentials?: { email: string; password: string }): Promise<string> {
    let url = start;
    let form: Record<string, string> | undefined;
    for (let hop = 0; hop < 15; hop += 1) {
      const response = await context.request.fetch(url, { method: form ? 'POST' : 'GET', maxRedirects: 0, ...(form ? { form } : {}) });
      form = undefined;
      const location = response.headers().location;
      if (response.status() >= 300 && response.status() < 400 && location) {
        url = new URL(location, url).href;
        if (url.startsWith(stop)) return url;
        continue;
      }
      const action = /<form method="post" action="([^"]+\/login)"/.exec(await response.text())?.[1];
      if (!action || !credentials) throw new Error(`${url} answered ${response.status()}, not a redirect`);
      url = new URL(action, url).href;
      form = credentials;
    }
    throw new Error(`no redirect to ${stop}`);
  }

  /** The attacker clicks a connector and keeps the upstream URL the browser was sent to, instead of going there. */
  async function upstreamUrl(context: BrowserContext, page: Page, connector: string, upstream: string): Promise<string> {
    const href = await page.locator(`[data-connector="${connector}"]`).getAttribute('href');
    return walkUntil(context, new URL(href ?? '', server.url).href, upstream);
  }

  /** Opens a URL and returns the status of the response from `path` on our server along the way. */
  async function openExpecting(page: Page, url: string, path: string): Promise<number> {
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().startsWith(`${server.url}${path}`)),
      page.goto(url),
    ]);
    await page.waitForLoadState();
    return response.status();
  }

  /** Where the attacker's own interaction stands: the page `/interaction/:uid/federated` ends at, in their browser. */
  async function attackerCollects(page: Page, uid: string): Promise<string> {
    await page.goto(`${server.url}/interaction/${uid}/federated`);
    return page.url();
  }

  /** Whether this browser holds a session with us: a new authorization request then skips the sign-in page. */
  async function hasSession(context: BrowserContext): Promise<boolean> {
    const page = await context.newPage();
    await page.goto(client.buildAuthorizationUrl(config, { redirect_uri: rp.uri, scope: SCOPE, code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()), code_challenge_method: 'S256' }).href);
    const signedIn = !page.url().startsWith(`${server.url}/interaction/`);
    await page.close();
    return signedIn;
  }

  async function failures(reason: string): Promise<Json[]> {
    const events = (await admin<{ events: Json[] }>('GET', '/v1/audit?action=login.failed&limit=1000')).body.events;
    return events.filter((e) => (e.detail as Json | undefined)?.reason === reason);
  }

  async function userEmails(): Promise<string[]> {
    return (await admin<{ users: Json[] }>('GET', '/v1/users')).body.users.map((u) => String(u.email));
  }

  it('OIDC: the upstream URL the attacker started, opened by the victim, signs nobody in anywhere', async () => {
    const before = (await failures('browser_mismatch')).length;
    const attacker = await newBrowser();
    const { page: attackerPage, uid } = await signInPage(attacker);
    const lure = await upstreamUrl(attacker, attackerPage, 'corp', oidc.url);

    // The victim is signed in at the upstream and follows the link: the upstream sends them straight back.
    oidc.nextSignIn({ accountId: 'kc-victim', claims: { email: 'victim@corp.example', email_verified: true, name: 'Victim' }, amr: ['pwd'] });
    const victim = await newBrowser();
    const victimPage = await victim.newPage();
    expect(await openExpecting(victimPage, lure, '/federation/corp/callback')).toBe(403);
    expect(await victimPage.getByRole('alert').textContent()).toContain(OTHER_BROWSER);
    expect(victimPage.url()).not.toContain(rp.uri);

    // The attacker cannot collect the victim's identity into their own interaction.
    expect(await attackerCollects(attackerPage, uid)).not.toContain(rp.uri);
    expect(await attackerPage.getByRole('alert').textContent()).toContain('expired or was already used');
    expect(await userEmails()).not.toContain('victim@corp.example');
    expect(await hasSession(victim)).toBe(false);
    expect((await failures('browser_mismatch')).length).toBe(before + 1);
    await Promise.all([attacker.close(), victim.close()]);
  });

  it('OIDC: the callback the attacker got from the upstream, opened by the victim, signs the victim in as nobody', async () => {
    const attacker = await newBrowser();
    const { page: attackerPage, uid } = await signInPage(attacker);
    const lure = await upstreamUrl(attacker, attackerPage, 'corp', oidc.url);
    // The attacker authenticates upstream as themselves and keeps the callback URL (code + state) to themselves.
    oidc.nextSignIn({ accountId: 'kc-mallory', claims: { email: 'mallory@corp.example', email_verified: true, name: 'Mallory' }, amr: ['pwd'] });
    const callback = await followRedirects(lure, `${server.url}/federation/corp/callback`);
    expect(callback.searchParams.get('code')).toBeTruthy();

    // The victim is on our sign-in page of their own when the link arrives.
    const victim = await newBrowser();
    const { page: victimPage } = await signInPage(victim);
    expect(await openExpecting(victimPage, callback.href, '/federation/corp/callback')).toBe(403);
    expect(await victimPage.getByRole('alert').textContent()).toContain(OTHER_BROWSER);
    expect(victimPage.url()).not.toContain(rp.uri);
    expect(await hasSession(victim)).toBe(false);

    // Nothing was finished for the attacker either, and the same callback never works again, anywhere.
    expect(await attackerCollects(attackerPage, uid)).not.toContain(rp.uri);
    expect(await userEmails()).not.toContain('mallory@corp.example');
    expect(await openExpecting(attackerPage, callback.href, '/federation/corp/callback')).toBe(400);
    expect(await attackerPage.getByRole('alert').textContent()).toContain('expired or was already used');
    await Promise.all([attacker.close(), victim.close()]);
  });

  it('OIDC: the same browser signs in; its binding cookie is HttpOnly, SameSite=Lax, scoped to our callback; a replay is refused', async () => {
    const person = await newBrowser();
    const { page, verifier } = await signInPage(person);
    oidc.nextSignIn({ accountId: 'kc-olga', claims: { email: 'olga@corp.example', email_verified: true, name: 'Olga' }, amr: ['pwd'] });
    const bindings: string[] = [];
    let used: string | undefined;
    page.on('response', async (response) => {
      if (new URL(response.url()).pathname.endsWith('/federation/corp')) bindings.push(...(await response.headerValues('set-cookie')).filter((c) => c.startsWith('lt_fed')));
    });
    page.on('request', (request) => {
      if (request.url().startsWith(`${server.url}/federation/corp/callback`)) used = request.url();
    });
    await page.locator('[data-connector="corp"]').click();
    await page.waitForURL((u) => u.href.startsWith(rp.uri));
    const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: verifier });
    expect(tokens.claims()).toMatchObject({ email: 'olga@corp.example' });

    expect(bindings).toHaveLength(1);
    expect(bindings[0]).toMatch(/^lt_fed_[\w-]+=[\w-]{43}; /);
    expect(bindings[0]!.split('; ')).toEqual(expect.arrayContaining(['Path=/federation/corp/', 'HttpOnly', 'SameSite=Lax', 'Max-Age=600']));
    // Used once, then cleared.
    expect((await person.cookies(`${server.url}/federation/corp/callback`)).filter((c) => c.name.startsWith('lt_fed'))).toEqual([]);

    // Replayed in the very browser that used it.
    expect(used).toBeDefined();
    expect(await openExpecting(page, used!, '/federation/corp/callback')).toBe(400);
    expect(await page.getByRole('alert').textContent()).toContain('expired or was already used');
    await person.close();
  });

  it('SAML: the IdP URL the attacker started, opened by the victim, completes nothing', async () => {
    const before = (await failures('browser_mismatch')).length;
    const attacker = await newBrowser();
    const { page: attackerPage, uid } = await signInPage(attacker);
    const lure = await upstreamUrl(attacker, attackerPage, 'adfs', idp.ssoUrl);

    idp.mode = 'normal';
    idp.user = { ...defaultSamlUser(), nameId: 'u-victim', attributes: { mail: 'victim@saml.example', displayName: 'Victim' } };
    const victim = await newBrowser();
    const victimPage = await victim.newPage();
    expect(await openExpecting(victimPage, lure, '/federation/adfs/acs')).toBe(403);
    expect(await victimPage.getByRole('alert').textContent()).toContain(OTHER_BROWSER);

    expect(await attackerCollects(attackerPage, uid)).not.toContain(rp.uri);
    expect(await userEmails()).not.toContain('victim@saml.example');
    expect((await failures('browser_mismatch')).length).toBe(before + 1);
    await Promise.all([attacker.close(), victim.close()]);
  });

  it('SAML: the response the IdP gave the attacker, posted from the victim\'s browser, is refused', async () => {
    const attacker = await newBrowser();
    const { page: attackerPage, uid } = await signInPage(attacker);
    const lure = await upstreamUrl(attacker, attackerPage, 'adfs', idp.ssoUrl);
    idp.mode = 'normal';
    idp.user = { ...defaultSamlUser(), nameId: 'u-mallory', attributes: { mail: 'mallory@saml.example', displayName: 'Mallory' } };
    const html = await (await fetch(lure.replace('//localhost:', '//127.0.0.1:'))).text();
    const field = (name: string) => [...html.matchAll(/name="([^"]+)" value="([^"]*)"/g)].find((m) => m[1] === name)?.[2];
    const action = /<form[^>]*action="([^"]*)"/.exec(html)?.[1];
    expect(action).toBe(`${server.url}/federation/adfs/acs`);

    // A page on the attacker's site auto-posts it from the victim's browser.
    const victim = await newBrowser();
    const victimPage = await victim.newPage();
    await victim.route('http://attacker.test/**', (route) => route.fulfill({
      status: 200,
      contentType: 'text/html',
      body: `<form method="post" action="${action}"><input type="hidden" name="SAMLResponse" value="${field('SAMLResponse')}"><input type="hidden" name="RelayState" value="${field('RelayState')}"></form><script>document.forms[0].submit()</script>`,
    }));
    expect(await openExpecting(victimPage, 'http://attacker.test/lure', '/federation/adfs/acs')).toBe(403);
    expect(await victimPage.getByRole('alert').textContent()).toContain(OTHER_BROWSER);
    expect(await attackerCollects(attackerPage, uid)).not.toContain(rp.uri);
    expect(await userEmails()).not.toContain('mallory@saml.example');
    await Promise.all([attacker.close(), victim.close()]);
  });

  it('SAML: the same browser signs in through a cross-site POST to the ACS, carried by its SameSite=None cookie', async () => {
    idp.mode = 'normal';
    idp.user = { ...defaultSamlUser(), nameId: 'u-sam', attributes: { mail: 'sam@saml.example', displayName: 'Sam' } };
    const person = await newBrowser();
    const { page, verifier } = await signInPage(person);
    const bindings: string[] = [];
    let sent = '';
    page.on('response', async (response) => {
      if (new URL(response.url()).pathname.endsWith('/federation/adfs')) bindings.push(...(await response.headerValues('set-cookie')).filter((c) => c.startsWith('lt_fed')));
    });
    page.on('request', async (request) => {
      if (request.method() === 'POST' && request.url() === `${server.url}/federation/adfs/acs`) sent = (await request.allHeaders()).cookie ?? '';
    });
    await page.locator('[data-connector="adfs"]').click();
    await page.waitForURL((u) => u.href.startsWith(rp.uri));
    const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: verifier });
    expect(tokens.claims()).toMatchObject({ email: 'sam@saml.example' });

    // http issuer: a Lax cookie (an IdP on our own site) and a SameSite=None; Secure twin (a cross-site IdP).
    expect(bindings).toHaveLength(2);
    expect(bindings.find((c) => /^lt_fed_[\w-]{16}_x=/.test(c))!.split('; ')).toEqual(expect.arrayContaining(['Path=/federation/adfs/', 'HttpOnly', 'SameSite=None', 'Secure']));
    expect(bindings.find((c) => /^lt_fed_[\w-]{16}=/.test(c))!.split('; ')).toEqual(expect.arrayContaining(['Path=/federation/adfs/', 'HttpOnly', 'SameSite=Lax']));
    // The IdP (localhost) is another site than we are (127.0.0.1): only the SameSite=None cookie came along.
    expect(sent).toMatch(/lt_fed_[\w-]{16}_x=/);
    expect(sent).not.toMatch(/lt_fed_[\w-]{16}=/);
    await person.close();
  });

  it('two sign-ins at once in one browser (two tabs) both complete', async () => {
    const person = await newBrowser();
    const first = await signInPage(person);
    const second = await signInPage(person);
    const lures = [await upstreamUrl(person, first.page, 'corp', oidc.url), await upstreamUrl(person, second.page, 'corp', oidc.url)];
    for (const [index, tab] of [first, second].entries()) {
      oidc.nextSignIn({ accountId: `kc-tab-${index}`, claims: { email: `tab${index}@corp.example`, email_verified: true, name: `Tab ${index}` }, amr: ['pwd'] });
      await tab.page.goto(lures[index]!);
      await tab.page.waitForURL((u) => u.href.startsWith(rp.uri));
      const tokens = await client.authorizationCodeGrant(config, new URL(tab.page.url()), { pkceCodeVerifier: tab.verifier });
      expect(tokens.claims()).toMatchObject({ email: `tab${index}@corp.example` });
    }
    await person.close();
  });

  it('dashboard: the attacker\'s callback, opened in the victim\'s browser, signs the victim in to nothing', async () => {
    const attacker = await newBrowser();
    const callback = await walkUntil(attacker, `${server.url}/dashboard/login`, `${server.url}/dashboard/callback`, { email: 'alice@example.com', password: TEST_PASSWORD });
    expect(new URL(callback).searchParams.get('code')).toBeTruthy();

    // A victim with no sign-in of their own in progress, then one with a sign-in of their own in progress.
    const victim = await newBrowser();
    const victimPage = await victim.newPage();
    expect(await openExpecting(victimPage, callback, '/dashboard/callback')).toBe(400);
    await victimPage.goto(`${server.url}/dashboard`);
    await victimPage.getByLabel('Email').waitFor();
    expect(await openExpecting(victimPage, callback, '/dashboard/callback')).toBe(400);
    expect((await victim.cookies(`${server.url}/dashboard`)).map((c) => c.name)).not.toContain('lt_dash');

    // The attacker's own browser still can; once.
    const attackerPage = await attacker.newPage();
    expect(await openExpecting(attackerPage, callback, '/dashboard/callback')).toBe(303);
    expect((await attacker.cookies(`${server.url}/dashboard`)).map((c) => c.name)).toContain('lt_dash');
    expect(await openExpecting(attackerPage, callback, '/dashboard/callback')).toBe(400);
    await Promise.all([attacker.close(), victim.close()]);
  });
});
