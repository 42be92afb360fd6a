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

  /** A connector as the decision sees it; whichever issuer the test names is the one it points at. */
  const anyIssuer = { trust_email: undefined, trustsIssuer: () => true };
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
    const result = await signInWithIdentity(deps, identity('anna-1', 'anna@acme.ru'), anyIssuer);
    expect(result).toMatchObject({ ok: true, created: true, linked: true, user: { id: half.user.id } });
    expect(await deps.memberships.rolesOf(half.user.id)).toEqual({ [projectId]: 'viewer' });
    expect(await deps.identities.find({ connector_id: 'corp', issuer: 'https://kc.acme.ru/realms/acme', subject: 'anna-1' })).toMatchObject({ user_id: half.user.id });
  });

  it('still refuses to take over an account that is not such a leftover', async () => {
    await deps.users.create({ email: 'local@acme.ru', email_verified: true, source: 'local', password_hash: '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA' });
    expect(await signInWithIdentity(deps, identity('local-1', 'local@acme.ru'), anyIssuer)).toEqual({ ok: false, reason: 'account_exists' });
    await deps.users.create({ email: 'other@acme.ru', email_verified: true, source: 'elsewhere' });
    expect(await signInWithIdentity(deps, identity('other-1', 'other@acme.ru'), anyIssuer)).toEqual({ ok: false, reason: 'account_exists' });
    // anna is linked now: a second identity of the same connector with her email is no leftover.
    expect(await signInWithIdentity(deps, identity('anna-2', 'anna@acme.ru'), anyIssuer)).toEqual({ ok: false, reason: 'account_exists' });
  });

  /** A link in the layout of versions before issuers were recorded. */
  async function legacyLink(subject: string, userId: string): Promise<string> {
    const key = `identity:{corp:${subject}}`;
    const now = new Date().toISOString();
    // Two entities, so two writes (a batch stays within one hash tag, as on Redis Cluster).
    await store.put(key, { user_id: userId, connector_id: 'corp', subject, email: null, groups: [], linked_at: now, last_login_at: now });
    await store.sadd(`identity:user:{${userId}}`, [key]);
    return key;
  }

  it('follows a link made before issuers were recorded only while the connection is trusted to point where it did, then records its issuer', async () => {
    const old = await deps.users.create({ email: 'old@acme.ru', email_verified: true, source: 'corp' });
    const key = await legacyLink('old-1', old.user.id);
    // The connection points elsewhere now: the legacy link is not this identity's, and the address is taken.
    const distrusted = { ...deps, legacyLinksTrusted: () => Promise.resolve(false) };
    expect(await signInWithIdentity(distrusted, identity('old-1', 'old@acme.ru', { issuer: 'https://evil.example' }), anyIssuer)).toEqual({ ok: false, reason: 'account_exists' });
    expect(await store.get(key)).toBeDefined();
    // Unchanged connection: the same person, and the link now carries the issuer.
    const trusted = { ...deps, legacyLinksTrusted: (id: string) => Promise.resolve(id === 'corp') };
    expect(await signInWithIdentity(trusted, identity('old-1', 'old@acme.ru'), anyIssuer)).toMatchObject({ ok: true, linked: false, user: { id: old.user.id } });
    expect(await store.get(key)).toBeUndefined();
    expect(await deps.identities.linkedTo(old.user.id)).toEqual([expect.objectContaining({ subject: 'old-1', issuer: 'https://kc.acme.ru/realms/acme' })]);
    // Recorded under its issuer, the link is no longer anybody else's to claim, trusted or not.
    expect(await signInWithIdentity(trusted, identity('old-1', 'new@acme.ru', { issuer: 'https://evil.example' }), anyIssuer)).toMatchObject({ ok: true, created: true });
    expect((await deps.users.findByEmail('new@acme.ru'))!.id).not.toBe(old.user.id);
  });

  it('refuses an identity from an issuer the connector no longer points at (a callback that landed just before a change)', async () => {
    const repointed = { trust_email: undefined, trustsIssuer: (issuer: string) => issuer === 'https://elsewhere.example' };
    expect(await signInWithIdentity(deps, identity('anna-1', 'anna@acme.ru'), repointed)).toEqual({ ok: false, reason: 'connection_changed' });
  });

  it('refuses an identity that names no issuer', async () => {
    expect(await signInWithIdentity(deps, identity('anna-1', 'anna@acme.ru', { issuer: '' }), anyIssuer)).toEqual({ ok: false, reason: 'no_access' });
  });

  it('gives an email a new account when its index outlived a create that failed before writing it', async () => {
    await store.put('user:email:{ghost@acme.ru}', { id: 'never-written' }); // the layout of src/directory/users.ts
    expect(await deps.users.findByEmail('ghost@acme.ru')).toBeUndefined();
    const result = await signInWithIdentity(deps, identity('ghost-1', 'ghost@acme.ru'), anyIssuer);
    expect(result).toMatchObject({ ok: true, created: true });
    const made = await deps.users.findByEmail('ghost@acme.ru');
    expect(made).toMatchObject({ email: 'ghost@acme.ru', source: 'corp' });
    expect(made!.id).not.toBe('never-written');
  });

  describe('mapped groups let a first sign-in in without a rule', () => {
    /** A connector with no provisioning rule: `corp-groups` maps `admins` to admin on the project. */
    const viaGroups = (subject: string, email: string, groups: string[], overrides: Partial<Identity> = {}) => identity(subject, email, { connector_id: 'corp-groups', groups, ...overrides });
    let mapped: SignInDeps;

    beforeAll(() => {
      const mappedRoles = (id: Identity) => Promise.resolve(id.groups.includes('admins') ? [{ project_id: projectId, role: 'admin' as const }] : []);
      const applyGroups = async (userId: string, id: Identity) => deps.memberships.syncAutomatic(userId, 'idp_groups', id.connector_id, await mappedRoles(id));
      mapped = { ...deps, mappedRoles, applyGroups };
    });

    it('creates the account with the mapped role (cause idp_groups) and links the identity', async () => {
      const result = await signInWithIdentity(mapped, viaGroups('g-1', 'gina@partner.example', ['admins', 'other']), anyIssuer);
      expect(result).toMatchObject({ ok: true, created: true, linked: true });
      const user = (result as { user: { id: string } }).user;
      expect(await deps.memberships.grantsOf(user.id)).toEqual([expect.objectContaining({ project_id: projectId, role: 'admin', cause: 'idp_groups', source: 'corp-groups' })]);
    });

    it('refuses groups no mapping names, and creates nothing (default deny)', async () => {
      expect(await signInWithIdentity(mapped, viaGroups('h-1', 'hank@partner.example', ['other']), anyIssuer)).toEqual({ ok: false, reason: 'no_access' });
      expect(await signInWithIdentity(mapped, viaGroups('h-2', 'hank2@partner.example', []), anyIssuer)).toEqual({ ok: false, reason: 'no_access' });
      expect(await deps.users.findByEmail('hank@partner.example')).toBeUndefined();
      expect(await deps.users.findByEmail('hank2@partner.example')).toBeUndefined();
    });

    it('refuses an unverified email even with mapped groups (an address nobody vouched for takes no account)', async () => {
      expect(await signInWithIdentity(mapped, viaGroups('u-1', 'ursula@partner.example', ['admins'], { email_verified: false }), anyIssuer)).toEqual({ ok: false, reason: 'email_unverified' });
      expect(await deps.users.findByEmail('ursula@partner.example')).toBeUndefined();
    });

    it('never puts the mapped roles on an existing account that merely has the same email', async () => {
      const local = await deps.users.create({ email: 'lena@partner.example', email_verified: true, source: 'local', password_hash: '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA' });
      expect(await signInWithIdentity(mapped, viaGroups('l-1', 'lena@partner.example', ['admins']), anyIssuer)).toEqual({ ok: false, reason: 'account_exists' });
      expect(await deps.memberships.grantsOf(local.user.id)).toEqual([]);
      expect(await deps.identities.linkedTo(local.user.id)).toEqual([]);
    });
  });
});
