import type Router from '@koa/router';
import { z } from 'zod';
import type { Services } from '../container.ts';
import { ROLES, MAX_INVITATION_DAYS, isEmailAddress, type Invitation } from '../directory/index.ts';
import { invitationUrl } from '../interactions/index.ts';
import { AppError, parseBody, readJson } from './problem.ts';
import { authMiddleware, requireScope } from './koa-auth.ts';
import { auditAction, principalOf } from './context.ts';
import { isOwner } from './users.ts';

const createInvitation = z.strictObject({
  email: z.string().trim().toLowerCase().refine(isEmailAddress, 'must be an email address'),
  role: z.enum(ROLES),
  expires_in_days: z.number().int().min(1).max(MAX_INVITATION_DAYS).optional(),
});

export function invitationView(invitation: Invitation) {
  return {
    id: invitation.id,
    email: invitation.email,
    project_id: invitation.project_id,
    role: invitation.role,
    status: invitation.status,
    invited_by: invitation.invited_by,
    created_at: invitation.created_at,
    expires_at: invitation.expires_at,
  };
}

/**
 * Invitations for people with no account yet (an existing account gets its role with PUT …/members).
 * The same rules as members: admin:projects on the project; only an owner invites as owner (or revokes
 * such an invitation). The token and link appear only in the create answer.
 */
export function invitationRoutes(router: Router, services: Services): void {
  const auth = authMiddleware(services);
  const { users, invitations } = services;

  router.post('/v1/projects/:id/invitations', auth, async (ctx) => {
    const projectId = ctx.params.id!;
    const input = parseBody(createInvitation, await readJson(ctx));
    const principal = principalOf(ctx);
    await requireScope(principal, projectId, 'admin:projects', services, 'id');
    if (input.role === 'owner' && !(await isOwner(principal, projectId, services))) throw new AppError('forbidden', 'only an owner may invite as owner', { field: 'role' });
    const existing = await users.findByEmail(input.email);
    if (existing) throw new AppError('conflict', `an account with ${input.email} already exists (${existing.id}): give it a role with PUT /v1/projects/${projectId}/members/${existing.id}`, { field: 'email' });
    const { invitation, token, replaced } = await invitations.create({ ...input, project_id: projectId, invited_by: principal.actor });
    await auditAction(ctx, services, { action: 'invitation.created', target: { type: 'invitation', id: invitation.id }, project_id: projectId, outcome: 'success', detail: { email: invitation.email, role: invitation.role, expires_at: invitation.expires_at, replaced } });
    ctx.status = 201;
    ctx.body = { ...invitationView(invitation), token, url: invitationUrl(services.config.issuer, token) };
  });

  router.get('/v1/projects/:id/invitations', auth, async (ctx) => {
    const projectId = ctx.params.id!;
    await requireScope(principalOf(ctx), projectId, 'admin:projects', services, 'id');
    ctx.body = { invitations: (await invitations.listPending(projectId)).map(invitationView) };
  });

  router.delete('/v1/projects/:id/invitations/:invitation_id', auth, async (ctx) => {
    const projectId = ctx.params.id!;
    const principal = principalOf(ctx);
    await requireScope(principal, projectId, 'admin:projects', services, 'id');
    const id = ctx.params.invitation_id!;
    const invitation = await invitations.get(id);
    if (!invitation || invitation.project_id !== projectId) throw new AppError('not_found', `invitation ${id} does not exist on project ${projectId}`, { field: 'invitation_id' });
    if (invitation.role === 'owner' && !(await isOwner(principal, projectId, services))) throw new AppError('forbidden', 'only an owner may revoke an invitation as owner');
    const result = await invitations.revoke(id, principal.actor);
    if (!result.ok) throw new AppError(result.code === 'not_found' ? 'not_found' : 'conflict', `invitation ${id} is ${result.code === 'not_found' ? 'gone' : `already ${result.code}`}`, { field: 'invitation_id' });
    await auditAction(ctx, services, { action: 'invitation.revoked', target: { type: 'invitation', id }, project_id: projectId, outcome: 'success', detail: { email: invitation.email, role: invitation.role } });
    ctx.status = 204;
  });
}
