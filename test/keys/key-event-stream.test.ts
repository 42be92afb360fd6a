import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAuthServer, testConfig, type AuthServer } from '../support/auth-server.ts';
import { api, bootstrap, type Bootstrapped } from '../support/admin.ts';
import { readSse, type SseItem } from '../../src/verifier/sse.ts';

type Json = Record<string, unknown>;

/** A subscriber of GET /v1/keys/events: collects what arrives until closed. */
async function subscribe(server: AuthServer, credential: string | undefined, lastEventId?: string) {
  const abort = new AbortController();
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (credential) headers.authorization = `Bearer ${credential}`;
  if (lastEventId) headers['last-event-id'] = lastEventId;
  const response = await fetch(`${server.url}/v1/keys/events`, { headers, signal: abort.signal });
  const items: SseItem[] = [];
  let ended = false;
  const done = (async () => {
    if (!response.ok || !response.body) return;
    try {
      for await (const item of readSse(response.body, abort.signal)) items.push(item);
    } catch {
      // aborted by the test
    }
    ended = true;
  })();
  const events = () => items.filter((i): i is Extract<SseItem, { kind: 'event' }> => i.kind === 'event');
  return {
    response,
    items,
    events,
    ended: () => ended,
    lastId: () => events().at(-1)?.id,
    async close() {
      abort.abort();
      await done;
    },
  };
}

