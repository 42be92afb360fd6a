export { InvitationService, INVITATION_PATH } from './service.ts';
