export { UserRepository, type User } from './users.ts';
export { hashPassword, verifyPassword, burnPasswordCheck, isSupportedHash } from './passwords.ts';
export { ProjectRepository, ProjectError, type Project } from './projects.ts';
export { ROLES, ROLE_SCOPES, isRole, type Role } from './roles.ts';
export { MembershipRepository, effectiveRoles, scopesForRoles, type MembershipGrant, type MembershipCause, type MembershipChange } from './memberships.ts';
export { IdentityRepository, type IdentityLink } from './identities.ts';
export { signInWithIdentity, resolveProjectRef, type ProvisioningRule, type SignInResult, type SignInDeps } from './provisioning.ts';
export { rolesFromGroups, diffRoles, strongest, roleAtLeast, type RoleMapping, type Grant, type RoleChange } from './role-mapping.ts';
export { GroupRoles, type RoleMappingView } from './group-roles.ts';
