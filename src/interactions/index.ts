export { interactionRoutes } from './routes.ts';
export { oidcViews } from './views.ts';
export { invitationRoutes } from './invitations.ts';
