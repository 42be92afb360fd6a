import type { AccessPolicy } from '../access/index.ts';
import type { AuditLog } from '../audit/index.ts';
import type { ConnectionSet } from '../connectors/connections.ts';
import { DomainError, type Caller } from '../domain/index.ts';
import { isRole, type GroupRoles, type Role, type RoleMappingView } from '../directory/index.ts';

/**
 * Where groups come from: `ldap` (the shared `ldap:` block, and LDAP connectors over it) and every other
 * connector by id — an LDAP connection with a directory of its own is a source of its own — and every SCIM
 * connection by id.
 */
export function groupSources(connections: Pick<ConnectionSet, 'connectors' | 'sourceOf' | 'directories' | 'scim'>): string[] {
  const sources = new Set<string>();
  for (const connector of connections.connectors.values()) sources.add(connections.sourceOf(connector.id));
  if (connections.directories().some((d) => d.source === 'ldap')) sources.add('ldap');
  // A SCIM connection's groups are a source of their own, named by the connection.
  for (const id of connections.scim.keys()) sources.add(id);
  return [...sources].sort((a, b) => (a === 'ldap' ? -1 : b === 'ldap' ? 1 : a.localeCompare(b)));
}

interface RoleMappingInput {
  source: string;
  group: string;
  project_id: string;
  role: Role;
}

/** What a change of mappings would do to one person on one project. */
export interface RoleChangePreview {
  user_id: string;
  email: string | null;
  project_id: string;
  from: Role | null;
  to: Role | null;
}

interface RoleMappingServiceDeps {
  groupRoles: GroupRoles;
  access: AccessPolicy;
  audit: AuditLog;
  /** The group sources in use now (groupSources); the set changes at run time. */
  sources: () => string[];
  /** Whether an id is a connector (to explain why an LDAP connector over the ldap: block is no source). */
  isConnector: (id: string) => boolean;
}

/**
 * Group → role mappings: the configuration file's (read-only) and those made at run time. admin:projects on
 * the mapping's project; a mapping to owner hands out owner to everyone in the group, so only an owner
 * makes or removes one. Every change can be previewed (who gains or loses which role where) first.
 */
export class RoleMappingService {
  private readonly deps: RoleMappingServiceDeps;
  constructor(deps: RoleMappingServiceDeps) {
    this.deps = deps;
  }

  sources(): string[] {
    return this.deps.sources();
  }

  /** The mappings on projects the caller administers (of one project when named). */
  async list(caller: Caller, projectId?: string): Promise<RoleMappingView[]> {
    const visible = await this.deps.access.visibleProjects(caller.principal, 'admin:projects');
    return (await this.deps.groupRoles.list()).filter((m) => visible.has(m.project_id) && (projectId === undefined || m.project_id === projectId));
  }

  async create(caller: Caller, input: RoleMappingInput): Promise<RoleMappingView> {
    const checked = await this.checkCreate(caller, input);
    const mapping = await this.deps.groupRoles.create(checked);
    await this.deps.audit.recordBy(caller, { action: 'role_mapping.created', target: { type: 'role_mapping', id: mapping.id }, project_id: input.project_id, outcome: 'success', detail: { source: checked.source, group: checked.group, role: checked.role } });
    return mapping;
  }

  /** The changes `create` would make, after the same checks; applies nothing. */
  async previewCreate(caller: Caller, input: RoleMappingInput): Promise<RoleChangePreview[]> {
    return this.visibleChanges(caller, { add: [await this.checkCreate(caller, input)] });
  }

  async remove(caller: Caller, id: string): Promise<RoleMappingView> {
    const mapping = await this.checkRemove(caller, id);
    await this.deps.groupRoles.delete(mapping.id);
    await this.deps.audit.recordBy(caller, { action: 'role_mapping.deleted', target: { type: 'role_mapping', id: mapping.id }, project_id: mapping.project_id, outcome: 'success', detail: { source: mapping.source, group: mapping.group, role: mapping.role } });
    return mapping;
  }

  /** The mapping `remove` would remove and what removing it would change, after the same checks. */
  async previewRemove(caller: Caller, id: string): Promise<{ mapping: RoleMappingView; changes: RoleChangePreview[] }> {
    const mapping = await this.checkRemove(caller, id);
    return { mapping, changes: await this.visibleChanges(caller, { remove: [mapping.id] }) };
  }

  /**
   * What adding and removing several mappings would do, applying nothing: admin:projects on every project
   * involved (no owner right needed to look). Only changes on projects the caller administers are shown.
   */
  async preview(caller: Caller, input: { add?: RoleMappingInput[] | undefined; remove?: string[] | undefined }): Promise<RoleChangePreview[]> {
    for (const [i, m] of (input.add ?? []).entries()) {
      this.checkSource(m.source, `add.${i}.source`);
      await this.deps.access.require(caller.principal, m.project_id, 'admin:projects', `add.${i}.project_id`);
    }
    for (const [i, id] of (input.remove ?? []).entries()) {
      const mapping = await this.deps.groupRoles.get(id);
      if (!mapping) throw new DomainError('not_found', `role mapping ${id} does not exist`, `remove.${i}`);
      await this.deps.access.require(caller.principal, mapping.project_id, 'admin:projects', `remove.${i}`, `role mapping ${id}`);
    }
    return this.visibleChanges(caller, input);
  }

  private async visibleChanges(caller: Caller, change: { add?: RoleMappingInput[] | undefined; remove?: string[] | undefined }): Promise<RoleChangePreview[]> {
    const visible = await this.deps.access.visibleProjects(caller.principal, 'admin:projects');
    const changes = await this.deps.groupRoles.preview({ ...(change.add ? { add: change.add } : {}), ...(change.remove ? { remove: change.remove } : {}) });
    return changes.filter((c) => visible.has(c.project_id));
  }

  /** The input as it will be stored, once every check passed. */
  private async checkCreate(caller: Caller, input: RoleMappingInput): Promise<RoleMappingInput> {
    this.checkSource(input.source, 'source');
    const group = typeof input.group === 'string' ? input.group.trim() : '';
    if (!group || group.length > 1000) throw new DomainError('invalid', 'group must be 1 to 1000 characters', 'group');
    if (!isRole(input.role)) throw new DomainError('invalid', 'role must be owner, admin, member or viewer', 'role');
    await this.deps.access.requireRoleChange(caller.principal, input.project_id, { to: input.role }, 'map a group to owner');
    return { source: input.source, group, project_id: input.project_id, role: input.role };
  }

  private async checkRemove(caller: Caller, id: string): Promise<RoleMappingView> {
    const mapping = await this.deps.groupRoles.get(id);
    if (!mapping) throw new DomainError('not_found', `role mapping ${id} does not exist`, 'id');
    await this.deps.access.requireRoleChange(caller.principal, mapping.project_id, { from: mapping.role }, 'remove a mapping to owner', { project: 'id', about: `role mapping ${mapping.id}` });
    if (mapping.origin === 'config') throw new DomainError('conflict', 'this mapping comes from the configuration file; change it there');
    return mapping;
  }

  private checkSource(source: string, field: string): void {
    const sources = this.deps.sources();
    if (sources.includes(source)) return;
    if (this.deps.isConnector(source)) throw new DomainError('invalid', `${source} is an LDAP connector over the ldap: block: its groups are mapped with source "ldap"`, field);
    throw new DomainError('invalid', `source must be one of ${sources.join(', ') || '(none: no connector or directory is configured)'}`, field);
  }
}
