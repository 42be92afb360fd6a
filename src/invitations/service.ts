import type { AccessPolicy } from '../access/index.ts';
import type { AuditLog } from '../audit/index.ts';
import { DomainError, type Caller } from '../domain/index.ts';
import {
  MAX_INVITATION_DAYS,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  PasswordBusyError,
  isEmailAddress,
  isRole,
  passwordProblem,
  type Invitation,
  type InvitationFailure,
  type InvitationRepository,
  type MembershipChange,
  type MembershipRepository,
  type PasswordHasher,
  type Project,
  type ProjectRepository,
  type Role,
  type User,
  type UserRepository,
} from '../directory/index.ts';
import type { MembershipService } from '../projects/index.ts';

/** Where an invitation link leads (the page is src/interactions/invitations.ts). */
export const INVITATION_PATH = '/invitations';

/** The link shown once to whoever made the invitation. */
function invitationUrl(issuer: string, token: string): string {
  return `${issuer}${INVITATION_PATH}/${token}`;
}

interface InvitationServiceDeps {
  invitations: InvitationRepository;
  users: UserRepository;
  projects: ProjectRepository;
  memberships: MembershipRepository;
  members: MembershipService;
  access: AccessPolicy;
  audit: AuditLog;
  /** Hashes under the process's concurrency bound (a link posted many times at once costs slots, not memory). */
  passwords: Pick<PasswordHasher, 'hash'>;
  issuer: string;
}

/** A new invitation, with its one-time token and link (shown once). */
interface MadeInvitation {
  invitation: Invitation;
  token: string;
  url: string;
}

/** A link that leads to a pending invitation, or why it does not: a normal result, not an error. */
type InvitationLink = { ok: true; invitation: Invitation; project: Project } | { ok: false; code: InvitationFailure };

/**
 * Invitations by email for people with no account yet: every rule about them, for every door — /v1
 * (src/admin/invitations.ts), the dashboard's members page, the link's page (src/interactions/invitations.ts)
 * and the federated first sign-in (src/directory/provisioning.ts, through SignInInvitations).
 *
 * The rules: admin:projects on the project; only an owner invites as owner or revokes such an invitation;
 * an email that has an account is a conflict (it gets a role instead); accepting is atomic and comes
 * before the account is made, so a second post of the same link, or a revoke a moment earlier, makes
 * nothing; an account that appeared meanwhile is never taken over.
 */
export class InvitationService {
  private readonly deps: InvitationServiceDeps;
  constructor(deps: InvitationServiceDeps) {
    this.deps = deps;
  }

  async create(caller: Caller, input: { project_id: string; email: string; role: Role; expires_in_days?: number | undefined }): Promise<MadeInvitation> {
    const { access, users, memberships } = this.deps;
    const projectId = input.project_id;
    await access.require(caller.principal, projectId, 'admin:projects', 'id');
    const email = typeof input.email === 'string' ? input.email.trim().toLowerCase() : '';
    if (!isEmailAddress(email)) throw new DomainError('invalid', 'email must be an email address', 'email');
    if (!isRole(input.role)) throw new DomainError('invalid', 'role must be owner, admin, member or viewer', 'role');
    const days = input.expires_in_days;
    if (days !== undefined && (!Number.isInteger(days) || days < 1 || days > MAX_INVITATION_DAYS)) throw new DomainError('invalid', `expires_in_days must be a whole number from 1 to ${MAX_INVITATION_DAYS}`, 'expires_in_days');
    await access.requireRoleChange(caller.principal, projectId, { to: input.role }, 'invite as owner', { project: 'id' });
    const existing = await users.findByEmail(email);
    // The account may be another organisation's: its id is named only to whoever may see it.
    if (existing) {
      const seen = await access.canSeeUser(caller.principal, { id: existing.id, grants: await memberships.grantsOf(existing.id) });
      throw new DomainError(
        'conflict',
        seen ? `an account with ${email} already exists (${existing.id}): give it a role with PUT /v1/projects/${projectId}/members/${existing.id}` : `an account with ${email} already exists: ask an administrator of its organization, or of this server, to give it a role`,
        'email',
      );
    }
    const { invitation, token, replaced } = await this.deps.invitations.create({ email, role: input.role, expires_in_days: days, project_id: projectId, invited_by: caller.principal.actor });
    await this.deps.audit.recordBy(caller, { action: 'invitation.created', target: { type: 'invitation', id: invitation.id }, project_id: projectId, outcome: 'success', detail: { email: invitation.email, role: invitation.role, expires_at: invitation.expires_at, replaced } });
    return { invitation, token, url: invitationUrl(this.deps.issuer, token) };
  }

