import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEmbeddedStore } from '../../src/store/embedded.ts';
import type { Store } from '../../src/store/index.ts';
import { AuditLog } from '../../src/audit/index.ts';
import { createLdapConnector } from '../../src/connectors/ldap.ts';
import { GroupRoles, IdentityRepository, MembershipRepository, ProjectRepository, UserRepository, signInWithIdentity, type SignInDeps } from '../../src/directory/index.ts';
import { LdapDirectory, ldapConfigSchema, type LdapListedUser } from '../../src/directory/ldap.ts';
import { startSlapd, GROUPS_DN, PEOPLE_DN, READER_DN, READER_PASSWORD, groupDn, personDn, type SeedPerson, type SlapdServer } from '../support/slapd.ts';

const GWEN: SeedPerson = { uid: 'gwen', cn: 'Gwen Newcomer', mail: 'gwen@acme.ru', password: 'gwen-pass' };

/**
 * A first sign-in that lands while a sync pass is between asking the directory and applying its answer:
 * the listing predates the person, yet they are no leaver. Against a real slapd, with the pass paused
 * right after the listing (the directory object is the real one; only the moment is chosen).
 */
describe('LDAP sync racing a first sign-in', () => {
  let slapd: SlapdServer;
  let dir: string;
  let store: Store;
  let projectId: string;
  let signIn: SignInDeps;
  let groupRoles: GroupRoles;
  let duringPass: (() => Promise<void>) | undefined;
  let connector: ReturnType<typeof createLdapConnector>;

  beforeAll(async () => {
    slapd = await startSlapd();
    dir = await mkdtemp(path.join(tmpdir(), 'lt-sync-race-'));
    store = await openEmbeddedStore({ path: dir });
    const logger = pino({ level: 'silent' });
    const projects = new ProjectRepository(store);
    projectId = (await projects.create({ name: 'Acme' })).id;
    const users = new UserRepository(store);
    const identities = new IdentityRepository(store);
    const memberships = new MembershipRepository(store);
    const audit = new AuditLog(store);
    const directory = new LdapDirectory(ldapConfigSchema.parse({
      url: slapd.url,
      bind_dn: READER_DN,
      bind_password: READER_PASSWORD,
      user_search: { base_dn: PEOPLE_DN },
      group_search: { base_dn: GROUPS_DN, nested: true },
    }), { logger });
    const paused = Object.create(directory) as LdapDirectory;
    paused.listUsers = async (): Promise<LdapListedUser[]> => {
      const listed = await directory.listUsers();
      await duringPass?.();
      return listed;
    };
    connector = createLdapConnector({ id: 'ldap', type: 'ldap', name: 'Corp', email_domains: [], require_mfa: false, trust_email: undefined }, directory, { logger });
    groupRoles = new GroupRoles({
      store, memberships, projects, users, identities, audit, logger,
      legacyLinksTrusted: () => Promise.resolve(false),
      directories: () => [{ source: 'ldap', directory: paused, connectors: ['ldap'] }],
      configured: [{ id: 'cfg_0', source: 'ldap', group: 'logtrace-admins', project_id: projectId, role: 'admin' }],
    });
    signIn = {
      users, identities, memberships, projects, audit, logger,
      rules: () => Promise.resolve([]),
      applyGroups: (userId, identity) => groupRoles.applyIdentity(userId, identity, 'ldap'),
      mappedRoles: (identity) => groupRoles.mappedRoles('ldap', identity.groups),
    };
  }, 60_000);
  afterAll(async () => {
    await store?.close();
    await rm(dir, { recursive: true, force: true });
    await slapd?.dispose();
  });

  it('neither strips nor deprovisions a person who signed in after the directory was listed', async () => {
    let userId: string | undefined;
    duringPass = async () => {
      await slapd.addPerson(GWEN);
      await slapd.modify(groupDn('logtrace-admins'), [{ operation: 'add', type: 'member', values: [personDn('gwen')] }]);
      const result = await signInWithIdentity(signIn, await connector.login({ username: GWEN.mail, password: GWEN.password }), connector);
      if (!result.ok) throw new Error(`sign-in refused: ${result.reason}`);
      userId = result.user.id;
    };
    const pass = await groupRoles.syncLdap(5);
    duringPass = undefined;
    expect(pass).toMatchObject({ deprovisioned: [], failed: [] });
    const gwen = await signIn.users.findById(userId!);
    expect(gwen).toMatchObject({ source: 'ldap' });
    expect(gwen!.disabled).toBeFalsy();
    expect(await signIn.memberships.rolesOf(userId!)).toEqual({ [projectId]: 'admin' });
    // The next pass lists her.
    expect(await groupRoles.syncLdap(5)).toMatchObject({ deprovisioned: [], reprovisioned: [] });
    expect(await signIn.memberships.rolesOf(userId!)).toEqual({ [projectId]: 'admin' });
  });
});
