import { isRole } from './roles.ts';
import { scopesForRoles, type MembershipRepository } from './memberships.ts';

/** What a person's tokens say about their projects: oidc-provider's `ProviderDeps['access']`. */
interface TokenRoles {
  /** Effective roles (`{ projectId: role }`, inherited down the tree), carried as `project_roles`. */
  rolesOf(accountId: string): Promise<Record<string, string>>;
  /** The scopes those roles allow: a token's scope is what was asked for ∩ these. */
  scopesOf(roles: Record<string, string>): Set<string>;
}

/** Role resolution for tokens and /me, from the memberships (manual, group-mapped, provisioned). */
export function tokenRoles(memberships: Pick<MembershipRepository, 'rolesOf'>): TokenRoles {
  return {
    rolesOf: (accountId) => memberships.rolesOf(accountId),
    // A role name the directory no longer knows allows nothing.
    scopesOf: (roles) => scopesForRoles(Object.values(roles).filter(isRole)),
  };
}
