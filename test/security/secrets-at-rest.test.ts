/**
 * Secrets at rest and development defaults, attacked from outside:
 * - an attacker who can read Redis (a replica, a backup, a leaked dump) takes everything stored and tries
 *   to sign an access token the server's JWKS accepts, and to forge a victim's session cookie;
 * - a server restarted with the same LOGTRACE_SECRET_KEY keeps its keys; with a wrong or missing one it
 *   refuses to start instead of generating new keys over the sealed ones; a key set stored in clear by an
 *   earlier version is sealed in place, keeping every key;
 * - a public issuer with the shipped development account / client secret / no LOGTRACE_SECRET_KEY does not start;
 * - /metrics behind a scrape token, or only on a separate address.
 */
import { spawnSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { parse as parseYaml } from 'yaml';
import * as client from 'openid-client';
import { createRemoteJWKSet, importJWK, jwtVerify, SignJWT, type JWK } from 'jose';
import { CC_SECRET, REDIRECT_URI, ROOT, TEST_PASSWORD, startAuthServer, testConfig, type AuthServer } from '../support/auth-server.ts';
import { startRedisServer, type RedisServer } from '../support/redis-server.ts';
import { CookieJar, discover } from '../support/http-login.ts';
import { freePort } from '../support/ports.ts';

const SECRET = randomBytes(32).toString('base64');
const OTHER_SECRET = randomBytes(32).toString('hex');
const AUDIENCE = 'https://api.logtrace.test';

/** Everything an attacker with read access sees under a prefix: every key with its raw stored strings. */
async function dumpRedis(url: string, prefix: string): Promise<Map<string, string[]>> {
  const redis = new Redis(url);
  try {
    const out = new Map<string, string[]>();
    for (const key of await redis.keys(`${prefix}*`)) {
      const type = await redis.type(key);
      if (type === 'string') out.set(key, [(await redis.get(key)) ?? '']);
      else if (type === 'hash') out.set(key, Object.values(await redis.hgetall(key)));
      else if (type === 'set') out.set(key, await redis.smembers(key));
      else if (type === 'stream') out.set(key, (await redis.xrange(key, '-', '+')).flatMap(([, fields]) => fields));
    }
    return out;
  } finally {
    redis.disconnect();
  }
}

/** The dump as one text, as a person searching a backup would grep it. */
function text(dump: Map<string, string[]>): string {
  return [...dump.values()].flat().join('\n');
}

/** Every JSON value reachable in the dump, including JSON nested inside strings. */
function* values(value: unknown): Generator<unknown> {
  yield value;
  if (typeof value === 'string' && /^[[{]/.test(value)) {
    try {
      yield* values(JSON.parse(value));
    } catch {
      // not JSON
    }
  } else if (Array.isArray(value)) {
    for (const v of value) yield* values(v);
  } else if (value && typeof value === 'object') {
    for (const v of Object.values(value)) yield* values(v);
  }
}

function everything(dump: Map<string, string[]>): unknown[] {
  return [...dump.values()].flat().flatMap((raw) => [...values(raw)]);
}

/** The attacker signs an access token with every private JWK found; returns those the server's JWKS accepts. */
async function forgeAccessTokens(server: AuthServer, dump: Map<string, string[]>): Promise<string[]> {
  const privateJwks = everything(dump).filter((v): v is JWK => typeof v === 'object' && v !== null && 'd' in v && 'kty' in v);
  const jwks = createRemoteJWKSet(new URL(`${server.url}/jwks`));
  const accepted: string[] = [];
  for (const jwk of privateJwks) {
    const alg = jwk.alg ?? (jwk.kty === 'EC' ? 'ES256' : jwk.kty === 'OKP' ? 'EdDSA' : 'RS256');
    const token = await new SignJWT({ scope: 'read:logs write:alerts admin:projects', client_id: 'attacker' })
      .setProtectedHeader({ alg, kid: jwk.kid!, typ: 'at+jwt' })
      .setIssuer(server.url)
      .setAudience(AUDIENCE)
      .setSubject('attacker')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(await importJWK(jwk, alg));
    if (await jwtVerify(token, jwks, { issuer: server.url, audience: AUDIENCE }).then(() => true, () => false)) accepted.push(token);
  }
  return accepted;
}

/** An authorization request that succeeds only for a signed-in browser (prompt=none). */
const discovered = new Map<string, Promise<client.Configuration>>();
async function silentAuthorize(server: AuthServer, cookie: string): Promise<URL> {
  if (!discovered.has(server.url)) discovered.set(server.url, discover(server.url, 'dashboard'));
  const config = await discovered.get(server.url)!;
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    prompt: 'none',
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
    state: client.randomState(),
  });
  let location = url.href;
  for (let hop = 0; hop < 5 && !location.startsWith(REDIRECT_URI); hop++) {
    const response = await fetch(location, { redirect: 'manual', headers: { cookie } });
    const next = response.headers.get('location');
    if (!next) throw new Error(`no redirect from ${location}: ${response.status}`);
    location = new URL(next, location).href;
  }
  return new URL(location);
}

/** The victim signs in over HTTP as a browser does; returns the browser's cookies. */
async function signIn(server: AuthServer, email: string): Promise<CookieJar> {
  const config = await discover(server.url, 'dashboard');
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
    state: client.randomState(),
  });
  const jar = new CookieJar();
  let location = url.href;
  let body: string | undefined;
  for (let hop = 0; hop < 15; hop++) {
    if (location.startsWith(REDIRECT_URI)) return jar;
    const response = await fetch(location, {
      method: body ? 'POST' : 'GET',
      redirect: 'manual',
      headers: { cookie: jar.header(), ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      body,
    });
    jar.store(response);
    body = undefined;
    const next = response.headers.get('location');
    if (next) {
      location = new URL(next, location).href;
      continue;
    }
    const form = /<form method="post" action="([^"]+\/login)"/.exec(await response.text());
    if (!form) throw new Error(`unexpected ${response.status} at ${location}`);
    location = new URL(form[1]!, location).href;
    body = new URLSearchParams({ email, password: TEST_PASSWORD }).toString();
  }
  throw new Error('too many redirects');
}

