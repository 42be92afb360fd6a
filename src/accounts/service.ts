import type { AccessPolicy } from '../access/index.ts';
import type { AuditLog } from '../audit/index.ts';
import { DomainError, type Caller } from '../domain/index.ts';
import { effectiveRoles, isEmailAddress, isRole, type DeprovisionReason, type IdentityRepository, type MembershipCause, type MembershipGrant, type MembershipRepository, type Role, type User, type UserRepository } from '../directory/index.ts';

/** An account as an administrator sees it: no password hash, its upstream identities, its roles and why. */
export interface Account {
  id: string;
  email: string;
  email_verified: boolean;
  name: string | null;
  disabled: boolean;
  /** Why a directory sync disabled it; null when it did not. */
  deprovisioned: { source: string; reason: DeprovisionReason; at: string } | null;
  source: string;
  created_at: string;
  last_login_at: string | null;
  identities: Array<{ connector_id: string; subject: string; issuer: string | null; email: string | null; groups: string[]; linked_at: string; last_login_at: string }>;
  /** The roles on the projects the caller administers (another organisation's stay unnamed). */
  memberships: Array<{ project_id: string; role: Role; causes: Array<{ role: Role; cause: MembershipCause; source: string | null; updated_at: string }> }>;
}

interface AccountServiceDeps {
  users: UserRepository;
  memberships: MembershipRepository;
  identities: IdentityRepository;
  access: AccessPolicy;
  audit: AuditLog;
}

/**
 * People's accounts: the ones an administrator may see (accounts belonging to a project they administer;
 * accounts with no role only for an admin of every organisation), renaming, disabling (which ends every
 * session and token of the account) and enabling — nobody changes an owner but an owner.
 */
export class AccountService {
  private readonly deps: AccountServiceDeps;
  constructor(deps: AccountServiceDeps) {
    this.deps = deps;
  }

  async list(caller: Caller): Promise<Account[]> {
    const visible = await this.deps.access.visibleProjects(caller.principal, 'admin:projects');
    if (visible.size === 0) throw new DomainError('forbidden', 'listing users needs admin:projects on some project');
    const out: Account[] = [];
    for (const user of await this.deps.users.list()) {
      const grants = await this.deps.memberships.grantsOf(user.id);
      if (await this.deps.access.canSeeUser(caller.principal, { id: user.id, grants }, visible)) out.push(await this.view(user, grants, visible));
    }
    return out;
  }

  async get(caller: Caller, id: string): Promise<Account> {
    const { user, grants, visible } = await this.visible(caller, id);
    return this.view(user, grants, visible);
  }

  /** Renames, disables or enables an account. An admin's decision is never undone by a directory sync. */
  async update(caller: Caller, id: string, changes: { disabled?: boolean | undefined; name?: string | undefined }): Promise<Account> {
    if (changes.disabled !== undefined && typeof changes.disabled !== 'boolean') throw new DomainError('invalid', 'disabled must be true or false', 'disabled');
    const name = changes.name === undefined ? undefined : String(changes.name).trim();
    if (name !== undefined && (!name || name.length > 200)) throw new DomainError('invalid', 'name must be 1 to 200 characters', 'name');
    const { user, grants, visible } = await this.visible(caller, id);
    await this.deps.access.requireUserChange(caller.principal, { id: user.id, grants });
    const detail = { ...(changes.disabled === undefined ? {} : { disabled: changes.disabled }), ...(name === undefined ? {} : { name }) };
    // Disabling ends the account's sessions and tokens (sessions_ended_at), on every node.
    const updated =
      changes.disabled === undefined
        ? await this.deps.users.update(user.id, name === undefined ? {} : { name })
        : await this.deps.users.setDisabledByAdmin(user.id, changes.disabled, name === undefined ? {} : { name });
    if (!updated) throw new DomainError('not_found', `user ${id} does not exist or is not visible to this credential`);
    await this.deps.audit.recordBy(caller, {
      action: changes.disabled === undefined ? 'user.updated' : changes.disabled ? 'user.disabled' : 'user.enabled',
      target: { type: 'user', id: user.id },
      project_id: null,
      outcome: 'success',
      detail,
    });
    return this.view(updated, await this.deps.memberships.grantsOf(user.id), visible);
  }

