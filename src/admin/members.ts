import { z } from 'zod';
import { ROLES } from '../directory/index.ts';
import type { MembershipService } from '../projects/index.ts';
import type { ApiRoutes } from './api-routes.ts';
import { callerOf } from '../http/caller.ts';
import { ROLE_CAUSE } from './users.ts';

const PUT_MEMBER = z.strictObject({ role: z.enum(ROLES) });
const PROJECT_ID = z.strictObject({ id: z.string().describe('A project id') });
const MEMBER_PATH = z.strictObject({ id: z.string().describe('A project id'), user_id: z.string().describe('A user id') });

const MEMBER = z.strictObject({
  user_id: z.string(),
  email: z.string().nullable(),
  name: z.string().nullable(),
  role: z.enum(ROLES).describe('The effective role: the strongest of its causes'),
  causes: z.array(ROLE_CAUSE),
});

/**
 * A project's members and the roles given by hand (src/projects MembershipService): admin:projects on the
 * project; only an owner gives, changes or takes away owner.
 */
export function memberRoutes(api: ApiRoutes, services: { members: MembershipService }): void {
  const { members } = services;

  api.add(
    {
      method: 'get',
      path: '/v1/projects/:id/members',
      operationId: 'listMembers',
      summary: 'The members of a project, with the causes of their roles',
      tag: 'Members',
      params: PROJECT_ID,
      responses: { 200: { description: 'The members, strongest role first', schema: z.strictObject({ members: z.array(MEMBER) }) } },
      problems: [404],
    },
    async (ctx, { params }) => ({
      members: (await members.list(callerOf(ctx), params.id)).map((m) => ({ user_id: m.user_id, email: m.email, name: m.name, role: m.role, causes: m.causes })),
    }),
  );

  api.add(
    {
      method: 'put',
      path: '/v1/projects/:id/members/:user_id',
      operationId: 'setMemberRole',
      summary: "Give or change a person's manual role on a project",
      tag: 'Members',
      params: MEMBER_PATH,
      body: PUT_MEMBER,
      responses: {
        200: {
          description: 'The effective role there afterwards (a stronger role from another cause may prevail)',
          schema: z.strictObject({ user_id: z.string(), project_id: z.string(), role: z.enum(ROLES).nullable() }),
        },
      },
      problems: [404],
    },
    async (ctx, { params, body }) => {
      const set = await members.setRole(callerOf(ctx), { project_id: params.id, user_id: params.user_id, role: body.role });
      return { user_id: set.user_id, project_id: set.project_id, role: set.role };
    },
  );

  api.add(
    {
      method: 'delete',
      path: '/v1/projects/:id/members/:user_id',
      operationId: 'removeMemberRole',
      summary: "Take away a person's manual role on a project",
      description: 'Roles from other causes (directory groups, provisioning) stay.',
      tag: 'Members',
      params: MEMBER_PATH,
      responses: { 204: { description: 'Removed' } },
      problems: [404],
    },
    async (ctx, { params }) => {
      await members.remove(callerOf(ctx), { project_id: params.id, user_id: params.user_id });
      ctx.status = 204;
      return undefined;
    },
  );
}
