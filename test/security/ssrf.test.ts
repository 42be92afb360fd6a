/**
 * Server-side request forgery: an admin (of webhooks or of connections) aims this server at addresses
 * inside the operator's network — loopback services, private ranges, cloud metadata — directly, through a
 * name that resolves there, through a redirect, or through a DNS answer that changes after the check.
 *
 * Network rule of these tests: traffic goes to loopback only. Every refusal of a non-loopback address
 * (10.x, 169.254.x, …) is asserted as a refusal made before connecting; loopback "internal services" are
 * counting servers that must see nothing.
 */
import { randomBytes } from 'node:crypto';
import type { LookupAddress } from 'node:dns';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConnectorConfig, createConnector } from '../../src/connectors/index.ts';
import { ConnectorError, type RedirectConnector } from '../../src/connectors/types.ts';
import { parseConfig } from '../../src/config/index.ts';
import { BlockedAddressError, OutboundPolicy, ResponseTooLargeError, guardedFetch, guardedSockets, parseAllowEntry } from '../../src/net/index.ts';
import { WebhookRepository } from '../../src/webhooks/index.ts';
import { bootstrap, personApi, type Bootstrapped } from '../support/admin.ts';
import { startAuthServer, testConfig, type AuthServer } from '../support/auth-server.ts';
import { connectorDeps } from '../support/fake-idps/deps.ts';
import { followRedirects } from '../support/fake-idps/follow-redirects.ts';
import { json, listen } from '../support/fake-idps/http.ts';
import { startFakeOidc, type FakeOidc } from '../support/fake-idps/oidc.ts';
import { freePort } from '../support/ports.ts';
import { eventually } from '../support/wait.ts';
import { ancestry, captureLogger, openFreshStore, type OpenedStore } from '../webhooks/fixtures.ts';

type Json = Record<string, unknown>;

/** An "internal service" on loopback that counts what reaches it. */
interface Sink {
  port: number;
  url: string;
  requests: Array<{ url: string; host: string | undefined }>;
  close(): Promise<void>;
}

