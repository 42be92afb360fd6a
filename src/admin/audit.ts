import { z } from 'zod';
import type { ApiRoutes } from './api-routes.ts';
import { callerOf } from '../http/caller.ts';
import { isEventId, type AuditService } from '../audit/index.ts';

/** Longer than any id or action name: a filter that long matches nothing and is refused instead. */
const MAX_FILTER_LENGTH = 256;
const filter = (description: string) => z.string().max(MAX_FILTER_LENGTH, `longer than ${MAX_FILTER_LENGTH} characters`).describe(description).optional();
const isoTime = (description: string) =>
  z
    .string()
    .max(64)
    .refine((value) => !Number.isNaN(Date.parse(value)), 'must be an ISO 8601 time')
    .transform((value) => new Date(value).toISOString())
    .describe(description)
    .optional();

const AUDIT_QUERY = z.object({
  project_id: filter('Only events of this project (and its subtree) — one the caller administers'),
  action: filter('An action or its prefix: `key` matches `key.created`, `key.revoked`, …'),
  actor_id: filter('Only events by this actor (user, client or API key id)'),
  target_id: filter('Only events about this target'),
  since: isoTime('Events at or after this time'),
  until: isoTime('Events at or before this time'),
  after: z
    .string()
    .refine(isEventId, 'must be the `next` cursor of a previous page (an event id)')
    .describe('The `next` cursor of the previous page')
    .optional(),
  limit: z.coerce.number().int().min(1, 'a whole number from 1 to 1000').max(1000, 'a whole number from 1 to 1000').default(100).describe('Events per page (1–1000, default 100)'),
});

const AUDIT_EVENT = z
  .object({
    id: z.string(),
    timestamp: z.iso.datetime(),
    actor: z.object({ type: z.enum(['user', 'client', 'api_key', 'system', 'anonymous']), id: z.string().nullable() }),
    action: z.string(),
    target: z.object({ type: z.string(), id: z.string().nullable() }).nullable(),
    project_id: z.string().nullable(),
    ip: z.string().nullable(),
    user_agent: z.string().nullable().optional(),
    outcome: z.enum(['success', 'failure']),
    detail: z.record(z.string(), z.unknown()).optional(),
  })
  .loose();

export function auditRoutes(api: ApiRoutes, { audit }: { audit: AuditService }): void {
  /** Append-only: there is no route that changes or deletes an event. */
  api.add(
    {
      method: 'get',
      path: '/v1/audit',
      operationId: 'listAuditEvents',
      summary: 'Audit events the caller may see, oldest first, in pages',
      tag: 'Audit',
      query: AUDIT_QUERY,
      responses: { 200: { description: 'A page of events; `next` is the cursor of the next page', schema: z.object({ events: z.array(AUDIT_EVENT), next: z.string().nullable() }) } },
    },
    async (ctx, { query }) => audit.events(callerOf(ctx), query),
  );
}
