import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { openEmbeddedStore } from '../../src/store/embedded.ts';
import type { Store } from '../../src/store/index.ts';
import { AuditLog } from '../../src/audit/index.ts';
import { MembershipRepository, ProjectRepository, UserRepository } from '../../src/directory/index.ts';
import { bootstrapDevelopmentOrganisation, DONE_KEY, type DevelopmentOrganisationDeps } from '../../src/directory/development-organisation.ts';
import { TEST_PASSWORD_HASH } from '../support/auth-server.ts';

const SETTING = { name: 'Development', owner: 'admin@example.com' };

describe('development.bootstrap_organisation', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  async function fresh(): Promise<DevelopmentOrganisationDeps & { store: Store }> {
    const dir = await mkdtemp(path.join(tmpdir(), 'lt-devorg-'));
    const store = await openEmbeddedStore({ path: dir });
    cleanups.push(async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });
    const users = new UserRepository(store);
    await users.upsertStatic({ email: SETTING.owner, name: 'Admin', password_hash: TEST_PASSWORD_HASH, email_verified: true });
    return { store, users, projects: new ProjectRepository(store), memberships: new MembershipRepository(store), audit: new AuditLog(store), logger: pino({ level: 'silent' }) };
  }

  it('makes the organisation with its owner once; later starts find it done', async () => {
    const deps = await fresh();
    const made = await bootstrapDevelopmentOrganisation(deps, SETTING);
    expect(made).toMatchObject({ result: 'made', project: { name: 'Development', parent_id: null }, owner: { email: SETTING.owner } });
    const owner = await deps.users.findByEmail(SETTING.owner);
    expect(await deps.memberships.rolesOf(owner!.id)).toEqual({ [(made as { project: { id: string } }).project.id]: 'owner' });
    expect(await bootstrapDevelopmentOrganisation(deps, SETTING)).toEqual({ result: 'done' });
    // An owner removed by a person stays removed: once per store.
    await deps.memberships.setManual(owner!.id, (made as { project: { id: string } }).project.id, null);
    expect(await bootstrapDevelopmentOrganisation(deps, SETTING)).toEqual({ result: 'done' });
    expect(await deps.memberships.rolesOf(owner!.id)).toEqual({});
    expect((await deps.projects.roots()).map((p) => p.name)).toEqual(['Development']);
    const events = (await deps.audit.list({ limit: 100 })).filter((e) => e.actor.id === 'development.bootstrap_organisation');
    expect(events.map((e) => e.action).sort()).toEqual(['member.role_changed', 'project.created']);
  });

  it('makes nothing on a store that has an organisation already (not a first start)', async () => {
    const deps = await fresh();
    await deps.projects.ensureRoot('Acme');
    expect(await bootstrapDevelopmentOrganisation(deps, SETTING)).toEqual({ result: 'skipped' });
    expect((await deps.projects.roots()).map((p) => p.name)).toEqual(['Acme']);
    expect(await deps.store.get(DONE_KEY)).toMatchObject({ skipped: expect.any(String) });
    expect(await bootstrapDevelopmentOrganisation(deps, SETTING)).toEqual({ result: 'done' });
  });

  it('of several starts racing on one store, exactly one makes it', async () => {
    const deps = await fresh();
    const results = await Promise.all(Array.from({ length: 8 }, () => bootstrapDevelopmentOrganisation(deps, SETTING)));
    expect(results.filter((r) => r.result === 'made')).toHaveLength(1);
    expect(results.every((r) => ['made', 'busy', 'done'].includes(r.result))).toBe(true);
    expect((await deps.projects.roots()).map((p) => p.name)).toEqual(['Development']);
    const events = (await deps.audit.list({ limit: 100 })).filter((e) => e.actor.id === 'development.bootstrap_organisation');
    expect(events).toHaveLength(2);
  });
});
