import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { Services } from '../container.ts';
import { ROLES, effectiveRoles, type Role, type User } from '../directory/index.ts';
import { AppError, parseBody, readJson } from './problem.ts';
import { authMiddleware } from './koa-auth.ts';
import { auditAction, principalOf } from './context.ts';

const patchUser = z.strictObject({ disabled: z.boolean().optional(), name: z.string().trim().min(1).max(200).optional() });
const putMember = z.strictObject({ role: z.enum(ROLES) });

async function userView(services: Services, user: User, visible?: Set<string>) {
  const grants = (await services.memberships.grantsOf(user.id)).filter((g) => !visible || visible.has(g.project_id));
  const identities = await services.identities.linkedTo(user.id);
  return {
    id: user.id,
    email: user.email,
    email_verified: user.email_verified,
    name: user.name ?? null,
    disabled: !!user.disabled,
    /** Why a directory sync disabled it ({source, reason: gone | disabled, at}); null when it did not. */
    deprovisioned: user.deprovisioned ?? null,
    source: user.source,
    created_at: user.created_at,
    last_login_at: user.last_login_at ?? null,
    identities,
    memberships: Object.entries(effectiveRoles(grants)).map(([project_id, role]) => ({
      project_id,
      role,
      causes: grants.filter((g) => g.project_id === project_id).map((g) => ({ role: g.role, cause: g.cause, source: g.source ?? null, updated_at: g.updated_at })),
    })),
  };
}

export function userRoutes(router: Router, services: Services): void {
  const auth = authMiddleware(services);
  const { users, memberships } = services;

  /** The account when the principal may see it (the access policy decides), else 404 naming nothing else. */
  async function visibleUser(ctx: Context, id: string): Promise<{ user: User; visible: Set<string> }> {
    const principal = principalOf(ctx);
    const visible = await services.access.visibleProjects(principal, 'admin:projects');
    const user = await users.findById(id);
    await services.access.requireSeeUser(principal, user ? { id: user.id, grants: await memberships.grantsOf(user.id) } : undefined, id, visible);
    return { user: user!, visible };
  }

  router.get('/v1/users', auth, async (ctx) => {
    const principal = principalOf(ctx);
    const visible = await services.access.visibleProjects(principal, 'admin:projects');
    if (visible.size === 0) throw new AppError('forbidden', 'listing users needs admin:projects on some project');
    const out = [];
    for (const user of await users.list()) {
      const grants = await memberships.grantsOf(user.id);
      if (await services.access.canSeeUser(principal, { id: user.id, grants }, visible)) out.push(await userView(services, user, visible));
    }
    ctx.body = { users: out };
  });

  router.get('/v1/users/:id', auth, async (ctx) => {
    const { user, visible } = await visibleUser(ctx, ctx.params.id!);
    ctx.body = await userView(services, user, visible);
  });

  router.patch('/v1/users/:id', auth, async (ctx) => {
    const input = parseBody(patchUser, await readJson(ctx));
    const { user, visible } = await visibleUser(ctx, ctx.params.id!);
    await services.access.requireUserChange(principalOf(ctx), { id: user.id, grants: await memberships.grantsOf(user.id) });
    // Disabling ends the account's sessions and tokens; an admin's decision is never undone by a directory sync.
    const updated = input.disabled === undefined ? await users.update(user.id, input) : await users.setDisabledByAdmin(user.id, input.disabled, input.name === undefined ? {} : { name: input.name });
    await auditAction(ctx, services, {
      action: input.disabled === undefined ? 'user.updated' : input.disabled ? 'user.disabled' : 'user.enabled',
      target: { type: 'user', id: user.id },
      project_id: null,
      outcome: 'success',
      detail: input,
    });
    ctx.body = await userView(services, updated!, visible);
  });

  router.get('/v1/projects/:id/members', auth, async (ctx) => {
    const projectId = ctx.params.id!;
    await services.access.require(principalOf(ctx), projectId, 'admin:projects', 'id');
    const members = await memberships.membersOf(projectId);
    const out = [];
    for (const m of members) {
      const user = await users.findById(m.user_id);
      out.push({
        user_id: m.user_id,
        email: user?.email ?? null,
        name: user?.name ?? null,
        role: m.role,
        causes: m.grants.map((g) => ({ role: g.role, cause: g.cause, source: g.source ?? null, updated_at: g.updated_at })),
      });
    }
    ctx.body = { members: out };
  });

  router.put('/v1/projects/:id/members/:user_id', auth, async (ctx) => {
    const projectId = ctx.params.id!;
    const input = parseBody(putMember, await readJson(ctx));
    const principal = principalOf(ctx);
    await services.access.require(principal, projectId, 'admin:projects', 'id');
    const user = await users.findById(ctx.params.user_id!);
    if (!user) throw new AppError('not_found', `user ${ctx.params.user_id} does not exist`, { field: 'user_id' });
    const grants = await memberships.grantsOf(user.id);
    const current = grants.find((g) => g.project_id === projectId && g.cause === 'manual');
    await services.access.requireMemberChange(principal, projectId, { id: user.id, grants }, input.role as Role);
    const change = await memberships.setManual(user.id, projectId, input.role as Role);
    await auditAction(ctx, services, { action: 'member.role_changed', target: { type: 'user', id: user.id }, project_id: projectId, outcome: 'success', detail: { cause: 'manual', from: change?.from ?? current?.role ?? null, to: input.role } });
    ctx.body = { user_id: user.id, project_id: projectId, role: (await memberships.rolesOf(user.id))[projectId] ?? null };
  });

  router.delete('/v1/projects/:id/members/:user_id', auth, async (ctx) => {
    const projectId = ctx.params.id!;
    const principal = principalOf(ctx);
    await services.access.require(principal, projectId, 'admin:projects', 'id');
    const userId = ctx.params.user_id!;
    const grants = await memberships.grantsOf(userId);
    const current = grants.find((g) => g.project_id === projectId && g.cause === 'manual');
    if (!current) throw new AppError('not_found', `user ${userId} holds no manually granted role on project ${projectId}`, { field: 'user_id' });
    await services.access.requireMemberChange(principal, projectId, { id: userId, grants }, null);
    const change = await memberships.setManual(userId, projectId, null);
    await auditAction(ctx, services, { action: 'member.role_changed', target: { type: 'user', id: userId }, project_id: projectId, outcome: 'success', detail: { cause: 'manual', from: current.role, to: change?.to ?? null } });
    ctx.status = 204;
  });
}
