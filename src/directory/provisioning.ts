import type { Logger } from 'pino';
import type { Identity } from '../domain/index.ts';
import type { AuditLog } from '../audit/index.ts';
import type { UserRepository, User } from './users.ts';
import type { IdentityRepository } from './identities.ts';
import type { MembershipRepository, MembershipChange } from './memberships.ts';
import type { ProjectRepository, Project } from './projects.ts';
import type { Role } from './roles.ts';
import type { Grant } from './role-mapping.ts';
import type { Invitation } from './invitations.ts';

/** A provisioning rule: `provisioning.rules` of the configuration, or one stored through /v1/provisioning-rules. */
export interface ProvisioningRule {
  email_domain: string;
  connectors?: string[] | undefined;
  project?: string | undefined;
  role?: Role | undefined;
}

/** The invitation rules a first sign-in follows (InvitationService, src/invitations). */
interface SignInInvitations {
  pendingForEmail(email: string): Promise<Invitation[]>;
  /** Accepts one for the new account and grants its role; undefined when it closed meanwhile. */
  acceptForAccount(invitation: Invitation, userId: string): Promise<{ invitation: Invitation; change: MembershipChange | null } | undefined>;
  /** Audits the accepted ones once the sign-in went through. */
  recordAccepted(userId: string, accepted: Invitation[], via: string): Promise<void>;
}

export type SignInResult =
  | { ok: true; user: User; created: boolean; linked: boolean; changes: MembershipChange[] }
  | { ok: false; reason: 'no_access' | 'email_unverified' | 'account_exists' | 'disabled' | 'connection_changed' };

/** What the decision needs of the connector an identity came through (its current state). */
interface SignInConnector {
  trust_email: boolean | undefined;
  /** Whether the connector, as configured now, produces identities from this issuer (Connector.trustsIssuer). */
  trustsIssuer(issuer: string): boolean;
}

export interface SignInDeps {
  users: UserRepository;
  identities: IdentityRepository;
  memberships: MembershipRepository;
  projects: ProjectRepository;
  audit: AuditLog;
  logger: Logger;
  /** Provisioning rules in the order they are tried (configuration, then /v1/provisioning-rules). */
  rules: () => Promise<ProvisioningRule[]>;
  /** Applies IdP group → role mappings for this identity (the directory's role mapping); may be absent. */
  applyGroups?: (userId: string, identity: Identity) => Promise<MembershipChange[]>;
  /**
   * The project roles the identity's groups map to (the role mappings of its connector's group source, on
   * projects that exist). Any at all let a first sign-in in without a provisioning rule: the directory or
   * IdP says who may do what. May be absent (then groups let nobody in).
   */
  mappedRoles?: ((identity: Identity) => Promise<Grant[]>) | undefined;
  /** Pending invitations let a verified email in without a provisioning rule; may be absent. */
  invitations?: SignInInvitations | undefined;
  /**
   * Whether a connector's links made before issuers were recorded may still be followed for an identity
   * from `issuer`: true only while the connection points at the upstream it pointed at when that began
   * (ConnectionSet). Absent: never.
   */
  legacyLinksTrusted?: ((connectorId: string, issuer: string) => Promise<boolean>) | undefined;
  /**
   * The account a SCIM connection tied to this connector provisioned with this email as its userName or
   * primary email (deleted ones excluded); may be absent. The directory vouches for that person, so the
   * first sign-in links it without `trust_email`.
   */
  provisionedAccount?: ((connectorId: string, email: string) => Promise<string | undefined>) | undefined;
}

function domainOf(email: string): string {
  return email.slice(email.lastIndexOf('@') + 1).toLowerCase();
}

/** A project by id, else the one project with that name (case-insensitive) anywhere in the tree. */
export async function resolveProjectRef(projects: ProjectRepository, ref: string): Promise<Project | undefined> {
  const byId = await projects.get(ref);
  if (byId) return byId;
  const matches: Project[] = [];
  for (const root of await projects.roots()) {
    for (const p of await projects.subtree(root.id)) if (p.name.toLowerCase() === ref.toLowerCase()) matches.push(p);
  }
  return matches.length === 1 ? matches[0] : undefined;
}

/**
 * The directory's sign-in decision for an upstream identity (Dex-style just-in-time accounts, default deny):
 * 1. an identity linked before, through the same issuer → its user (same `sub` every time); the same
 *    subject from another issuer (the connection was pointed elsewhere) is a new identity;
 * 2. a verified email of an existing account → linked only when the connector is marked `trust_email`
 *    (the connector has already refused to count an email its upstream reports unverified);
 * 3. a verified email matching a provisioning rule (domain, connector) → a new account, with the rule's
 *    project role when it names one;
 * 4. a verified email with pending invitations → a new account even without a rule; each invitation's
 *    role is granted (cause manual) and the invitation accepted;
 * 5. a verified email and groups that a role mapping of the connector's group source maps to a project
 *    → a new account even without a rule or invitation; the mapped roles are granted by `applyGroups`
 *    below (cause `ldap_sync` / `idp_groups`), to the account linked to this identity only;
 * 6. otherwise no access, and nothing is created.
 * Before 2: an account a SCIM connection tied to this connector provisioned for this verified email (its
 * userName or primary email) is linked, unless another subject of this connector is linked to it already.
 * An account that step 3 or 4 made at an earlier attempt that failed before linking is finished, not refused.
 */
