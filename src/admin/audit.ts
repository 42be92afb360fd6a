import type Router from '@koa/router';
import type { Services } from '../container.ts';
import { AppError } from './problem.ts';
import { authMiddleware, requireScope } from './koa-auth.ts';
import { principalOf } from './context.ts';
import { visibleProjectIds } from './projects.ts';

function isoOrThrow(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) throw new AppError('invalid_request', `${field} must be an ISO 8601 time`, { field });
  return new Date(value).toISOString();
}

export function auditRoutes(router: Router, services: Services): void {
  /** Append-only: there is no route that changes or deletes an event. */
  router.get('/v1/audit', authMiddleware(services), async (ctx) => {
    const q = ctx.query;
    const principal = principalOf(ctx);
    let projectIds: Set<string>;
    let includeUnscoped = false;
    if (typeof q.project_id === 'string') {
      await requireScope(principal, q.project_id, 'admin:projects', services);
      projectIds = new Set((await services.projects.subtree(q.project_id)).map((p) => p.id));
    } else {
      projectIds = await visibleProjectIds(services, principal, 'admin:projects');
      const roots = await services.projects.roots();
      includeUnscoped = roots.some((r) => projectIds.has(r.id));
    }
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new AppError('invalid_request', 'limit must be a whole number from 1 to 1000', { field: 'limit' });
    const result = await services.audit.query({
      project_ids: projectIds,
      include_unscoped: includeUnscoped,
      action: typeof q.action === 'string' ? q.action : undefined,
      actor_id: typeof q.actor_id === 'string' ? q.actor_id : undefined,
      target_id: typeof q.target_id === 'string' ? q.target_id : undefined,
      since: isoOrThrow(q.since, 'since'),
      until: isoOrThrow(q.until, 'until'),
      after: typeof q.after === 'string' ? q.after : undefined,
      limit,
    });
    ctx.body = result;
  });
}
