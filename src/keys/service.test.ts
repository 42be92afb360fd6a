import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessPolicy } from '../access/index.ts';
import { AuditLog } from '../audit/index.ts';
import { ProjectRepository, type Project } from '../directory/index.ts';
import { DomainError, type Caller, type Principal } from '../domain/index.ts';
import { openStore, type Store } from '../store/index.ts';
import { KeyEventFeed } from './events.ts';
import { KeyRepository } from './repository.ts';
import { KeyService } from './service.ts';

/**
 * KeyService's rules on a real embedded store, no server: who may create, read, rotate and revoke which
 * key, and the input rules every door shares. Two organisations: Acme (with a team below) and Globex.
 */
let dir: string;
let store: Store;
let keys: KeyService;
let audit: AuditLog;
let acme: Project;
let team: Project;
let globex: Project;
const announced: Array<{ type: string; project_id: string }> = [];

const ALL = ['read:logs', 'write:alerts', 'admin:projects'];
const caller = (principal: Principal): Caller => ({ principal, ip: '203.0.113.7', user_agent: 'unit-test' });
const person = (id: string, roles: Record<string, string>, scopes = ALL): Caller => caller({ kind: 'token', actor: { type: 'user', id }, scopes, project_roles: roles });
const operator = caller({ kind: 'operator', actor: { type: 'system', id: 'cli:test' } });
const keyCaller = (id: string, projectId: string, scopes: string[]): Caller => caller({ kind: 'api_key', actor: { type: 'api_key', id }, project_id: projectId, scopes });

/** The refusal a call ends with, as {code, field}; undefined when it succeeds. */
async function refusal(run: Promise<unknown>): Promise<{ code: string; field: string | undefined } | undefined> {
  try {
    await run;
    return undefined;
  } catch (err) {
    if (err instanceof DomainError) return { code: err.code, field: err.field };
    throw err;
  }
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'keys-service-'));
  store = await openStore({ driver: 'embedded', path: dir });
  const projects = new ProjectRepository(store);
  acme = await projects.create({ name: 'Acme' });
  team = await projects.create({ name: 'Team', parent_id: acme.id });
  globex = await projects.create({ name: 'Globex' });
  audit = new AuditLog(store);
  const logger = pino({ level: 'silent' });
  keys = new KeyService({
    keys: new KeyRepository(store, projects, { logger, usageFlushMs: 60_000 }),
    access: new AccessPolicy(projects),
    audit,
    webhooks: { emit: async (event) => (announced.push({ type: event.type, project_id: event.project_id }), 0) },
    events: new KeyEventFeed(store, logger, { pollMs: 50 }),
    defaultTtlDays: 90,
    maxTtlDays: 365,
    rotationGraceSeconds: 3600,
  });
});

