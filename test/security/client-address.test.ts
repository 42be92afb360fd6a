import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIRECT_URI, startAuthServer, testConfig, type AuthServer } from '../support/auth-server.ts';
import { api, bootstrap, type Bootstrapped } from '../support/admin.ts';
import { postJson, send, startForwardingProxy, type ForwardingProxy, type SentResponse } from '../support/forwarding-proxy.ts';

/**
 * Item 5 of the security issue: the client address is the right-most untrusted X-Forwarded-For hop.
 * For each `trust_proxy` setting an attacker reaches the server the way that deployment allows (directly,
 * through one or two appending proxies, or around the proxy) and prepends a forged `X-Forwarded-For:
 * 1.2.3.4`. Key allowlists (verify, /v1, token exchange), sign-in throttling and the audit log must all see
 * the attacker's real address (a distinct loopback address, 127.0.0.5 / .6), never the forged one.
 */

const FORGED = '1.2.3.4';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const API_KEY_TOKEN_TYPE = 'urn:logtrace:params:oauth:token-type:api-key';

type Trust = boolean | number | string[];
interface Route {
  name: string;
  /** The attacker's real address. */
  from: string;
  /** Proxies in front of the server, outermost first (none: the attacker connects directly). */
  proxies: number;
}

const SETTINGS: Array<{ trust: Trust; routes: Route[] }> = [
  { trust: false, routes: [{ name: 'directly', from: '127.0.0.5', proxies: 0 }] },
  { trust: true, routes: [{ name: 'through one proxy', from: '127.0.0.5', proxies: 1 }] },
  { trust: 1, routes: [{ name: 'through one proxy', from: '127.0.0.5', proxies: 1 }] },
  { trust: 2, routes: [{ name: 'through two proxies', from: '127.0.0.5', proxies: 2 }] },
  {
    trust: ['127.0.0.1/32'],
    routes: [
      { name: 'through the trusted proxy', from: '127.0.0.5', proxies: 1 },
      { name: 'around the proxy, straight to the server', from: '127.0.0.6', proxies: 0 },
    ],
  },
];

interface AuditPage {
  events: Array<{ action: string; ip: string | null; target: { id: string | null } }>;
}

