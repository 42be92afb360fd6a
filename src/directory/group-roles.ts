import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Store } from '../store/index.ts';
import type { AuditLog } from '../audit/index.ts';
import type { Identity } from '../domain/index.ts';
import type { MembershipRepository, MembershipChange, MembershipGrant } from './memberships.ts';
import type { ProjectRepository } from './projects.ts';
import type { DeprovisionReason, UserRepository } from './users.ts';
import type { IdentityRepository } from './identities.ts';
import type { LdapDirectory, LdapListedUser, LdapUserWithGroups } from './ldap.ts';
import { LdapUnavailableError } from './ldap.ts';
import { rolesFromGroups, strongest, type Grant, type RoleMapping } from './role-mapping.ts';
import { PeriodicJob } from '../domain/index.ts';
import type { Role } from './roles.ts';

/**
 * Directory and IdP groups → project roles. Mappings come from the configuration (read-only here) and
 * from /v1/role-mappings (stored). Groups are applied at every sign-in (the identity's groups) and, for
 * LDAP, by a periodic sync that one node at a time runs. Each user's last known groups per source are
 * kept so a mapping change can be previewed before it is made.
 *
 * Layout: rolemap:{id} (stored mapping), rolemap:all:{index} (ids), groups:user:{userId} → { source: groups[] },
 *         groups:users:{index} (users with known groups), ldap:sync:{lock}.
 */
export type RoleMappingView = RoleMapping & { origin: 'config' | 'api'; created_at: string | null } & { [key: string]: unknown };

const mappingKey = (id: string) => `rolemap:{${id}}`;
const ALL_MAPPINGS = 'rolemap:all:{index}';
const groupsKey = (userId: string) => `groups:user:{${userId}}`;
const USERS_WITH_GROUPS = 'groups:users:{index}';
/** How far apart the clocks of two nodes may be (a sign-in's time is the signing node's, the listing's this one's). */
const CLOCK_SKEW_MS = 5000;

interface DirectorySource {
  source: string;
  directory: LdapDirectory;
  /** The connectors whose sign-ins link people to this directory's entries. */
  connectors: string[];
}

interface GroupRolesDeps {
  store: Store;
  memberships: MembershipRepository;
  projects: ProjectRepository;
  users: UserRepository;
  identities: IdentityRepository;
  /** Whether a connector's links made before issuers were recorded may still be followed (ConnectionSet). */
  legacyLinksTrusted: (connectorId: string, issuer: string) => Promise<boolean>;
  audit: AuditLog;
  logger: Logger;
  /**
   * Every LDAP directory in use with the group source its groups are recorded under: `ldap` for the
   * shared `ldap:` block, the connector id for an LDAP connector with a directory of its own. Asked afresh
   * at each sync, so connections added at run time are included.
   */
  directories: () => DirectorySource[];
  /** Config mappings with `project` already resolved to an id. */
  configured: RoleMapping[];
}

export class GroupRoles {
  private readonly deps: GroupRolesDeps;
  private sync: PeriodicJob | undefined;

  constructor(deps: GroupRolesDeps) {
    this.deps = deps;
  }

  async list(): Promise<RoleMappingView[]> {
    const ids = await this.deps.store.smembers(ALL_MAPPINGS);
    const stored = (await Promise.all(ids.map((id) => this.deps.store.get<RoleMappingView>(mappingKey(id))))).filter((m): m is RoleMappingView => !!m);
    return [
      ...this.deps.configured.map((m) => ({ ...m, origin: 'config' as const, created_at: null })),
      ...stored.sort((a, b) => String(a.created_at).localeCompare(String(b.created_at))),
    ];
  }

  async get(id: string): Promise<RoleMappingView | undefined> {
    return (await this.list()).find((m) => m.id === id);
  }

  async create(input: Omit<RoleMapping, 'id'>): Promise<RoleMappingView> {
    const mapping: RoleMappingView = { id: `rm_${randomBytes(9).toString('base64url')}`, ...input, origin: 'api', created_at: new Date().toISOString() };
    // Index first (list() skips an id without a mapping), then the mapping: never one no list shows.
    await this.deps.store.sadd(ALL_MAPPINGS, [mapping.id]);
    await this.deps.store.put(mappingKey(mapping.id), { ...mapping });
    return mapping;
  }

