/** API access: the project's keys (sortable), rotate and revoke per row, the create form, a new key shown once. */
import { html, type SafeHtml } from '../../html.ts';
import { KEY_ENVIRONMENTS, type ApiKeyView } from '../../../src/keys/index.ts';
import {
  DEFAULT_GRACE,
  GRACE_CHOICES,
  checkboxField,
  checkboxGroup,
  csrfForm,
  errorSummary,
  formatTime,
  formatUtc,
  layout,
  messages,
  options,
  rowButton,
  secretShownOnce,
  selectField,
  table,
  textField,
  textareaField,
  type Chrome,
  type DashboardPage,
  type FieldErrors,
  type ProjectRef,
} from '../components.ts';
import type { DashboardKey } from '../i18n.ts';
import { API_ACCESS_PATH, REVOKE_PATH, ROTATE_PATH, USAGE_PATH, url } from '../routes.ts';

export type KeyRow = Pick<ApiKeyView, 'id' | 'name' | 'prefix' | 'scopes' | 'environment' | 'status' | 'created_at' | 'expires_at' | 'last_used_at'>;

export type SortKey = 'name' | 'created' | 'expires' | 'last_used';
export type SortDir = 'asc' | 'desc';

export interface KeyFormValues {
  name: string;
  scopes: string[];
  environment: string;
  ttl_days: string;
  ip_allowlist: string;
  auto_rotate: boolean;
}

export interface ApiAccessView {
  project: ProjectRef;
  keys: KeyRow[];
  sort: { by: SortKey; dir: SortDir };
  heldScopes: string[];
  maxTtlDays: number;
  form: KeyFormValues;
  /** Field → message, from KeyService's KeyInputError (and our own checks). */
  errors: FieldErrors;
  created?: { key: string; name: string; rotated?: { grace_until: string | null } } | undefined;
  notice?: string | undefined;
  /** Not an error, but not good news: a one-time secret asked for again (post/redirect/get flash). */
  caution?: string | undefined;
}


export function statusBadge(page: DashboardPage, status: KeyRow['status']): SafeHtml {
  return html`<span class="badge status-${status}">${page.t(`dash.status.${status}` as DashboardKey)}</span>`;
}

function keysTable(page: DashboardPage, chrome: Chrome, view: ApiAccessView): SafeHtml {
  const { t } = page;
  const project = view.project.id;
  const sortable = (key: SortKey, label: string) => {
    const active = view.sort.by === key;
    const nextDir: SortDir = active && view.sort.dir === 'asc' ? 'desc' : 'asc';
    const ariaSort = active ? (view.sort.dir === 'asc' ? 'ascending' : 'descending') : undefined;
    return html`<th scope="col" ${ariaSort ? html`aria-sort="${ariaSort}"` : ''}><a class="sort" href="${url(API_ACCESS_PATH, { project, sort: key, dir: nextDir })}">${label}<span class="visually-hidden"> ${active ? t(view.sort.dir === 'asc' ? 'dash.sort.asc' : 'dash.sort.desc') : ''}</span><span class="sort-icon" aria-hidden="true">${active ? (view.sort.dir === 'asc' ? '▲' : '▼') : '↕'}</span></a></th>`;
  };
  const grace = (k: KeyRow) => html`
      <label for="grace-${k.id}" class="visually-hidden">${t('dash.rotate.grace_for', { name: k.name })}</label>
      <select id="grace-${k.id}" name="grace_seconds" title="${t('dash.rotate.grace')}">
        ${options(GRACE_CHOICES.map((g) => ({ value: String(g), label: t(`dash.rotate.grace.${g}`) })), String(DEFAULT_GRACE))}
      </select>`;
  return table({
    id: 'keys',
    caption: t('dash.keys.caption', { project: view.project.name }),
    columns: [sortable('name', t('dash.col.name')), t('dash.col.prefix'), t('dash.col.scopes'), t('dash.col.environment'), sortable('created', t('dash.col.created')), sortable('expires', t('dash.col.expires')), sortable('last_used', t('dash.col.last_used')), t('dash.col.status'), t('dash.col.actions')],
    rows: view.keys,
    empty: t('dash.keys.empty'),
    row: (k) => html`<tr data-key-id="${k.id}">
  <th scope="row">${k.name}</th>
  <td><code>${k.prefix}…</code></td>
  <td><ul class="scopes">${k.scopes.map((s) => html`<li><code>${s}</code></li>`)}</ul></td>
  <td><span class="badge env-${k.environment}" title="${t(`dash.env.${k.environment}`)}">${k.environment}</span></td>
  <td>${formatTime(page, k.created_at, true)}</td>
  <td>${formatTime(page, k.expires_at, true)}</td>
  <td>${formatTime(page, k.last_used_at)}</td>
  <td>${statusBadge(page, k.status)}</td>
  <td class="actions-cell">
    <p class="row-link"><a href="${url(USAGE_PATH, { project, key: k.id })}">${t('dash.usage.link')}<span class="visually-hidden"> ${k.name}</span></a></p>
    ${k.status === 'active' ? rowButton(chrome, { method: 'post', action: url(ROTATE_PATH, { project }), hidden: { id: k.id }, label: t('dash.rotate.submit'), hiddenLabel: k.name }, grace(k)) : ''}
    ${k.status === 'active' || k.status === 'rotating' ? rowButton(chrome, { method: 'get', action: REVOKE_PATH, hidden: { project, key: k.id }, label: t('dash.revoke.link'), hiddenLabel: k.name, danger: true }) : ''}
  </td>
</tr>`,
  });
}

