import { z } from 'zod';
import { ROLES, type RoleMappingView } from '../directory/index.ts';
import type { RoleMappingService } from '../provisioning/index.ts';
import type { ApiRoutes } from './api-routes.ts';
import { callerOf } from '../http/caller.ts';

const MAPPING_INPUT = z.strictObject({
  source: z.string().min(1).max(100).describe('`ldap`, a connector id, or a SCIM connection id'),
  group: z.string().trim().min(1).max(1000),
  project_id: z.string().min(1),
  role: z.enum(ROLES),
});
const PREVIEW_INPUT = z.strictObject({
  add: z.array(MAPPING_INPUT).max(100).optional().describe('Mappings that would be added'),
  remove: z.array(z.string()).max(100).optional().describe('Ids of mappings that would be removed'),
});
const MAPPING_ID = z.strictObject({ id: z.string().describe('A role mapping id') });

const MAPPING = z.strictObject({
  id: z.string(),
  source: z.string(),
  group: z.string(),
  project_id: z.string(),
  role: z.enum(ROLES),
  origin: z.enum(['config', 'api']).describe('`config`: from the configuration file, read-only here'),
  created_at: z.iso.datetime().nullable(),
});
const CHANGE = z.strictObject({
  user_id: z.string(),
  email: z.string().nullable(),
  project_id: z.string(),
  from: z.enum(ROLES).nullable(),
  to: z.enum(ROLES).nullable(),
});

function mappingView(m: RoleMappingView): z.infer<typeof MAPPING> {
  return { id: m.id, source: m.source, group: m.group, project_id: m.project_id, role: m.role, origin: m.origin, created_at: m.created_at };
}

/** Group → role mappings (src/provisioning RoleMappingService). */
export function roleMappingRoutes(api: ApiRoutes, services: { roleMappings: RoleMappingService }): void {
  const { roleMappings } = services;

  api.add(
    {
      method: 'get',
      path: '/v1/role-mappings',
      operationId: 'listRoleMappings',
      summary: 'Group → role mappings on projects the caller administers',
      tag: 'Role mappings',
      responses: { 200: { description: 'Configuration mappings first, then stored ones by creation', schema: z.strictObject({ role_mappings: z.array(MAPPING) }) } },
    },
    async (ctx) => ({ role_mappings: (await roleMappings.list(callerOf(ctx))).map(mappingView) }),
  );

  api.add(
    {
      method: 'post',
      path: '/v1/role-mappings',
      operationId: 'createRoleMapping',
      summary: 'Map a directory or IdP group to a project role',
      description: 'Only an owner of the project maps a group to owner.',
      tag: 'Role mappings',
      body: MAPPING_INPUT,
      responses: { 201: { description: 'The mapping', schema: MAPPING } },
      problems: [404],
    },
    async (ctx, { body }) => mappingView(await roleMappings.create(callerOf(ctx), body)),
  );

  api.add(
    {
      method: 'delete',
      path: '/v1/role-mappings/:id',
      operationId: 'deleteRoleMapping',
      summary: 'Remove a stored mapping',
      tag: 'Role mappings',
      params: MAPPING_ID,
      responses: { 204: { description: 'Removed' } },
      problems: [404, 409],
    },
    async (ctx, { params }) => {
      await roleMappings.remove(callerOf(ctx), params.id);
      ctx.status = 204;
      return undefined;
    },
  );

  api.add(
    {
      method: 'post',
      path: '/v1/role-mappings/preview',
      operationId: 'previewRoleMappings',
      summary: 'What adding or removing mappings would change, applying nothing',
      tag: 'Role mappings',
      body: PREVIEW_INPUT,
      responses: { 200: { description: 'Who would gain or lose which role where (on projects the caller administers)', schema: z.strictObject({ changes: z.array(CHANGE) }) } },
      problems: [404],
    },
    async (ctx, { body }) => ({ changes: await roleMappings.preview(callerOf(ctx), body) }),
  );
}
