import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { Services } from '../container.ts';
import { ROLES, effectiveRoles, type Role, type User } from '../directory/index.ts';
import { AppError, parseBody, readJson } from './problem.ts';
import { authMiddleware, requireScope, scopesOn, type Principal } from './koa-auth.ts';
import { auditAction, principalOf } from './context.ts';
import { visibleProjectIds } from './projects.ts';

const patchUser = z.strictObject({ disabled: z.boolean().optional(), name: z.string().trim().min(1).max(200).optional() });
const putMember = z.strictObject({ role: z.enum(ROLES) });

/** Whether the principal holds `owner` on the project or above it (only owners may grant or remove owner). */
export async function isOwner(principal: Principal, projectId: string, services: Services): Promise<boolean> {
  if (principal.kind !== 'token') return false;
  const path = (await services.projects.pathOf(projectId)) ?? [];
  return Object.entries(principal.project_roles).some(([project, role]) => role === 'owner' && path.includes(project));
}

async function userView(services: Services, user: User, visible?: Set<string>) {
  const grants = (await services.memberships.grantsOf(user.id)).filter((g) => !visible || visible.has(g.project_id));
  const identities = await services.identities.linkedTo(user.id);
  return {
    id: user.id,
    email: user.email,
    email_verified: user.email_verified,
    name: user.name ?? null,
    disabled: !!user.disabled,
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

  /** A user is visible to whoever administers a project they belong to; organisation admins see everyone. */
  async function visibleUser(ctx: Context, id: string): Promise<{ user: User; visible: Set<string> }> {
    const principal = principalOf(ctx);
    const visible = await visibleProjectIds(services, principal, 'admin:projects');
    const user = await users.findById(id);
    const roots = await services.projects.roots();
    const orgAdmin = roots.some((r) => visible.has(r.id));
    if (!user || !(orgAdmin || (await memberships.grantsOf(user.id)).some((g) => visible.has(g.project_id)))) {
      throw new AppError('not_found', `user ${id} does not exist or is not visible to this credential`);
    }
    return { user, visible };
  }

  router.get('/v1/users', auth, async (ctx) => {
    const principal = principalOf(ctx);
    const visible = await visibleProjectIds(services, principal, 'admin:projects');
    if (visible.size === 0) throw new AppError('forbidden', 'listing users needs admin:projects on some project');
    const orgAdmin = (await services.projects.roots()).some((r) => visible.has(r.id));
    const out = [];
    for (const user of await users.list()) {
      const grants = await memberships.grantsOf(user.id);
      if (orgAdmin || grants.some((g) => visible.has(g.project_id))) out.push(await userView(services, user, visible));
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
    // Changing an account affects every project it belongs to: the caller must administer all of them.
    for (const grant of await memberships.grantsOf(user.id)) {
      if (!(await scopesOn(principalOf(ctx), grant.project_id, services)).includes('admin:projects')) {
        throw new AppError('forbidden', `this user also belongs to project ${grant.project_id}, which this credential does not administer`);
      }
    }
    const updated = await users.update(user.id, input);
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
    await requireScope(principalOf(ctx), projectId, 'admin:projects', services, 'id');
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
    await requireScope(principal, projectId, 'admin:projects', services, 'id');
    const user = await users.findById(ctx.params.user_id!);
    if (!user) throw new AppError('not_found', `user ${ctx.params.user_id} does not exist`, { field: 'user_id' });
    const current = (await memberships.grantsOf(user.id)).find((g) => g.project_id === projectId && g.cause === 'manual');
    if ((input.role === 'owner' || current?.role === 'owner') && !(await isOwner(principal, projectId, services))) {
      throw new AppError('forbidden', 'only an owner may grant or change the owner role', { field: 'role' });
    }
    const change = await memberships.setManual(user.id, projectId, input.role as Role);
    await auditAction(ctx, services, { action: 'member.role_changed', target: { type: 'user', id: user.id }, project_id: projectId, outcome: 'success', detail: { cause: 'manual', from: change?.from ?? current?.role ?? null, to: input.role } });
    ctx.body = { user_id: user.id, project_id: projectId, role: (await memberships.rolesOf(user.id))[projectId] ?? null };
  });

  router.delete('/v1/projects/:id/members/:user_id', auth, async (ctx) => {
    const projectId = ctx.params.id!;
    const principal = principalOf(ctx);
    await requireScope(principal, projectId, 'admin:projects', services, 'id');
    const userId = ctx.params.user_id!;
    const current = (await memberships.grantsOf(userId)).find((g) => g.project_id === projectId && g.cause === 'manual');
    if (!current) throw new AppError('not_found', `user ${userId} holds no manually granted role on project ${projectId}`, { field: 'user_id' });
    if (current.role === 'owner' && !(await isOwner(principal, projectId, services))) throw new AppError('forbidden', 'only an owner may remove an owner');
    const change = await memberships.setManual(userId, projectId, null);
    await auditAction(ctx, services, { action: 'member.role_changed', target: { type: 'user', id: userId }, project_id: projectId, outcome: 'success', detail: { cause: 'manual', from: current.role, to: change?.to ?? null } });
    ctx.status = 204;
  });
}