/** keygrip's signature, as the `cookies` package computes `<name>.sig`. */
function cookieSignature(name: string, value: string, key: string): string {
  return createHmac('sha1', key).update(`${name}=${value}`).digest('base64').replace(/\/|\+|=/g, (c) => ({ '/': '_', '+': '-', '=': '' })[c]!);
}

/**
 * The attacker takes the session ids stored in Redis and signs a `_session` cookie with every string that
 * could be a cookie key; returns the authorization responses that carried a code (a hijacked session).
 */
async function forgeSessionCookies(server: AuthServer, dump: Map<string, string[]>, prefix: string): Promise<URL[]> {
  const sessionIds = [...dump.keys()].flatMap((k) => /^.*oidc:Session:\{([^}]+)\}$/.exec(k.slice(prefix.length))?.[1] ?? []);
  expect(sessionIds.length).toBeGreaterThan(0);
  const candidates = [...new Set(everything(dump).filter((v): v is string => typeof v === 'string' && /^[A-Za-z0-9_-]{32,64}$/.test(v)))];
  const hijacked: URL[] = [];
  for (const id of sessionIds) {
    for (const key of candidates) {
      const result = await silentAuthorize(server, `_session=${id}; _session.sig=${cookieSignature('_session', id, key)}`);
      if (result.searchParams.has('code')) hijacked.push(result);
    }
  }
  return hijacked;
}

function runServer(configPath: string, env: Record<string, string | undefined>) {
  const childEnv: Record<string, string | undefined> = { ...process.env, LOGTRACE_CONFIG: configPath, ...env };
  for (const [k, v] of Object.entries(childEnv)) if (v === undefined) delete childEnv[k];
  return spawnSync(process.execPath, ['src/main.ts'], { cwd: ROOT, env: childEnv as NodeJS.ProcessEnv, encoding: 'utf8', timeout: 90_000 });
}

async function clientCredentialsToken(server: AuthServer): Promise<string> {
  const config = await discover(server.url, 'ingest-svc', CC_SECRET);
  return (await client.clientCredentialsGrant(config, { scope: 'read:logs', resource: AUDIENCE })).access_token;
}

async function verifies(server: AuthServer, token: string): Promise<boolean> {
  return jwtVerify(token, createRemoteJWKSet(new URL(`${server.url}/jwks`)), { issuer: server.url, audience: AUDIENCE }).then(() => true, () => false);
}