afterAll(async () => {
  await keys?.close();
  await store?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const input = (projectId: string, scopes: string[] = ['read:logs']) => ({ project_id: projectId, name: 'ingest', scopes, environment: 'live' as const });

describe('KeyService.create', () => {
  it('creates a key for an admin, audits it with the caller and announces it', async () => {
    const admin = person('usr_admin', { [acme.id]: 'admin' });
    const created = await keys.create(admin, { ...input(team.id, ['read:logs', 'write:alerts']), name: '  spaced  ', ip_allowlist: ['10.0.0.1'] });
    expect(created.key).toMatch(/^lt_live_/);
    expect(created.view).toMatchObject({ project_id: team.id, name: 'spaced', scopes: ['read:logs', 'write:alerts'], ip_allowlist: ['10.0.0.1/32'], created_by: { type: 'user', id: 'usr_admin' }, status: 'active' });
    expect((await keys.verify(created.key, { ip: '10.0.0.1' })).valid).toBe(true);
    const event = (await audit.list()).find((e) => e.action === 'key.created' && e.target?.id === created.view.id);
    expect(event).toMatchObject({ actor: { type: 'user', id: 'usr_admin' }, project_id: team.id, ip: '203.0.113.7', user_agent: 'unit-test', outcome: 'success' });
    expect(announced).toContainEqual({ type: 'key.created', project_id: team.id });
  });

  it("refuses a project of another organisation (403), and one that does not exist (404, project_id)", async () => {
    const acmeAdmin = person('usr_admin', { [acme.id]: 'admin' });
    expect(await refusal(keys.create(acmeAdmin, input(globex.id)))).toEqual({ code: 'forbidden', field: undefined });
    expect(await refusal(keys.create(acmeAdmin, input('prj_nope')))).toEqual({ code: 'not_found', field: 'project_id' });
    // An API key of Acme with admin:projects reaches no further than Acme either.
    expect(await refusal(keys.create(keyCaller('key_acme', acme.id, ALL), input(globex.id)))).toMatchObject({ code: 'forbidden' });
    expect(await keys.list(operator, { project_id: globex.id })).toEqual([]);
  });

  it('refuses a viewer and a member: creating a key needs admin:projects', async () => {
    expect(await refusal(keys.create(person('usr_viewer', { [acme.id]: 'viewer' }), input(acme.id)))).toMatchObject({ code: 'forbidden' });
    expect(await refusal(keys.create(person('usr_member', { [acme.id]: 'member' }), input(acme.id)))).toMatchObject({ code: 'forbidden' });
  });

  it('refuses a scope the caller lacks (field scopes), even to an admin whose token is narrower', async () => {
    const narrowKey = keyCaller('key_narrow', acme.id, ['read:logs', 'admin:projects']);
    expect(await refusal(keys.create(narrowKey, input(team.id, ['write:alerts'])))).toEqual({ code: 'forbidden', field: 'scopes' });
    const narrowToken = person('usr_admin', { [acme.id]: 'admin' }, ['read:logs', 'admin:projects']);
    expect(await refusal(keys.create(narrowToken, input(team.id, ['read:logs', 'write:alerts'])))).toEqual({ code: 'forbidden', field: 'scopes' });
  });

  it('refuses bad input with the field at fault, before anything is written', async () => {
    const before = (await keys.list(operator, { project_id: globex.id })).length;
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ scopes: ['read:logs', 'delete:everything'] }, 'scopes'],
      [{ scopes: [] }, 'scopes'],
      [{ name: '   ' }, 'name'],
      [{ environment: 'prod' }, 'environment'],
      [{ ttl_days: 366 }, 'ttl_days'],
      [{ ttl_days: Number.NaN }, 'ttl_days'],
      [{ ip_allowlist: ['10.0.0.0/8', '10.0.0.0/33'] }, 'ip_allowlist[1]'],
    ];
    for (const [override, field] of cases) {
      expect(await refusal(keys.create(operator, { ...input(globex.id), ...override } as Parameters<KeyService['create']>[1])), JSON.stringify(override)).toEqual({ code: 'invalid', field });
    }
    expect((await keys.list(operator, { project_id: globex.id })).length).toBe(before);
  });
});

describe('KeyService.get, list, usage', () => {
  it('shows a key to admins of its project only: another organisation gets 403, an unknown id 404', async () => {
    const { view } = await keys.create(operator, input(team.id));
    expect((await keys.get(person('usr_admin', { [team.id]: 'admin' }), { id: view.id })).id).toBe(view.id);
    expect(await refusal(keys.get(person('usr_globex', { [globex.id]: 'owner' }), { id: view.id }))).toMatchObject({ code: 'forbidden' });
    expect(await refusal(keys.get(operator, { id: 'key_doesnotexist' }))).toEqual({ code: 'not_found', field: 'id' });
    expect(await refusal(keys.list(person('usr_globex', { [globex.id]: 'owner' }), { project_id: team.id }))).toMatchObject({ code: 'forbidden' });
    expect(await refusal(keys.usage(person('usr_globex', { [globex.id]: 'owner' }), { id: view.id }))).toMatchObject({ code: 'forbidden' });
    expect(await refusal(keys.usage(operator, { id: view.id, days: 401 }))).toEqual({ code: 'invalid', field: 'days' });
  });

  it("counts reported usage only when the reporter administers every key's project (else nothing is counted)", async () => {
    const { view: mine } = await keys.create(operator, input(acme.id));
    const { view: theirs } = await keys.create(operator, input(globex.id));
    const acmeAdmin = person('usr_admin', { [acme.id]: 'admin' });
    const refused = await refusal(keys.reportUsage(acmeAdmin, { reports: [{ key_id: mine.id, outcome: 'valid', count: 5 }, { key_id: theirs.id, outcome: 'valid', count: 5 }] }));
    expect(refused).toMatchObject({ code: 'forbidden' });
    expect((await keys.usage(operator, { id: mine.id, days: 1 })).days[0]!.total).toBe(0);
    expect(await keys.reportUsage(acmeAdmin, { reports: [{ key_id: mine.id, outcome: 'valid', count: 5 }] })).toEqual({ accepted: 1 });
    expect((await keys.usage(acmeAdmin, { id: mine.id, days: 1 })).days[0]!.counts.valid).toBe(5);
    expect(await refusal(keys.reportUsage(acmeAdmin, { reports: [{ key_id: 'key_unknown', outcome: 'valid', count: 1 }] }))).toEqual({ code: 'not_found', field: 'reports' });
  });
});

