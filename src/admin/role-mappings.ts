import type Router from '@koa/router';
import { z } from 'zod';
import type { Services } from '../container.ts';
import { ROLES } from '../directory/index.ts';
import { AppError, parseBody, readJson } from './problem.ts';
import { authMiddleware } from './koa-auth.ts';
import { auditAction, principalOf } from './context.ts';

const mappingInput = z.strictObject({
  source: z.string().min(1).max(100),
  group: z.string().trim().min(1).max(1000),
  project_id: z.string().min(1),
  role: z.enum(ROLES),
});
const previewInput = z.strictObject({ add: z.array(mappingInput).max(100).optional(), remove: z.array(z.string()).max(100).optional() });

/**
 * Where groups come from: `ldap` (the shared `ldap:` block, and LDAP connectors over it) and every other
 * connector by id — an LDAP connection with a directory of its own is a source of its own — and every SCIM
 * connection by id.
 */
export function groupSources(services: Services): string[] {
  const sources = new Set<string>();
  for (const connector of services.connectors.values()) sources.add(services.connections.sourceOf(connector.id));
  if (services.connections.directories().some((d) => d.source === 'ldap')) sources.add('ldap');
  // A SCIM connection's groups are a source of their own, named by the connection.
  for (const id of services.connections.scim.keys()) sources.add(id);
  return [...sources].sort((a, b) => (a === 'ldap' ? -1 : b === 'ldap' ? 1 : a.localeCompare(b)));
}

export function roleMappingRoutes(router: Router, services: Services): void {
  const auth = authMiddleware(services);
  const { groupRoles } = services;

  function checkSource(source: string, field: string): void {
    const sources = groupSources(services);
    if (sources.includes(source)) return;
    if (services.connectors.has(source)) throw new AppError('invalid_request', `${source} is an LDAP connector over the ldap: block: its groups are mapped with source "ldap"`, { field });
    throw new AppError('invalid_request', `source must be one of ${sources.join(', ') || '(none: no connector or directory is configured)'}`, { field });
  }

  router.get('/v1/role-mappings', auth, async (ctx) => {
    const visible = await services.access.visibleProjects(principalOf(ctx), 'admin:projects');
    ctx.body = { role_mappings: (await groupRoles.list()).filter((m) => visible.has(m.project_id)) };
  });

  router.post('/v1/role-mappings', auth, async (ctx) => {
    const input = parseBody(mappingInput, await readJson(ctx));
    checkSource(input.source, 'source');
    // A mapping to owner hands out owner to everyone in the group: only an owner may, as for a manual grant.
    await services.access.requireRoleChange(principalOf(ctx), input.project_id, { to: input.role }, 'map a group to owner');
    const mapping = await groupRoles.create(input);
    await auditAction(ctx, services, { action: 'role_mapping.created', target: { type: 'role_mapping', id: mapping.id }, project_id: input.project_id, outcome: 'success', detail: { source: input.source, group: input.group, role: input.role } });
    ctx.status = 201;
    ctx.body = mapping;
  });

  router.delete('/v1/role-mappings/:id', auth, async (ctx) => {
    const mapping = await groupRoles.get(ctx.params.id!);
    if (!mapping) throw new AppError('not_found', `role mapping ${ctx.params.id} does not exist`, { field: 'id' });
    await services.access.requireRoleChange(principalOf(ctx), mapping.project_id, { from: mapping.role }, 'remove a mapping to owner', { project: 'id', about: `role mapping ${mapping.id}` });
    if (mapping.origin === 'config') throw new AppError('conflict', 'this mapping comes from the configuration file; change it there');
    await groupRoles.delete(mapping.id);
    await auditAction(ctx, services, { action: 'role_mapping.deleted', target: { type: 'role_mapping', id: mapping.id }, project_id: mapping.project_id, outcome: 'success', detail: { source: mapping.source, group: mapping.group, role: mapping.role } });
    ctx.status = 204;
  });

  /** What a change of mappings would do, applying nothing: who gains or loses which role where. */
  router.post('/v1/role-mappings/preview', auth, async (ctx) => {
    const input = parseBody(previewInput, await readJson(ctx));
    const principal = principalOf(ctx);
    for (const [i, m] of (input.add ?? []).entries()) {
      checkSource(m.source, `add.${i}.source`);
      await services.access.require(principal, m.project_id, 'admin:projects', `add.${i}.project_id`);
    }
    for (const [i, id] of (input.remove ?? []).entries()) {
      const mapping = await groupRoles.get(id);
      if (!mapping) throw new AppError('not_found', `role mapping ${id} does not exist`, { field: `remove.${i}` });
      await services.access.require(principal, mapping.project_id, 'admin:projects', `remove.${i}`, `role mapping ${id}`);
    }
    const visible = await services.access.visibleProjects(principal, 'admin:projects');
    ctx.body = { changes: (await groupRoles.preview(input)).filter((c) => visible.has(c.project_id)) };
  });
}
