import type Router from '@koa/router';
import type { Services } from '../container.ts';
import { AppError } from './problem.ts';
import { authMiddleware, type Principal } from './koa-auth.ts';
import { principalOf } from './context.ts';

function isoOrThrow(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) throw new AppError('invalid_request', `${field} must be an ISO 8601 time`, { field });
  return new Date(value).toISOString();
}

/** The accounts the principal may see (for the audit events that belong to no project). */
async function visibleUserIds(services: Services, principal: Principal): Promise<Set<string>> {
  const administered = await services.access.visibleProjects(principal, 'admin:projects');
  const ids = new Set<string>();
  for (const project of administered) for (const member of await services.memberships.membersOf(project)) ids.add(member.user_id);
  return ids;
}

export function auditRoutes(router: Router, services: Services): void {
  /** Append-only: there is no route that changes or deletes an event. */
  router.get('/v1/audit', authMiddleware(services), async (ctx) => {
    const q = ctx.query;
    const principal = principalOf(ctx);
    const view = await services.access.auditView(principal, typeof q.project_id === 'string' ? q.project_id : undefined, () => visibleUserIds(services, principal));
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new AppError('invalid_request', 'limit must be a whole number from 1 to 1000', { field: 'limit' });
    const result = await services.audit.query({
      project_ids: view.project_ids,
      include_unscoped: view.include_unscoped,
      unscoped_subjects: view.unscoped_subjects,
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