  /**
   * The dashboard's "invite": an email that has an account gets the role on the project (as a manual
   * grant, MembershipService.setRole); any other gets an invitation (create).
   */
  async inviteOrGrant(caller: Caller, input: { project_id: string; email: string; role: Role }): Promise<{ kind: 'member'; user_id: string; email: string; role: Role } | ({ kind: 'invitation' } & MadeInvitation)> {
    const email = typeof input.email === 'string' ? input.email.trim() : '';
    const user = email.length <= 320 ? await this.deps.users.findByEmail(email) : undefined;
    if (user) {
      const set = await this.deps.members.setRole(caller, { project_id: input.project_id, user_id: user.id, role: input.role });
      return { kind: 'member', user_id: set.user_id, email: set.email, role: input.role };
    }
    return { kind: 'invitation', ...(await this.create(caller, input)) };
  }

  /** Pending, unexpired invitations of a project, oldest first. */
  async list(caller: Caller, projectId: string): Promise<Invitation[]> {
    await this.deps.access.require(caller.principal, projectId, 'admin:projects', 'id');
    return this.deps.invitations.listPending(projectId);
  }

  /** Revokes a pending invitation of the project: its link stops working at once. */
  async revoke(caller: Caller, input: { project_id: string; invitation_id: string }): Promise<Invitation> {
    const { project_id: projectId, invitation_id: id } = input;
    await this.deps.access.require(caller.principal, projectId, 'admin:projects', 'id');
    const invitation = await this.deps.invitations.get(id);
    if (!invitation || invitation.project_id !== projectId) throw new DomainError('not_found', `invitation ${id} does not exist on project ${projectId}`, 'invitation_id');
    await this.deps.access.requireRoleChange(caller.principal, projectId, { from: invitation.role }, 'revoke an invitation as owner', { project: 'id' });
    const result = await this.deps.invitations.revoke(invitation.id, caller.principal.actor);
    if (!result.ok) throw new DomainError(result.code === 'not_found' ? 'not_found' : 'conflict', `invitation ${invitation.id} is ${result.code === 'not_found' ? 'gone' : `already ${result.code}`}`, 'invitation_id');
    await this.deps.audit.recordBy(caller, { action: 'invitation.revoked', target: { type: 'invitation', id: invitation.id }, project_id: projectId, outcome: 'success', detail: { email: invitation.email, role: invitation.role } });
    return result.invitation;
  }

  /** The pending invitation behind a link's token, with its project; the token is the credential. */
  async link(token: string): Promise<InvitationLink> {
    const result = await this.deps.invitations.findByToken(token);
    if (!result.ok) return { ok: false, code: result.code };
    const project = await this.deps.projects.get(result.invitation.project_id);
    if (!project) return { ok: false, code: 'not_found' };
    return { ok: true, invitation: result.invitation, project };
  }

