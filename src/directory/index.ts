/**
 * The people's store: repositories (the only code that knows their store keys) for accounts, projects,
 * memberships, identities, invitations, provisioning rules and group mappings; the federated sign-in
 * decision; the LDAP directory and its sync. The rules of who may change them live in the services:
 * src/accounts, src/projects (projects and memberships), src/invitations, src/provisioning (rules and
 * group → role mappings).
 */
export { EMAIL_MAX_LENGTH, UserRepository, sessionEnded, type User, type DeprovisionReason } from './users.ts';
export { hashPassword, passwordProblem, PasswordHasher, PasswordBusyError, PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH, type PasswordHasherObserver } from './passwords.ts';
export { ProjectRepository, type Project } from './projects.ts';
export { ROLES, ROLE_SCOPES, isRole, type Role } from './roles.ts';
export { MembershipRepository, effectiveRoles, scopesForRoles, type MembershipGrant, type MembershipCause, type MembershipChange } from './memberships.ts';
export { IdentityRepository } from './identities.ts';
export { signInWithIdentity, resolveProjectRef, type ProvisioningRule, type SignInResult, type SignInDeps } from './provisioning.ts';
export { rolesFromGroups, diffRoles, strongest, roleAtLeast, type RoleMapping, type Grant } from './role-mapping.ts';
export { GroupRoles, type RoleMappingView } from './group-roles.ts';
export { UpstreamSessions } from './upstream-sessions.ts';
export { ProvisioningRules, type ProvisioningRuleView } from './provisioning-rules.ts';
export { InvitationRepository, isEmailAddress, MAX_INVITATION_DAYS, type Invitation, type InvitationFailure } from './invitations.ts';
