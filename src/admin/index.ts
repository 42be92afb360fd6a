import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { Services } from '../container.ts';
import { problemMiddleware, type AppError } from './problem.ts';
import { projectRoutes } from './projects.ts';
import { keyRoutes } from './keys.ts';
import { auditRoutes } from './audit.ts';
import { webhookRoutes } from './webhooks.ts';
import { userRoutes } from './users.ts';
import { memberRoutes } from './members.ts';
import { invitationRoutes } from './invitations.ts';
import { roleMappingRoutes } from './role-mappings.ts';
import { connectionRoutes } from './connections.ts';
import { provisioningRuleRoutes } from './provisioning-rules.ts';
import { clientRoutes } from './clients.ts';
import { verifyHandler } from './verify.ts';
import type { Principal } from '../domain/index.ts';
import { clip } from '../http/caller.ts';
import { ApiRoutes, type OpenApiDocument } from './api-routes.ts';
import { VERIFY_ROUTE } from './verify.ts';
import { authMiddleware } from './koa-auth.ts';
import type { BearerDeps } from '../http/bearer.ts';
import { readFileSync } from 'node:fs';
import { z } from 'zod';

export { AppError, storeInputDetail } from './problem.ts';

const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/**
 * POST /v1/keys/verify on its own, mounted ahead of the general middleware (access log, routers, gates):
 * the log API calls it at its full request rate. Errors are the same problem+json.
 */
export function verifyApi(services: Parameters<typeof verifyHandler>[0] & Pick<Services, 'logger'>): Middleware {
  const problems = problemMiddleware(services.logger);
  const verify = verifyHandler(services);
  return async (ctx, next) => {
    if (ctx.method !== 'POST' || ctx.path !== '/v1/keys/verify') return next();
    ctx.set('Cache-Control', 'no-store');
    await problems(ctx, () => verify(ctx));
  };
}

/** What /v1 uses: the domain services its route groups call, bearer authentication, and the audit of failed calls. */
type AdminDeps = BearerDeps &
  Pick<Services, 'logger' | 'auditLog' | 'audit' | 'projects' | 'webhooks' | 'accounts' | 'members' | 'invitations' | 'roleMappings' | 'connections' | 'provisioningRules'>;

/**
 * The /v1 REST API as one middleware: problem+json errors (404 and 405 included), every failed call
 * audited (a verify's `valid: false` is a normal answer, not a failure).
 */
export function adminApi(services: AdminDeps): Middleware {
  const router = new Router();
  const auditFailure = async (ctx: Context, problem: AppError) => {
    if (ctx.path === '/v1/keys/verify' && problem.code === 'rate_limited') return;
    const principal = ctx.state.principal as Principal | undefined;
    await services.auditLog.record({
      actor: principal?.actor ?? { type: 'anonymous', id: null },
      action: 'admin.request_failed',
      target: { type: 'route', id: clip(`${ctx.method} ${ctx.path}`, 512) },
      project_id: null,
      ip: ctx.ip,
      user_agent: clip(ctx.get('user-agent'), 512) || null,
      outcome: 'failure',
      detail: { status: problem.status, code: problem.code, detail: clip(problem.detail, 1024), ...(problem.field ? { field: clip(problem.field, 256) } : {}) },
    });
  };
  const api = new ApiRoutes(router, authMiddleware(services));
  projectRoutes(api, services);
  keyRoutes(api, { keys: services.keys, logger: services.logger, settings: services.config.api_keys });
  auditRoutes(api, services);
  webhookRoutes(api, { webhooks: services.webhooks });
  userRoutes(api, services);
  memberRoutes(api, services);
  invitationRoutes(api, services);
  roleMappingRoutes(api, services);
  connectionRoutes(api, services);
  provisioningRuleRoutes(api, services);
  clientRoutes(api, services);
  let document: OpenApiDocument | undefined;
  api.add(
    {
      method: 'get',
      path: '/v1/openapi.json',
      operationId: 'getOpenApiDocument',
      summary: 'This description of the /v1 API (OpenAPI 3.1)',
      tag: 'Meta',
      auth: 'none',
      responses: { 200: { description: 'The OpenAPI 3.1 document', schema: z.object({ openapi: z.literal('3.1.0'), paths: z.record(z.string(), z.unknown()) }).loose() } },
    },
    // Built on first request: every route is declared by then.
    async () => (document ??= api.document({ version: PACKAGE_VERSION, serverUrl: services.config.issuer, extra: [VERIFY_ROUTE] })),
  );
  const undescribed = api.undescribedRoutes();
  if (undescribed.length) services.logger.error({ routes: undescribed }, '/v1 routes without a description in /v1/openapi.json');
  const problems = problemMiddleware(services.logger, auditFailure);
  const routes = router.routes();
  const methods = router.allowedMethods({ throw: true });
  return async (ctx, next) => {
    if (ctx.path !== '/v1' && !ctx.path.startsWith('/v1/')) return next();
    ctx.set('Cache-Control', 'no-store');
    // @koa/router's middleware types want its own context; Koa's is what it receives at run time.
    await problems(ctx, () => routes(ctx as Parameters<typeof routes>[0], () => methods(ctx as Parameters<typeof methods>[0], async () => undefined)));
  };
}
