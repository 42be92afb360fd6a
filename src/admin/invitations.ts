import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { Services } from '../container.ts';
import { ROLES, MAX_INVITATION_DAYS, isEmailAddress, type Invitation, type Role } from '../directory/index.ts';
import { invitationUrl } from '../interactions/index.ts';
import { AppError, parseBody, readJson } from './problem.ts';
import { authMiddleware } from './koa-auth.ts';
import { auditAction, principalOf } from './context.ts';

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
 * Invites an email with no account to a project, with the rules both the API and the dashboard apply:
 * only an owner invites as owner; an email that has an account is a conflict (give it a role instead).
 * Audited as invitation.created. Returns the invitation and its token (shown once).
 */
export async function inviteToProject(ctx: Context, services: Services, projectId: string, input: { email: string; role: Role; expires_in_days?: number | undefined }): Promise<{ invitation: Invitation; token: string }> {
  const principal = principalOf(ctx);
  await services.access.requireRoleChange(principal, projectId, { to: input.role }, 'invite as owner', { project: 'id' });
  const existing = await services.users.findByEmail(input.email);
  // The account may be another organisation's: its id is named only to whoever may see it.
  if (existing) {
    const seen = await services.access.canSeeUser(principal, { id: existing.id, grants: await services.memberships.grantsOf(existing.id) });
    throw new AppError('conflict', seen ? `an account with ${input.email} already exists (${existing.id}): give it a role with PUT /v1/projects/${projectId}/members/${existing.id}` : `an account with ${input.email} already exists: ask an administrator of its organization, or of this server, to give it a role`, { field: 'email' });
  }
  const { invitation, token, replaced } = await services.invitations.create({ ...input, project_id: projectId, invited_by: principal.actor });
  await auditAction(ctx, services, { action: 'invitation.created', target: { type: 'invitation', id: invitation.id }, project_id: projectId, outcome: 'success', detail: { email: invitation.email, role: invitation.role, expires_at: invitation.expires_at, replaced } });
  return { invitation, token };
}

/** Revokes a pending invitation (an owner's only, for one as owner); audited as invitation.revoked. */
export async function revokeInvitation(ctx: Context, services: Services, invitation: Invitation): Promise<void> {
  const principal = principalOf(ctx);
  await services.access.requireRoleChange(principal, invitation.project_id, { from: invitation.role }, 'revoke an invitation as owner', { project: 'id' });
  const result = await services.invitations.revoke(invitation.id, principal.actor);
  if (!result.ok) throw new AppError(result.code === 'not_found' ? 'not_found' : 'conflict', `invitation ${invitation.id} is ${result.code === 'not_found' ? 'gone' : `already ${result.code}`}`, { field: 'invitation_id' });
  await auditAction(ctx, services, { action: 'invitation.revoked', target: { type: 'invitation', id: invitation.id }, project_id: invitation.project_id, outcome: 'success', detail: { email: invitation.email, role: invitation.role } });
}

/**
 * Invitations for people with no account yet (an existing account gets its role with PUT …/members).
 * The same rules as members: admin:projects on the project; only an owner invites as owner (or revokes
 * such an invitation). The token and link appear only in the create answer.
 */
export function invitationRoutes(router: Router, services: Services): void {
  const auth = authMiddleware(services);
  const { invitations } = services;

  router.post('/v1/projects/:id/invitations', auth, async (ctx) => {
    const projectId = ctx.params.id!;
    const input = parseBody(createInvitation, await readJson(ctx));
    await services.access.require(principalOf(ctx), projectId, 'admin:projects', 'id');
    const { invitation, token } = await inviteToProject(ctx, services, projectId, input);
    ctx.status = 201;
    ctx.body = { ...invitationView(invitation), token, url: invitationUrl(services.config.issuer, token) };
  });

  router.get('/v1/projects/:id/invitations', auth, async (ctx) => {
    const projectId = ctx.params.id!;
    await services.access.require(principalOf(ctx), projectId, 'admin:projects', 'id');
    ctx.body = { invitations: (await invitations.listPending(projectId)).map(invitationView) };
  });

  router.delete('/v1/projects/:id/invitations/:invitation_id', auth, async (ctx) => {
    const projectId = ctx.params.id!;
    await services.access.require(principalOf(ctx), projectId, 'admin:projects', 'id');
    const id = ctx.params.invitation_id!;
    const invitation = await invitations.get(id);
    if (!invitation || invitation.project_id !== projectId) throw new AppError('not_found', `invitation ${id} does not exist on project ${projectId}`, { field: 'invitation_id' });
    await revokeInvitation(ctx, services, invitation);
    ctx.status = 204;
  });
}