/** Where the error summary sends each field's error. */
const FIELD_ANCHORS: Record<string, string> = { name: 'key-name', scopes: 'key-scopes', environment: 'key-environment', ttl_days: 'key-ttl', ip_allowlist: 'key-ip' };

function createForm(page: DashboardPage, chrome: Chrome, view: ApiAccessView): SafeHtml {
  const { t } = page;
  const { form, errors } = view;
  return html`<section class="panel" aria-labelledby="create-title">
<h2 id="create-title">${t('dash.create.title')}</h2>
${errorSummary({ id: 'form-errors', intro: t('dash.form.errors'), errors, anchors: FIELD_ANCHORS, fallback: 'key-name' })}
${csrfForm(chrome, { action: url(API_ACCESS_PATH, { project: view.project.id }), className: 'stack', novalidate: true }, html`
  ${textField({ id: 'key-name', name: 'name', label: t('dash.create.name'), hint: t('dash.create.name_hint'), value: form.name, errors, attrs: { maxlength: 200, required: true } })}
  ${checkboxGroup({ id: 'key-scopes', name: 'scopes', legend: t('dash.create.scopes'), choices: view.heldScopes.map((s) => ({ value: s, label: s })), checked: form.scopes, errors, idOf: (s) => `scope-${s.replace(':', '-')}` })}
  <div class="field-row">
    ${selectField({ id: 'key-environment', name: 'environment', label: t('dash.create.environment'), errors, options: options(KEY_ENVIRONMENTS.map((e) => ({ value: e, label: t(`dash.env.${e}`) })), form.environment) })}
    ${textField({ id: 'key-ttl', name: 'ttl_days', type: 'number', label: t('dash.create.ttl'), hint: t('dash.create.ttl_hint', { max: view.maxTtlDays }), value: form.ttl_days, errors, attrs: { inputmode: 'numeric', min: 1, max: view.maxTtlDays, step: 1 } })}
  </div>
  ${textareaField({ id: 'key-ip', name: 'ip_allowlist', label: t('dash.create.ip'), hint: t('dash.create.ip_hint'), value: form.ip_allowlist, rows: 3, errors, attrs: { spellcheck: 'false' } })}
  ${checkboxField({ id: 'key-auto-rotate', name: 'auto_rotate', value: 'on', checked: form.auto_rotate, label: t('dash.create.auto_rotate'), hint: t('dash.create.auto_rotate_hint'), errors: {} })}
  <div><button type="submit">${t('dash.create.submit')}</button></div>`)}
</section>`;
}

function createdKey(page: DashboardPage, view: NonNullable<ApiAccessView['created']>, project: string): SafeHtml {
  const { t } = page;
  const rotated = view.rotated;
  return secretShownOnce(page, {
    id: 'new-key',
    panel: 'created',
    title: rotated ? t('dash.created.rotated_title') : t('dash.created.title'),
    warning: t('dash.created.warning'),
    before: rotated ? html`<p>${rotated.grace_until && Date.parse(rotated.grace_until) > Date.now() ? t('dash.created.grace', { until: formatUtc(page, rotated.grace_until) }) : t('dash.created.grace_none')}</p>` : undefined,
    label: `${t('dash.created.label')} — ${view.name}`,
    value: view.key,
    done: { href: url(API_ACCESS_PATH, { project }), label: t('dash.created.done') },
  });
}

export function apiAccessPage(page: DashboardPage, chrome: Chrome, view: ApiAccessView): string {
  const { t } = page;
  return layout(page, chrome, t('dash.keys.title'), html`
<h1>${t('dash.keys.title')}</h1>
<p class="lead">${t('dash.keys.intro', { project: view.project.name })}</p>
${messages(view)}
${view.created ? createdKey(page, view.created, view.project.id) : ''}
${keysTable(page, chrome, view)}
${createForm(page, chrome, view)}`);
}
