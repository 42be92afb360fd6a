import type Router from '@koa/router';
import type { Services } from '../container.ts';
import { AppError } from './problem.ts';
import { authMiddleware, type Principal } from './koa-auth.ts';
import { principalOf } from './context.ts';
import { isEventId } from '../audit/index.ts';

function isoOrThrow(value: string | undefined, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (Number.isNaN(Date.parse(value))) throw new AppError('invalid_request', `${field} must be an ISO 8601 time`, { field });
  return new Date(value).toISOString();
}

/** The accounts the principal may see (for the audit events that belong to no project). */
async function visibleUserIds(services: Services, principal: Principal): Promise<Set<string>> {
  const administered = await services.access.visibleProjects(principal, 'admin:projects');
  const ids = new Set<string>();
  for (const project of administered) for (const member of await services.memberships.membersOf(project)) ids.add(member.user_id);
  return ids;
}

const QUERY_FIELDS = ['project_id', 'action', 'actor_id', 'target_id', 'since', 'until', 'after', 'limit'] as const;
/** Longer than any id or action name: a filter that long matches nothing and is refused instead. */
const MAX_FILTER_LENGTH = 256;

/** Each known parameter once at most, bounded; `after` an event id. */
function auditQuery(query: Record<string, string | string[] | undefined>): Partial<Record<(typeof QUERY_FIELDS)[number], string>> {
  const out: Partial<Record<(typeof QUERY_FIELDS)[number], string>> = {};
  for (const field of QUERY_FIELDS) {
    const value = query[field];
    if (value === undefined) continue;
    if (typeof value !== 'string') throw new AppError('invalid_request', `${field} may be given once`, { field });
    if (value.length > MAX_FILTER_LENGTH) throw new AppError('invalid_request', `${field} is longer than ${MAX_FILTER_LENGTH} characters`, { field });
    out[field] = value;
  }
  if (out.after !== undefined && !isEventId(out.after)) throw new AppError('invalid_request', 'after must be the `next` cursor of a previous page (an event id)', { field: 'after' });
  return out;
}

export function auditRoutes(router: Router, services: Services): void {
  /** Append-only: there is no route that changes or deletes an event. */
  router.get('/v1/audit', authMiddleware(services), async (ctx) => {
    const q = auditQuery(ctx.query);
    const principal = principalOf(ctx);
    const view = await services.access.auditView(principal, q.project_id, () => visibleUserIds(services, principal));
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new AppError('invalid_request', 'limit must be a whole number from 1 to 1000', { field: 'limit' });
    const result = await services.audit.query({
      project_ids: view.project_ids,
      include_unscoped: view.include_unscoped,
      unscoped_subjects: view.unscoped_subjects,
      action: q.action,
      actor_id: q.actor_id,
      target_id: q.target_id,
      since: isoOrThrow(q.since, 'since'),
      until: isoOrThrow(q.until, 'until'),
      after: q.after,
      limit,
    });
    ctx.body = result;
  });
}
