export { InvitationService, INVITATION_PATH, invitationUrl, type InvitationServiceDeps, type InvitationLink, type MadeInvitation } from './service.ts';
