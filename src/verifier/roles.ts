/**
 * Project roles, strongest first; a role on a project holds on its whole subtree. Shared by the server's
 * access policy (src/access) and the verifier library's `can`, so both read a token's roles alike.
 */
export const ROLES = ['owner', 'admin', 'member', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

/** The scopes each role may hold (ARCHITECTURE.md, identity model). */
export const ROLE_SCOPES: Record<Role, readonly string[]> = {
  viewer: ['read:logs'],
  member: ['read:logs', 'write:alerts'],
  admin: ['read:logs', 'write:alerts', 'admin:projects'],
  owner: ['read:logs', 'write:alerts', 'admin:projects'],
};

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}
