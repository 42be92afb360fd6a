/**
 * Password sign-in throttling under attack, against the real server on both stores:
 * - 30 wrong passwords sent at once for one account from one address run at most `max_failed_attempts`
 *   password checks (counting first, then checking: no check-then-act race);
 * - a botnet rotating client addresses trips the per-account back-off, and the real person still signs
 *   in from their own address once the back-off interval is over (no lock-out an attacker can aim);
 * - an LDAP bind is a password check too, behind the same throttle;
 * - a flood of concurrent attempts never runs more password hashes at once than the configured bound,
 *   and what does not fit the bounded queue is answered 503 "try again".
 * Checks are counted by the server's own metrics (`logtrace_password_checks_total`,
 * `logtrace_password_hashes_in_flight_max`) and `logtrace_logins_total`, never by timing.
 * Distinct client addresses are real source addresses: the test binds 127.0.0.x (all loopback on Linux),
 * so the server's `ctx.ip` differs without any forwarded header.
 */
import http from 'node:http';
import argon2 from 'argon2';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAuthServer, testConfig, REDIRECT_URI, TEST_PASSWORD, TEST_PASSWORD_HASH, type AuthServer } from '../support/auth-server.ts';
import { CookieJar, discover } from '../support/http-login.ts';
import { startRedisServer, type RedisServer } from '../support/redis-server.ts';
import { directorySettings, startSlapd, PEOPLE, type SlapdServer } from '../support/slapd.ts';

const MAX_FAILED = 5;
const ACCOUNT_MAX_FAILED = 8;
const BACKOFF = 3;
const BACKOFF_MAX = 6;
const MAX_HASHES = 2;
const MAX_QUEUED = 4;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A form post from a chosen loopback source address (the server sees it as the client address). */
function postFrom(url: URL, cookie: string, form: Record<string, string>, localAddress = '127.0.0.1'): Promise<Answer> {
  const body = new URLSearchParams(form).toString();
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        localAddress,
        agent: false,
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }));
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

/** The sum of a metric's samples whose labels include `labels` (`{}`: every sample). */
async function metric(server: AuthServer, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^(\w+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const sample = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => sample[k] === v)) sum += Number(match[3]);
  }
  return sum;
}

const passwordChecks = (server: AuthServer) => metric(server, 'logtrace_password_checks_total');
const failedLogins = (server: AuthServer) => metric(server, 'logtrace_logins_total', { method: 'password', outcome: 'failure' });
const count = (answers: Answer[], status: number) => answers.filter((a) => a.status === status).length;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let slapd: SlapdServer;
let argonHash: string;
beforeAll(async () => {
  slapd = await startSlapd();
  argonHash = await argon2.hash(TEST_PASSWORD, { type: argon2.argon2id });
});
afterAll(async () => {
  await slapd?.dispose();
});