  async delete(id: string): Promise<boolean> {
    const existing = await this.deps.store.get(mappingKey(id));
    if (!existing) return false;
    await this.deps.store.delete(mappingKey(id));
    await this.deps.store.srem(ALL_MAPPINGS, [id]);
    return true;
  }

  /** The cause a source's grants are recorded under: a directory's are `ldap_sync`, an IdP's `idp_groups`. */
  private causeOf(source: string): 'ldap_sync' | 'idp_groups' {
    return source === 'ldap' || this.deps.directories().some((d) => d.source === source) ? 'ldap_sync' : 'idp_groups';
  }

  /**
   * Applies one source's groups to a user's roles; returns the effective changes. The cause is the
   * source's (see causeOf) unless the caller knows better: a SCIM connection's groups are `scim`.
   */
  async apply(userId: string, source: string, groups: string[], cause: 'ldap_sync' | 'idp_groups' | 'scim' = this.causeOf(source)): Promise<MembershipChange[]> {
    // Index first: the directory sync walks it to take away groups a person lost, so every user with
    // recorded groups must be in it (a user in it without groups is skipped).
    await this.deps.store.sadd(USERS_WITH_GROUPS, [userId]);
    await this.deps.store.put(groupsKey(userId), { ...((await this.deps.store.get<Record<string, string[]>>(groupsKey(userId))) ?? {}), [source]: groups });
    const mappings = (await this.list()).filter((m) => m.source === source);
    const grants = rolesFromGroups(mappings, [{ source, groups }]);
    return this.deps.memberships.syncAutomatic(userId, cause, source, grants);
  }

  /**
   * The roles `groups` of `source` map to, on projects that exist (a mapping may outlive its project):
   * what lets a first sign-in in without a provisioning rule. Applies nothing.
   */
  async mappedRoles(source: string, groups: string[]): Promise<Grant[]> {
    if (groups.length === 0) return [];
    const grants = rolesFromGroups((await this.list()).filter((m) => m.source === source), [{ source, groups }]);
    const exist = await Promise.all(grants.map((g) => this.deps.projects.get(g.project_id)));
    return grants.filter((_, i) => exist[i] !== undefined);
  }

  /**
   * For a sign-in: the identity's groups under its connector's group source (`ldap` for connectors over
   * the shared directory, otherwise the connector id). Each directory is its own source, so a sign-in
   * through one never touches the groups another directory gave.
   */
  applyIdentity(userId: string, identity: Identity, source: string): Promise<MembershipChange[]> {
    return this.apply(userId, source, identity.groups);
  }

  /**
   * What adding and removing mappings would change, without applying anything: for every user with known
   * groups, the effective role per project before and after (other causes, e.g. manual grants, included).
   */
  async preview(change: { add?: Array<Omit<RoleMapping, 'id'>>; remove?: string[] }): Promise<Array<{ user_id: string; email: string | null; project_id: string; from: Role | null; to: Role | null }>> {
    const current = await this.list();
    const removed = new Set(change.remove ?? []);
    const next: RoleMapping[] = [...current.filter((m) => !removed.has(m.id)), ...(change.add ?? []).map((m, i) => ({ ...m, id: `preview_${i}` }))];
    const out: Array<{ user_id: string; email: string | null; project_id: string; from: Role | null; to: Role | null }> = [];
    for (const userId of await this.deps.store.smembers(USERS_WITH_GROUPS)) {
      const known = (await this.deps.store.get<Record<string, string[]>>(groupsKey(userId))) ?? {};
      const sources = Object.entries(known).map(([source, groups]) => ({ source, groups }));
      const others = (await this.deps.memberships.grantsOf(userId)).filter((g) => g.cause === 'manual' || g.cause === 'provisioning');
      const before = effective(others, rolesFromGroups(current, sources));
      const after = effective(others, rolesFromGroups(next, sources));
      const user = await this.deps.users.findById(userId);
      for (const project of [...new Set([...before.keys(), ...after.keys()])].sort()) {
        const from = before.get(project) ?? null;
        const to = after.get(project) ?? null;
        if (from !== to) out.push({ user_id: userId, email: user?.email ?? null, project_id: project, from, to });
      }
    }
    return out;
  }

