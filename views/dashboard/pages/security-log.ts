/** The security log: the project's audit events with filters, export links and paging; revoke a key from a row. */
import { html, type SafeHtml } from '../../html.ts';
import type { AuditEventFields } from '../../../src/audit/index.ts';
import { formatTime, layout, options, rowButton, selectField, table, textField, type Chrome, type DashboardPage, type FieldErrors, type ProjectRef } from '../components.ts';
import { LOG_PATH, REVOKE_PATH, url } from '../routes.ts';

export interface LogEventRow {
  id: string;
  timestamp: string;
  actor: { type: string; id: string | null };
  action: string;
  target: { type: string; id: string | null } | null;
  ip: string | null;
  outcome: AuditEventFields['outcome'];
  /** Set when the target is a key that can still be revoked. */
  revocableKey?: string | undefined;
  /** People's emails for user ids (actor or target), for reading; the id stays in the title and exports. */
  actorEmail?: string | undefined;
  targetEmail?: string | undefined;
}

export interface LogFilters {
  action: string;
  actor: string;
  target: string;
  since: string;
  until: string;
}

export interface LogView {
  project: ProjectRef;
  filters: LogFilters;
  errors: FieldErrors;
  actions: string[];
  events: LogEventRow[];
  next: string | null;
  paged: boolean;
}

function party(kind: string, id: string | null, email: string | undefined): SafeHtml {
  if (email) return html`<span class="muted">${kind}</span> <span title="${id ?? ''}">${email}</span>`;
  return html`<span class="muted">${kind}</span> ${id ? html`<code>${id}</code>` : ''}`;
}

export function securityLogPage(page: DashboardPage, chrome: Chrome, view: LogView): string {
  const { t } = page;
  const f = view.filters;
  const errors = view.errors;
  const project = view.project.id;
  const filterParams = { project, action: f.action, actor: f.actor, target: f.target, since: f.since, until: f.until };
  const families = [...new Set(view.actions.map((a) => a.split('.')[0]!))];
  const actionChoices = [{ value: '', label: t('dash.log.action_any') }, ...families.map((fam) => ({ value: fam, label: t('dash.log.action_family', { family: `${fam}.*` }) })), ...view.actions.map((a) => ({ value: a, label: a }))];
  const date = (id: string, name: 'since' | 'until', label: string) => textField({ id, name, type: 'date', label, value: f[name], errors, attrs: { placeholder: 'YYYY-MM-DD' } });
  return layout(page, chrome, t('dash.log.title'), html`
<h1>${t('dash.log.title')}</h1>
<p class="lead">${t('dash.log.intro', { project: view.project.name })}</p>
<section class="panel" aria-labelledby="filters-title">
<h2 id="filters-title">${t('dash.log.filters')}</h2>
<form method="get" action="${LOG_PATH}" class="filters">
  <input type="hidden" name="project" value="${project}">
  ${selectField({ id: 'log-action', name: 'action', label: t('dash.log.action'), errors, options: options(actionChoices, f.action) })}
  ${textField({ id: 'log-actor', name: 'actor', label: t('dash.log.actor'), value: f.actor, errors })}
  ${textField({ id: 'log-target', name: 'target', label: t('dash.log.target'), value: f.target, errors })}
  ${date('log-since', 'since', t('dash.log.since'))}
  ${date('log-until', 'until', t('dash.log.until'))}
  <div class="button-row">
    <button type="submit">${t('dash.log.apply')}</button>
    <a class="button secondary" href="${url(LOG_PATH, { project })}">${t('dash.log.reset')}</a>
  </div>
</form>
<p class="export"><span>${t('dash.log.export')}:</span>
  <a href="${url(LOG_PATH, { ...filterParams, format: 'csv' })}" download>${t('dash.log.export_csv')}</a>
  <a href="${url(LOG_PATH, { ...filterParams, format: 'jsonl' })}" download>${t('dash.log.export_jsonl')}</a>
</p>
</section>
${table({
  id: 'log',
  className: 'log',
  caption: t('dash.log.caption', { project: view.project.name }),
  columns: [t('dash.col.time'), t('dash.col.action'), t('dash.col.actor'), t('dash.col.target'), t('dash.col.ip'), t('dash.col.outcome'), t('dash.col.actions')],
  rows: view.events,
  empty: t('dash.log.empty'),
  row: (e) => html`<tr data-event-id="${e.id}">
  <td>${formatTime(page, e.timestamp)}</td>
  <th scope="row"><code>${e.action}</code></th>
  <td>${party(e.actor.type, e.actor.id, e.actorEmail)}</td>
  <td>${e.target ? party(e.target.type, e.target.id, e.targetEmail) : '—'}</td>
  <td>${e.ip ?? '—'}</td>
  <td><span class="badge outcome-${e.outcome}">${t(`dash.outcome.${e.outcome}`)}</span></td>
  <td>${e.revocableKey ? rowButton(chrome, { method: 'get', action: REVOKE_PATH, hidden: { project, key: e.revocableKey }, label: t('dash.log.revoke'), hiddenLabel: e.revocableKey, danger: true }) : ''}</td>
</tr>`,
})}
<nav class="pager" aria-label="${t('dash.log.title')}">
  ${view.paged ? html`<a href="${url(LOG_PATH, filterParams)}">${t('dash.log.first')}</a>` : ''}
  ${view.next ? html`<a href="${url(LOG_PATH, { ...filterParams, after: view.next })}" rel="next">${t('dash.log.next')}</a>` : ''}
</nav>`);
}
