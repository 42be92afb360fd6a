import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AccessPolicy } from '../access/index.ts';
import { AuditLog } from '../audit/index.ts';
import { ProjectRepository } from '../directory/index.ts';
import { DomainError, type Caller, type Principal } from '../domain/index.ts';
import { openStore, type Store, SecretBox } from '../store/index.ts';
import { ConnectionSet } from './connections.ts';
import { parseConnectorConfig, type ConnectorConfig } from './index.ts';
import { ConnectionService } from './service.ts';

/**
 * The connection rules every door shares, on a real embedded store: who may create, change, delete and
 * read connections, what a change may touch, and the refusals each door maps by code and field.
 */
const ALL = ['read:logs', 'write:alerts', 'admin:projects'];
const person = (id: string, roles: Record<string, string>, scopes = ALL): Caller => ({
  principal: { kind: 'token', actor: { type: 'user', id }, scopes, project_roles: roles } satisfies Principal,
  ip: '203.0.113.7',
  user_agent: 'unit-test',
});
/** No request leaves this process: an OIDC connector fetches discovery only at sign-in or test. */
const noNetwork: typeof fetch = () => Promise.reject(new Error('no network in unit tests'));

function configured(raw: Record<string, unknown>): ConnectorConfig {
  const parsed = parseConnectorConfig(raw);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.config;
}

let dir: string;
let store: Store;
let set: ConnectionSet;
let service: ConnectionService;
let audit: AuditLog;
let acme: string;
let globex: string;
let scimDeleted: string[];

async function build(options: { secrets: boolean }): Promise<void> {
  const logger = pino({ level: 'silent' });
  const projects = new ProjectRepository(store);
  acme = (await projects.create({ name: 'Acme' })).id;
  const access = new AccessPolicy(projects);
  audit = new AuditLog(store);
  set = new ConnectionSet({
    store,
    logger,
    connectorDeps: { issuer: 'https://auth.example.test', store, logger, fetch: noNetwork },
    secrets: options.secrets ? new SecretBox(store, randomBytes(32)) : undefined,
    configured: [configured({ id: 'static', type: 'yandex', client_id: 'ya', client_secret: 'ya-secret-0123456789' })],
  });
  await set.reload();
  scimDeleted = [];
  globex = '';
  service = new ConnectionService({ connections: set, access, audit, scimConnectionDeleted: async (id) => void scimDeleted.push(id) });
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'connection-service-'));
  store = await openStore({ driver: 'embedded', path: dir });
  await build({ secrets: true });
});
afterEach(async () => {
  set.stop();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const owner = () => person('u_owner', { [acme]: 'owner' });
const admin = () => person('u_admin', { [acme]: 'admin' });
const OIDC = { id: 'kc', type: 'oidc', issuer: 'https://idp.example.test', client_id: 'app', client_secret: 'kc-secret-0123456789', email_domains: ['example.com'] };

async function refusal(promise: Promise<unknown>): Promise<{ code: string; field: string | undefined; message: string }> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof DomainError) return { code: err.code, field: err.field, message: err.message };
    throw err;
  }
  throw new Error('expected a refusal');
}

async function events(action: string) {
  return (await audit.query({ project_ids: new Set([acme, ...(globex ? [globex] : [])]), include_unscoped: true, action })).events;
}

