import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../store/index.ts';
import { ProjectRepository } from '../directory/index.ts';
import { AccessPolicy, type Principal } from '../access/index.ts';
import { AuditLog } from '../audit/index.ts';
import { WebhookRepository } from '../webhooks/index.ts';
import { DomainError, type Caller } from '../domain/index.ts';
import { ClientRepository } from './repository.ts';
import { ClientService, redirectUriProblem } from './service.ts';
import { hashSecret, secretMatches } from './secrets.ts';

/** The domain rules of registered clients, on a real embedded store: no server, no HTTP. */
describe('ClientService', () => {
  let dir: string;
  let store: Store;
  let service: ClientService;
  let webhooks: WebhookRepository;
  let acme: string;
  let team: string;
  let globex: string;
  const revoked: string[] = [];

  const as = (principal: Principal): Caller => ({ principal, ip: '192.0.2.1', user_agent: 'unit' });
  const person = (roles: Record<string, string>, scopes = ['read:logs', 'write:alerts', 'admin:projects']): Caller => as({ kind: 'token', actor: { type: 'user', id: 'u1' }, scopes, project_roles: roles });
  const key = (project: string, scopes: string[]): Caller => as({ kind: 'api_key', actor: { type: 'api_key', id: 'k1' }, project_id: project, scopes });
  const cc = (project: string, extra: Record<string, unknown> = {}) => ({ project_id: project, name: 'svc', type: 'confidential' as const, grant_types: ['client_credentials'], scopes: ['read:logs'], ...extra });

  async function refusal(run: Promise<unknown>): Promise<{ code: string; field: string | undefined }> {
    try {
      await run;
    } catch (err) {
      if (err instanceof DomainError) return { code: err.code, field: err.field };
      throw err;
    }
    throw new Error('expected a refusal');
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lt-clients-'));
    store = await openStore({ driver: 'embedded', path: dir } as Parameters<typeof openStore>[0]);
    const projects = new ProjectRepository(store);
    acme = (await projects.ensureRoot('Acme')).project.id;
    team = (await projects.create({ name: 'Team', parent_id: acme })).id;
    globex = (await projects.ensureRoot('Globex')).project.id;
    const logger = pino({ level: 'silent' });
    webhooks = new WebhookRepository(store, { logger, blockPrivateAddresses: false, ancestorsOf: async (id) => (await projects.pathOf(id)) ?? [id] });
    service = new ClientService({
      clients: new ClientRepository(store),
      access: new AccessPolicy(projects),
      audit: new AuditLog(store),
      webhooks,
      logger,
      maxTtlDays: 365,
      defaultGraceSeconds: 86_400,
      noticeDays: 7,
      configured: [{ client_id: 'static-svc', grant_types: ['client_credentials'], first_party: true, client_secret: 'x'.repeat(40), scope: 'read:logs' }],
      revokeGrant: async (id) => void revoked.push(id),
    });
  });
  afterAll(async () => {
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('registers within the creator\'s scopes; never stores the secret', async () => {
    const made = await service.create(person({ [acme]: 'admin' }), cc(team, { scopes: ['read:logs', 'write:alerts'] }));
    expect(made.client_secret).toMatch(/^lts_/);
    const record = await new ClientRepository(store).get(made.client.client_id);
    expect(record!.secrets[0]!.sha256).toBe(hashSecret(made.client_secret!));
    expect(JSON.stringify(record)).not.toContain(made.client_secret);
  });

  /** The cases name projects by letter (the ids exist only once beforeAll ran): A = Acme, T = Team (below Acme), G = Globex. */
  const P = (name: 'A' | 'T' | 'G') => ({ A: acme, T: team, G: globex })[name];
  it.each([
    ['a scope the creator lacks', () => key(P('A'), ['admin:projects', 'read:logs']), () => cc(P('A'), { scopes: ['write:alerts'] }), 'forbidden', 'scopes'],
    ['a viewer', () => person({ [P('A')]: 'viewer' }), () => cc(P('A')), 'forbidden', undefined],
    ['another organisation\'s project', () => person({ [P('A')]: 'owner' }), () => cc(P('G')), 'forbidden', undefined],
    ['an admin of a child registering above it', () => person({ [P('T')]: 'admin' }), () => cc(P('A')), 'forbidden', undefined],
    ['client credentials for a public client', () => person({ [P('A')]: 'admin' }), () => cc(P('A'), { type: 'public' }), 'invalid', 'grant_types'],
    ['a javascript: redirect', () => person({ [P('A')]: 'admin' }), () => cc(P('A'), { type: 'public', grant_types: ['authorization_code'], redirect_uris: ['javascript:alert(1)'] }), 'invalid', 'redirect_uris.0'],
    ['a fragment', () => person({ [P('A')]: 'admin' }), () => cc(P('A'), { grant_types: ['authorization_code'], redirect_uris: ['https://a.example/cb#x'] }), 'invalid', 'redirect_uris.0'],
    ['OpenID scopes without the code flow', () => person({ [P('A')]: 'admin' }), () => cc(P('A'), { scopes: ['openid'] }), 'invalid', 'scopes.0'],
    ['a refresh token without the code flow', () => person({ [P('A')]: 'admin' }), () => cc(P('A'), { grant_types: ['client_credentials', 'refresh_token'] }), 'invalid', 'grant_types'],
    ['a secret TTL above the maximum', () => person({ [P('A')]: 'admin' }), () => cc(P('A'), { secret_ttl_days: 366 }), 'invalid', 'secret_ttl_days'],
    ['first_party by an admin', () => person({ [P('A')]: 'admin' }), () => cc(P('A'), { first_party: true }), 'forbidden', 'first_party'],
    ['first_party by an API key', () => key(P('A'), ['admin:projects', 'read:logs']), () => cc(P('A'), { first_party: true }), 'forbidden', 'first_party'],
  ])('refuses %s, and writes nothing', async (_what, caller, input, code, field) => {
    const operator = as({ kind: 'operator', actor: { type: 'system', id: 'op' } });
    const before = (await service.list(operator, {})).length;
    expect(await refusal(service.create(caller(), input() as Parameters<ClientService['create']>[1]))).toEqual({ code, field });
    expect((await service.list(operator, {})).length).toBe(before);
  });

  it('hides another organisation\'s client (404), refuses a viewer of its own (403), and config clients are read-only (409)', async () => {
    const { client } = await service.create(person({ [acme]: 'owner' }), cc(acme));
    expect((await refusal(service.get(person({ [globex]: 'owner' }), client.client_id))).code).toBe('not_found');
    expect((await refusal(service.delete(person({ [globex]: 'owner' }), client.client_id))).code).toBe('not_found');
    expect((await refusal(service.update(person({ [acme]: 'viewer' }), client.client_id, { name: 'x' }))).code).toBe('forbidden');
    expect((await refusal(service.update(person({ [acme]: 'admin' }), client.client_id, { first_party: true }))).field).toBe('first_party');
    expect((await service.update(person({ [acme]: 'owner' }), client.client_id, { first_party: true })).first_party).toBe(true);
    const everyOrg = person({ [acme]: 'admin', [globex]: 'admin' });
    expect((await refusal(service.rotateSecret(everyOrg, 'static-svc', {}))).code).toBe('conflict');
    expect((await refusal(service.rotateSecret(person({ [acme]: 'admin' }), 'static-svc', {}))).code).toBe('not_found');
    expect((await service.list(everyOrg, {})).some((c) => c.client_id === 'static-svc' && c.origin === 'config')).toBe(true);
    expect((await service.list(person({ [acme]: 'admin' }), {})).some((c) => c.origin === 'config')).toBe(false);
  });

  it('rotation keeps the old secret for the grace only; deletion revokes the grants it recorded', async () => {
    const admin = person({ [acme]: 'admin' });
    const { client, client_secret: first } = await service.create(admin, cc(acme));
    const second = await service.rotateSecret(admin, client.client_id, { grace_seconds: 3600 });
    const record = (await new ClientRepository(store).get(client.client_id))!;
    expect(secretMatches(record.secrets, first!)).toBe(true);
    expect(secretMatches(record.secrets, second.client_secret)).toBe(true);
    expect(secretMatches(record.secrets, first!, Date.now() + 3601_000)).toBe(false);
    expect(secretMatches(record.secrets, second.client_secret, Date.now() + 3601_000)).toBe(true);
    await service.rotateSecret(admin, client.client_id, { grace_seconds: 0 });
    const after = (await new ClientRepository(store).get(client.client_id))!;
    expect(secretMatches(after.secrets, second.client_secret)).toBe(false);
    expect((await refusal(service.rotateSecret(admin, client.client_id, { grace_seconds: -1 }))).field).toBe('grace_seconds');

    await service.grantSaved(client.client_id, 'grant-1');
    await service.grantSaved(client.client_id, 'grant-2');
    await service.delete(admin, client.client_id);
    expect(revoked.sort()).toEqual(['grant-1', 'grant-2']);
    expect(await service.find(client.client_id)).toBeUndefined();
  });

  it('client.secret_expiring fires once, within the notice period, and client events reach webhooks', async () => {
    const admin = person({ [acme]: 'admin' });
    const { webhook } = await webhooks.create({ project_id: acme, url: 'https://hooks.example/in', events: ['client.created', 'client.secret_expiring'], created_by: { type: 'user', id: 'u1' } });
    const { client } = await service.create(admin, cc(team, { secret_ttl_days: 30 }));
    await service.watchExpiry(); // 30 days out: nothing yet
    const later = Date.now() + 24 * 86_400_000;
    await service.watchExpiry(later);
    await service.watchExpiry(later);
    const deliveries = await webhooks.deliveries(webhook.id);
    const types = deliveries.map((d) => d.event_type).sort();
    expect(types).toEqual(['client.created', 'client.secret_expiring']);
    expect(client.secret_expires_at).toBeDefined();
  });

  it.each([
    ['https://app.example/cb', undefined],
    ['http://127.0.0.1:8080/cb', undefined],
    ['http://localhost/cb', undefined],
    ['http://[::1]:3000/cb', undefined],
    ['http://app.example/cb', 'must use https'],
    ['javascript:alert(1)', 'javascript:'],
    ['data:text/html,x', 'data:'],
    ['https://app.example/cb#', 'fragment'],
    ['/relative', 'absolute'],
  ])('redirect URI %s', (uri, problem) => {
    const found = redirectUriProblem(uri);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toContain(problem);
  });
});
