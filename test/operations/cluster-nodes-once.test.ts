/**
 * Many nodes on one Redis Cluster behave as one server, for what is not a request/response hop:
 * - a user disabled through /v1 on node A is refused on node B at once (refresh token: invalid_grant;
 *   /v1 access token: 401), and enabling them again does not revive what they held;
 * - background jobs run once across nodes: two nodes both run the key expiry watcher (every 3 s) and
 *   both run webhook delivery, yet each `key.expiring` reaches a real receiver exactly once;
 * - `workers: 2` (node:cluster) on the Cluster store: a person's token from one worker is honoured by the
 *   other, and its refresh token rotates across the workers (requests on fresh connections, which the
 *   primary hands to the workers in turn; the access log's pid says which worker answered).
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAuthServer, testConfig, type AuthServer } from '../support/auth-server.ts';
import { openStore } from '../../src/store/index.ts';
import { ADMIN_SCOPES, api, bootstrap, personApi, type Bootstrapped } from '../support/admin.ts';
import { codeFlowTokens, discover } from '../support/http-login.ts';
import { startSlapd, GROUPS_DN, PEOPLE, PEOPLE_DN, READER_DN, READER_PASSWORD, personDn, type SlapdServer } from '../support/slapd.ts';
import { freePort } from '../support/ports.ts';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster.ts';
import { eventually } from '../support/wait.ts';
import { startReceiver, type Receiver } from '../webhooks/receiver.ts';

type Json = Record<string, unknown>;

interface Answer {
  status: number;
  requestId: string;
  body: Json;
}

/** One request on its own connection (no keep-alive): with node:cluster, each lands on the next worker. */
function fresh(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: options.method ?? 'GET', headers: { connection: 'close', ...options.headers }, agent: false, timeout: 15_000 }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, requestId: String(response.headers['x-request-id'] ?? ''), body: (text.startsWith('{') ? JSON.parse(text) : {}) as Json }));
    });
    request.on('timeout', () => request.destroy(new Error(`no answer from ${url}`)));
    request.on('error', reject);
    request.end(options.body);
  });
}