describe.each(['embedded', 'redis'] as const)('login throttling (%s store)', (driver) => {
  let redis: RedisServer | undefined;
  let server: AuthServer;
  let oidc: client.Configuration;

  beforeAll(async () => {
    if (driver === 'redis') redis = await startRedisServer();
    server = await startAuthServer({
      config: (port, dataDir) => testConfig(port, {
        store: driver === 'redis' ? { driver: 'redis', url: redis!.url, prefix: 'throttle:' } : { driver: 'embedded', path: dataDir },
        users: [
          // A production-shaped account: argon2id at the library's defaults (64 MiB).
          { email: 'alice@example.com', name: 'Alice Example', password_hash: argonHash },
          { email: 'bob@example.com', name: 'Bob', password_hash: TEST_PASSWORD_HASH },
        ],
        login: {
          max_failed_attempts: MAX_FAILED,
          window_seconds: 900,
          account_max_failed_attempts: ACCOUNT_MAX_FAILED,
          account_window_seconds: 3600,
          account_backoff_seconds: BACKOFF,
          account_backoff_max_seconds: BACKOFF_MAX,
        },
        passwords: { max_concurrent_hashes: MAX_HASHES, max_queued_hashes: MAX_QUEUED },
        ldap: directorySettings(slapd.url, { timeout_ms: 5000 }),
        connectors: [{ id: 'ldap', type: 'ldap', name: 'Corporate account' }],
      }),
    });
    oidc = await discover(server.url, 'dashboard');
  });
  afterAll(async () => {
    await server?.stop();
    await server?.cleanup();
    await redis?.dispose();
  });

  /** A fresh sign-in interaction: the login form's URL and the browser's cookies. */
  async function interaction(): Promise<{ login: URL; cookie: string }> {
    const url = client.buildAuthorizationUrl(oidc, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const jar = new CookieJar();
    const auth = await fetch(url, { redirect: 'manual' });
    jar.store(auth);
    const page = new URL(auth.headers.get('location')!, server.url);
    jar.store(await fetch(page, { headers: { cookie: jar.header() } }));
    return { login: new URL(`${page.href}/login`), cookie: jar.header() };
  }

  it('runs at most max_failed_attempts password checks for 30 wrong passwords sent at once', async () => {
    const { login, cookie } = await interaction();
    const checksBefore = await passwordChecks(server);
    const failuresBefore = await failedLogins(server);
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => postFrom(login, cookie, { email: 'alice@example.com', password: `wrong-${i}` })));

    expect((await failedLogins(server)) - failuresBefore).toBeLessThanOrEqual(MAX_FAILED);
    expect(count(answers, 401)).toBeLessThanOrEqual(MAX_FAILED);
    const checks = (await passwordChecks(server)) - checksBefore;
    expect(checks).toBeGreaterThanOrEqual(1);
    expect(checks).toBeLessThanOrEqual(MAX_FAILED);
    expect(count(answers, 401) + count(answers, 429)).toBe(30);
    for (const refused of answers.filter((a) => a.status === 429)) {
      expect(refused.headers['retry-after']).toMatch(/^\d+$/);
      expect(refused.body).toContain('Too many failed attempts');
    }
    // The right password from the same address is refused too, without a check: the window is spent.
    const before = await passwordChecks(server);
    expect((await postFrom(login, cookie, { email: 'alice@example.com', password: TEST_PASSWORD })).status).toBe(429);
    expect(await passwordChecks(server)).toBe(before);
  });

  it('puts an LDAP bind behind the same throttle: 30 wrong directory passwords at once, at most max_failed_attempts binds', async () => {
    const { login, cookie } = await interaction();
    const bindsBefore = await metric(server, 'logtrace_password_checks_total', { kind: 'directory' });
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => postFrom(login, cookie, { email: PEOPLE.carol.mail, password: `wrong-${i}` }, '127.0.0.3')));
    expect(count(answers, 401)).toBeLessThanOrEqual(MAX_FAILED);
    const binds = (await metric(server, 'logtrace_password_checks_total', { kind: 'directory' })) - bindsBefore;
    expect(binds).toBeGreaterThanOrEqual(1);
    expect(binds).toBeLessThanOrEqual(MAX_FAILED);
    expect(count(answers, 401) + count(answers, 429)).toBe(30);
  });

  it('slows down guessing from rotating addresses per account, and lets the real person in once the back-off is over', async () => {
    const { login, cookie } = await interaction();
    // The account's free budget, spent from as many addresses (each well within its own per-address limit).
    for (let i = 0; i < ACCOUNT_MAX_FAILED; i++) {
      const answer = await postFrom(login, cookie, { email: 'bob@example.com', password: `guess-${i}` }, `127.0.0.${10 + i}`);
      expect(answer.status).toBe(401);
    }
    // Beyond it, a botnet of 12 fresh addresses at once: one check per back-off interval, the rest refused unchecked.
    const checksBefore = await passwordChecks(server);
    const burst = await Promise.all(Array.from({ length: 12 }, (_, i) => postFrom(login, cookie, { email: 'bob@example.com', password: `burst-${i}` }, `127.0.0.${30 + i}`)));
    expect((await passwordChecks(server)) - checksBefore).toBeLessThanOrEqual(1);
    expect(count(burst, 401)).toBeLessThanOrEqual(1);
    expect(count(burst, 429)).toBeGreaterThanOrEqual(11);
    for (const refused of burst.filter((a) => a.status === 429)) {
      const wait = Number(refused.headers['retry-after']);
      // A back-off, never a lock-out: the wait is bounded by the cap.
      expect(wait).toBeGreaterThanOrEqual(1);
      expect(wait).toBeLessThanOrEqual(BACKOFF_MAX);
    }

    // The real person, from their own address: refused while an interval runs, then let in.
    const person = '127.0.0.99';
    let answer = await postFrom(login, cookie, { email: 'bob@example.com', password: TEST_PASSWORD }, person);
    for (let tries = 0; answer.status === 429 && tries < 3; tries++) {
      const wait = Number(answer.headers['retry-after']);
      expect(wait).toBeLessThanOrEqual(BACKOFF_MAX);
      await sleep(wait * 1000 + 250);
      answer = await postFrom(login, cookie, { email: 'bob@example.com', password: TEST_PASSWORD }, person);
    }
    expect(answer.status).toBe(303);

    // The success ended the back-off: a mistyped password afterwards is an ordinary failure, not a refusal.
    const again = await interaction();
    expect((await postFrom(again.login, again.cookie, { email: 'bob@example.com', password: 'typo' }, '127.0.0.98')).status).toBe(401);
  });

  it('never runs more password hashes at once than passwords.max_concurrent_hashes; what does not fit is told to try again', async () => {
    const { login, cookie } = await interaction();
    const refusedBefore = await metric(server, 'logtrace_password_hashes_refused_total');
    // Distinct unknown emails: no throttle applies, each attempt costs an argon2id check (the decoy).
    const answers = await Promise.all(Array.from({ length: 24 }, (_, i) => postFrom(login, cookie, { email: `nobody-${i}@example.com`, password: `flood-${i}` }, '127.0.0.5')));

    expect(await metric(server, 'logtrace_password_hashes_in_flight_max')).toBeGreaterThanOrEqual(1);
    expect(await metric(server, 'logtrace_password_hashes_in_flight_max')).toBeLessThanOrEqual(MAX_HASHES);
    expect(count(answers, 401) + count(answers, 503)).toBe(24);
    // Beyond the running and the queued ones, attempts are turned away at once instead of piling up.
    expect(count(answers, 503)).toBeGreaterThanOrEqual(1);
    expect((await metric(server, 'logtrace_password_hashes_refused_total')) - refusedBefore).toBe(count(answers, 503));
    for (const busy of answers.filter((a) => a.status === 503)) {
      expect(busy.headers['retry-after']).toMatch(/^\d+$/);
      expect(busy.body).toContain('Try again in a moment');
    }
    // Turned away is not counted against anyone: the same person may try again at once.
    const retried = await postFrom(login, cookie, { email: 'nobody-0@example.com', password: 'flood-0' }, '127.0.0.5');
    expect(retried.status).toBe(401);
    expect(await metric(server, 'logtrace_password_hashes_in_flight')).toBe(0);
  });
});
