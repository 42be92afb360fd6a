export { interactionRoutes } from './routes.ts';
export { oidcViews } from './views.ts';
export { pageContext } from './page.ts';
export { invitationRoutes } from './invitations.ts';