describe.each(SETTINGS)('trust_proxy: $trust', ({ trust, routes }) => {
  let server: AuthServer;
  let boot: Bootstrapped;
  const proxies: ForwardingProxy[] = [];
  const bases = new Map<Route, string>();
  /** Per route: a key allowed only from the forged address, and one allowed only from the real one. */
  const keys = new Map<Route, { forged: string; real: string }>();

  beforeAll(async () => {
    server = await startAuthServer({
      config: (port, dataDir) => testConfig(port, { store: { driver: 'embedded', path: dataDir }, trust_proxy: trust, login: { max_failed_attempts: 2, window_seconds: 900 } }),
    });
    boot = bootstrap(server);
    const admin = api(server.url, boot.key.key);
    for (const route of routes) {
      let base = server.url;
      for (let i = 0; i < route.proxies; i++) {
        const proxy = await startForwardingProxy(base);
        proxies.push(proxy);
        base = proxy.url;
      }
      bases.set(route, base);
      const create = async (allow: string) => {
        const created = await admin<{ key: string }>('POST', '/v1/keys', { project_id: boot.project.id, name: `only ${allow}`, scopes: ['read:logs', 'admin:projects'], environment: 'live', ip_allowlist: [allow] });
        expect(created.status).toBe(201);
        return created.body.key;
      };
      keys.set(route, { forged: await create(FORGED), real: await create(route.from) });
    }
  });

  afterAll(async () => {
    await Promise.all(proxies.map((p) => p.close()));
    await server?.stop();
    await server?.cleanup();
  });

  const forgedHeaders = (extra: Record<string, string> = {}) => ({ 'x-forwarded-for': FORGED, ...extra });

  async function auditSince(since: string, action: string) {
    const page = await api(server.url, boot.key.key)<AuditPage>('GET', `/v1/audit?action=${action}&since=${encodeURIComponent(since)}&limit=1000`);
    expect(page.status).toBe(200);
    return page.body.events;
  }

  describe.each(routes)('an attacker $name', (route) => {
    const base = () => bases.get(route)!;

    it('is refused by /v1/keys/verify for a key allowlisted to the forged address; a key of its real address verifies', async () => {
      const { forged, real } = keys.get(route)!;
      const spoofed = await postJson(`${base()}/v1/keys/verify`, { key: forged }, { from: route.from, headers: forgedHeaders() });
      expect(spoofed.json()).toEqual({ valid: false, code: 'ip_not_allowed' });
      const honest = await postJson(`${base()}/v1/keys/verify`, { key: real }, { from: route.from, headers: forgedHeaders() });
      expect(honest.json()).toMatchObject({ valid: true });
    });

    it('cannot use a key allowlisted to the forged address on /v1, and the refusal is audited with its real address', async () => {
      const { forged, real } = keys.get(route)!;
      const since = new Date().toISOString();
      const path = `/v1/keys?project_id=${boot.project.id}`;
      const spoofed = await send(`${base()}${path}`, { from: route.from, headers: forgedHeaders({ authorization: `Bearer ${forged}` }) });
      expect(spoofed.status).toBe(401);
      expect(spoofed.text).toContain('ip_not_allowed');
      const honest = await send(`${base()}${path}`, { from: route.from, headers: forgedHeaders({ authorization: `Bearer ${real}` }) });
      expect(honest.status).toBe(200);
      const events = await auditSince(since, 'admin.request_failed');
      expect(events.length).toBeGreaterThan(0);
      for (const event of events) expect(event.ip).toBe(route.from);
    });

    it('cannot exchange a key allowlisted to the forged address for a token; the exchange audit names its real address', async () => {
      const { forged, real } = keys.get(route)!;
      const since = new Date().toISOString();
      const exchange = (key: string) =>
        send(`${base()}/token`, {
          method: 'POST',
          from: route.from,
          headers: forgedHeaders({ 'content-type': 'application/x-www-form-urlencoded' }),
          body: new URLSearchParams({ grant_type: TOKEN_EXCHANGE, client_id: 'logtrace-api-key', subject_token: key, subject_token_type: API_KEY_TOKEN_TYPE }).toString(),
        });
      const spoofed = await exchange(forged);
      expect(spoofed.status).toBe(400);
      expect(spoofed.json()).toMatchObject({ error: 'invalid_grant' });
      const honest = await exchange(real);
      expect(honest.status, honest.text).toBe(200);
      expect(honest.json()).toHaveProperty('access_token');
      const events = await auditSince(since, 'key.exchanged');
      expect(events).toHaveLength(2);
      for (const event of events) expect(event.ip).toBe(route.from);
    });

    it('is throttled at sign-in by its real address however it rotates X-Forwarded-For, and audited with it', async () => {
      const since = new Date().toISOString();
      const login = await openLoginForm(base(), route.from);
      const attempts: SentResponse[] = [];
      for (let i = 1; i <= 3; i++) {
        attempts.push(
          await send(login.action, {
            method: 'POST',
            from: route.from,
            headers: { cookie: login.cookies, 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': `1.2.3.${i}` },
            body: new URLSearchParams({ ...login.hidden, email: 'alice@example.com', password: `wrong-${i}` }).toString(),
          }),
        );
      }
      expect(attempts.map((a) => a.status)).toEqual([401, 401, 429]);
      const events = await auditSince(since, 'login.failed');
      expect(events).toHaveLength(3);
      for (const event of events) expect(event.ip).toBe(route.from);
    });

    it('cannot choose the scheme or host of the URLs the server builds', async () => {
      const discovery = await send(`${base()}/.well-known/openid-configuration`, { from: route.from, headers: forgedHeaders({ 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' }) });
      const endpoint = discovery.json<{ authorization_endpoint: string }>().authorization_endpoint;
      expect(endpoint).not.toContain('evil.example');
      // Behind proxies the host is the one the outermost proxy was asked for; without one, the Host header.
      expect(endpoint).toBe(`${base()}/auth`);
    });
  });
});

describe('trust_proxy: true behind a TLS-terminating proxy', () => {
  let server: AuthServer;
  let plain: ForwardingProxy;
  let tls: ForwardingProxy;

  beforeAll(async () => {
    server = await startAuthServer({ config: (port, dataDir) => testConfig(port, { store: { driver: 'embedded', path: dataDir }, trust_proxy: true }) });
    plain = await startForwardingProxy(server.url);
    tls = await startForwardingProxy(server.url, { proto: 'https' });
  });

  afterAll(async () => {
    await plain?.close();
    await tls?.close();
    await server?.stop();
    await server?.cleanup();
  });

  it('builds https URLs on the public host from the proxy’s X-Forwarded-Proto and -Host', async () => {
    const discovery = await send(`${tls.url}/.well-known/openid-configuration`, { from: '127.0.0.5', headers: { 'x-forwarded-proto': 'http' } });
    const body = discovery.json<{ issuer: string; authorization_endpoint: string; jwks_uri: string }>();
    expect(body.issuer).toBe(server.url);
    expect(body.authorization_endpoint).toBe(`${tls.url.replace('http:', 'https:')}/auth`);
    expect(body.jwks_uri).toBe(`${tls.url.replace('http:', 'https:')}/jwks`);
  });

  it('completes a sign-in through the proxy', async () => {
    const login = await openLoginForm(plain.url, '127.0.0.7');
    let response = await send(login.action, {
      method: 'POST',
      from: '127.0.0.7',
      headers: { cookie: login.cookies, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...login.hidden, email: 'alice@example.com', password: 'correct horse battery staple' }).toString(),
    });
    let url = login.action;
    const jar = new Map(login.cookies.split('; ').map((c) => c.split('=') as [string, string]));
    for (let hop = 0; hop < 10 && response.status >= 300 && response.status < 400; hop++) {
      for (const cookie of response.headers['set-cookie'] ?? []) {
        const [pair = ''] = cookie.split(';');
        jar.set(pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1));
      }
      url = new URL(response.headers.location!, url).href;
      if (url.startsWith(REDIRECT_URI)) break;
      response = await send(url, { from: '127.0.0.7', headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') } });
    }
    expect(url.startsWith(REDIRECT_URI), url).toBe(true);
    expect(new URL(url).searchParams.get('code')).toBeTruthy();
  });
});

/** Starts an authorization request at `base` from `from` and follows it to the sign-in form. */
async function openLoginForm(base: string, from: string): Promise<{ action: string; cookies: string; hidden: Record<string, string> }> {
  const cookies = new Map<string, string>();
  const query = new URLSearchParams({
    client_id: 'dashboard',
    response_type: 'code',
    redirect_uri: REDIRECT_URI,
    scope: 'openid email',
    code_challenge: randomBytes(32).toString('base64url'),
    code_challenge_method: 'S256',
    state: randomBytes(8).toString('hex'),
    nonce: randomBytes(8).toString('hex'),
  });
  let url = `${base}/auth?${query}`;
  for (let hop = 0; hop < 5; hop++) {
    const response = await send(url, { from, headers: { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
    for (const cookie of response.headers['set-cookie'] ?? []) {
      const [pair = ''] = cookie.split(';');
      cookies.set(pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1));
    }
    if (response.status >= 300 && response.status < 400) {
      url = new URL(response.headers.location!, url).href;
      continue;
    }
    const form = /<form method="post" action="([^"]+\/login)"[^>]*>([\s\S]*?)<\/form>/.exec(response.text);
    if (!form) throw new Error(`no sign-in form at ${url} (${response.status}): ${response.text.slice(0, 300)}`);
    const hidden: Record<string, string> = {};
    for (const input of form[2]!.matchAll(/<input[^>]*type="hidden"[^>]*>/g)) {
      const name = /name="([^"]+)"/.exec(input[0])?.[1];
      if (name) hidden[name] = /value="([^"]*)"/.exec(input[0])?.[1] ?? '';
    }
    return { action: new URL(form[1]!.replace(/&amp;/g, '&'), url).href, cookies: [...cookies].map(([k, v]) => `${k}=${v}`).join('; '), hidden };
  }
  throw new Error('too many redirects before the sign-in form');
}
