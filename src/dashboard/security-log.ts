import type Router from '@koa/router';
import type { Context } from 'koa';
import { isEventId, type AuditEvent, type AuditFilter } from '../audit/index.ts';
import { callerOf } from '../http/caller.ts';
import { LOG_PATH } from '../../views/dashboard/routes.ts';
import { securityLogPage, type LogEventRow, type LogFilters } from '../../views/dashboard/pages/security-log.ts';
import { dashboardHeaders, dashboardPage, refusalOf, render, type DashboardContext } from './context.ts';

/** Actions offered in the filter (the `action` filter also takes a family such as `key`). */
const LOG_ACTIONS = [
  'key.created', 'key.rotated', 'key.revoked', 'key.expiring', 'key.expired', 'key.exchanged',
  'project.created', 'member.role_changed', 'role_mapping.created', 'role_mapping.deleted',
  'invitation.created', 'invitation.revoked', 'invitation.accepted', 'user.created',
  'webhook.created', 'webhook.deleted', 'webhook.redelivered',
  'connection.created', 'connection.updated', 'connection.deleted', 'connection.tested',
  'provisioning_rule.created', 'provisioning_rule.deleted',
  'login.succeeded', 'login.failed', 'consent.granted', 'consent.denied', 'admin.request_failed',
];
const PAGE_SIZE = 50;
const EXPORT_LIMIT = 100_000;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

type Event = AuditEvent & { id: string };

const CSV_COLUMNS = ['id', 'timestamp', 'action', 'outcome', 'actor_type', 'actor_id', 'target_type', 'target_id', 'project_id', 'ip', 'user_agent', 'detail'] as const;

/** RFC 4180 quoting; a cell a spreadsheet would run as a formula (=, +, -, @, tab, CR) gets a leading '. */
function csvCell(value: unknown): string {
  let text = value === null || value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(events: Event[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const e of events) {
    lines.push([e.id, e.timestamp, e.action, e.outcome, e.actor.type, e.actor.id, e.target?.type, e.target?.id, e.project_id, e.ip, e.user_agent, e.detail ?? null].map(csvCell).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

export function toJsonLines(events: Event[]): string {
  return events.map((e) => JSON.stringify(e)).join('\n') + (events.length ? '\n' : '');
}

/** The Security Log: the audit events of a project's subtree (as GET /v1/audit?project_id=), filtered, paged, exported. */
export function securityLogRoutes(router: Router, dash: DashboardContext): void {
  const { services } = dash;

  router.get(LOG_PATH, dashboardHeaders, async (ctx: Context) => {
    const on = await dash.onProject(ctx, LOG_PATH);
    if (!on) return;
    const { state, project } = on;
    const page = dashboardPage(ctx);
    const q = ctx.query;
    const text = (name: string) => (typeof q[name] === 'string' ? (q[name] as string).trim().slice(0, 200) : '');
    const filters: LogFilters = { action: text('action'), actor: text('actor'), target: text('target'), since: text('since'), until: text('until') };
    const errors: Record<string, string> = {};
    for (const field of ['since', 'until'] as const) {
      if (filters[field] && (!DATE.test(filters[field]) || Number.isNaN(Date.parse(filters[field])))) errors[field] = page.t('dash.log.err_date');
    }
    const filter: AuditFilter = {
      project_ids: new Set((await services.projectRepository.subtree(project.id)).map((p) => p.id)),
      action: filters.action || undefined,
      actor_id: filters.actor || undefined,
      target_id: filters.target || undefined,
      since: filters.since && !errors.since ? `${filters.since}T00:00:00.000Z` : undefined,
      until: filters.until && !errors.until ? `${filters.until}T23:59:59.999Z` : undefined,
    };

    const format = q.format;
    if (format === 'csv' || format === 'jsonl') {
      const events: Event[] = [];
      let after: string | undefined;
      do {
        const result = await services.auditLog.query({ ...filter, after, limit: 1000 });
        events.push(...result.events);
        after = result.next ?? undefined;
      } while (after && events.length < EXPORT_LIMIT);
      const stamp = new Date().toISOString().slice(0, 10);
      ctx.set('Content-Disposition', `attachment; filename="security-log-${project.id}-${stamp}.${format}"`);
      ctx.type = format === 'csv' ? 'text/csv; charset=utf-8' : 'application/jsonl; charset=utf-8';
      ctx.body = format === 'csv' ? toCsv(events) : toJsonLines(events);
      return;
    }

    const after = typeof q.after === 'string' && isEventId(q.after) ? q.after : undefined;
    const result = await services.auditLog.query({ ...filter, after, limit: PAGE_SIZE });
    // A key event offers "Revoke key" while its key is still usable and the person administers it.
    const keyIds = [...new Set(result.events.filter((e) => e.action.startsWith('key.') && e.target?.type === 'api_key' && e.target.id).map((e) => e.target!.id!))];
    const revocable = new Set<string>();
    for (const id of keyIds) {
      // KeyService.get refuses a key the person does not administer (or that is gone): not revocable here.
      const key = await services.keys.get(callerOf(ctx), { id }).catch((err: unknown) => {
        if (refusalOf(err)) return undefined;
        throw err;
      });
      if (key && (key.status === 'active' || key.status === 'rotating')) revocable.add(id);
    }
    const userIds = new Set(result.events.flatMap((e) => [e.actor.type === 'user' ? e.actor.id : null, e.target?.type === 'user' ? e.target.id : null]).filter((id): id is string => !!id));
    const emails = new Map<string, string>();
    for (const id of userIds) {
      const user = await services.userRepository.findById(id);
      if (user) emails.set(id, user.email);
    }
    const rows: LogEventRow[] = result.events.map((e) => ({
      actorEmail: e.actor.type === 'user' && e.actor.id ? emails.get(e.actor.id) : undefined,
      targetEmail: e.target?.type === 'user' && e.target.id ? emails.get(e.target.id) : undefined,
      id: e.id,
      timestamp: e.timestamp,
      actor: e.actor,
      action: e.action,
      target: e.target,
      ip: e.ip,
      outcome: e.outcome,
      revocableKey: e.target?.id && revocable.has(e.target.id) ? e.target.id : undefined,
    }));
    render(ctx, securityLogPage(page, { ...state.chrome, project: { id: project.id, name: project.name }, section: 'log' }, {
      project: { id: project.id, name: project.name },
      filters,
      errors,
      actions: LOG_ACTIONS,
      events: rows,
      next: result.next,
      paged: !!after,
    }), Object.keys(errors).length ? 400 : 200);
  });
}
