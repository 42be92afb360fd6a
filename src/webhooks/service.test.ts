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
import { WebhookRepository } from './repository.ts';
import { WebhookService } from './service.ts';

/** WebhookService's rules on a real embedded store, no server and no worker (nothing is delivered). */
let dir: string;
let store: Store;
let webhooks: WebhookService;
let audit: AuditLog;
let acme: Project;
let team: Project;
let globex: Project;

const caller = (principal: Principal): Caller => ({ principal, ip: '198.51.100.4', user_agent: 'unit-test' });
const person = (id: string, roles: Record<string, string>): Caller => caller({ kind: 'token', actor: { type: 'user', id }, scopes: ['read:logs', 'write:alerts', 'admin:projects'], project_roles: roles });
const operator = caller({ kind: 'operator', actor: { type: 'system', id: 'cli:test' } });

async function refusal(run: Promise<unknown>): Promise<{ code: string; field: string | undefined } | undefined> {
  try {
    await run;
    return undefined;
  } catch (err) {
    if (err instanceof DomainError) return { code: err.code, field: err.field };
    throw err;
  }
}

const input = (projectId: string) => ({ project_id: projectId, url: 'http://127.0.0.1:9/hook', events: ['key.created'] });

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'webhooks-service-'));
  store = await openStore({ driver: 'embedded', path: dir });
  const projects = new ProjectRepository(store);
  acme = await projects.create({ name: 'Acme' });
  team = await projects.create({ name: 'Team', parent_id: acme.id });
  globex = await projects.create({ name: 'Globex' });
  audit = new AuditLog(store);
  const repository = new WebhookRepository(store, { logger: pino({ level: 'silent' }), blockPrivateAddresses: false, ancestorsOf: async (id) => (await projects.pathOf(id)) ?? [id] });
  webhooks = new WebhookService({ webhooks: repository, access: new AccessPolicy(projects), audit });
});

afterAll(async () => {
  await store?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('WebhookService', () => {
  it('creates, lists, reads and deletes for an admin of the project, each change audited with the caller', async () => {
    const admin = person('usr_admin', { [acme.id]: 'admin' });
    const { webhook, secret } = await webhooks.create(admin, { ...input(team.id), description: 'alerts' });
    expect(secret).toMatch(/^whsec_/);
    expect(webhook).toMatchObject({ project_id: team.id, created_by: { type: 'user', id: 'usr_admin' }, description: 'alerts' });
    expect((await webhooks.list(admin, { project_id: team.id })).map((w) => w.id)).toEqual([webhook.id]);
    expect((await webhooks.get(admin, { id: webhook.id })).id).toBe(webhook.id);
    expect(await webhooks.deliveries(admin, { id: webhook.id })).toEqual([]);
    await webhooks.delete(admin, { id: webhook.id });
    expect(await refusal(webhooks.get(admin, { id: webhook.id }))).toEqual({ code: 'not_found', field: 'id' });
    const events = (await audit.list()).filter((e) => e.target?.id === webhook.id);
    expect(events.map((e) => e.action)).toEqual(['webhook.created', 'webhook.deleted']);
    expect(events[0]).toMatchObject({ actor: { type: 'user', id: 'usr_admin' }, ip: '198.51.100.4', user_agent: 'unit-test', project_id: team.id });
  });

  it("refuses another organisation's admin everything about a webhook, and a viewer creating one", async () => {
    const { webhook } = await webhooks.create(operator, input(acme.id));
    const outsider = person('usr_globex', { [globex.id]: 'owner' });
    expect(await refusal(webhooks.create(outsider, input(acme.id)))).toMatchObject({ code: 'forbidden' });
    expect(await refusal(webhooks.list(outsider, { project_id: acme.id }))).toMatchObject({ code: 'forbidden' });
    expect(await refusal(webhooks.get(outsider, { id: webhook.id }))).toMatchObject({ code: 'forbidden', field: undefined });
    expect(await refusal(webhooks.delete(outsider, { id: webhook.id }))).toMatchObject({ code: 'forbidden' });
    expect(await refusal(webhooks.deliveries(outsider, { id: webhook.id }))).toMatchObject({ code: 'forbidden' });
    expect(await refusal(webhooks.redeliver(outsider, { id: webhook.id, delivery: 'msg_x' }))).toMatchObject({ code: 'forbidden' });
    expect(await refusal(webhooks.create(person('usr_viewer', { [acme.id]: 'viewer' }), input(acme.id)))).toMatchObject({ code: 'forbidden' });
    expect((await webhooks.get(operator, { id: webhook.id })).id).toBe(webhook.id);
  });

  it('refuses bad input by field, and a delivery that is not the webhook’s (404, delivery)', async () => {
    const admin = person('usr_admin', { [acme.id]: 'admin' });
    expect(await refusal(webhooks.create(admin, { ...input(acme.id), events: [] }))).toEqual({ code: 'invalid', field: 'events' });
    expect(await refusal(webhooks.create(admin, { ...input(acme.id), events: ['key.exploded'] }))).toEqual({ code: 'invalid', field: 'events' });
    expect(await refusal(webhooks.create(admin, { ...input(acme.id), url: 'ftp://files.example.com/' }))).toEqual({ code: 'invalid', field: 'url' });
    expect(await refusal(webhooks.create(admin, { ...input(acme.id), url: '' }))).toEqual({ code: 'invalid', field: 'url' });
    expect(await refusal(webhooks.create(admin, { ...input(acme.id), description: 'x'.repeat(501) }))).toEqual({ code: 'invalid', field: 'description' });
    expect(await refusal(webhooks.create(admin, input('prj_nope')))).toEqual({ code: 'not_found', field: 'project_id' });
    const { webhook } = await webhooks.create(admin, input(acme.id));
    expect(await refusal(webhooks.redeliver(admin, { id: webhook.id, delivery: 'msg_unknown' }))).toEqual({ code: 'not_found', field: 'delivery' });
  });
});
