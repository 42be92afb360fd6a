import type { Store } from '../store/index.ts';
import { ROLES, ROLE_SCOPES, type Role } from './roles.ts';
import { strongest } from './role-mapping.ts';

/**
 * Who holds which role on which project, and why. A person may hold roles on one project from several
 * causes (granted by hand, and through an LDAP group); the effective role is the strongest. Automatic
 * causes (`ldap_sync`, `idp_groups`, `provisioning`, `scim` — groups a SCIM client pushed) are replaced wholesale when recomputed, per source;
 * manual grants are never touched by a sync.
 *
 * Layout: membership:user:{userId} → { grants: MembershipGrant[] } (one read at token time),
 *         membership:project:{projectId} → set of user ids.
 */
export type MembershipCause = 'manual' | 'ldap_sync' | 'idp_groups' | 'provisioning' | 'scim';

export interface MembershipGrant {
  project_id: string;
  role: Role;
  cause: MembershipCause;
  /** The group source behind an automatic grant: `ldap` or a connector id. */
  source?: string | undefined;
  updated_at: string;
}

export interface MembershipChange {
  user_id: string;
  project_id: string;
  from: Role | null;
  to: Role | null;
  cause: MembershipCause;
  source?: string | undefined;
}

const userKey = (userId: string) => `membership:user:{${userId}}`;
const projectKey = (projectId: string) => `membership:project:{${projectId}}`;

function rank(role: Role): number {
  return ROLES.length - ROLES.indexOf(role);
}

/** Effective role per project: the strongest over every cause. */
export function effectiveRoles(grants: MembershipGrant[]): Record<string, Role> {
  const out: Record<string, Role> = {};
  for (const g of grants) out[g.project_id] = strongest(out[g.project_id] ?? null, g.role)!;
  return out;
}

/** Every scope any of the roles allows (a token's scope is what was asked for, intersected with this). */
export function scopesForRoles(roles: Iterable<Role>): Set<string> {
  const scopes = new Set<string>();
  for (const role of roles) for (const scope of ROLE_SCOPES[role]) scopes.add(scope);
  return scopes;
}

export class MembershipRepository {
  private readonly store: Store;
  constructor(store: Store) {
    this.store = store;
  }

  async grantsOf(userId: string): Promise<MembershipGrant[]> {
    return (await this.store.get<{ grants: MembershipGrant[] }>(userKey(userId)))?.grants ?? [];
  }

  async rolesOf(userId: string): Promise<Record<string, Role>> {
    return effectiveRoles(await this.grantsOf(userId));
  }

  async membersOf(projectId: string): Promise<Array<{ user_id: string; role: Role; grants: MembershipGrant[] }>> {
    const ids = await this.store.smembers(projectKey(projectId));
    const out: Array<{ user_id: string; role: Role; grants: MembershipGrant[] }> = [];
    for (const id of ids) {
      const grants = (await this.grantsOf(id)).filter((g) => g.project_id === projectId);
      const role = effectiveRoles(grants)[projectId];
      if (role) out.push({ user_id: id, role, grants });
    }
    return out.sort((a, b) => rank(b.role) - rank(a.role) || a.user_id.localeCompare(b.user_id));
  }

  /** Sets (or with role null removes) the manual grant of a user on a project. */
  async setManual(userId: string, projectId: string, role: Role | null): Promise<MembershipChange | null> {
    return this.replace(userId, (g) => g.cause === 'manual' && g.project_id === projectId, role ? [{ project_id: projectId, role, cause: 'manual' }] : [], 'manual', undefined, projectId);
  }

  /**
   * Replaces every automatic grant of one cause and source with `grants` (a sync's result), returning
   * the effective-role changes it made.
   */
  async syncAutomatic(userId: string, cause: Exclude<MembershipCause, 'manual'>, source: string, grants: Array<{ project_id: string; role: Role }>): Promise<MembershipChange[]> {
    const before = await this.grantsOf(userId);
    const kept = before.filter((g) => !(g.cause === cause && g.source === source));
    const now = new Date().toISOString();
    const after = [...kept, ...grants.map((g) => ({ ...g, cause, source, updated_at: now }))];
    await this.write(userId, before, after);
    return diff(userId, before, after, cause, source);
  }

  private async replace(userId: string, drop: (g: MembershipGrant) => boolean, add: Array<Omit<MembershipGrant, 'updated_at'>>, cause: MembershipCause, source: string | undefined, projectId: string): Promise<MembershipChange | null> {
    const before = await this.grantsOf(userId);
    const now = new Date().toISOString();
    const after = [...before.filter((g) => !drop(g)), ...add.map((g) => ({ ...g, updated_at: now }))];
    await this.write(userId, before, after);
    return diff(userId, before, after, cause, source).find((c) => c.project_id === projectId) ?? null;
  }

  private async write(userId: string, before: MembershipGrant[], after: MembershipGrant[]): Promise<void> {
    const beforeProjects = new Set(before.map((g) => g.project_id));
    const afterProjects = new Set(after.map((g) => g.project_id));
    // One entity at a time (one Redis Cluster slot each). The user's grants decide; the per-project
    // member sets are indexes (membersOf checks each member's grants). Added to new projects' sets
    // before the grants, removed from old ones after: a failure between leaves a stale entry, never a
    // member a project's list misses.
    for (const p of afterProjects) if (!beforeProjects.has(p)) await this.store.sadd(projectKey(p), [userId]);
    await this.store.put(userKey(userId), { grants: after });
    for (const p of beforeProjects) if (!afterProjects.has(p)) await this.store.srem(projectKey(p), [userId]);
  }
}

function diff(userId: string, before: MembershipGrant[], after: MembershipGrant[], cause: MembershipCause, source: string | undefined): MembershipChange[] {
  const a = effectiveRoles(before);
  const b = effectiveRoles(after);
  const changes: MembershipChange[] = [];
  for (const project of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (a[project] !== b[project]) changes.push({ user_id: userId, project_id: project, from: a[project] ?? null, to: b[project] ?? null, cause, ...(source ? { source } : {}) });
  }
  return changes;
}