async function startSink(answer: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('internal secret')): Promise<Sink> {
  const port = await freePort();
  const requests: Sink['requests'] = [];
  const server = createHttpServer((req, res) => {
    requests.push({ url: req.url ?? '/', host: req.headers.host });
    answer(req, res);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A TCP listener (an "internal LDAP server") counting connections. */
async function startTcpSink(): Promise<{ port: number; connections: () => number; close(): Promise<void> }> {
  const port = await freePort();
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/** A resolver that must not be asked: literal addresses are checked as they are. */
const noDns = (): Promise<LookupAddress[]> => Promise.reject(new Error('the resolver must not be asked for a literal address'));

describe('the outbound policy and the guarded fetch', () => {
  let sink: Sink;
  beforeAll(async () => {
    sink = await startSink();
  });
  afterAll(async () => {
    await sink?.close();
  });

  it.each([
    ['http://10.0.0.1/', '10.0.0.1'],
    ['http://172.16.0.1/', '172.16.0.1'],
    ['http://192.168.1.1/', '192.168.1.1'],
    ['http://169.254.169.254/latest/meta-data/', '169.254.169.254'],
    ['http://100.64.0.1/', '100.64.0.1'],
    ['http://0.0.0.0/', '0.0.0.0'],
    ['http://[::]/', '::'],
    ['http://[::1]/', '::1'],
    ['http://[fd00:ec2::254]/', 'fd00:ec2::254'],
    ['http://[fe80::1]/', 'fe80::1'],
    ['http://[::ffff:169.254.169.254]/', '::ffff:a9fe:a9fe'],
    ['http://0xa9.254.169.254/', '169.254.169.254'],
    ['http://2852039166/', '169.254.169.254'],
  ])('refuses %s before connecting', async (url, address) => {
    const fetchImpl = guardedFetch({ policy: new OutboundPolicy({ blockPrivate: true, resolve: noDns }) });
    const error = await rejection(fetchImpl(url));
    expect(error).toBeInstanceOf(BlockedAddressError);
    expect((error as Error).message).toContain(`${address} is a loopback, private or link-local address`);
  });

  it('refuses a loopback service, by address and by a name resolving to it (the system resolver: localhost); it sees nothing', async () => {
    const fetchImpl = guardedFetch({ policy: new OutboundPolicy({ blockPrivate: true }) });
    expect(await rejection(fetchImpl(`${sink.url}/admin`))).toBeInstanceOf(BlockedAddressError);
    const byName = await rejection(fetchImpl(`http://localhost:${sink.port}/admin`));
    expect(byName).toBeInstanceOf(BlockedAddressError);
    expect((byName as Error).message).toMatch(/"localhost" resolves to (127\.0\.0\.1|::1)/);
    expect(sink.requests).toEqual([]);
  });

  it('refuses a name when any of its addresses is internal (the client could pick that one)', async () => {
    const resolve = async (): Promise<LookupAddress[]> => [{ address: '93.184.215.14', family: 4 }, { address: '127.0.0.1', family: 4 }];
    const error = await rejection(guardedFetch({ policy: new OutboundPolicy({ blockPrivate: true, resolve }) })(`http://mixed.example:${sink.port}/`));
    expect((error as Error).message).toContain('"mixed.example" resolves to 127.0.0.1');
    expect(sink.requests).toEqual([]);
  });

  it('reaches an allowlisted destination, and only on the port the entry names', async () => {
    const fetchImpl = guardedFetch({ policy: new OutboundPolicy({ blockPrivate: true, allowPrivate: [`127.0.0.1:${sink.port}`] }) });
    const response = await fetchImpl(`${sink.url}/ok`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('internal secret');
    const otherPort = await freePort();
    expect(await rejection(fetchImpl(`http://127.0.0.1:${otherPort}/`))).toBeInstanceOf(BlockedAddressError);
  });

  it('DNS rebinding: connects to the address it checked, resolving once per request', async () => {
    // First answer: the allowlisted loopback address (think "a public address"); every later answer:
    // another loopback address where nothing listens (think "the metadata service"). A client that
    // resolved again to connect would get the second answer and fail.
    let asked = 0;
    const resolve = async (hostname: string): Promise<LookupAddress[]> => {
      expect(hostname).toBe('rebind.example');
      asked += 1;
      return [{ address: asked === 1 ? '127.0.0.1' : '127.0.0.2', family: 4 }];
    };
    const fetchImpl = guardedFetch({ policy: new OutboundPolicy({ blockPrivate: true, allowPrivate: ['127.0.0.1'], resolve }) });
    const response = await fetchImpl(`http://rebind.example:${sink.port}/pinned`);
    expect(response.status).toBe(200);
    await response.body?.cancel();
    expect(asked).toBe(1);
    expect(sink.requests.at(-1)).toEqual({ url: '/pinned', host: `rebind.example:${sink.port}` });
    // The next request checks again, sees the new (internal, not allowlisted) answer, and refuses it.
    const error = await rejection(fetchImpl(`http://rebind.example:${sink.port}/again`));
    expect((error as Error).message).toContain('"rebind.example" resolves to 127.0.0.2');
    expect(asked).toBe(2);
    expect(sink.requests.map((r) => r.url)).not.toContain('/again');
  });

  it('never follows a redirect, even to an allowlisted destination', async () => {
    const redirector = await startSink((_req, res) => res.writeHead(302, { location: `${sink.url}/followed` }).end());
    try {
      const fetchImpl = guardedFetch({ policy: new OutboundPolicy({ blockPrivate: true, allowPrivate: ['127.0.0.1'] }) });
      const response = await fetchImpl(`${redirector.url}/start`, { redirect: 'follow' });
      expect(response.status).toBe(302);
      expect(response.headers.get('location')).toBe(`${sink.url}/followed`);
      expect(sink.requests.map((r) => r.url)).not.toContain('/followed');
    } finally {
      await redirector.close();
    }
  });

  it('caps the response size', async () => {
    const big = await startSink((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(`"${'x'.repeat(200_000)}"`));
    try {
      const fetchImpl = guardedFetch({ policy: new OutboundPolicy({ blockPrivate: false }), maxResponseBytes: 64 * 1024 });
      const response = await fetchImpl(big.url);
      expect(await rejection(response.text())).toBeInstanceOf(ResponseTooLargeError);
    } finally {
      await big.close();
    }
  });

  it('LDAP sockets: a literal internal address and a name resolving to loopback fail before connecting', async () => {
    const ldap = await startTcpSink();
    try {
      const sockets = guardedSockets(new OutboundPolicy({ blockPrivate: true }));
      const failure = (socket: Socket): Promise<Error> => new Promise((resolve, reject) => {
        socket.once('error', resolve);
        socket.once('connect', () => reject(new Error('connected')));
      });
      const literal = await failure(sockets.createConnection(389, '10.0.0.1'));
      expect(literal).toBeInstanceOf(BlockedAddressError);
      expect((await failure(sockets.createConnection(636, '169.254.169.254')))).toBeInstanceOf(BlockedAddressError);
      expect(await failure(sockets.createConnection(ldap.port, '127.0.0.1'))).toBeInstanceOf(BlockedAddressError);
      const named = await failure(sockets.createConnection(ldap.port, 'localhost'));
      expect(named.message).toMatch(/"localhost" resolves to/);
      expect(ldap.connections()).toBe(0);
      // Allowlisted: connects.
      const allowed = guardedSockets(new OutboundPolicy({ blockPrivate: true, allowPrivate: [`127.0.0.1:${ldap.port}`] })).createConnection(ldap.port, '127.0.0.1');
      await new Promise<void>((resolve, reject) => allowed.once('connect', resolve).once('error', reject));
      allowed.destroy();
      await eventually(async () => ldap.connections() === 1, 5, 20);
    } finally {
      await ldap.close();
    }
  });

  it('parses allowlist entries, and the configuration refuses a bad one with its key path', () => {
    for (const good of ['hooks.internal.example', 'hooks.internal.example:8443', '10.1.2.3', '10.1.2.3:8443', '10.1.2.0/24', 'fd00::/8', '[fd00::5]:8443', 'fd00::5', 'localhost']) {
      expect(typeof parseAllowEntry(good), good).toBe('object');
    }
    for (const bad of ['10.1.2.0/33', 'hooks.example:0', 'hooks.example:99999', 'http://hooks.example', '[not-v6]', '*.example.com', '']) {
      expect(typeof parseAllowEntry(bad), bad).toBe('string');
    }
    expect(() => parseConfig({ issuer: 'http://127.0.0.1:3000', outbound: { allow_private: ['10.0.0.0/99'] } })).toThrow(/outbound\.allow_private\.0/);
    expect(parseConfig({ issuer: 'http://127.0.0.1:3000' }).webhooks.block_private_addresses).toBe(true);
  });
});

describe('webhook deliveries check the address they connect to, every time', () => {
  let opened: OpenedStore;
  let service: WebhookRepository;
  let answer: LookupAddress[];
  let asked = 0;
  beforeAll(async () => {
    opened = await openFreshStore('embedded');
    service = new WebhookRepository(opened.store, {
      logger: captureLogger().logger,
      blockPrivateAddresses: true,
      ancestorsOf: ancestry(new Map()),
      retrySchedule: [],
      pollIntervalMs: 50,
      resolve: async () => {
        asked += 1;
        return answer;
      },
    });
    service.start();
  });
  afterAll(async () => {
    await service?.stop();
    await opened?.cleanup();
  });

  it('a host that resolved to a public address at creation and to loopback at delivery is refused, nothing sent', async () => {
    const sink = await startSink();
    try {
      answer = [{ address: '93.184.215.14', family: 4 }];
      // Creation only resolves (the fake resolver): nothing is sent anywhere.
      const { webhook } = await service.create({ project_id: 'root', url: `https://hooks.example:${sink.port}/hook`, events: ['key.created'], created_by: { type: 'user', id: 'usr_1' } });
      answer = [{ address: '127.0.0.1', family: 4 }];
      const before = asked;
      expect(await service.emit({ type: 'key.created', project_id: 'root', data: {} })).toBe(1);
      let deliveries: Awaited<ReturnType<WebhookRepository['deliveries']>> = [];
      await eventually(async () => {
        deliveries = await service.deliveries(webhook.id);
        return deliveries[0]?.status === 'failed';
      }, 10, 50);
      expect(deliveries[0]!.attempts).toEqual([
        expect.objectContaining({ status_code: null, error: expect.stringMatching(/^refused: "hooks\.example" resolves to 127\.0\.0\.1, a loopback, private or link-local address/) }),
      ]);
      expect(asked).toBeGreaterThan(before);
      expect(sink.requests).toEqual([]);
    } finally {
      await sink.close();
    }
  });
});

describe('connectors of connections made at run time fetch through the guard (discovery, token, JWKS via jose, userinfo)', () => {
  let upstream: FakeOidc;
  const REDIRECT_URI = 'http://127.0.0.1:9/federation/corp/callback';
  beforeAll(async () => {
    upstream = await startFakeOidc({ redirectUris: [REDIRECT_URI] });
  });
  afterAll(async () => {
    await upstream?.close();
  });

  async function connector(issuer: string, fetchImpl: typeof fetch): Promise<RedirectConnector> {
    const parsed = parseConnectorConfig({ id: 'corp', type: 'oidc', issuer, client_id: upstream.clientId, client_secret: upstream.clientSecret, scopes: ['openid', 'email', 'profile'] });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    const created = await createConnector(parsed.config, { ...connectorDeps(), fetch: fetchImpl });
    if (created.kind !== 'redirect') throw new Error('expected a redirect connector');
    return created;
  }

  it('an allowlisted upstream works end to end over the guarded fetch', async () => {
    const port = Number(new URL(upstream.url).port);
    const c = await connector(upstream.url, guardedFetch({ policy: new OutboundPolicy({ blockPrivate: true, allowPrivate: [`127.0.0.1:${port}`] }) }));
    upstream.nextSignIn({ accountId: 'alice', claims: { email: 'alice@corp.example', email_verified: true } });
    const { url, transaction } = await c.begin({ redirectUri: REDIRECT_URI, state: randomBytes(16).toString('base64url') });
    const callback = await followRedirects(url, REDIRECT_URI);
    const identity = await c.complete({ redirectUri: REDIRECT_URI, query: callback.searchParams, transaction });
    expect(identity).toMatchObject({ subject: 'alice', email: 'alice@corp.example' });
  });

  it('a JWKS on a destination that is not allowed is never fetched (jose goes through the guard too)', async () => {
    const keys = await startSink((_req, res) => json(res, 200, { keys: [] }));
    const idp = await listen((req, res, url) => {
      if (url.pathname === '/.well-known/openid-configuration') {
        json(res, 200, { issuer: idp.url, authorization_endpoint: `${idp.url}/auth`, token_endpoint: `${idp.url}/token`, jwks_uri: `${keys.url}/jwks` });
      } else if (url.pathname === '/token' && req.method === 'POST') {
        const part = (value: Json) => Buffer.from(JSON.stringify(value)).toString('base64url');
        json(res, 200, { access_token: 'at', token_type: 'Bearer', id_token: `${part({ alg: 'RS256', kid: 'k1' })}.${part({ sub: 'x' })}.${'A'.repeat(86)}` });
      } else {
        json(res, 404, { error: 'not_found' });
      }
    });
    try {
      const idpPort = Number(new URL(idp.url).port);
      const c = await connector(idp.url, guardedFetch({ policy: new OutboundPolicy({ blockPrivate: true, allowPrivate: [`127.0.0.1:${idpPort}`] }) }));
      const state = randomBytes(16).toString('base64url');
      const { transaction } = await c.begin({ redirectUri: REDIRECT_URI, state });
      const error = await rejection(c.complete({ redirectUri: REDIRECT_URI, query: new URLSearchParams({ state, code: 'c' }), transaction }));
      expect(error).toBeInstanceOf(ConnectorError);
      expect((error as ConnectorError).code).toBe('upstream_error');
      expect((error as Error).message).toMatch(/could not load the upstream JWKS \(refused: 127\.0\.0\.1 is a loopback/);
      expect(keys.requests).toEqual([]);
    } finally {
      await idp.close();
      await keys.close();
    }
  });

  it('a discovery that redirects fails with a clear message, and the redirect is not followed', async () => {
    const target = await startSink();
    const idp = await startSink((_req, res) => res.writeHead(301, { location: `${target.url}/.well-known/openid-configuration` }).end());
    try {
      const c = await connector(idp.url, guardedFetch({ policy: new OutboundPolicy({ blockPrivate: true, allowPrivate: ['127.0.0.1'] }) }));
      const error = await rejection(c.begin({ redirectUri: REDIRECT_URI, state: 's'.repeat(22) }));
      expect((error as Error).message).toMatch(/discovery.*HTTP 301, a redirect, which is not followed/);
      expect(target.requests).toEqual([]);
    } finally {
      await idp.close();
      await target.close();
    }
  });
});

describe('through the server, with the default webhooks.block_private_addresses', () => {
  let server: AuthServer;
  let boot: Bootstrapped;
  let admin: Awaited<ReturnType<typeof personApi>>['call'];
  let upstream: FakeOidc;
  let internal: Sink; // an internal HTTP service on loopback, not allowlisted
  let redirector: Sink; // a receiver the operator allowlisted, answering 302 to the internal service
  let ldap: Awaited<ReturnType<typeof startTcpSink>>;

  beforeAll(async () => {
    internal = await startSink();
    redirector = await startSink((_req, res) => res.writeHead(302, { location: `${internal.url}/internal` }).end());
    ldap = await startTcpSink();
    const port = await freePort();
    upstream = await startFakeOidc({ redirectUris: [`http://127.0.0.1:${port}/federation/static-idp/callback`, `http://127.0.0.1:${port}/federation/kc/callback`] });
    server = await startAuthServer({
      port,
      env: { LOGTRACE_SECRET_KEY: randomBytes(32).toString('base64') },
      config: (p, dataDir) => ({
        // No `webhooks:` key: block_private_addresses is on by default. The only internal destination
        // allowed is the one receiver port (testConfig's loopback allowlist is replaced).
        ...testConfig(p, { store: { driver: 'embedded', path: dataDir } }),
        outbound: { allow_private: [`127.0.0.1:${redirector.port}`] },
        // The operator's own configuration is trusted: the same upstream, from the file.
        connectors: [{ id: 'static-idp', type: 'oidc', issuer: upstream.url, client_id: upstream.clientId, client_secret: upstream.clientSecret }],
      }),
    });
    boot = bootstrap(server);
    // Connections are an owner's to create (the access policy): a person, not the bootstrap key.
    admin = (await personApi(server, { email: 'owner@acme.test', project: boot.project.id, role: 'owner' })).call;
  });
  afterAll(async () => {
    await server?.stop();
    await server?.cleanup();
    await Promise.all([upstream?.close(), internal?.close(), redirector?.close(), ldap?.close()]);
  });

  it('refuses webhooks to loopback, private, link-local, metadata and CGNAT addresses, literal or by name; nothing is sent', async () => {
    const cases: Array<[string, RegExp]> = [
      [`http://127.0.0.1:${internal.port}/hook`, /127\.0\.0\.1 is a loopback, private or link-local address/],
      [`https://127.0.0.1:${internal.port}/hook`, /127\.0\.0\.1 is a loopback/],
      [`http://[::1]:${internal.port}/hook`, /::1 is a loopback/],
      [`http://[::ffff:127.0.0.1]:${internal.port}/hook`, /::ffff:7f00:1 is a loopback/],
      [`http://0x7f.1:${internal.port}/hook`, /127\.0\.0\.1 is a loopback/],
      [`http://0.0.0.0:${internal.port}/hook`, /0\.0\.0\.0 is a loopback/],
      [`http://localhost:${internal.port}/hook`, /"localhost" resolves to (127\.0\.0\.1|::1)/],
      ['http://169.254.169.254/latest/meta-data/iam/security-credentials/', /169\.254\.169\.254 is a loopback, private or link-local address/],
      ['http://[fd00:ec2::254]/latest/meta-data/', /fd00:ec2::254 is a loopback/],
      ['https://10.0.0.1/hook', /10\.0\.0\.1 is a loopback/],
      ['https://192.168.0.10/hook', /192\.168\.0\.10 is a loopback/],
      ['https://100.64.0.1/hook', /100\.64\.0\.1 is a loopback/],
    ];
    for (const [url, message] of cases) {
      const refused = await admin('POST', '/v1/webhooks', { project_id: boot.project.id, url, events: ['key.created'] });
      expect(refused.status, url).toBe(400);
      expect(refused.type).toMatch(/problem\+json/);
      expect(refused.body, url).toMatchObject({ code: 'invalid_request', field: 'url' });
      expect(String(refused.body.detail), url).toMatch(message);
      expect(String(refused.body.detail), url).toContain('outbound.allow_private');
    }
    expect((await admin<{ webhooks: Json[] }>('GET', `/v1/webhooks?project_id=${boot.project.id}`)).body.webhooks).toEqual([]);
    expect(internal.requests).toEqual([]);
  });

  it('an allowlisted receiver that answers 302 to an internal URL: the redirect is not followed', async () => {
    const created = await admin('POST', '/v1/webhooks', { project_id: boot.project.id, url: `${redirector.url}/hook`, events: ['key.created'] });
    expect(created.status).toBe(201);
    const key = await admin('POST', '/v1/keys', { project_id: boot.project.id, name: 'trigger', scopes: ['read:logs'], environment: 'live' });
    expect(key.status).toBe(201);
    let attempts: Json[] = [];
    await eventually(async () => {
      const deliveries = (await admin<{ deliveries: Json[] }>('GET', `/v1/webhooks/${created.body.id}/deliveries`)).body.deliveries;
      attempts = (deliveries[0]?.attempts as Json[] | undefined) ?? [];
      return attempts.length > 0;
    }, 15);
    expect(attempts[0]).toMatchObject({ status_code: 302, error: 'redirect (302) not followed' });
    expect(redirector.requests.map((r) => r.url)).toContain('/hook');
    expect(internal.requests).toEqual([]);
    await admin('DELETE', `/v1/webhooks/${created.body.id}`);
  });

  it('a run-time OIDC connection to a loopback issuer: its test is refused before any request; the same upstream from the file works', async () => {
    const discovery = '/.well-known/openid-configuration';
    const before = upstream.hits(discovery);
    const made = await admin('POST', '/v1/connections', { id: 'kc', type: 'oidc', issuer: upstream.url, client_id: upstream.clientId, client_secret: upstream.clientSecret });
    expect(made.status).toBe(201);
    const tested = await admin<{ ok: boolean; checks: Array<{ check: string; ok: boolean; detail: string }> }>('POST', '/v1/connections/kc/test');
    expect(tested.body.ok).toBe(false);
    expect(tested.body.checks[0]).toMatchObject({ check: 'discovery', ok: false });
    expect(tested.body.checks[0]!.detail).toMatch(/was not fetched: refused: 127\.0\.0\.1 is a loopback, private or link-local address/);
    expect(upstream.hits(discovery)).toBe(before);

    const trusted = await admin<{ ok: boolean; checks: Array<{ check: string; ok: boolean }> }>('POST', '/v1/connections/static-idp/test');
    expect(trusted.body).toMatchObject({ ok: true });
    expect(upstream.hits(discovery)).toBeGreaterThan(before);
  });

  it('a run-time OIDC connection to the metadata address is refused without a connection attempt', async () => {
    const made = await admin('POST', '/v1/connections', { id: 'meta', type: 'oidc', issuer: 'http://169.254.169.254/latest', client_id: 'x', client_secret: 'y' });
    expect(made.status).toBe(201);
    const tested = await admin<{ ok: boolean; checks: Array<{ check: string; detail: string }> }>('POST', '/v1/connections/meta/test');
    expect(tested.body.ok).toBe(false);
    expect(tested.body.checks[0]!.detail).toMatch(/refused: 169\.254\.169\.254 is a loopback, private or link-local address/);
  });

  it('a run-time SAML connection with its metadata URL on an internal service: refused, never fetched', async () => {
    const made = await admin('POST', '/v1/connections', { id: 'saml-int', type: 'saml', idp_metadata_url: `${internal.url}/metadata` });
    expect(made.status).toBe(201);
    const tested = await admin<{ ok: boolean; checks: Array<{ check: string; ok: boolean; detail: string }> }>('POST', '/v1/connections/saml-int/test');
    expect(tested.body.checks).toContainEqual({ check: 'metadata', ok: false, detail: expect.stringMatching(/refused: 127\.0\.0\.1 is a loopback/) });
    expect(internal.requests).toEqual([]);
  });

  it('a run-time LDAP connection to an internal address: refused before connecting', async () => {
    const ldapSettings = (url: string) => ({ url, bind_dn: 'cn=reader,dc=acme,dc=ru', bind_password: 'reader-secret', user_search: { base_dn: 'ou=people,dc=acme,dc=ru' }, group_search: { base_dn: 'ou=groups,dc=acme,dc=ru' }, timeout_ms: 1500 });
    for (const [id, url] of [['ldap-loop', `ldap://127.0.0.1:${ldap.port}`], ['ldap-named', `ldap://localhost:${ldap.port}`], ['ldap-meta', 'ldaps://169.254.169.254:636'], ['ldap-private', 'ldap://10.0.0.1:389']] as const) {
      const made = await admin('POST', '/v1/connections', { id, type: 'ldap', ldap: ldapSettings(url) });
      expect(made.status, url).toBe(201);
      const tested = await admin<{ ok: boolean; checks: Array<{ check: string; ok: boolean; detail: string }> }>('POST', `/v1/connections/${id}/test`);
      expect(tested.body.checks[0], url).toMatchObject({ check: 'connect', ok: false, detail: expect.stringMatching(/refused: .*a loopback, private or link-local address/) });
    }
    expect(ldap.connections()).toBe(0);
  });
});