  /**
   * A local account (created when no account has the email; the password hash replaces the old one when
   * given), optionally with a manual role on a project: what `users add` does for the operator.
   */
  async addLocal(caller: Caller, input: { email: string; name?: string | undefined; password_hash?: string | undefined; project_id?: string | undefined; role?: Role | undefined }): Promise<{ user: User; created: boolean; role: Role | null }> {
    const email = input.email.trim().toLowerCase();
    if (!isEmailAddress(email)) throw new DomainError('invalid', 'email must be an email address', 'email');
    if ((input.role === undefined) !== (input.project_id === undefined)) throw new DomainError('invalid', 'a project and a role go together', input.role === undefined ? 'role' : 'project_id');
    if (input.role !== undefined && !isRole(input.role)) throw new DomainError('invalid', 'role must be owner, admin, member or viewer', 'role');
    // Checked before anything is written: a refused role leaves no account behind.
    if (input.project_id !== undefined) await this.deps.access.requireRoleChange(caller.principal, input.project_id, { to: input.role }, 'grant the owner role');
    const { user, created } = await this.deps.users.create({ email, name: input.name, email_verified: true, password_hash: input.password_hash, source: 'local' });
    if (!created && input.password_hash) await this.deps.users.update(user.id, { password_hash: input.password_hash });
    if (!created && input.name !== undefined) await this.deps.users.update(user.id, { name: input.name });
    await this.deps.audit.recordBy(caller, { action: created ? 'user.created' : 'user.updated', target: { type: 'user', id: user.id }, project_id: input.project_id ?? null, outcome: 'success', detail: { email, via: 'cli' } });
    if (input.project_id === undefined || input.role === undefined) return { user, created, role: null };
    const grants = await this.deps.memberships.grantsOf(user.id);
    await this.deps.access.requireMemberChange(caller.principal, input.project_id, { id: user.id, grants }, input.role);
    const change = await this.deps.memberships.setManual(user.id, input.project_id, input.role);
    await this.deps.audit.recordBy(caller, { action: 'member.role_changed', target: { type: 'user', id: user.id }, project_id: input.project_id, outcome: 'success', detail: { cause: 'manual', from: change?.from ?? null, to: input.role } });
    return { user, created, role: input.role };
  }

  /** The account when the caller may see it (the access policy decides), else not_found naming nothing else. */
  private async visible(caller: Caller, id: string): Promise<{ user: User; grants: MembershipGrant[]; visible: Set<string> }> {
    const visible = await this.deps.access.visibleProjects(caller.principal, 'admin:projects');
    const user = await this.deps.users.findById(id);
    const grants = user ? await this.deps.memberships.grantsOf(user.id) : [];
    await this.deps.access.requireSeeUser(caller.principal, user ? { id: user.id, grants } : undefined, id, visible);
    return { user: user!, grants, visible };
  }

  private async view(user: User, allGrants: MembershipGrant[], visible: Set<string>): Promise<Account> {
    const grants = allGrants.filter((g) => visible.has(g.project_id));
    const identities = await this.deps.identities.linkedTo(user.id);
    return {
      id: user.id,
      email: user.email,
      email_verified: user.email_verified,
      name: user.name ?? null,
      disabled: !!user.disabled,
      deprovisioned: user.deprovisioned ?? null,
      source: user.source,
      created_at: user.created_at,
      last_login_at: user.last_login_at ?? null,
      identities: identities.map((l) => ({ connector_id: l.connector_id, subject: l.subject, issuer: l.issuer, email: l.email ?? null, groups: l.groups ?? [], linked_at: l.linked_at, last_login_at: l.last_login_at })),
      memberships: Object.entries(effectiveRoles(grants)).map(([project_id, role]) => ({
        project_id,
        role,
        causes: grants.filter((g) => g.project_id === project_id).map((g) => ({ role: g.role, cause: g.cause, source: g.source ?? null, updated_at: g.updated_at })),
      })),
    };
  }
}