// Several server starts (and CLI runs) per test: on a loaded 2-core machine each takes seconds.
describe('signing and cookie keys at rest (Redis)', { timeout: 180_000 }, () => {
  let redis: RedisServer;
  let server: AuthServer | undefined;
  let migrating: AuthServer | undefined;

  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    for (const s of [server, migrating]) {
      await s?.stop();
      await s?.cleanup();
    }
    await redis?.dispose();
  });

  it('keeps no usable key in Redis: a reader can forge neither an access token nor a session cookie', async () => {
    server = await startAuthServer({
      env: { LOGTRACE_SECRET_KEY: SECRET },
      config: (port) => testConfig(port, { store: { driver: 'redis', url: redis.url, prefix: 'sealed:' } }),
    });
    const genuine = await clientCredentialsToken(server);
    expect(await verifies(server, genuine)).toBe(true);
    const victim = await signIn(server, 'alice@example.com');
    expect((await silentAuthorize(server, victim.header())).searchParams.has('code')).toBe(true);

    const dump = await dumpRedis(redis.url, 'sealed:');
    const raw = text(dump);
    expect(raw).not.toContain('"d":');
    expect(raw).not.toContain('"cookie_keys":');
    const keySet = JSON.parse(dump.get('sealed:keys:{signing}')![0]!) as Record<string, unknown>;
    expect(keySet.sealed_cookie_keys).toMatchObject({ v: 1, key: 'configured' });

    expect(await forgeAccessTokens(server, dump)).toEqual([]);
    expect(await forgeSessionCookies(server, dump, 'sealed:')).toEqual([]);
  });

  it('restarts with the same LOGTRACE_SECRET_KEY: tokens issued before verify, sessions survive', async () => {
    const before = await clientCredentialsToken(server!);
    const victim = await signIn(server!, 'bob@example.com');
    const jwksBefore = await (await fetch(`${server!.url}/jwks`)).json();

    expect(await server!.stop()).toBe(0);
    await server!.start();

    expect(await (await fetch(`${server!.url}/jwks`)).json()).toEqual(jwksBefore);
    expect(await verifies(server!, before)).toBe(true);
    expect(await verifies(server!, await clientCredentialsToken(server!))).toBe(true);
    // The cookie keys were opened, not regenerated: the browser's session still signs it in.
    expect((await silentAuthorize(server!, victim.header())).searchParams.has('code')).toBe(true);
  });

  it('refuses to start with a wrong or missing LOGTRACE_SECRET_KEY, and never replaces the sealed keys', async () => {
    const recordBefore = (await dumpRedis(redis.url, 'sealed:')).get('sealed:keys:{signing}');
    expect(recordBefore).toBeDefined();
    expect(await server!.stop()).toBe(0);

    const wrong = runServer(server!.configPath, { LOGTRACE_SECRET_KEY: OTHER_SECRET });
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toContain('cannot be opened with this LOGTRACE_SECRET_KEY');

    const missing = runServer(server!.configPath, { LOGTRACE_SECRET_KEY: undefined });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('sealed with LOGTRACE_SECRET_KEY, which is not set');

    expect((await dumpRedis(redis.url, 'sealed:')).get('sealed:keys:{signing}')).toEqual(recordBefore);
    // The operator command refuses too rather than writing a new key set.
    const rotate = spawnSync(process.execPath, ['src/cli/main.ts', 'signing-keys', 'rotate'], {
      cwd: ROOT,
      env: { ...process.env, LOGTRACE_CONFIG: server!.configPath, LOGTRACE_SECRET_KEY: OTHER_SECRET },
      encoding: 'utf8',
    });
    expect(rotate.status).toBe(1);
    expect(rotate.stderr).toContain('cannot be opened with this LOGTRACE_SECRET_KEY');
    expect((await dumpRedis(redis.url, 'sealed:')).get('sealed:keys:{signing}')).toEqual(recordBefore);
  });

  it('seals the keys the operator command adds', async () => {
    const rotate = spawnSync(process.execPath, ['src/cli/main.ts', 'signing-keys', 'rotate', '--json'], {
      cwd: ROOT,
      env: { ...process.env, LOGTRACE_CONFIG: server!.configPath, LOGTRACE_SECRET_KEY: SECRET },
      encoding: 'utf8',
    });
    expect(rotate.status, rotate.stderr).toBe(0);
    const raw = text(await dumpRedis(redis.url, 'sealed:'));
    expect(raw).toContain(JSON.parse(rotate.stdout).added.kid);
    expect(raw).not.toContain('"d":');
    await server!.start();
    expect(await verifies(server!, await clientCredentialsToken(server!))).toBe(true);
  });

  it('seals a key set stored in clear by an earlier version, keeping every key, token and session', async () => {
    const env: Record<string, string> = { LOGTRACE_SECRET_KEY: '' };
    // `env` is read on every start(): the first run has no secret (as before this change), the next one has.
    migrating = await startAuthServer({ env, config: (port) => testConfig(port, { store: { driver: 'redis', url: redis.url, prefix: 'legacy:' } }) });
    const before = await clientCredentialsToken(migrating);
    const victim = await signIn(migrating, 'alice@example.com');
    const jwksBefore = await (await fetch(`${migrating.url}/jwks`)).json();
    expect(await migrating.stop()).toBe(0);
    const clearDump = await dumpRedis(redis.url, 'legacy:');
    expect(text(clearDump)).toContain('"d":');

    env.LOGTRACE_SECRET_KEY = SECRET;
    await migrating.start();
    const dump = await dumpRedis(redis.url, 'legacy:');
    expect(text(dump)).not.toContain('"d":');
    expect(text(dump)).not.toContain('"cookie_keys":');
    expect(await (await fetch(`${migrating.url}/jwks`)).json()).toEqual(jwksBefore);
    expect(await verifies(migrating, before)).toBe(true);
    expect((await silentAuthorize(migrating, victim.header())).searchParams.has('code')).toBe(true);
    expect(await forgeAccessTokens(migrating, dump)).toEqual([]);
    expect(await forgeSessionCookies(migrating, dump, 'legacy:')).toEqual([]);
    // The same attacks on what the earlier version left readable do work (the keys are kept by the
    // migration, which is why the README says to rotate them after setting LOGTRACE_SECRET_KEY).
    expect((await forgeAccessTokens(migrating, clearDump)).length).toBeGreaterThan(0);
    expect((await forgeSessionCookies(migrating, clearDump, 'legacy:')).length).toBeGreaterThan(0);

    // The operator replaces the cookie keys that were readable: the forged cookie stops working.
    const rotate = spawnSync(process.execPath, ['src/cli/main.ts', 'cookie-keys', 'rotate', '--json'], {
      cwd: ROOT,
      env: { ...process.env, LOGTRACE_CONFIG: migrating.configPath, LOGTRACE_SECRET_KEY: SECRET },
      encoding: 'utf8',
    });
    expect(rotate.status, rotate.stderr).toBe(0);
    expect(await migrating.stop()).toBe(0);
    await migrating.start();
    expect(text(await dumpRedis(redis.url, 'legacy:'))).not.toContain('"cookie_keys":');
    expect(await forgeSessionCookies(migrating, clearDump, 'legacy:')).toEqual([]);
  });
});