async function waitFor(check: () => boolean, seconds = 20): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not true within ${seconds} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('GET /v1/keys/events: key events for verifiers', () => {
  let server: AuthServer;
  let boot: Bootstrapped;
  let root: ReturnType<typeof api>;
  let child: Json;
  let otherOrg: Json;
  let otherAdminKey: string;

  const createKey = async (projectId: unknown, scopes: string[], via = root) => (await via('POST', '/v1/keys', { project_id: projectId, name: 'k', scopes, environment: 'live' })).body as Json & { id: string; key: string };

  beforeAll(async () => {
    server = await startAuthServer({
      config: (port, dataDir) => testConfig(port, { store: { driver: 'embedded', path: dataDir }, api_keys: { events_poll_ms: 50, events_heartbeat_ms: 300, events_max_stream_seconds: 60 } }),
    });
    boot = bootstrap(server);
    root = api(server.url, boot.key.key);
    child = (await root('POST', '/v1/projects', { name: 'Payments', parent_id: boot.project.id })).body;
    // Another organisation with its own admin key (the operator's bootstrap, as for the first).
    const globex = bootstrap(server, 'Globex');
    otherOrg = globex.project;
    otherAdminKey = globex.key.key;
  });
  afterAll(async () => {
    await server?.stop();
    await server?.cleanup();
  });

  it('refuses a caller without a credential, without admin:projects, or administering only a sub-project', async () => {
    const anonymous = await fetch(`${server.url}/v1/keys/events`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('content-type')).toContain('application/problem+json');
    const reader = await createKey(boot.project.id, ['read:logs']);
    const notAdmin = await fetch(`${server.url}/v1/keys/events`, { headers: { authorization: `Bearer ${reader.key}` } });
    expect(notAdmin.status).toBe(403);
    const subAdmin = await createKey(child.id, ['admin:projects']);
    const notOrg = await fetch(`${server.url}/v1/keys/events`, { headers: { authorization: `Bearer ${subAdmin.key}` } });
    expect(notOrg.status).toBe(403);
    expect(((await notOrg.json()) as Json).detail).toContain('organization');
    const forged = await fetch(`${server.url}/v1/keys/events`, { headers: { authorization: `Bearer ${reader.key.slice(0, -1)}x` } });
    expect(forged.status).toBe(401);
  });

  it('refuses a malformed Last-Event-ID', async () => {
    for (const bad of ['abc', '1-2-3', `${'9'.repeat(30)}-0`]) {
      const response = await fetch(`${server.url}/v1/keys/events`, { headers: { authorization: `Bearer ${boot.key.key}`, 'last-event-id': bad } });
      expect(response.status).toBe(400);
      expect(((await response.json()) as Json).field).toBe('last_event_id');
    }
  });

  it('streams a revocation to the organisation admin, and only its own organisation’s events', async () => {
    const mine = await subscribe(server, boot.key.key);
    const theirs = await subscribe(server, otherAdminKey);
    expect(mine.response.status).toBe(200);
    expect(mine.response.headers.get('content-type')).toContain('text/event-stream');
    await waitFor(() => mine.events().some((e) => e.event === 'ready') && theirs.events().some((e) => e.event === 'ready'));
    // Heartbeats arrive while nothing happens.
    await waitFor(() => mine.items.some((i) => i.kind === 'comment'));

    const victim = await createKey(child.id, ['read:logs']);
    const globexKey = await createKey(otherOrg.id, ['read:logs'], api(server.url, otherAdminKey));
    expect((await root('DELETE', `/v1/keys/${victim.id}`)).status).toBe(200);
    expect((await api(server.url, otherAdminKey)('DELETE', `/v1/keys/${globexKey.id}`)).status).toBe(200);

    await waitFor(() => mine.events().some((e) => e.event === 'key.revoked') && theirs.events().some((e) => e.event === 'key.revoked'));
    const mineRevoked = mine.events().filter((e) => e.event === 'key.revoked').map((e) => JSON.parse(e.data) as Json);
    const theirsRevoked = theirs.events().filter((e) => e.event === 'key.revoked').map((e) => JSON.parse(e.data) as Json);
    expect(mineRevoked).toEqual([expect.objectContaining({ key_id: victim.id, project_id: child.id })]);
    expect(theirsRevoked).toEqual([expect.objectContaining({ key_id: globexKey.id, project_id: otherOrg.id })]);
    // Nothing of another organisation, not even its ids.
    expect(JSON.stringify(theirs.items)).not.toContain(victim.id);
    expect(JSON.stringify(mine.items)).not.toContain(globexKey.id);
    await Promise.all([mine.close(), theirs.close()]);
  });

  it('announces a rotation with the old key’s grace period', async () => {
    const stream = await subscribe(server, boot.key.key);
    await waitFor(() => stream.events().some((e) => e.event === 'ready'));
    const old = await createKey(child.id, ['read:logs']);
    const rotated = await root('POST', '/v1/keys/rotate', { id: old.id, grace_seconds: 60 });
    expect(rotated.status).toBe(201);
    await waitFor(() => stream.events().some((e) => e.event === 'key.rotated'));
    const event = JSON.parse(stream.events().find((e) => e.event === 'key.rotated')!.data) as Json;
    expect(event).toMatchObject({ key_id: old.id, project_id: child.id, grace_until: (rotated.body.previous as Json).grace_until });
    await stream.close();
  });

  it('resumes after a dropped connection with Last-Event-ID: a revocation made meanwhile is not missed', async () => {
    const first = await subscribe(server, boot.key.key);
    await waitFor(() => first.events().some((e) => e.event === 'ready'));
    const before = await createKey(child.id, ['read:logs']);
    await root('DELETE', `/v1/keys/${before.id}`);
    await waitFor(() => first.events().some((e) => e.event === 'key.revoked' && e.data.includes(before.id)));
    const resumeAt = first.lastId()!;
    await first.close();

    const missed = await createKey(child.id, ['read:logs']);
    await root('DELETE', `/v1/keys/${missed.id}`);

    const second = await subscribe(server, boot.key.key, resumeAt);
    await waitFor(() => second.events().some((e) => e.event === 'key.revoked' && e.data.includes(missed.id)));
    const revoked = second.events().filter((e) => e.event === 'key.revoked');
    // Exactly the events after the resume point: the one seen before is not repeated.
    expect(revoked.map((e) => (JSON.parse(e.data) as Json).key_id)).toEqual([missed.id]);
    await second.close();
  });

  it('ends the stream when the subscriber’s own key is revoked', async () => {
    const admin = await createKey(boot.project.id, ['admin:projects']);
    const stream = await subscribe(server, admin.key);
    await waitFor(() => stream.events().some((e) => e.event === 'ready'));
    expect((await api(server.url, admin.key)('DELETE', `/v1/keys/${admin.id}`)).status).toBe(200);
    await waitFor(() => stream.ended());
    expect(stream.events().some((e) => e.event === 'key.revoked' && e.data.includes(admin.id))).toBe(true);
    const again = await fetch(`${server.url}/v1/keys/events`, { headers: { authorization: `Bearer ${admin.key}` } });
    expect(again.status).toBe(401);
  });

  it('reports cached verifications as usage, only for keys the caller administers', async () => {
    const key = await createKey(child.id, ['read:logs']);
    const at = new Date().toISOString();
    const reported = await root('POST', '/v1/keys/usage', { reports: [{ key_id: key.id, outcome: 'valid', count: 41, last_used_at: at, last_used_ip: '203.0.113.9' }, { key_id: key.id, outcome: 'ip_not_allowed', count: 2 }] });
    expect(reported.status).toBe(202);
    const usage = (await root('GET', `/v1/keys/${key.id}/usage?days=1`)).body as { days: Array<{ counts: Record<string, number> }>; last_used_ip: string };
    expect(usage.days[0]!.counts).toMatchObject({ valid: 41, ip_not_allowed: 2 });
    expect(usage.last_used_ip).toBe('203.0.113.9');

    const outsider = await api(server.url, otherAdminKey)('POST', '/v1/keys/usage', { reports: [{ key_id: key.id, outcome: 'valid', count: 1000 }] });
    expect(outsider.status).toBe(403);
    for (const bad of [{ reports: [] }, { reports: [{ key_id: key.id, outcome: 'valid', count: -1 }] }, { reports: [{ key_id: key.id, outcome: 'great', count: 1 }] }, { reports: [{ key_id: 'nope', outcome: 'valid', count: 1 }] }]) {
      expect((await root('POST', '/v1/keys/usage', bad)).status).toBe(400);
    }
    const after = (await root('GET', `/v1/keys/${key.id}/usage?days=1`)).body as { days: Array<{ counts: Record<string, number> }> };
    expect(after.days[0]!.counts.valid).toBe(41);
  });

  it('gives the project list an ETag and answers 304 when it has not changed', async () => {
    const first = await fetch(`${server.url}/v1/projects`, { headers: { authorization: `Bearer ${boot.key.key}` } });
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^".+"$/);
    const again = await fetch(`${server.url}/v1/projects`, { headers: { authorization: `Bearer ${boot.key.key}`, 'if-none-match': etag! } });
    expect(again.status).toBe(304);
    await root('POST', '/v1/projects', { name: 'New', parent_id: boot.project.id });
    const changed = await fetch(`${server.url}/v1/projects`, { headers: { authorization: `Bearer ${boot.key.key}`, 'if-none-match': etag! } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
  });
});
