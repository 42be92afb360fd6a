import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CC_SECRET, startAuthServer, testConfig, type AuthServer } from '../support/auth-server.ts';
import { api, bootstrap, type Bootstrapped } from '../support/admin.ts';
import { postJson, send, type SentResponse } from '../support/forwarding-proxy.ts';
import { crc32 } from '../../src/keys/format.ts';

/**
 * Item 6 of the security issue: POST /v1/keys/verify limits failed verifications per caller, not per the
 * `ip` a caller writes in the body. Callers are distinct loopback addresses (the socket peer), and with
 * `trust_proxy: true` the test also plays a trusted proxy naming many clients in X-Forwarded-For.
 */

const LIMIT = 5;
const PER_CREDENTIAL = 12;
const ENTRIES = 40;

const LOG_API = '127.0.0.8';
const ATTACKER = '127.0.0.5';
const VICTIM_CLIENT = '203.0.113.10';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const randomBase62 = (length: number) => [...randomBytes(length)].map((b) => ALPHABET[b % 62]).join('');
/** A well-formed key (valid checksum) that does not exist; with `like`, sharing that key's display prefix. */
function unknownKey(like?: string): string {
  const start = like ? like.slice(0, 'lt_live_'.length + 6) : `lt_live_${randomBase62(6)}`;
  const body = start + randomBase62(32 - (start.length - 'lt_live_'.length));
  let n = crc32(body);
  let checksum = '';
  for (let i = 0; i < 6; i++) {
    checksum = ALPHABET[n % 62] + checksum;
    n = Math.floor(n / 62);
  }
  return body + checksum;
}