describe('ConnectionService', () => {
  it('lets an owner create a connection, stored without its secret and audited with the caller', async () => {
    const created = await service.create(owner(), OIDC);
    expect(created).toMatchObject({ id: 'kc', type: 'oidc', origin: 'api', secrets_set: ['client_secret'] });
    expect(created).not.toHaveProperty('client_secret');
    const [event] = await events('connection.created');
    expect(event).toMatchObject({ actor: { type: 'user', id: 'u_owner' }, target: { type: 'connection', id: 'kc' }, project_id: acme, ip: '203.0.113.7', user_agent: 'unit-test', detail: { type: 'oidc' } });
  });

  it('refuses an admin creating a connection, and stores and audits nothing', async () => {
    expect(await refusal(service.create(admin(), OIDC))).toMatchObject({ code: 'forbidden' });
    expect((await service.list(owner())).map((c) => c.id)).toEqual(['static']);
    expect(await events('connection.created')).toEqual([]);
  });

  it('refuses the owner of one organisation creating a connection that would serve another too', async () => {
    globex = (await new ProjectRepository(store).create({ name: 'Globex' })).id;
    expect(await refusal(service.create(owner(), OIDC))).toMatchObject({ code: 'forbidden' });
    expect(await refusal(service.delete(owner(), 'static'))).toMatchObject({ code: 'forbidden' });
  });

  it('refuses a viewer, and a member of another organisation, even reading', async () => {
    await service.create(owner(), OIDC);
    expect(await refusal(service.list(person('u_viewer', { [acme]: 'viewer' })))).toMatchObject({ code: 'forbidden' });
    globex = (await new ProjectRepository(store).create({ name: 'Globex' })).id;
    // An admin of Globex administers an organisation, so reads; it may not change what serves Acme too.
    const globexAdmin = person('u_globex', { [globex]: 'admin' });
    expect(await refusal(service.update(globexAdmin, 'kc', { issuer: 'https://evil.example.test' }))).toMatchObject({ code: 'forbidden' });
    expect(await refusal(service.get(person('u_nobody', {}), 'kc'))).toMatchObject({ code: 'forbidden' });
  });

  it("refuses an admin changing the issuer (where the secret goes: who an account is), allows renaming", async () => {
    await service.create(owner(), OIDC);
    expect(await refusal(service.update(admin(), 'kc', { issuer: 'https://evil.example.test', client_secret: 'attacker-0123456789' }))).toMatchObject({ code: 'forbidden' });
    expect((await service.get(owner(), 'kc')).issuer).toBe('https://idp.example.test');
    const renamed = await service.update(admin(), 'kc', { name: 'Keycloak' });
    expect(renamed).toMatchObject({ id: 'kc', name: 'Keycloak', issuer: 'https://idp.example.test', secrets_set: ['client_secret'] });
    const updates = await events('connection.updated');
    expect(updates).toHaveLength(1);
    expect(updates[0]).toMatchObject({ actor: { id: 'u_admin' }, target: { id: 'kc' }, detail: { fields: ['name'] } });
  });

  it('decides on the fields a patch really changes: the current issuer sent again is a rename', async () => {
    await service.create(owner(), OIDC);
    expect(await service.update(admin(), 'kc', { name: 'KC', issuer: OIDC.issuer, type: 'oidc', id: 'kc' })).toMatchObject({ name: 'KC' });
  });

  it('keeps id and type: a patch changing either is invalid, naming the field', async () => {
    await service.create(owner(), OIDC);
    expect(await refusal(service.update(owner(), 'kc', { id: 'other' }))).toMatchObject({ code: 'invalid', field: 'id' });
    expect(await refusal(service.update(owner(), 'kc', { type: 'saml' }))).toMatchObject({ code: 'invalid', field: 'type' });
  });

  it('refuses a stored secret being sent somewhere else unless it is given again', async () => {
    await service.create(owner(), OIDC);
    expect(await refusal(service.update(owner(), 'kc', { issuer: 'https://other.example.test' }))).toMatchObject({ code: 'invalid', field: 'client_secret' });
    expect(await service.update(owner(), 'kc', { issuer: 'https://other.example.test', client_secret: 'new-secret-0123456789' })).toMatchObject({ issuer: 'https://other.example.test' });
  });

  it('answers conflict for a connection of the configuration file, whoever asks', async () => {
    expect(await refusal(service.update(owner(), 'static', { name: 'X' }))).toMatchObject({ code: 'conflict' });
    expect(await refusal(service.delete(owner(), 'static'))).toMatchObject({ code: 'conflict', field: 'id' });
    expect(await refusal(service.create(owner(), { ...OIDC, id: 'static' }))).toMatchObject({ code: 'conflict', field: 'id' });
    expect(await events('connection')).toEqual([]);
  });

  it('answers not_found for an unknown id, on every method', async () => {
    for (const call of [
      service.get(owner(), 'nope'),
      service.update(owner(), 'nope', { name: 'X' }),
      service.delete(owner(), 'nope'),
      service.test(owner(), 'nope'),
      service.rotateScimToken(owner(), 'nope'),
    ]) {
      expect(await refusal(call)).toMatchObject({ code: 'not_found' });
    }
  });

  it('refuses an id taken and invalid settings with the field at fault', async () => {
    await service.create(owner(), OIDC);
    expect(await refusal(service.create(owner(), OIDC))).toMatchObject({ code: 'conflict', field: 'id' });
    expect(await refusal(service.create(owner(), { id: 'Bad Id', type: 'oidc' }))).toMatchObject({ code: 'invalid', field: 'id' });
    expect(await refusal(service.create(owner(), { id: 'x', type: 'nope' }))).toMatchObject({ code: 'invalid', field: 'type' });
    expect(await refusal(service.create(owner(), { ...OIDC, id: 'ldapfile', type: 'ldap', ldap: { url: 'ldap://x', ca_file: '/etc/passwd' } }))).toMatchObject({ code: 'invalid', field: 'ldap.ca_file' });
  });

  it('answers conflict naming the secret when no LOGTRACE_SECRET_KEY can seal it', async () => {
    set.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
    dir = mkdtempSync(join(tmpdir(), 'connection-service-'));
    store = await openStore({ driver: 'embedded', path: dir });
    await build({ secrets: false });
    const refused = await refusal(service.create(owner(), OIDC));
    expect(refused).toMatchObject({ code: 'conflict', field: 'client_secret' });
    expect(refused.message).toContain('LOGTRACE_SECRET_KEY');
  });

  it('SCIM connections: a token once, rotation by an owner only, deletion runs the SCIM hook', async () => {
    await service.create(owner(), OIDC);
    const created = await service.create(owner(), { id: 'dir', type: 'scim', connector: 'kc' });
    expect(created.token).toMatch(/^lts_scim_/);
    expect(await service.get(owner(), 'dir')).not.toHaveProperty('token');
    expect(await refusal(service.rotateScimToken(admin(), 'dir'))).toMatchObject({ code: 'forbidden' });
    expect(await refusal(service.rotateScimToken(owner(), 'kc'))).toMatchObject({ code: 'invalid', field: 'id' });
    const rotated = await service.rotateScimToken(owner(), 'dir');
    expect(await set.scimConnectionForToken(created.token!)).toEqual({ ok: false, reason: 'unknown' });
    expect((await set.scimConnectionForToken(rotated.token)).ok).toBe(true);
    expect(await refusal(service.delete(admin(), 'dir'))).toMatchObject({ code: 'forbidden' });
    expect(scimDeleted).toEqual([]);
    await service.delete(owner(), 'dir');
    expect(scimDeleted).toEqual(['dir']);
    await service.delete(owner(), 'kc');
    expect(scimDeleted).toEqual(['dir']);
    expect((await events('connection.deleted')).map((e) => e.target?.id)).toEqual(['dir', 'kc']);
    expect((await events('connection.token_rotated')).map((e) => e.target?.id)).toEqual(['dir']);
  });

  it('tests a connection for an admin, audited with the failed checks', async () => {
    await service.create(owner(), OIDC);
    await service.update(owner(), 'kc', { enabled: false });
    const result = await service.test(admin(), 'kc');
    expect(result).toEqual({ ok: false, checks: [expect.objectContaining({ check: 'disabled', ok: false })] });
    expect((await events('connection.tested'))[0]).toMatchObject({ actor: { id: 'u_admin' }, outcome: 'failure', detail: { checks: ['disabled'] } });
  });

  it('"Try a sign-in": refused for a connection without a directory and for a member; an unfinished try is audited without the password', async () => {
    await service.create(owner(), OIDC);
    expect(await refusal(service.trySignIn(admin(), 'kc', { email: 'a@example.com', password: 'pw' }))).toMatchObject({ code: 'invalid' });
    expect(await refusal(service.trySignIn(person('u_member', { [acme]: 'member' }), 'kc', { email: 'a@example.com', password: 'pw' }))).toMatchObject({ code: 'forbidden' });
    expect(await refusal(service.trySignIn(admin(), 'nope', { email: 'a@example.com', password: 'pw' }))).toMatchObject({ code: 'not_found' });
    expect(await events('connection.tested')).toEqual([]);
    await service.create(owner(), { id: 'dir', type: 'ldap', enabled: false, ldap: { url: 'ldap://127.0.0.1:1', bind_dn: 'cn=svc', bind_password: 'svc-password-0123', user_search: { base_dn: 'dc=example,dc=com' }, group_search: { base_dn: 'dc=example,dc=com' } } });
    expect(await service.trySignIn(admin(), 'dir', { email: ' a@example.com ', password: '' })).toEqual({ outcome: 'missing' });
    expect(await service.trySignIn(admin(), 'dir', { email: 'a@example.com', password: 'secret-pw' })).toEqual({ outcome: 'unavailable', reason: 'the connection is disabled' });
    const tried = await events('connection.tested');
    expect(tried.map((e) => [e.outcome, e.detail])).toEqual([['failure', { kind: 'sign_in', email: 'a@example.com' }], ['failure', { kind: 'sign_in', email: 'a@example.com' }]]);
    expect(JSON.stringify(tried)).not.toContain('secret-pw');
  });
});