describe('development defaults with a public issuer', { timeout: 180_000 }, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lt-devdefaults-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('the shipped config/default.yaml with ISSUER set to a public URL exits non-zero naming each default', async () => {
    const out = spawnSync(process.execPath, ['src/main.ts'], {
      cwd: ROOT,
      env: { ...process.env, LOGTRACE_CONFIG: 'config/default.yaml', ISSUER: 'https://auth.logtrace.example.net', PORT: String(await freePort()), DATA_DIR: path.join(dir, 'shipped'), LOGTRACE_SECRET_KEY: '' },
      encoding: 'utf8',
      timeout: 90_000,
    });
    expect(out.status).toBe(1);
    expect(out.stderr).toContain('refusing to start: issuer https://auth.logtrace.example.net is not localhost');
    expect(out.stderr).toContain('users.0: admin@example.com has the development password');
    expect(out.stderr).toContain('clients.0.client_secret: client ingest-svc uses a development client secret');
    expect(out.stderr).toContain('LOGTRACE_SECRET_KEY is not set');
    expect(out.stderr).toContain('development.bootstrap_organisation: on the first start, organisation "Development" is made and admin@example.com becomes its owner');
    expect(out.stderr).toContain('allow_development_defaults: true');
  });

  it('a public issuer with real secrets and LOGTRACE_SECRET_KEY starts; one still missing the secret does not', async () => {
    const shipped = parseYaml(await readFile(path.join(ROOT, 'config/default.yaml'), 'utf8')) as Record<string, unknown>;
    const port = await freePort();
    const config = {
      ...shipped,
      issuer: 'https://auth.logtrace.example.net',
      port,
      host: '127.0.0.1',
      store: { driver: 'embedded', path: path.join(dir, 'real') },
      clients: [{ client_id: 'ingest-svc', client_secret: randomBytes(24).toString('base64url'), grant_types: ['client_credentials'], scope: 'read:logs' }],
      users: [],
      // Production drops the development conveniences with the development account they name.
      development: {},
    };
    const file = path.join(dir, 'real.yaml');
    await writeFile(file, JSON.stringify(config));
    const refused = runServer(file, { LOGTRACE_SECRET_KEY: undefined });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('LOGTRACE_SECRET_KEY is not set');
    expect(refused.stderr).not.toContain('users.');
    expect(refused.stderr).not.toContain('clients.');

    const server = await startAuthServer({ port, env: { LOGTRACE_SECRET_KEY: SECRET }, config: () => config });
    try {
      expect(server.output()).not.toContain('development default');
    } finally {
      await server.stop();
      await server.cleanup();
    }
  });

  it('with allow_development_defaults: true it starts, warning about each default', async () => {
    const shipped = parseYaml(await readFile(path.join(ROOT, 'config/default.yaml'), 'utf8')) as Record<string, unknown>;
    const server = await startAuthServer({
      env: { LOGTRACE_SECRET_KEY: '' },
      config: (port, dataDir) => ({ ...shipped, issuer: 'https://auth.logtrace.example.net', port, host: '127.0.0.1', store: { driver: 'embedded', path: dataDir }, allow_development_defaults: true }),
    });
    try {
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      const output = server.output();
      expect(output).toContain('allow_development_defaults: true');
      expect(output).toContain('admin@example.com');
      expect(output).toContain('ingest-svc');
      expect(output).toContain('LOGTRACE_SECRET_KEY is not set');
      expect(output).toContain('development.bootstrap_organisation');
    } finally {
      await server.stop();
      await server.cleanup();
    }
  });
});

