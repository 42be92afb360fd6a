import { ROLE_SCOPES, isRole } from './roles.ts';

/**
 * What a credential holds on a project, given the project's ancestry (root first, itself last). The one
 * reading of rights that the server's access policy (src/access) and the verifier library's `can` share:
 * - an API key holds its scopes on its project's subtree;
 * - a token holds the scopes its roles give on the project (a role on an ancestor counts), intersected with
 *   the token's own scopes. A client's token carries no roles and so holds nothing on any project.
 */
export type ScopeHolder =
  | { kind: 'api_key'; project_id: string; scopes: readonly string[] }
  | { kind: 'token'; scopes: readonly string[]; project_roles: Readonly<Record<string, string>> };

export function scopesOnPath(holder: ScopeHolder, path: readonly string[]): string[] {
  if (holder.kind === 'api_key') return path.includes(holder.project_id) ? [...holder.scopes] : [];
  const granted = new Set<string>();
  for (const [project, role] of Object.entries(holder.project_roles)) {
    if (path.includes(project) && isRole(role)) for (const scope of ROLE_SCOPES[role]) granted.add(scope);
  }
  return holder.scopes.filter((s) => granted.has(s));
}