  /**
   * The accounts linked to a directory entry: those whose sign-in through one of the directory's connectors
   * linked this entry (its `id_attr` value, from this directory). An account that merely has the entry's
   * email is not one of them: a password account made through an invitation for that address, say, must
   * not receive the directory's roles.
   */
  private async linkedAccounts(source: DirectorySource, person: LdapUserWithGroups): Promise<string[]> {
    const ids = new Set<string>();
    for (const connectorId of source.connectors) {
      const ref = { connector_id: connectorId, issuer: source.directory.issuer, subject: person.id };
      const link = await this.deps.identities.findForSignIn(ref, () => this.deps.legacyLinksTrusted(connectorId, ref.issuer));
      if (link && (await this.deps.users.findById(link.user_id))) ids.add(link.user_id);
    }
    return [...ids];
  }

  /**
   * One LDAP sync pass (one node at a time), directory by directory, each under its own group source.
   * For a directory that answered:
   * - every listed, enabled person's linked account (see `linkedAccounts`) gets their current groups, and
   *   is enabled again if this directory's sync had disabled it (never an account an admin disabled);
   * - a person the directory lists as disabled (`user_search.disabled_filter`, AD's ACCOUNTDISABLE) loses
   *   the groups it gave, and so does an account that had groups from it but is no longer linked to a
   *   listed person (gone from the directory, or from its user filter);
   * - such an account that came from this directory (made by a sign-in through one of its connectors, and
   *   linked to a subject of it) is disabled ("deprovisioned"): its sessions and tokens end on every node.
   *   An account that merely had the entry's email, or came from elsewhere, only loses the roles.
   * A directory that is unreachable or refuses the search (a wrong base DN, no access) changes nothing
   * for its source and does not stop the others; one that lists nobody at all disables nobody (an empty
   * answer is far likelier a misconfiguration than everyone leaving at once).
   */
  async syncLdap(lockSeconds: number): Promise<{ synced: number; changes: MembershipChange[]; failed: string[]; deprovisioned: string[]; reprovisioned: string[] } | { skipped: 'locked' | 'no_ldap' }> {
    const { store, logger } = this.deps;
    const directories = this.deps.directories();
    if (directories.length === 0) return { skipped: 'no_ldap' };
    if (!(await store.putIfAbsent('ldap:sync:{lock}', { pid: process.pid, at: new Date().toISOString() }, Math.max(1, lockSeconds)))) return { skipped: 'locked' };
    const outcome = { synced: 0, changes: [] as MembershipChange[], failed: [] as string[], deprovisioned: [] as string[], reprovisioned: [] as string[] };
    try {
      for (const entry of directories) {
        let people: LdapListedUser[];
        // Taken before the listing: whoever signs in through the directory after it was asked is present,
        // whatever the (older) listing says.
        const listedAt = Date.now();
        try {
          people = await entry.directory.listUsers();
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          if (error instanceof LdapUnavailableError) logger.warn({ source: entry.source, err: message }, 'ldap sync: directory unreachable; its roles left as they were');
          else logger.error({ source: entry.source, err: message }, 'ldap sync: the directory refused the search (check base DNs and filters); its roles left as they were');
          outcome.failed.push(entry.source);
          continue;
        }
        await this.syncDirectory(entry, people, listedAt, outcome);
      }
    } finally {
      await store.delete('ldap:sync:{lock}');
    }
    return outcome;
  }