export async function signInWithIdentity(deps: SignInDeps, identity: Identity, connector: SignInConnector): Promise<SignInResult> {
  const { users, identities, memberships } = deps;
  // Every connector names the issuer it verified; an identity without one (kept across an upgrade) is refused.
  if (!identity.issuer) return { ok: false, reason: 'no_access' };
  // Made through the connection before it was pointed elsewhere (a callback that landed just before a change).
  if (!connector.trustsIssuer(identity.issuer)) return { ok: false, reason: 'connection_changed' };
  const legacyTrusted = deps.legacyLinksTrusted;
  const linked = await identities.findForSignIn(identity, () => (legacyTrusted ? legacyTrusted(identity.connector_id, identity.issuer) : Promise.resolve(false)));
  let user: User | undefined;
  let created = false;
  let newLink = false;
  const changes: MembershipChange[] = [];
  const accepted: Invitation[] = [];

  if (linked) {
    user = await users.findById(linked.user_id);
    if (!user) return { ok: false, reason: 'no_access' };
  } else {
    if (!identity.email) return { ok: false, reason: 'no_access' };
    user = await provisionedFor(deps, identity);
  }
  if (!linked && !user) {
    if (!identity.email) return { ok: false, reason: 'no_access' };
    const existing = await users.findByEmail(identity.email);
    // An account this connector began to make at an earlier first sign-in that failed before the identity
    // was linked (no identity, no password): finish making it, or the person would be locked out for good.
    const unfinished = !!existing && existing.source === identity.connector_id && !existing.password_hash && (await identities.linkedTo(existing.id)).length === 0;
    if (existing && !unfinished) {
      if (!identity.email_verified) return { ok: false, reason: 'email_unverified' };
      if (connector.trust_email !== true) return { ok: false, reason: 'account_exists' };
      user = existing;
    } else {
      const rule = (await deps.rules()).find((r) => r.email_domain.toLowerCase() === domainOf(identity.email!) && (!r.connectors?.length || r.connectors.includes(identity.connector_id)));
      // Invitations count only for an email the upstream vouches for (the link went to that address).
      const invited = identity.email_verified && deps.invitations ? await deps.invitations.pendingForEmail(identity.email) : [];
      // Asked only when nothing else lets the person in: the mapping then is the reason the account exists.
      const mapped = !rule && !invited.length && identity.groups.length && deps.mappedRoles ? await deps.mappedRoles(identity) : [];
      if (!rule && !invited.length && !mapped.length) return { ok: false, reason: 'no_access' };
      if (!identity.email_verified) return { ok: false, reason: 'email_unverified' };
      let project: Project | undefined;
      if (rule?.project) {
        project = await resolveProjectRef(deps.projects, rule.project);
        if (!project) deps.logger.warn({ project: rule.project }, 'provisioning rule names a project that does not exist: account created without a role');
      }
      const made = existing ? { user: existing, created: true } : await users.create({ email: identity.email, name: identity.name ?? undefined, email_verified: true, source: identity.connector_id });
      user = made.user;
      created = made.created;
      if (project && rule?.role) {
        changes.push(...(await memberships.syncAutomatic(user.id, 'provisioning', identity.connector_id, [{ project_id: project.id, role: rule.role }])));
      }
      for (const invitation of created ? invited : []) {
        const result = await deps.invitations!.acceptForAccount(invitation, user.id);
        if (!result) continue;
        accepted.push(result.invitation);
        if (result.change) changes.push(result.change);
      }
    }
  }
  if (!linked) newLink = true;
  if (!user) return { ok: false, reason: 'no_access' };

  if (user.disabled) return { ok: false, reason: 'disabled' };
  await identities.link(user.id, identity);
  if (deps.applyGroups) changes.push(...(await deps.applyGroups(user.id, identity)));
  await users.recordLogin(user.id);
  for (const change of changes) {
    await deps.audit.record({
      actor: { type: 'system', id: null },
      action: 'member.role_changed',
      target: { type: 'user', id: user.id },
      project_id: change.project_id,
      ip: null,
      outcome: 'success',
      detail: { cause: change.cause, source: change.source ?? null, from: change.from, to: change.to },
    });
  }
  if (accepted.length) await deps.invitations!.recordAccepted(user.id, accepted, identity.connector_id);
  return { ok: true, user, created, linked: newLink, changes };
}

/**
 * The SCIM-provisioned account a first sign-in through this connector links to: only for an email the
 * upstream verified, and only while no other subject of this connector is linked to the account (one person
 * at the upstream, one account here).
 */
async function provisionedFor(deps: SignInDeps, identity: Identity): Promise<User | undefined> {
  if (!identity.email || !identity.email_verified || !deps.provisionedAccount) return undefined;
  const id = await deps.provisionedAccount(identity.connector_id, identity.email);
  const user = id ? await deps.users.findById(id) : undefined;
  if (!user) return undefined;
  if ((await deps.identities.linkedTo(user.id)).some((l) => l.connector_id === identity.connector_id)) return undefined;
  return user;
}
