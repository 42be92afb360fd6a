import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CC_SECRET, REDIRECT_URI, TEST_PASSWORD, startAuthServer, testConfig, type AuthServer } from '../support/auth-server.ts';
import { startRedisServer, type RedisServer } from '../support/redis-server.ts';
import { bootstrap, cli } from '../support/admin.ts';
import { CookieJar } from '../support/http-login.ts';

/**
 * Malformed, oversized, deeply nested and non-UTF-8 input against every public door of a real server
 * process, on both stores. Every request must be answered with a 4xx (never a 5xx, never a reset, except
 * where the server deliberately closes the connection after a 413), and afterwards the same process must
 * still be alive and serving, with its memory bounded.
 *
 * Requests go over raw sockets: fetch would refuse or repair exactly the bytes under test (bad percent
 * escapes, NUL, lying Content-Length, invalid UTF-8 in a request line).
 */

type Outcome = number | 'closed' | 'timeout';

interface RawRequest {
  method?: string;
  /** The request-target, sent byte for byte. */
  target: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Send the body with Transfer-Encoding: chunked, in chunks of this many bytes. */
  chunked?: number;
  /** Declare this Content-Length instead of the body's real length (a lie). */
  declaredLength?: number;
}

/** One HTTP/1.1 exchange on its own connection; the status of the first response, or how it ended. */
function send(port: number, request: RawRequest): Promise<{ outcome: Outcome; body: string }> {
  return new Promise((resolve) => {
    const body = request.body === undefined ? undefined : Buffer.isBuffer(request.body) ? request.body : Buffer.from(request.body, 'utf8');
    const lines = [`${request.method ?? 'GET'} ${request.target} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Connection: close'];
    for (const [name, value] of Object.entries(request.headers ?? {})) lines.push(`${name}: ${value}`);
    if (body !== undefined) {
      if (request.chunked) lines.push('Transfer-Encoding: chunked');
      else lines.push(`Content-Length: ${request.declaredLength ?? body.length}`);
    }
    const socket = connect({ port, host: '127.0.0.1' });
    const received: Buffer[] = [];
    let settled = false;
    const finish = (ended: 'closed' | 'timeout') => {
      if (settled) return;
      settled = true;
      socket.destroy();
      const text = Buffer.concat(received).toString('latin1');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ outcome: status ? Number(status[1]) : ended, body: text });
    };
    socket.setTimeout(30_000, () => finish('timeout'));
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('error', () => finish('closed'));
    socket.on('close', () => finish('closed'));
    socket.on('connect', () => {
      socket.write(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
      if (body === undefined) return;
      if (request.chunked) {
        for (let at = 0; at < body.length; at += request.chunked) {
          const piece = body.subarray(at, at + request.chunked);
          socket.write(`${piece.length.toString(16)}\r\n`);
          socket.write(piece);
          socket.write('\r\n');
        }
        socket.write('0\r\n\r\n');
      } else {
        socket.write(body);
        // A body shorter than declared: say we are done sending, as a client that gave up would.
        if (request.declaredLength !== undefined && request.declaredLength > body.length) socket.end();
      }
    });
  });
}

const FORM = 'application/x-www-form-urlencoded';
const JSON_TYPE = 'application/json';
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const long = (n: number, char = 'A') => char.repeat(n);
const SIZES = [2 * 1024, 10 * 1024, 100 * 1024];
const HEADER_SIZES = [2 * 1024, 10 * 1024, 100 * 1024];
const INVALID_UTF8 = Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x28, 0x8c, 0xbc, 0xff, 0xfe]);
const withInvalidUtf8 = (before: string, after: string) => Buffer.concat([Buffer.from(before), INVALID_UTF8, Buffer.from(after)]);
const deepArray = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const deepObject = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

interface Probe {
  name: string;
  request: () => RawRequest | Promise<RawRequest>;
  /** The server may answer 413 and close, or close at once: the client sees a reset, the server lives on. */
  mayClose?: boolean;
  /** Statuses besides 4xx that the protocol prescribes for this input (e.g. introspection's `active: false`). */
  allow?: number[];
}

interface Context {
  server: AuthServer;
  apiKey: string;
  projectId: string;
  dashboard: { cookie: string; csrf: string };
  interaction(): Promise<{ path: string; cookie: string }>;
}

function probes(c: Context): Probe[] {
  const auth = { Authorization: `Bearer ${c.apiKey}` };
  const signIn = async (body: Buffer | string, extra: Partial<RawRequest> = {}): Promise<RawRequest> => {
    const i = await c.interaction();
    return { method: 'POST', target: `${i.path}/login`, body, ...extra, headers: { Cookie: i.cookie, 'Content-Type': FORM, ...extra.headers } };
  };
  const token = (body: Buffer | string, headers: Record<string, string> = {}): RawRequest => ({ method: 'POST', target: '/token', headers: { 'Content-Type': FORM, ...headers }, body });
  const json = (target: string, body: Buffer | string, method = 'POST', contentType = JSON_TYPE): RawRequest => ({ method, target, headers: { ...auth, 'Content-Type': contentType }, body });
  const list: Probe[] = [];
  const add = (name: string, request: Probe['request'], mayClose = false) => list.push({ name, request, mayClose });
  const addAllowing = (allow: number[], name: string, request: Probe['request']) => list.push({ name, request, allow });

  // The sign-in form.
  const bigForm = form({ email: 'alice@example.com', password: long(20 * 1024) });
  add('sign-in form 20 KB', () => signIn(bigForm), true);
  add('sign-in form 20 KB, chunked', () => signIn(bigForm, { chunked: 4096 }), true);
  add('sign-in form 1 MB', () => signIn(form({ email: 'a@example.com', password: long(1024 * 1024) })), true);
  add('sign-in form, Content-Length 100 for 20 KB', () => signIn(bigForm, { declaredLength: 100 }), true);
  add('sign-in form, Content-Length 20000 for 100 B, then EOF', () => signIn(bigForm.slice(0, 100), { declaredLength: 20_000 }), true);
  add('sign-in form, Content-Length 10 MB for 20 KB', () => signIn(bigForm, { declaredLength: 10 * 1024 * 1024 }), true);
  add('sign-in email 5 KB', () => signIn(form({ email: `${long(5 * 1024, 'a')}@example.com`, password: TEST_PASSWORD })));
  add('sign-in email 5 KB, no password', () => signIn(form({ email: `${long(5 * 1024, 'a')}@example.com` })));
  add('sign-in email 15 KB', () => signIn(form({ email: `${long(15 * 1024, 'a')}@example.com`, password: 'x' })));
  add('sign-in form, invalid UTF-8', () => signIn(withInvalidUtf8('email=alice%40example.com&password=', '')));
  add('sign-in form, bad percent-encoding', () => signIn('email=%ZZ%E0%A4%A&password=%'));
  add('sign-in form, NUL bytes', () => signIn(form({ email: 'alice\u0000@example.com', password: '\u0000' })));
  add('sign-in form as JSON', () => signIn('{"email":"alice@example.com"}', { headers: { 'Content-Type': JSON_TYPE } }));
  add('sign-in to a malformed interaction path', async () => ({ ...(await signIn(form({ email: 'a@example.com', password: 'x' }))), target: '/interaction/%E0%A4%A/login' }));

  // The token endpoint: ids that reach the store.
  for (const size of SIZES) {
    const kb = `${size / 1024} KB`;
    add(`/token client_id ${kb} (post)`, () => token(form({ grant_type: 'client_credentials', client_id: long(size), client_secret: CC_SECRET })));
    add(`/token code ${kb}`, () => token(form({ grant_type: 'authorization_code', client_id: 'dashboard', code: long(size), redirect_uri: REDIRECT_URI, code_verifier: long(43) })));
    add(`/token refresh_token ${kb} (none)`, () => token(form({ grant_type: 'refresh_token', client_id: 'dashboard', refresh_token: long(size) })));
    add(`/token refresh_token ${kb} (basic)`, () => token(form({ grant_type: 'refresh_token', refresh_token: long(size) }), { Authorization: basic('partner-app', 'partner-app-secret-0123456789abcdefghij') }));
    add(`/token grant_type ${kb}`, () => token(form({ grant_type: long(size), client_id: 'ingest-svc', client_secret: CC_SECRET })));
    // RFC 7662 §2.2: an unknown token is `{"active": false}` with 200; RFC 7009 §2.2: revoking one is 200.
    addAllowing([200], `/token/introspection token ${kb}`, () => ({ ...token(form({ token: long(size) }), { Authorization: basic('ingest-svc', CC_SECRET) }), target: '/token/introspection' }));
    addAllowing([200], `/token/revocation token ${kb}`, () => ({ ...token(form({ token: long(size) }), { Authorization: basic('ingest-svc', CC_SECRET) }), target: '/token/revocation' }));
    add(`/token/introspection client_id ${kb}`, () => ({ ...token(form({ token: 'x', client_id: long(size), client_secret: 'x' })), target: '/token/introspection' }));
    add(`/token/revocation client_id ${kb}`, () => ({ ...token(form({ token: 'x', client_id: long(size), client_secret: 'x' })), target: '/token/revocation' }));
  }
  for (const size of HEADER_SIZES) {
    const kb = `${size / 1024} KB`;
    const first = list.length;
    add(`/token client_id ${kb} (basic)`, () => token(form({ grant_type: 'client_credentials' }), { Authorization: basic(long(size), CC_SECRET) }));
    add(`/me bearer ${kb}`, () => ({ target: '/me', headers: { Authorization: `Bearer ${long(size)}` } }));
    add(`/me access_token query ${kb}`, () => ({ target: `/me?access_token=${long(Math.min(size, 12 * 1024))}` }));
    add(`/v1 bearer ${kb}`, () => ({ target: '/v1/projects', headers: { Authorization: `Bearer ${long(size)}` } }));
    // A key that is not one is a normal answer of the verify contract: 200 `{ valid: false }`.
    addAllowing([200], `/v1/keys/verify X-Logs-Api-Key ${kb}`, () => ({ method: 'POST', target: '/v1/keys/verify', headers: { 'X-Logs-Api-Key': `lt_live_${long(size)}` } }));
    // An unknown session is no session: on to the sign-in page.
    addAllowing([303], `/auth _session cookie ${kb}`, () => ({ target: `/auth?client_id=dashboard&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(REDIRECT_URI)}&code_challenge=${long(43)}&code_challenge_method=S256`, headers: { Cookie: `_session=${long(size)}; _session.legacy=${long(Math.min(size, 2048))}` } }));
    add(`/interaction _interaction cookie ${kb}`, () => ({ target: `/interaction/${long(21)}`, headers: { Cookie: `_interaction=${long(size)}` } }));
    // Headers past Node's 16 KB limit: 431 and the connection closed, possibly while we are still sending.
    for (const probe of list.slice(first)) probe.mayClose = size > 16 * 1024;
  }
  add('/token body as JSON', () => ({ ...token('{"grant_type":"client_credentials"}'), headers: { 'Content-Type': JSON_TYPE, Authorization: basic('ingest-svc', CC_SECRET) } }));
  add('/token body invalid UTF-8', () => token(withInvalidUtf8('grant_type=client_credentials&scope=', ''), { Authorization: basic('ingest-svc', CC_SECRET) }));
  add('/token body, charset=utf-16', () => ({ ...token('grant_type=client_credentials&client_id=ingest-svc'), headers: { 'Content-Type': `${FORM}; charset=utf-16` } }));
  add('/token body, charset=nonsense', () => ({ ...token('grant_type=client_credentials&client_id=ingest-svc'), headers: { 'Content-Type': `${FORM}; charset=x-nonsense` } }));
  add('/token body 200 KB', () => token(form({ grant_type: 'client_credentials', scope: long(200 * 1024) }), { Authorization: basic('ingest-svc', CC_SECRET) }), true);
  add('/token, Content-Length 100 for 20 KB', () => ({ ...token(form({ grant_type: 'client_credentials', scope: long(20 * 1024) }), { Authorization: basic('ingest-svc', CC_SECRET) }), declaredLength: 100 }), true);
  add('/token, Content-Length 20000 for 100 B, then EOF', () => ({ ...token(form({ grant_type: 'client_credentials', scope: long(200) }).slice(0, 100), { Authorization: basic('ingest-svc', CC_SECRET) }), declaredLength: 20_000 }), true);
  add('/token bad percent-encoding', () => token('grant_type=%ZZ&client_id=%E0%A4%A&client_secret=%', {}));
  add('/token NUL bytes', () => token('grant_type=client_credentials%00&client_id=ingest-svc%00&client_secret=x'));
  add('/token Basic auth not base64', () => token(form({ grant_type: 'client_credentials' }), { Authorization: 'Basic %%%%' }));

  // The /v1 API: path parameters, query parameters, bodies.
  for (const size of [2 * 1024, 10 * 1024]) {
    const kb = `${size / 1024} KB`;
    for (const route of ['users', 'keys', 'projects', 'webhooks', 'connections', 'provisioning-rules']) {
      add(`GET /v1/${route}/{${kb}}`, () => ({ target: `/v1/${route}/${long(size, 'a')}`, headers: auth }));
    }
    add(`PATCH /v1/users/{${kb}}`, () => json(`/v1/users/${long(size, 'a')}`, '{"disabled":true}', 'PATCH'));
    add(`DELETE /v1/keys/{${kb}}`, () => ({ method: 'DELETE', target: `/v1/keys/${long(size, 'a')}`, headers: auth }));
    add(`GET /v1/keys/{${kb}}/usage`, () => ({ target: `/v1/keys/${long(size, 'a')}/usage`, headers: auth }));
    add(`GET /v1/projects/{${kb}}/members`, () => ({ target: `/v1/projects/${long(size, 'a')}/members`, headers: auth }));
    add(`GET /v1/projects/{${kb}}/invitations`, () => ({ target: `/v1/projects/${long(size, 'a')}/invitations`, headers: auth }));
    add(`PUT /v1/projects/{id}/members/{${kb}}`, () => json(`/v1/projects/${c.projectId}/members/${long(size, 'a')}`, '{"role":"viewer"}', 'PUT'));
    add(`DELETE /v1/webhooks/{${kb}}`, () => ({ method: 'DELETE', target: `/v1/webhooks/${long(size, 'a')}`, headers: auth }));
    add(`DELETE /v1/role-mappings/{${kb}}`, () => ({ method: 'DELETE', target: `/v1/role-mappings/${long(size, 'a')}`, headers: auth }));
    add(`GET /v1/audit?project_id={${kb}}`, () => ({ target: `/v1/audit?project_id=${long(size, 'a')}`, headers: auth }));
    add(`GET /v1/keys?project_id={${kb}}`, () => ({ target: `/v1/keys?project_id=${long(size, 'a')}`, headers: auth }));
    add(`POST /v1/keys project_id ${kb}`, () => json('/v1/keys', JSON.stringify({ project_id: long(size, 'a'), name: 'x', scopes: ['read:logs'] })));
    add(`POST /v1/projects parent_id ${kb}`, () => json('/v1/projects', JSON.stringify({ name: 'x', parent_id: long(size, 'a') })));
    add(`POST /v1/projects name ${kb}`, () => json('/v1/projects', JSON.stringify({ name: long(size, 'n') })));
    add(`POST /v1/keys/rotate id ${kb}`, () => json('/v1/keys/rotate', JSON.stringify({ id: long(size, 'a') })));
    add(`POST /v1/projects/{id}/invitations email ${kb}`, () => json(`/v1/projects/${c.projectId}/invitations`, JSON.stringify({ email: `${long(size, 'a')}@example.com`, role: 'viewer' })));
    addAllowing([200], `POST /v1/keys/verify key ${kb}`, () => ({ method: 'POST', target: '/v1/keys/verify', headers: { 'Content-Type': JSON_TYPE }, body: JSON.stringify({ key: `lt_live_${long(Math.min(size, 7000))}` }) }));
    addAllowing([200], `POST /v1/keys/verify project_id ${kb}`, () => ({ method: 'POST', target: '/v1/keys/verify', headers: { 'Content-Type': JSON_TYPE }, body: JSON.stringify({ key: c.apiKey, project_id: long(Math.min(size, 7000), 'a') }) }));
    add(`GET /invitations/{${kb}}`, () => ({ target: `/invitations/${long(size, 'a')}` }));
    add(`GET /federation/{${kb}}/callback`, () => ({ target: `/federation/${long(size, 'a')}/callback?state=${long(size)}` }));
  }
  for (const [label, query] of [
    ['after=garbage', 'after=garbage'],
    ['after=1-2-3', 'after=1-2-3'],
    ['after=-1-0', 'after=-1-0'],
    ['after=99999999999999999999999-1', 'after=99999999999999999999999-1'],
    ['after=1-99999999999999999999999', 'after=1-99999999999999999999999'],
    ['after=%FF%FE', 'after=%FF%FE'],
    ['after=%00', 'after=%00'],
    ['after 5 KB', `after=${long(5 * 1024, '9')}-0`],
    ['after twice', 'after=1-0&after=2-0'],
    ['since=1960-01-01', 'since=1960-01-01T00:00:00Z'],
    ['since=-271821-04-20', 'since=-271821-04-20T00:00:00Z'],
    ['since=+275760-09-13', 'since=%2B275760-09-13T00:00:00Z'],
    ['since=garbage', 'since=garbage'],
    ['until=garbage', 'until=garbage'],
    ['limit=abc', 'limit=abc'],
    ['limit=1e9', 'limit=1e9'],
    ['limit twice', 'limit=1&limit=2'],
    ['project_id twice', 'project_id=a&project_id=b'],
    ['action 5 KB', `action=${long(5 * 1024, 'a')}`],
    ['bad percent-encoding', 'action=%ZZ&actor_id=%E0%A4%A&target_id=%'],
  ] as const) {
    // Times far in the past or future are times: a listing (empty or whole), not an error, and no 500.
    addAllowing(/^since=[-+]?\d/.test(label) ? [200] : [], `GET /v1/audit?${label}`, () => ({ target: `/v1/audit?${query}`, headers: auth }));
  }
  for (const [target, method] of [['/v1/projects', 'POST'], ['/v1/keys', 'POST'], ['/v1/webhooks', 'POST'], ['/v1/connections', 'POST'], ['/v1/role-mappings/preview', 'POST'], [`/v1/users/${'a'.repeat(22)}`, 'PATCH'], ['/v1/connections/x', 'PATCH']] as const) {
    add(`${method} ${target.slice(0, 30)} array nested 10k`, () => json(target, deepArray(10_000), method));
    add(`${method} ${target.slice(0, 30)} object nested 10k`, () => json(target, deepObject(10_000), method));
    add(`${method} ${target.slice(0, 30)} field nested 5k`, () => json(target, `{"name":"x","config":${deepObject(5_000)},"claims":${deepArray(2_000)}}`, method));
    add(`${method} ${target.slice(0, 30)} array of 30k`, () => json(target, `{"name":"x","scopes":[${Array.from({ length: 30_000 }, () => '1').join(',')}]}`, method));
    add(`${method} ${target.slice(0, 30)} body 200 KB`, () => json(target, JSON.stringify({ name: long(200 * 1024) }), method), true);
    add(`${method} ${target.slice(0, 30)} invalid UTF-8`, () => json(target, withInvalidUtf8('{"name":"', '"}'), method));
    add(`${method} ${target.slice(0, 30)} text/plain`, () => json(target, '{"name":"x"}', method, 'text/plain'));
    add(`${method} ${target.slice(0, 30)} utf-16`, () => json(target, Buffer.from('{"name":"x"}', 'utf16le'), method, `${JSON_TYPE}; charset=utf-16`));
    add(`${method} ${target.slice(0, 30)} not JSON`, () => json(target, '{"name": x', method));
    add(`${method} ${target.slice(0, 30)} 1e999999`, () => json(target, '1e999999', method));
    add(`${method} ${target.slice(0, 30)} NUL`, () => json(target, '{"name":"a\\u0000b","parent_id":"\\u0000"}', method));
  }
  add('POST /v1/keys/verify nested 1.3k', () => ({ method: 'POST', target: '/v1/keys/verify', headers: { 'Content-Type': JSON_TYPE }, body: deepObject(1_300) }));
  add('POST /v1/keys/verify array', () => ({ method: 'POST', target: '/v1/keys/verify', headers: { 'Content-Type': JSON_TYPE }, body: deepArray(4_000) }));
  add('POST /v1/keys/verify invalid UTF-8', () => ({ method: 'POST', target: '/v1/keys/verify', headers: { 'Content-Type': JSON_TYPE }, body: withInvalidUtf8('{"key":"lt_live_', '"}') }));
  add('POST /v1/keys/verify text/plain', () => ({ method: 'POST', target: '/v1/keys/verify', headers: { 'Content-Type': 'text/plain' }, body: '{"key":"x"}' }));
  add('POST /v1/keys/verify 200 KB', () => ({ method: 'POST', target: '/v1/keys/verify', headers: { 'Content-Type': JSON_TYPE }, body: JSON.stringify({ key: long(200 * 1024) }) }), true);
  add('POST /v1/keys/verify chunked 200 KB', () => ({ method: 'POST', target: '/v1/keys/verify', headers: { 'Content-Type': JSON_TYPE }, body: JSON.stringify({ key: long(200 * 1024) }), chunked: 8192 }), true);
  add('POST /v1/keys/verify, Content-Length 20000 for 100 B, then EOF', () => ({ method: 'POST', target: '/v1/keys/verify', headers: { 'Content-Type': JSON_TYPE }, body: `{"key":"${long(90)}"}`, declaredLength: 20_000 }), true);
  add('POST /v1/projects chunked 200 KB', () => ({ ...json('/v1/projects', JSON.stringify({ name: long(200 * 1024) })), chunked: 8192 }), true);

  // Paths and queries that do not decode.
  for (const target of [
    '/v1/users/%E0%A4%A', '/v1/users/%ZZ', '/v1/users/%00', '/v1/keys/%C0%AF', '/v1/projects/%FF%FE/members',
    '/interaction/%ZZ', '/interaction/%E0%A4%A/abort', '/federation/%ZZ/callback', '/federation/%E0%A4%A/metadata',
    '/invitations/%ZZ', '/invitations/%00', '/static/%ZZ', '/static/%2e%2e%2fpackage.json', '/dashboard/%ZZ',
    '/auth?client_id=%ZZ&response_type=%E0%A4%A', '/auth?client_id=dashboard%00', '/jwks/%ZZ', '/.well-known/openid-configuration%ZZ',
    '/session/end?id_token_hint=%ZZ', `/session/end?id_token_hint=${long(10 * 1024)}`, `/auth?client_id=${long(10 * 1024)}&response_type=code`,
    `/auth?request_uri=${long(10 * 1024)}&client_id=dashboard`, '/me?access_token=%ZZ', '/%', '/%%', '/%u0000',
  ]) {
    // An /auth error with a known client and redirect_uri goes back to the client (RFC 6749 §4.1.2.1).
    addAllowing(target.startsWith('/auth?request_uri') ? [303] : [], `GET ${target.slice(0, 60)}`, () => ({ target, headers: target.startsWith('/v1') ? auth : {} }));
  }
  add('GET raw NUL in the path', () => ({ target: '/v1/users/a\u0000b', headers: auth }));
  add('GET raw invalid UTF-8 in the path', () => ({ target: '/interaction/\u00ff\u00fe', headers: {} }));
  // RFC 9112 §3.2.2: a server must accept the absolute form.
  addAllowing([200], 'GET the path as an absolute URI', () => ({ target: 'http://evil.example/v1/projects', headers: auth }));
  add('GET a 14 KB path', () => ({ target: `/v1/users/${long(14 * 1024, 'a')}`, headers: auth }));

  // Dashboard pages of a signed-in person.
  const dash = { Cookie: c.dashboard.cookie };
  const dashForm = (path: string, body: Buffer | string, extra: Partial<RawRequest> = {}): RawRequest => ({ method: 'POST', target: path, headers: { ...dash, Origin: c.server.url, 'Content-Type': FORM }, body, ...extra });
  add('dashboard ?project={10 KB}', () => ({ target: `/dashboard/settings/security/api-access?project=${long(10 * 1024, 'a')}`, headers: dash }));
  add('dashboard members ?project={10 KB}', () => ({ target: `/dashboard/settings/members?project=${long(10 * 1024, 'a')}`, headers: dash }));
  add('dashboard ?project=%ZZ', () => ({ target: '/dashboard/settings/security/api-access?project=%ZZ%E0%A4%A', headers: dash }));
  // A dashboard page ignores a cursor that is not one, and shows the first page.
  addAllowing([200], 'dashboard log ?after=garbage', () => ({ target: `/dashboard/settings/security/log?project=${c.projectId}&after=garbage`, headers: dash }));
  addAllowing([200], 'dashboard log ?after=1-2-3', () => ({ target: `/dashboard/settings/security/log?project=${c.projectId}&after=1-2-3`, headers: dash }));
  // The form's own message next to the date field, on a 200 page.
  addAllowing([200], 'dashboard log ?since=garbage', () => ({ target: `/dashboard/settings/security/log?project=${c.projectId}&since=garbage&until=-1`, headers: dash }));
  add('dashboard form 20 KB', () => dashForm(`/dashboard/settings/security/api-access?project=${c.projectId}`, form({ _csrf: c.dashboard.csrf, name: long(20 * 1024) })), true);
  add('dashboard form 20 KB chunked', () => dashForm(`/dashboard/settings/security/api-access?project=${c.projectId}`, form({ _csrf: c.dashboard.csrf, name: long(20 * 1024) }), { chunked: 4096 }), true);
  add('dashboard form, invalid UTF-8', () => dashForm(`/dashboard/settings/security/api-access?project=${c.projectId}`, withInvalidUtf8(`_csrf=${c.dashboard.csrf}&name=`, '')));
  const big = long(10 * 1024, 'a');
  // An unknown key named in a notice: the page, without the notice.
  addAllowing([200], 'dashboard ?revoked={10 KB}', () => ({ target: `/dashboard/settings/security/api-access?project=${c.projectId}&revoked=${big}`, headers: dash }));
  add('dashboard usage ?key={10 KB}', () => ({ target: `/dashboard/settings/security/api-access/usage?project=${c.projectId}&key=${big}`, headers: dash }));
  add('dashboard revoke ?key={10 KB}', () => ({ target: `/dashboard/settings/security/api-access/revoke?project=${c.projectId}&key=${big}`, headers: dash }));
  add('dashboard rotate id {10 KB}', () => dashForm(`/dashboard/settings/security/api-access/rotate?project=${c.projectId}`, form({ _csrf: c.dashboard.csrf, id: big })));
  add('dashboard member role user_id {10 KB}', () => dashForm(`/dashboard/settings/members/role?project=${c.projectId}`, form({ _csrf: c.dashboard.csrf, user_id: big, role: 'viewer' })));
  add('dashboard invitation revoke id {10 KB}', () => dashForm(`/dashboard/settings/members/invitations/revoke?project=${c.projectId}`, form({ _csrf: c.dashboard.csrf, id: big })));
  add('dashboard mapping delete ?id={10 KB}', () => ({ target: `/dashboard/settings/members/mappings/delete?project=${c.projectId}&id=${big}`, headers: dash }));
  add('dashboard sso edit ?id={10 KB}', () => ({ target: `/dashboard/settings/security/sso/edit?id=${big}`, headers: dash }));
  add('dashboard webhook deliveries ?id={10 KB}', () => ({ target: `/dashboard/settings/webhooks/deliveries?project=${c.projectId}&id=${big}`, headers: dash }));
  add('dashboard invite email 10 KB', () => dashForm(`/dashboard/settings/members/invite?project=${c.projectId}`, form({ _csrf: c.dashboard.csrf, email: `${long(10 * 1024, 'a')}@example.com`, role: 'viewer' })));
  add('dashboard callback state and code 5 KB', () => ({ target: `/dashboard/callback?state=${long(5 * 1024)}&code=${long(5 * 1024)}`, headers: { Cookie: `lt_dash_login=${long(2 * 1024)}` } }));
  // An unknown session is no session: on to the sign-in.
  addAllowing([302, 303], 'dashboard session cookie 10 KB', () => ({ target: '/dashboard/settings/security/api-access', headers: { Cookie: `lt_dash=${long(10 * 1024)}` } }));
  return list;
}

/** Signs a person in to the dashboard over plain HTTP (redirects, cookies, the sign-in form). */
async function dashboardSession(baseUrl: string, email: string, projectId: string): Promise<{ cookie: string; csrf: string }> {
  const jar = new CookieJar();
  let url = `${baseUrl}/dashboard/login`;
  let method = 'GET';
  let body: string | undefined;
  for (let hop = 0; hop < 20; hop++) {
    const response = await fetch(url, { method, redirect: 'manual', headers: { cookie: jar.header(), ...(body ? { 'content-type': FORM, origin: baseUrl } : {}) }, body });
    jar.store(response);
    method = 'GET';
    body = undefined;
    if (response.status >= 300 && response.status < 400) {
      url = new URL(response.headers.get('location')!, url).href;
      continue;
    }
    const text = await response.text();
    const login = /<form method="post" action="([^"]+\/login)"/.exec(text);
    if (response.ok && login) {
      url = new URL(login[1]!, url).href;
      method = 'POST';
      body = form({ email, password: TEST_PASSWORD });
      continue;
    }
    if (response.ok && new URL(url).pathname.startsWith('/dashboard')) break;
    throw new Error(`unexpected ${response.status} at ${url}: ${text.slice(0, 300)}`);
  }
  const page = await fetch(`${baseUrl}/dashboard/settings/security/api-access?project=${projectId}`, { headers: { cookie: jar.header() } });
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1];
  if (!csrf) throw new Error(`no CSRF token on the dashboard page (${page.status})`);
  return { cookie: jar.header(), csrf };
}

/** True while the server answers /healthz; false once its process is gone. */
async function serving(server: AuthServer): Promise<boolean> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (server.pid() === undefined) return false;
    if (await fetch(`${server.url}/healthz`).then((r) => r.ok, () => false)) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return server.pid() !== undefined;
}

async function residentBytes(baseUrl: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const match = /^logtrace_process_resident_memory_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(text);
  if (!match) throw new Error('no resident memory metric');
  return Number(match[1]);
}

function fuzzSuite(driver: 'embedded' | 'redis') {
  describe(`malformed and oversized input, ${driver} store`, () => {
    let redis: RedisServer | undefined;
    let server: AuthServer;
    let context: Context;

    beforeAll(async () => {
      if (driver === 'redis') redis = await startRedisServer();
      server = await startAuthServer({
        config: (port, dataDir) => testConfig(port, { workers: 1, store: driver === 'redis' ? { driver: 'redis', url: redis!.url } : { driver: 'embedded', path: dataDir } }),
      });
      const boot = bootstrap(server, 'Acme');
      const added = cli(server, ['users', 'add', '--email', 'owner@example.com', '--name', 'Owner', '--project', boot.project.id, '--role', 'owner', '--password-stdin'], TEST_PASSWORD);
      expect(added.status, added.stderr).toBe(0);
      const interaction = async () => {
        const challenge = createHash('sha256').update('verifier').digest('base64url');
        const response = await fetch(`${server.url}/auth?client_id=dashboard&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(REDIRECT_URI)}&code_challenge=${challenge}&code_challenge_method=S256&state=s&nonce=n`, { redirect: 'manual' });
        const jar = new CookieJar();
        jar.store(response);
        const location = response.headers.get('location');
        if (!location?.startsWith('/interaction/')) throw new Error(`no interaction: ${response.status} ${location}`);
        return { path: location, cookie: jar.header() };
      };
      context = { server, apiKey: boot.key.key, projectId: boot.project.id, dashboard: await dashboardSession(server.url, 'owner@example.com', boot.project.id), interaction };
    });
    afterAll(async () => {
      await server?.stop();
      await server?.cleanup();
      await redis?.dispose();
    });

    it('answers every malformed, oversized, nested or non-UTF-8 request with a 4xx and stays up, its memory bounded', async () => {
      const pid = server.pid();
      expect(pid).toBeDefined();
      const rssBefore = await residentBytes(server.url);
      const results: Array<{ name: string; outcome: Outcome | 'crashed'; mayClose: boolean; allow: number[]; snippet: string }> = [];
      for (const probe of probes(context)) {
        const { outcome, body } = await Promise.resolve().then(() => probe.request()).then((request) => send(server.port, request), () => ({ outcome: 'closed' as const, body: '' }));
        const snippet = /"(?:error|code)":"([^"]+)"/.exec(body)?.[1] ?? '';
        if (!(await serving(server))) {
          // Recorded, then started again so that every later probe is still measured.
          results.push({ name: probe.name, outcome: 'crashed', mayClose: false, allow: [], snippet: `${outcome} ${snippet}` });
          await server.start();
          continue;
        }
        results.push({ name: probe.name, outcome, mayClose: !!probe.mayClose, allow: probe.allow ?? [], snippet });
      }
      console.log(`${driver}:\n${results.map((r) => `| ${r.name} | ${r.outcome} ${r.snippet} |`).join('\n')}`);

      // Still the same process, still serving.
      expect(results.filter((r) => r.outcome === 'crashed').map((r) => r.name)).toEqual([]);
      expect(server.pid()).toBe(pid);
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      const rssAfter = await residentBytes(server.url);
      expect(rssAfter - rssBefore).toBeLessThan(300 * 1024 * 1024);

      const wrong = results.filter((r) => !(typeof r.outcome === 'number' ? (r.outcome >= 400 && r.outcome < 500) || r.allow.includes(r.outcome) : r.mayClose && r.outcome === 'closed'));
      expect(wrong.map((r) => `${r.name}: ${r.outcome} ${r.snippet}`)).toEqual([]);
      expect(server.output()).not.toMatch(/uncaught|unhandled/i);
    });
  });
}

fuzzSuite('embedded');
fuzzSuite('redis');
