import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEmbeddedStore } from '../../src/store/embedded.ts';
import type { Store } from '../../src/store/index.ts';
import { AuditLog } from '../../src/audit/index.ts';
import type { Identity } from '../../src/connectors/index.ts';
import { IdentityRepository, MembershipRepository, ProjectRepository, ProvisioningRules, UserRepository, signInWithIdentity, type SignInDeps } from '../../src/directory/index.ts';

/** The sign-in decision on a real (embedded) store: first sign-ins that failed half-way are finished, not refused. */
describe('signInWithIdentity after a first sign-in that failed half-way', () => {
  let dir: string;
  let store: Store;
  let deps: SignInDeps;
  let projectId: string;

  const identity = (subject: string, email: string, overrides: Partial<Identity> = {}): Identity => ({
    connector_id: 'corp', subject, issuer: 'https://kc.acme.ru/realms/acme', email, email_verified: true, name: null, groups: [], amr: ['pwd'], acr: null, ...overrides,
  });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lt-provisioning-'));
    store = await openEmbeddedStore({ path: dir });
    const projects = new ProjectRepository(store);
    projectId = (await projects.create({ name: 'Acme' })).id;
    const rules = new ProvisioningRules(store, [{ email_domain: 'acme.ru', connectors: ['corp'], project: projectId, role: 'viewer' }]);
    deps = {
      users: new UserRepository(store),
      identities: new IdentityRepository(store),
      memberships: new MembershipRepository(store),
      projects,
      audit: new AuditLog(store),
      logger: pino({ level: 'silent' }),
      rules: () => rules.active(),
    };
  });
  afterAll(async () => {
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('finishes an account this connector made but never linked, with the rule role', async () => {
    // What a first sign-in leaves when it dies right after creating the account.
    const half = await deps.users.create({ email: 'anna@acme.ru', email_verified: true, source: 'corp' });
    const result = await signInWithIdentity(deps, identity('anna-1', 'anna@acme.ru'), { trust_email: undefined });
    expect(result).toMatchObject({ ok: true, created: true, linked: true, user: { id: half.user.id } });
    expect(await deps.memberships.rolesOf(half.user.id)).toEqual({ [projectId]: 'viewer' });
    expect(await deps.identities.find({ connector_id: 'corp', issuer: 'https://kc.acme.ru/realms/acme', subject: 'anna-1' })).toMatchObject({ user_id: half.user.id });
  });

  it('still refuses to take over an account that is not such a leftover', async () => {
    await deps.users.create({ email: 'local@acme.ru', email_verified: true, source: 'local', password_hash: '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA' });
    expect(await signInWithIdentity(deps, identity('local-1', 'local@acme.ru'), { trust_email: undefined })).toEqual({ ok: false, reason: 'account_exists' });
    await deps.users.create({ email: 'other@acme.ru', email_verified: true, source: 'elsewhere' });
    expect(await signInWithIdentity(deps, identity('other-1', 'other@acme.ru'), { trust_email: undefined })).toEqual({ ok: false, reason: 'account_exists' });
    // anna is linked now: a second identity of the same connector with her email is no leftover.
    expect(await signInWithIdentity(deps, identity('anna-2', 'anna@acme.ru'), { trust_email: undefined })).toEqual({ ok: false, reason: 'account_exists' });
  });

  it('gives an email a new account when its index outlived a create that failed before writing it', async () => {
    await store.put('user:email:{ghost@acme.ru}', { id: 'never-written' }); // the layout of src/directory/users.ts
    expect(await deps.users.findByEmail('ghost@acme.ru')).toBeUndefined();
    const result = await signInWithIdentity(deps, identity('ghost-1', 'ghost@acme.ru'), { trust_email: undefined });
    expect(result).toMatchObject({ ok: true, created: true });
    const made = await deps.users.findByEmail('ghost@acme.ru');
    expect(made).toMatchObject({ email: 'ghost@acme.ru', source: 'corp' });
    expect(made!.id).not.toBe('never-written');
  });
});
