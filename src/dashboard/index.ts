import type Router from '@koa/router';
import type { Services } from '../container.ts';
import { DashboardContext } from './context.ts';
import { signInRoutes } from './sign-in.ts';
import { apiAccessRoutes } from './api-access.ts';
import { securityLogRoutes } from './security-log.ts';
import { memberRoutes } from './members.ts';
import { webhookRoutes } from './webhooks.ts';
import { ssoRoutes } from './sso.ts';
import { applicationRoutes } from './applications.ts';

/**
 * The admin dashboard (/dashboard): server-rendered pages, a server-side client of the same domain
 * services and authorization rules as the /v1 API. People sign in through this server's own OIDC flow
 * (built-in client `logtrace-dashboard`); only project owners and admins get past the door.
 */
export function dashboardRoutes(router: Router, services: Services): void {
  const dash = new DashboardContext(services);
  signInRoutes(router, dash);
  apiAccessRoutes(router, dash);
  securityLogRoutes(router, dash);
  memberRoutes(router, dash);
  webhookRoutes(router, dash);
  ssoRoutes(router, dash);
  applicationRoutes(router, dash);
}