describe('/metrics access', { timeout: 180_000 }, () => {
  const TOKEN = randomBytes(24).toString('base64url');

  it('with metrics.token: 401 without or with a wrong token, 200 with the right one', async () => {
    const server = await startAuthServer({ config: (port, dataDir) => testConfig(port, { store: { driver: 'embedded', path: dataDir }, metrics: { token: TOKEN } }) });
    try {
      const none = await fetch(`${server.url}/metrics`);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toContain('Bearer');
      expect(await none.text()).not.toContain('logtrace_');
      expect((await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}x` } })).status).toBe(401);
      expect((await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN.slice(0, -1)}` } })).status).toBe(401);
      expect((await fetch(`${server.url}/metrics`, { headers: { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` } })).status).toBe(401);
      const ok = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('logtrace_http_requests_total');
    } finally {
      await server.stop();
      await server.cleanup();
    }
  });

  it('with metrics.listen: the main port answers 404, the metrics address serves them (token from token_file)', async () => {
    const metricsPort = await freePort();
    const dir = await mkdtemp(path.join(tmpdir(), 'lt-metrics-'));
    const tokenFile = path.join(dir, 'token');
    await writeFile(tokenFile, `${TOKEN}\n`);
    const server = await startAuthServer({
      config: (port, dataDir) => testConfig(port, { store: { driver: 'embedded', path: dataDir }, metrics: { listen: `127.0.0.1:${metricsPort}`, token_file: tokenFile } }),
    });
    try {
      expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
      expect((await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
      expect((await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).status).toBe(401);
      const ok = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('logtrace_http_requests_total');
      // Nothing else is served on the metrics address.
      expect((await fetch(`http://127.0.0.1:${metricsPort}/.well-known/openid-configuration`)).status).toBe(404);
      expect((await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).status).toBe(404);
    } finally {
      await server.stop();
      await server.cleanup();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