  /**
   * Accepts an invitation with a new local account (argon2id, email verified — the link went to that
   * address) and gives it the invited role (cause manual). A link that is not pending is a normal result;
   * bad input, an account that exists (conflict, `email`) or a busy hasher (unavailable) are refused.
   */
  async acceptWithPassword(from: Pick<Caller, 'ip' | 'user_agent'>, input: { token: string; name: string; password: string }): Promise<{ ok: false; code: InvitationFailure } | { ok: true; invitation: Invitation; project: Project; user: User }> {
    const found = await this.link(input.token);
    if (!found.ok) return found;
    const { invitation, project } = found;
    const name = typeof input.name === 'string' ? input.name.trim() : '';
    if (!name || name.length > 200) throw new DomainError('invalid', 'name must be 1 to 200 characters', 'name');
    const problem = passwordProblem(input.password);
    if (problem) throw new DomainError('invalid', problem === 'too_short' ? `the password must be at least ${PASSWORD_MIN_LENGTH} characters` : `the password must be at most ${PASSWORD_MAX_LENGTH} characters`, 'password');
    const accountExists = () => new DomainError('conflict', `an account with ${invitation.email} exists already`, 'email');
    // An account with this email appeared after the invitation (SSO, `users add`): never take it over.
    if (await this.deps.users.findByEmail(invitation.email)) throw accountExists();
    let passwordHash: string;
    try {
      passwordHash = await this.deps.passwords.hash(input.password);
    } catch (err) {
      if (err instanceof PasswordBusyError) throw new DomainError('unavailable', 'too many passwords are being checked; try again in a moment', 'password');
      throw err;
    }
    // Accepting is the atomic step, and it comes first: a second post of the same form, or a revoke a
    // moment ago, loses here and nothing is created. (An account that appeared in between still wins below:
    // the invitation is then used up, and the person is told to ask for a new one.)
    const accepted = await this.deps.invitations.accept(invitation.id, undefined);
    if (!accepted.ok) return { ok: false, code: accepted.code };
    const made = await this.deps.users.create({ email: invitation.email, name, email_verified: true, password_hash: passwordHash, source: 'local' });
    if (!made.created) throw accountExists();
    const user = made.user;
    await this.deps.invitations.recordAcceptedBy(invitation.id, user.id);
    const base = { actor: { type: 'user' as const, id: user.id }, ip: from.ip, user_agent: from.user_agent, outcome: 'success' as const };
    await this.deps.audit.record({ ...base, action: 'user.created', target: { type: 'user', id: user.id }, project_id: project.id, detail: { email: user.email, via: 'invitation', invitation_id: invitation.id } });
    const change = await this.deps.memberships.setManual(user.id, project.id, invitation.role);
    await this.deps.audit.record({ ...base, action: 'member.role_changed', target: { type: 'user', id: user.id }, project_id: project.id, detail: { cause: 'manual', from: change?.from ?? null, to: invitation.role, invitation_id: invitation.id } });
    await this.deps.audit.record({ ...base, action: 'invitation.accepted', target: { type: 'invitation', id: invitation.id }, project_id: project.id, detail: { email: invitation.email, role: invitation.role, via: 'password' } });
    return { ok: true, invitation: accepted.invitation, project, user };
  }

  // The federated first sign-in (src/directory/provisioning.ts): pending invitations let a verified email
  // in without a provisioning rule, and each one's role is granted to the new account.

  /** Pending, unexpired invitations for an email, on any project. */
  pendingForEmail(email: string): Promise<Invitation[]> {
    return this.deps.invitations.pendingForEmail(email);
  }

  /** Accepts one for a new account and grants its role (cause manual); undefined when it closed meanwhile. */
  async acceptForAccount(invitation: Invitation, userId: string): Promise<{ invitation: Invitation; change: MembershipChange | null } | undefined> {
    const result = await this.deps.invitations.accept(invitation.id, userId);
    if (!result.ok) return undefined;
    const change = await this.deps.memberships.setManual(userId, invitation.project_id, invitation.role);
    return { invitation: result.invitation, change };
  }

  /** Audits the invitations a sign-in accepted, once the sign-in went through (`via`: the connector). */
  async recordAccepted(userId: string, accepted: Invitation[], via: string): Promise<void> {
    for (const invitation of accepted) {
      await this.deps.audit.record({
        actor: { type: 'user', id: userId },
        action: 'invitation.accepted',
        target: { type: 'invitation', id: invitation.id },
        project_id: invitation.project_id,
        ip: null,
        outcome: 'success',
        detail: { email: invitation.email, role: invitation.role, via },
      });
    }
  }
}