const refresh = (server: AuthServer, refreshToken: string) =>
  fresh(`${server.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: 'admin-console' }).toString(),
  });
const me = (server: AuthServer, accessToken: string) => fresh(`${server.url}/v1/projects`, { headers: { authorization: `Bearer ${accessToken}` } });

describe('nodes on one Redis Cluster: disabled users, jobs once, node:cluster workers', () => {
  let cluster: RedisCluster;
  let receiver: Receiver;
  let slapd: SlapdServer;
  let a: AuthServer;
  let b: AuthServer;
  let workers: AuthServer;
  let boot: Bootstrapped;

  beforeAll(async () => {
    [cluster, receiver, slapd] = await Promise.all([startRedisCluster(), startReceiver(), startSlapd()]);
    const store = { driver: 'redis' as const, cluster: cluster.seeds.slice(0, 3), prefix: 'once:' };
    // One issuer for A and B (A's address): a token A issued is one B must judge on its merits.
    const portA = await freePort();
    const issuer = `http://127.0.0.1:${portA}`;
    // A pass every 3 s holds the watcher's lock 2 s: longer than any pass here, even on a loaded machine.
    // Both nodes also sync one LDAP directory every second.
    const ldap = {
      url: slapd.url,
      bind_dn: READER_DN,
      bind_password: READER_PASSWORD,
      user_search: { base_dn: PEOPLE_DN, filter: '(mail={email})', id_attr: 'uid', email_attr: 'mail', name_attr: 'cn', disabled_filter: '(employeeType=disabled)' },
      group_search: { base_dn: GROUPS_DN, filter: '(member={dn})', name_attr: 'cn', nested: true },
      sync_interval_seconds: 1,
      timeout_ms: 1500,
    };
    const nodeConfig = (port: number) => testConfig(port, { issuer, store, api_keys: { expiry_check_seconds: 3 }, ldap, connectors: [{ id: 'ldap', type: 'ldap', name: 'Corporate account' }] });
    [a, b, workers] = await Promise.all([
      startAuthServer({ port: portA, config: nodeConfig }),
      startAuthServer({ config: nodeConfig }),
      // Its own issuer and prefix: another deployment on the same Cluster. log_level info: the access log.
      startAuthServer({ config: (port) => testConfig(port, { store: { ...store, prefix: 'workers:' }, workers: 2, log_level: 'info' }) }),
    ]);
    boot = bootstrap(a);
  }, 180_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop(), workers?.stop()]);
    await Promise.all([a?.cleanup(), b?.cleanup(), workers?.cleanup()]);
    await receiver?.close();
    await slapd?.dispose();
    await cluster?.dispose();
  });

  it('refuses on node B, within a second, a user an owner disabled on node A; enabling them again revives nothing', async () => {
    const owner = await personApi(a, { email: 'owner@example.com', project: boot.project.id, role: 'owner' });
    const member = await personApi(a, { email: 'member@example.com', project: boot.project.id, role: 'viewer' });
    // Before: B honours both of the member's tokens (the refresh rotates them).
    expect((await me(b, member.token)).status).toBe(200);
    const rotated = await refresh(b, String(member.tokens.refresh_token));
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    const accessToken = String(rotated.body.access_token);
    const refreshToken = String(rotated.body.refresh_token);
    expect((await me(b, accessToken)).status).toBe(200);

    expect((await owner.call('PATCH', `/v1/users/${member.user.id}`, { disabled: true })).body).toMatchObject({ disabled: true });
    // Nothing on B is cached past the store: both refusals hold within a second of the PATCH's answer.
    await eventually(async () => (await me(b, accessToken)).status === 401, 1, 50);
    await eventually(async () => (await me(b, member.token)).status === 401, 1, 50);
    const refused = await refresh(b, refreshToken);
    expect(refused).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });

    // Enabled again on A: what the member held before stays void on B (their sessions were ended).
    expect((await owner.call('PATCH', `/v1/users/${member.user.id}`, { disabled: false })).body).toMatchObject({ disabled: false });
    expect((await me(b, accessToken)).status).toBe(401);
    expect(await refresh(b, refreshToken)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    // The owner, never disabled, still reaches B: the refusal is about that one account.
    expect((await me(b, owner.token)).status).toBe(200);
  }, 60_000);

  it('sends key.expiring and key.expired exactly once per key although both nodes run the expiry watcher and webhook delivery', async () => {
    const admin = api(a.url, boot.key.key);
    const created = await admin('POST', '/v1/webhooks', { project_id: boot.project.id, url: receiver.url('/expiring'), events: ['key.expiring', 'key.expired'] });
    expect(created.status).toBe(201);
    receiver.endpoint('/expiring', String(created.body.secret));
    const onB = api(b.url, boot.key.key);
    // Five keys near expiry, made on either node; one that does not rotate itself (no notice for it).
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const made = await (i % 2 ? onB : admin)('POST', '/v1/keys', { project_id: boot.project.id, name: `soon-${i}`, scopes: ['read:logs'], environment: 'live', ttl_days: 1, auto_rotate: true });
      expect(made.status).toBe(201);
      ids.push(String(made.body.id));
    }
    const quiet = await admin('POST', '/v1/keys', { project_id: boot.project.id, name: 'manual', scopes: ['read:logs'], environment: 'live', ttl_days: 1 });
    expect(quiet.status).toBe(201);
    // And one that has expired: its record moved into the past in the shared store (the watcher reads it there).
    const lapsed = await admin('POST', '/v1/keys', { project_id: boot.project.id, name: 'lapsed', scopes: ['read:logs'], environment: 'live', ttl_days: 1 });
    const direct = await openStore({ driver: 'redis', cluster: cluster.seeds.slice(0, 3), prefix: 'once:' });
    try {
      const ref = await direct.get<{ hash: string }>(`apikey:{${String(lapsed.body.id)}}`);
      const recordKey = `apikey:hash:{${ref!.hash}}`;
      const record = (await direct.get<Json>(recordKey))!;
      await direct.put(recordKey, { ...record, expires_at: new Date(Date.now() - 1000).toISOString() });
    } finally {
      await direct.close();
    }

    const ofType = (type: string) => receiver.receipts('/expiring').filter((r) => (JSON.parse(r.body) as Json).type === type);
    const keyIds = () => ofType('key.expiring').map((r) => String(((JSON.parse(r.body) as Json).data as { key: Json }).key.id));
    await eventually(async () => new Set(keyIds()).size === ids.length && ofType('key.expired').length > 0, 20);
    // Two more watcher passes on each node: still one notice per key.
    await new Promise((resolve) => setTimeout(resolve, 6500));
    const receipts = receiver.receipts('/expiring');
    expect(receipts.every((r) => r.verified)).toBe(true);
    expect(keyIds().sort()).toEqual([...ids].sort());
    expect(new Set(receipts.map((r) => r.id)).size).toBe(receipts.length);
    expect(ofType('key.expired')).toHaveLength(1);
    expect(ofType('key.expired')[0]!.body).toContain(String(lapsed.body.id));
    // One pass handled it: one audit event, not one per node.
    const audited = await admin<{ events: Json[] }>('GET', `/v1/audit?action=key.expired&target_id=${String(lapsed.body.id)}`);
    expect(audited.status, JSON.stringify(audited.body)).toBe(200);
    expect(audited.body.events).toHaveLength(1);
    // Each attempted by one delivery worker, once: one delivery record per message.
    const deliveries = (await admin<{ deliveries: Json[] }>('GET', `/v1/webhooks/${String(created.body.id)}/deliveries`)).body.deliveries;
    expect(deliveries.filter((d) => d.event_type === 'key.expiring')).toHaveLength(ids.length);
    expect(deliveries.filter((d) => d.event_type === 'key.expired')).toHaveLength(1);
    expect(deliveries.every((d) => d.status === 'delivered')).toBe(true);
  }, 60_000);

  it('deprovisions a person who left the directory once, although both nodes run the LDAP sync', async () => {
    const owner = await personApi(a, { email: 'ldap-owner@example.com', project: boot.project.id, role: 'owner' });
    expect((await owner.call('POST', '/v1/role-mappings', { source: 'ldap', group: 'logtrace-admins', project_id: boot.project.id, role: 'admin' })).status).toBe(201);
    // alice (logtrace-admins) signs in through the directory on A; she leaves the directory.
    await codeFlowTokens(await discover(a.url, 'admin-console'), { email: PEOPLE.alice.mail, password: PEOPLE.alice.password, scope: ADMIN_SCOPES });
    const users = (await owner.call<{ users: Array<{ id: string; email: string; disabled: boolean }> }>('GET', '/v1/users')).body.users;
    const alice = users.find((u) => u.email === PEOPLE.alice.mail)!;
    expect(alice).toMatchObject({ disabled: false });
    await slapd.del(personDn('alice'));
    const onB = api(b.url, owner.token);
    await eventually(async () => (await onB<{ disabled: boolean }>('GET', `/v1/users/${alice.id}`)).body.disabled, 20);
    // Several more syncs on each node: still one deprovisioning, audited once.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const audited = await owner.call<{ events: Json[] }>('GET', `/v1/audit?action=user.deprovisioned&target_id=${alice.id}&limit=100`);
    expect(audited.body.events).toHaveLength(1);
  }, 60_000);

  it('workers: 2 on the Cluster store: a token from one worker works on the other, and its refresh rotates across them', async () => {
    const bootW = bootstrap(workers, 'Workers Inc');
    const person = await personApi(workers, { email: 'worker-user@example.com', project: bootW.project.id, role: 'admin' });
    const answered: string[] = [];
    let refreshToken = String(person.tokens.refresh_token);
    let accessToken = person.token;
    const spent: string[] = [];
    for (let i = 0; i < 4; i++) {
      const used = await me(workers, accessToken);
      expect(used.status).toBe(200);
      const next = await refresh(workers, refreshToken);
      expect(next.status, JSON.stringify(next.body)).toBe(200);
      answered.push(used.requestId, next.requestId);
      spent.push(refreshToken);
      refreshToken = String(next.body.refresh_token);
      accessToken = String(next.body.access_token);
    }
    // A spent refresh token replayed (on whichever worker) is refused, and the replay ends the grant:
    // the latest refresh token is refused too.
    const replay = await refresh(workers, spent[1]!);
    expect(replay).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    const latest = await refresh(workers, refreshToken);
    expect(latest).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    answered.push(replay.requestId, latest.requestId);

    // Which worker answered each request, from the access log (one line per request, with its pid).
    const lines = workers
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Json);
    const listening = new Set(lines.filter((l) => l.msg === 'LogTrace Auth listening').map((l) => l.pid));
    expect(listening.size).toBe(2);
    await eventually(async () => {
      const logged = new Set(workers.output().split('\n').filter((l) => answered.some((id) => l.includes(id))));
      return logged.size === answered.length;
    }, 10);
    const byRequest = new Map(
      workers
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{') && line.includes('"req_id"'))
        .map((line) => JSON.parse(line) as Json)
        .map((l) => [String(l.req_id), l.pid]),
    );
    const pids = new Set(answered.map((id) => byRequest.get(id)));
    expect([...pids].every((pid) => listening.has(pid))).toBe(true);
    expect(pids.size).toBe(2);
  }, 90_000);
});