  private async syncDirectory(entry: DirectorySource, people: LdapListedUser[], listedAt: number, outcome: { synced: number; changes: MembershipChange[]; deprovisioned: string[]; reprovisioned: string[] }): Promise<void> {
    const { store, audit, logger, users } = this.deps;
    const { source } = entry;
    const record = async (userId: string, made: MembershipChange[]) => {
      for (const change of made) {
        await audit.record({ actor: { type: 'system', id: 'ldap_sync' }, action: 'member.role_changed', target: { type: 'user', id: userId }, project_id: change.project_id, ip: null, outcome: 'success', detail: { cause: 'ldap_sync', source, from: change.from, to: change.to } });
      }
      outcome.changes.push(...made);
    };
    const deprovision = async (userId: string, reason: DeprovisionReason) => {
      const user = await users.findById(userId);
      // Only an account this directory made (a first sign-in through one of its connectors).
      if (!user || !entry.connectors.includes(user.source)) return;
      if (!(await users.deprovision(userId, source, reason))) return;
      outcome.deprovisioned.push(userId);
      logger.info({ source, user: userId, reason }, 'ldap sync: account deprovisioned');
      await audit.record({ actor: { type: 'system', id: 'ldap_sync' }, action: 'user.deprovisioned', target: { type: 'user', id: userId }, project_id: null, ip: null, outcome: 'success', detail: { source, reason } });
    };

    // Who is who first: an account linked to an enabled entry stays, even if another (disabled) entry links to it too.
    const enabled = new Map<string, string[]>();
    const disabled = new Set<string>();
    for (const person of people) {
      for (const userId of await this.linkedAccounts(entry, person)) {
        if (person.disabled) disabled.add(userId);
        else if (!enabled.has(userId)) enabled.set(userId, person.groups);
      }
    }
    for (const userId of enabled.keys()) disabled.delete(userId);

    for (const [userId, groups] of enabled) {
      outcome.synced++;
      await record(userId, await this.apply(userId, source, groups));
      // A plain read first (most accounts are enabled): the locked re-check runs only for the few that are not.
      const current = await users.findById(userId);
      if (current?.disabled && current.deprovisioned?.source === source && (await users.reprovision(userId, source))) {
        outcome.reprovisioned.push(userId);
        logger.info({ source, user: userId }, 'ldap sync: account enabled again');
        await audit.record({ actor: { type: 'system', id: 'ldap_sync' }, action: 'user.reprovisioned', target: { type: 'user', id: userId }, project_id: null, ip: null, outcome: 'success', detail: { source } });
      }
    }
    for (const userId of disabled) {
      await record(userId, await this.apply(userId, source, []));
      await deprovision(userId, 'disabled');
    }
    // Gone from the directory (or from its user filter): the groups it gave are gone too.
    for (const userId of await store.smembers(USERS_WITH_GROUPS)) {
      if (enabled.has(userId) || disabled.has(userId)) continue;
      const known = (await store.get<Record<string, string[]>>(groupsKey(userId)))?.[source];
      if (known === undefined) continue;
      // Only links to a subject of this directory as it is now: after the directory's address or base DN
      // changed, links made with the old one say nothing about who left.
      const links = (await this.deps.identities.linkedTo(userId)).filter((l) => typeof l.connector_id === 'string' && entry.connectors.includes(l.connector_id) && l.issuer === entry.directory.issuer);
      // Signed in through the directory since (or just before, for clocks a little apart) it was listed:
      // a first sign-in racing the pass, not a leaver. The next pass sees them.
      if (links.some((l) => typeof l.last_login_at === 'string' && Date.parse(l.last_login_at) >= listedAt - CLOCK_SKEW_MS)) continue;
      if (known.length) await record(userId, await this.apply(userId, source, []));
      if (people.length === 0) {
        logger.warn({ source }, 'ldap sync: the directory lists nobody; accounts are not deprovisioned (check the base DN and user filter)');
        continue;
      }
      if (links.length) await deprovision(userId, 'gone');
    }
  }

  /**
   * Starts the periodic sync. It looks every second and runs a pass when the shortest
   * `sync_interval_seconds` of the directories in use has gone by, so a directory added at run time is
   * synced on its own schedule without a restart; with no directory in use a look costs nothing.
   */
  startLdapSync(): void {
    let lastPass = Date.now();
    this.sync = new PeriodicJob('ldap sync', this.deps.logger, async () => {
      const intervals = this.deps.directories().map((d) => d.directory.config.sync_interval_seconds);
      if (intervals.length === 0) return;
      const interval = Math.min(...intervals);
      if (Date.now() - lastPass < interval * 1000) return;
      lastPass = Date.now();
      await this.syncLdap(Math.max(1, interval - 1));
    });
    this.sync.start(1);
  }

  async stop(): Promise<void> {
    await this.sync?.stop();
  }
}

function effective(others: MembershipGrant[], mapped: Array<{ project_id: string; role: Role }>): Map<string, Role> {
  const out = new Map<string, Role>();
  for (const g of [...others, ...mapped]) out.set(g.project_id, strongest(out.get(g.project_id) ?? null, g.role)!);
  return out;
}
