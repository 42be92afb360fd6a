import { z } from 'zod';
import { ROLES, MAX_INVITATION_DAYS, isEmailAddress, type Invitation } from '../directory/index.ts';
import type { InvitationService } from '../invitations/index.ts';
import type { ApiRoutes } from './api-routes.ts';
import { callerOf } from '../http/caller.ts';

const CREATE_INVITATION = z.strictObject({
  email: z.string().trim().toLowerCase().refine(isEmailAddress, 'must be an email address'),
  role: z.enum(ROLES),
  expires_in_days: z.number().int().min(1).max(MAX_INVITATION_DAYS).optional().describe(`Days the link works (1–${MAX_INVITATION_DAYS}, default 7)`),
});
const PROJECT_ID = z.strictObject({ id: z.string().describe('A project id') });
const INVITATION_PATH = z.strictObject({ id: z.string().describe('A project id'), invitation_id: z.string().describe('An invitation id (inv_…)') });

const ACTOR = z.strictObject({ type: z.enum(['user', 'api_key', 'client', 'system']), id: z.string().nullable() });
const INVITATION = z.strictObject({
  id: z.string(),
  email: z.string(),
  project_id: z.string(),
  role: z.enum(ROLES),
  status: z.enum(['pending', 'accepted', 'revoked']),
  invited_by: ACTOR,
  created_at: z.iso.datetime(),
  expires_at: z.iso.datetime(),
});
const CREATED_INVITATION = INVITATION.extend({
  token: z.string().describe('The link secret: shown here only'),
  url: z.string().describe('The link to send to the person: shown here only'),
});

function invitationView(invitation: Invitation): z.infer<typeof INVITATION> {
  return {
    id: invitation.id,
    email: invitation.email,
    project_id: invitation.project_id,
    role: invitation.role,
    status: invitation.status,
    invited_by: { type: invitation.invited_by.type, id: invitation.invited_by.id },
    created_at: invitation.created_at,
    expires_at: invitation.expires_at,
  };
}

/**
 * Invitations for people with no account yet (an existing account gets its role with PUT …/members), with
 * the rules of src/invitations: admin:projects on the project; only an owner invites as owner (or revokes
 * such an invitation). The token and link appear only in the create answer.
 */
export function invitationRoutes(api: ApiRoutes, { invitations }: { invitations: InvitationService }): void {

  api.add(
    {
      method: 'post',
      path: '/v1/projects/:id/invitations',
      operationId: 'createInvitation',
      summary: 'Invite an email with no account to a project (a one-time link)',
      description: 'An invitation still pending for the same email and project is replaced. An email that has an account is a conflict: give it a role with PUT /v1/projects/{id}/members/{user_id}.',
      tag: 'Invitations',
      params: PROJECT_ID,
      body: CREATE_INVITATION,
      responses: { 201: { description: 'The invitation, with its token and link (shown once)', schema: CREATED_INVITATION } },
      problems: [404, 409],
    },
    async (ctx, { params, body }) => {
      const { invitation, token, url } = await invitations.create(callerOf(ctx), { project_id: params.id, ...body });
      return { ...invitationView(invitation), token, url };
    },
  );

  api.add(
    {
      method: 'get',
      path: '/v1/projects/:id/invitations',
      operationId: 'listInvitations',
      summary: 'Pending invitations of a project',
      tag: 'Invitations',
      params: PROJECT_ID,
      responses: { 200: { description: 'Pending, unexpired invitations, oldest first', schema: z.strictObject({ invitations: z.array(INVITATION) }) } },
      problems: [404],
    },
    async (ctx, { params }) => ({ invitations: (await invitations.list(callerOf(ctx), params.id)).map(invitationView) }),
  );

  api.add(
    {
      method: 'delete',
      path: '/v1/projects/:id/invitations/:invitation_id',
      operationId: 'revokeInvitation',
      summary: 'Revoke a pending invitation: its link stops working at once',
      tag: 'Invitations',
      params: INVITATION_PATH,
      responses: { 204: { description: 'Revoked' } },
      problems: [404, 409],
    },
    async (ctx, { params }) => {
      await invitations.revoke(callerOf(ctx), { project_id: params.id, invitation_id: params.invitation_id });
      ctx.status = 204;
      return undefined;
    },
  );
}
