import { ROLES, type Role } from './roles.ts';

/**
 * Group → role mapping: pure functions, no I/O (CONVENTIONS.md §4, like Dex's pkg/groups).
 *
 * A mapping says "members of `group` from `source` hold `role` on `project_id`". Sources are `ldap` (the
 * directory sync) or a connector id (groups in an OIDC claim or SAML attribute). Several mappings may hit
 * one project: the strongest role wins.
 */

export interface RoleMapping {
  id: string;
  /** `ldap` or a connector id. */
  source: string;
  /** A group name (cn) or a full DN; compared case-insensitively. */
  group: string;
  project_id: string;
  role: Role;
}

export interface Grant {
  project_id: string;
  role: Role;
}

interface RoleChange {
  user_id: string;
  project_id: string;
  from: Role | null;
  to: Role | null;
}

function rank(role: Role): number {
  return ROLES.length - ROLES.indexOf(role);
}

/** The stronger of two roles (owner > admin > member > viewer); null means "no role". */
export function strongest(a: Role | null, b: Role | null): Role | null {
  if (a === null) return b;
  if (b === null) return a;
  return rank(a) >= rank(b) ? a : b;
}

/** True when `role` is `min` or stronger; no role is never enough. */
export function roleAtLeast(role: Role | null, min: Role): boolean {
  return role !== null && rank(role) >= rank(min);
}

/** `attr=value` with an RFC 4514 attribute type (a descriptor or a numeric OID). */
const RDN_COMPONENT = /^\s*([A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)*)\s*=(.*)$/s;

/** Splits on separators that are not escaped with a backslash (RFC 4514 §2.4). */
function splitUnescaped(value: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < value.length; i++) {
    const char = value[i]!;
    if (char === '\\' && i + 1 < value.length) {
      current += char + value[i + 1]!;
      i++;
    } else if (char === separator) {
      parts.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  parts.push(current);
  return parts;
}

/** Removes RFC 4514 escapes: `\,` → `,`, `\2C` → `,`. */
function unescapeDnValue(value: string): string {
  return value.replace(/\\([0-9A-Fa-f]{2}|.)/gs, (_, escaped: string) =>
    escaped.length === 2 ? String.fromCharCode(Number.parseInt(escaped, 16)) : escaped,
  );
}

/**
 * The keys a group can be matched by, lower-cased: the trimmed string itself; and when it parses as a DN
 * (`cn=Admins, ou=Groups,dc=acme`), the DN with spacing normalised and the first RDN's value (`admins`).
 */
function groupKeys(group: string): string[] {
  const trimmed = group.trim().toLowerCase();
  const keys = [trimmed];
  const rdns = splitUnescaped(trimmed, ',');
  const parsed: Array<{ type: string; value: string }> = [];
  for (const rdn of rdns) {
    const match = RDN_COMPONENT.exec(rdn);
    if (!match) return keys; // not a DN: a plain group name
    parsed.push({ type: match[1]!, value: match[2]!.trim() });
  }
  keys.push(parsed.map((p) => `${p.type}=${p.value}`).join(','));
  // A multi-valued first RDN (`cn=a+uid=b`) is matched by its first value.
  const first = splitUnescaped(parsed[0]!.value, '+')[0]!;
  keys.push(unescapeDnValue(first).trim());
  return keys;
}

/** The key a mapping's `group` is compared by: a normalised DN when it is one, else the name. */
function mappingKey(group: string): string {
  const keys = groupKeys(group);
  return keys.length > 1 ? keys[1]! : keys[0]!;
}

/**
 * The grants a person's groups earn: for every mapping whose (source, group) matches one of the
 * person's groups from that source, its role on its project; the strongest role per project wins.
 * A mapping's group matches a group given as the same name, the same DN (case and spacing aside), or a DN
 * whose first RDN value is that name (`logtrace-admins` matches `cn=logtrace-admins,ou=groups,dc=acme,dc=ru`).
 * Sorted by project_id.
 */
export function rolesFromGroups(mappings: RoleMapping[], sources: Array<{ source: string; groups: string[] }>): Grant[] {
  const keysBySource = new Map<string, Set<string>>();
  for (const { source, groups } of sources) {
    let keys = keysBySource.get(source);
    if (!keys) keysBySource.set(source, (keys = new Set()));
    for (const group of groups) for (const key of groupKeys(group)) keys.add(key);
  }
  const byProject = new Map<string, Role>();
  for (const mapping of mappings) {
    const keys = keysBySource.get(mapping.source);
    if (!keys?.has(mappingKey(mapping.group))) continue;
    byProject.set(mapping.project_id, strongest(byProject.get(mapping.project_id) ?? null, mapping.role)!);
  }
  return [...byProject.entries()]
    .map(([project_id, role]) => ({ project_id, role }))
    .sort((a, b) => compare(a.project_id, b.project_id));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function strongestPerProject(grants: Grant[]): Map<string, Role> {
  const out = new Map<string, Role>();
  for (const grant of grants) out.set(grant.project_id, strongest(out.get(grant.project_id) ?? null, grant.role)!);
  return out;
}

/**
 * What would change between two sets of grants per user (for the mapping preview): one entry per
 * (user, project) whose strongest role differs; `from`/`to` null = no role. Sorted by user, then project.
 */
export function diffRoles(before: Map<string, Grant[]>, after: Map<string, Grant[]>): RoleChange[] {
  const changes: RoleChange[] = [];
  const users = [...new Set([...before.keys(), ...after.keys()])].sort(compare);
  for (const user_id of users) {
    const was = strongestPerProject(before.get(user_id) ?? []);
    const now = strongestPerProject(after.get(user_id) ?? []);
    const projects = [...new Set([...was.keys(), ...now.keys()])].sort(compare);
    for (const project_id of projects) {
      const from = was.get(project_id) ?? null;
      const to = now.get(project_id) ?? null;
      if (from !== to) changes.push({ user_id, project_id, from, to });
    }
  }
  return changes;
}