describe('POST /v1/keys/verify failure limiter', () => {
  let server: AuthServer;
  let boot: Bootstrapped;
  /** A key the victim's end client uses (allowlisted to it). */
  let victimKey: string;
  /** The log API's own credential for its verify calls. */
  let logApiKey: string;

  beforeAll(async () => {
    server = await startAuthServer({
      config: (port, dataDir) =>
        testConfig(port, {
          store: { driver: 'embedded', path: dataDir },
          trust_proxy: true,
          api_keys: { verify_failures_per_minute: LIMIT, verify_failures_per_minute_per_credential: PER_CREDENTIAL, verify_limiter_entries: ENTRIES },
        }),
    });
    boot = bootstrap(server);
    const admin = api(server.url, boot.key.key);
    const created = await admin<{ key: string }>('POST', '/v1/keys', { project_id: boot.project.id, name: 'victim client', scopes: ['read:logs'], environment: 'live', ip_allowlist: [VICTIM_CLIENT] });
    victimKey = created.body.key;
    logApiKey = (await admin<{ key: string }>('POST', '/v1/keys', { project_id: boot.project.id, name: 'log api', scopes: ['read:logs'], environment: 'live' })).body.key;
  });

  afterAll(async () => {
    await server?.stop();
    await server?.cleanup();
  });

  const verify = (body: Record<string, unknown>, from: string, headers: Record<string, string> = {}) => postJson(`${server.url}/v1/keys/verify`, body, { from, headers });
  const statuses = (responses: SentResponse[]) => responses.map((r) => r.status);
  const repeat = async (times: number, call: (i: number) => Promise<SentResponse>) => {
    const out: SentResponse[] = [];
    for (let i = 0; i < times; i++) out.push(await call(i));
    return out;
  };

  it("does not let an attacker lock a log API out by naming the log API's end client in the body", async () => {
    const attack = await repeat(LIMIT + 3, () => verify({ key: unknownKey(), ip: VICTIM_CLIENT }, ATTACKER));
    // The attacker is limited by its own address …
    expect(statuses(attack)).toEqual([...Array(LIMIT).fill(200), 429, 429, 429]);
    expect(attack[LIMIT]!.headers['retry-after']).toMatch(/^\d+$/);
    // … and the victim's log API, verifying for that same end client, is not.
    const valid = await verify({ key: victimKey, ip: VICTIM_CLIENT }, LOG_API);
    expect(valid.status).toBe(200);
    expect(valid.json()).toMatchObject({ valid: true });
    const invalid = await verify({ key: unknownKey(), ip: VICTIM_CLIENT }, LOG_API);
    expect(invalid.json()).toEqual({ valid: false, code: 'not_found' });
  });

  it('does not let a caller evade the limit by rotating the body ip', async () => {
    const from = '127.0.0.6';
    const attack = await repeat(LIMIT + 3, (i) => verify({ key: unknownKey(), ip: `198.51.100.${i + 1}` }, from));
    expect(statuses(attack)).toEqual([...Array(LIMIT).fill(200), 429, 429, 429]);
    // Nor by moving the key to the header or dropping the body.
    const header = await send(`${server.url}/v1/keys/verify`, { method: 'POST', from, headers: { 'x-logs-api-key': unknownKey() } });
    expect(header.status).toBe(429);
  });

  it('limits guesses at one key prefix spread over many callers, yet still verifies the real key', async () => {
    // Twice the limit, each from its own client behind the trusted proxy: no caller reaches its own limit.
    const guesses = await repeat(LIMIT * 2, (i) => verify({ key: unknownKey(victimKey), ip: VICTIM_CLIENT }, '127.0.0.1', { 'x-forwarded-for': `192.0.2.${i + 1}` }));
    expect(statuses(guesses)).toEqual([...Array(LIMIT).fill(200), ...Array(LIMIT).fill(429)]);
    expect(guesses[LIMIT]!.json()).toMatchObject({ code: 'rate_limited' });
    const real = await verify({ key: victimKey, ip: VICTIM_CLIENT }, '127.0.0.1', { 'x-forwarded-for': '192.0.2.200' });
    expect(real.json()).toMatchObject({ valid: true });
  });

  it('lets a log API that authenticates its calls be limited per end client it names, and per credential', async () => {
    const from = '127.0.0.9';
    const auth = { authorization: `Bearer ${logApiKey}` };
    const bad = await repeat(LIMIT + 1, () => verify({ key: unknownKey(), ip: '198.51.100.77' }, from, auth));
    expect(statuses(bad)).toEqual([...Array(LIMIT).fill(200), 429]);
    expect(bad[LIMIT]!.json()).toMatchObject({ detail: expect.stringContaining('end-client') });
    // Another end client of the same log API is not held to the first one's failures.
    expect((await verify({ key: victimKey, ip: VICTIM_CLIENT }, from, auth)).json()).toMatchObject({ valid: true });
    // Rotating the end client is bounded by the credential's own ceiling.
    const rotating = await repeat(PER_CREDENTIAL, (i) => verify({ key: unknownKey(), ip: `198.51.100.${100 + i}` }, from, auth));
    const refused = rotating.findIndex((r) => r.status === 429);
    expect(refused).toBe(PER_CREDENTIAL - LIMIT);
    expect(rotating[refused]!.json()).toMatchObject({ detail: expect.stringContaining('credential') });
  });

  it('accepts a client-credentials token as the log API credential, and counts a bad credential against the caller', async () => {
    const token = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`ingest-svc:${CC_SECRET}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: 'https://api.logtrace.test', scope: 'read:logs' }).toString(),
    }).then((r) => r.json() as Promise<{ access_token: string }>);
    expect((await verify({ key: victimKey, ip: VICTIM_CLIENT }, '127.0.0.10', { authorization: `Bearer ${token.access_token}` })).json()).toMatchObject({ valid: true });

    const from = '127.0.0.11';
    const guesses = await repeat(LIMIT + 1, () => verify({ key: victimKey, ip: VICTIM_CLIENT }, from, { authorization: `Bearer ${unknownKey()}` }));
    expect(statuses(guesses)).toEqual([...Array(LIMIT).fill(401), 429]);
    expect(guesses[0]!.json()).toMatchObject({ code: 'unauthorized' });
  });

  it('keeps its memory bounded however many callers fail', async () => {
    const callers = ENTRIES * 4;
    const answers = await repeat(callers, (i) => verify({ key: 'lt_live_nonsense' }, '127.0.0.1', { 'x-forwarded-for': `10.9.${i >> 8}.${i & 255}` }));
    expect(new Set(statuses(answers))).toEqual(new Set([200]));
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const entries = (limiter: string) => Number(new RegExp(`^logtrace_verify_limiter_entries\\{limiter="${limiter}"\\} (\\d+)$`, 'm').exec(metrics)?.[1]);
    expect(entries('caller')).toBe(ENTRIES);
    expect(entries('prefix')).toBeLessThanOrEqual(ENTRIES);
    expect(entries('credential')).toBeLessThanOrEqual(ENTRIES);
  });

  it('refuses a body ip that is not an address', async () => {
    const response = await verify({ key: victimKey, ip: 'not-an-address' }, '127.0.0.12');
    expect(response.status).toBe(400);
    expect(response.json()).toMatchObject({ code: 'invalid_request', field: 'ip' });
  });
});