describe('KeyService.rotate', () => {
  it('needs every scope of the key: an admin lacking one of them is refused and nothing changes', async () => {
    const { view } = await keys.create(operator, input(team.id, ['read:logs', 'write:alerts']));
    const narrow = keyCaller('key_narrow', acme.id, ['read:logs', 'admin:projects']);
    expect(await refusal(keys.rotate(narrow, { id: view.id }))).toEqual({ code: 'forbidden', field: 'scopes' });
    expect((await keys.get(operator, { id: view.id })).status).toBe('active');

    const rotated = await keys.rotate(person('usr_admin', { [acme.id]: 'admin' }), { id: view.id, grace_seconds: 60 });
    expect(rotated.view).toMatchObject({ rotated_from: view.id, scopes: ['read:logs', 'write:alerts'], project_id: team.id });
    expect(rotated.old).toMatchObject({ id: view.id, status: 'rotating', replaced_by: rotated.view.id });
    expect(announced).toContainEqual({ type: 'key.rotated', project_id: team.id });
    // Only an active key is rotated again.
    expect(await refusal(keys.rotate(operator, { id: view.id }))).toEqual({ code: 'conflict', field: 'id' });
  });

  it('refuses another organisation and a grace period out of bounds', async () => {
    const { view } = await keys.create(operator, input(acme.id));
    expect(await refusal(keys.rotate(person('usr_globex', { [globex.id]: 'owner' }), { id: view.id }))).toMatchObject({ code: 'forbidden' });
    expect(await refusal(keys.rotate(operator, { id: view.id, grace_seconds: -1 }))).toEqual({ code: 'invalid', field: 'grace_seconds' });
    expect(await refusal(keys.rotate(operator, { id: view.id, grace_seconds: 31 * 86_400 }))).toEqual({ code: 'invalid', field: 'grace_seconds' });
  });
});

describe('KeyService.revoke', () => {
  it('lets a key revoke itself, without admin:projects', async () => {
    const { key, view } = await keys.create(operator, input(team.id));
    const self = keyCaller(view.id, team.id, ['read:logs']);
    expect((await keys.revoke(self, { id: view.id })).status).toBe('revoked');
    expect(await keys.verify(key)).toMatchObject({ valid: false, code: 'revoked' });
    const events = (await audit.list()).filter((e) => e.action === 'key.revoked' && e.target?.id === view.id);
    expect(events).toHaveLength(1);
    expect(events[0]!.actor).toEqual({ type: 'api_key', id: view.id });
  });

  it("refuses a key revoking another key of its project without admin:projects, and another organisation's admin", async () => {
    const { view } = await keys.create(operator, input(team.id));
    expect(await refusal(keys.revoke(keyCaller('key_other', team.id, ['read:logs']), { id: view.id }))).toMatchObject({ code: 'forbidden' });
    expect(await refusal(keys.revoke(person('usr_globex', { [globex.id]: 'owner' }), { id: view.id }))).toMatchObject({ code: 'forbidden' });
    expect(await refusal(keys.revoke(person('usr_viewer', { [acme.id]: 'viewer' }), { id: view.id }))).toMatchObject({ code: 'forbidden' });
    expect((await keys.get(operator, { id: view.id })).status).toBe('active');
  });

  it('records and announces a revocation once: revoking twice changes nothing', async () => {
    const { view } = await keys.create(operator, input(acme.id));
    const before = announced.filter((e) => e.type === 'key.revoked').length;
    await keys.revoke(operator, { id: view.id });
    await keys.revoke(operator, { id: view.id });
    expect(announced.filter((e) => e.type === 'key.revoked').length).toBe(before + 1);
    expect((await audit.list()).filter((e) => e.action === 'key.revoked' && e.target?.id === view.id)).toHaveLength(1);
  });
});

describe('KeyService.subscribe', () => {
  it('needs admin:projects on an organisation and a well-formed Last-Event-ID', async () => {
    expect(await refusal(keys.subscribe(keyCaller('key_team', team.id, ALL), {}))).toMatchObject({ code: 'forbidden' });
    expect(await refusal(keys.subscribe(person('usr_viewer', { [acme.id]: 'viewer' }), {}))).toMatchObject({ code: 'forbidden' });
    expect(await refusal(keys.subscribe(operator, { last_event_id: 'garbage' }))).toEqual({ code: 'invalid', field: 'last_event_id' });
  });

  it("tells a subscriber only about its organisation's keys", async () => {
    const acmeAdmin = person('usr_admin', { [acme.id]: 'admin' });
    const subscription = await keys.subscribe(acmeAdmin, {});
    const { view: theirs } = await keys.create(operator, input(globex.id));
    const { view: mine } = await keys.create(operator, input(team.id));
    await keys.revoke(operator, { id: theirs.id });
    await keys.revoke(operator, { id: mine.id });
    const stop = new AbortController();
    const seen: string[] = [];
    for await (const batch of subscription.batches(stop.signal)) {
      seen.push(...batch.events.map((e) => e.value.key_id));
      if (seen.includes(mine.id)) stop.abort();
    }
    expect(seen).toContain(mine.id);
    expect(seen).not.toContain(theirs.id);
  });
});
