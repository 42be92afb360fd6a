/**
 * Server-rendered pages of the admin dashboard. Every value goes through the escaping `html` template;
 * the only script is /static/dashboard.js (progressive enhancement: copying a new key).
 */
import { html, type SafeHtml } from '../html.ts';
import { LANGUAGES, type Lang } from '../i18n.ts';
import type { DashKey, DashTranslate } from './i18n.ts';

export interface DashPage {
  lang: Lang;
  t: DashTranslate;
  /** The current path and query, for the language links to come back to. */
  here: string;
}

export interface Chrome {
  user?: { email: string; name: string | null } | undefined;
  csrf?: string | undefined;
  project?: { id: string; name: string } | undefined;
  section?: 'api-access' | 'log' | undefined;
}

export const API_ACCESS_PATH = '/dashboard/settings/security/api-access';
export const LOG_PATH = '/dashboard/settings/security/log';
export const REVOKE_PATH = `${API_ACCESS_PATH}/revoke`;
export const ROTATE_PATH = `${API_ACCESS_PATH}/rotate`;

const LANGUAGE_NAMES: Record<Lang, string> = { en: 'English', ru: 'Русский' };

function url(path: string, params: Record<string, string | undefined | null>): string {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') query.set(k, v);
  const qs = query.toString();
  return qs ? `${path}?${qs}` : path;
}

/** A UTC time for people (the exact instant in `datetime` and the tooltip); `dateOnly` for long-range dates. */
export function formatTime(page: DashPage, iso: string | null | undefined, dateOnly = false): SafeHtml {
  if (!iso) return html`${page.t('dash.keys.never')}`;
  const locale = page.lang === 'ru' ? 'ru-RU' : 'en-GB';
  const text = new Intl.DateTimeFormat(locale, dateOnly ? { dateStyle: 'medium', timeZone: 'UTC' } : { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' }).format(new Date(iso));
  return html`<time datetime="${iso}" title="${iso}">${text}</time>`;
}

function csrfField(chrome: Chrome): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${chrome.csrf ?? ''}">`;
}

function layout(page: DashPage, chrome: Chrome, title: string, body: SafeHtml): string {
  const { t } = page;
  const project = chrome.project;
  const navItem = (section: Chrome['section'], href: string, label: string) =>
    html`<li><a href="${href}" ${chrome.section === section ? html`aria-current="page"` : ''}>${label}</a></li>`;
  return html`<!doctype html>
<html lang="${page.lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${title} · ${t('dash.title')}</title>
<link rel="stylesheet" href="/static/dashboard.css">
<script src="/static/dashboard.js" defer></script>
</head>
<body>
<a class="skip-link" href="#main">${t('dash.skip')}</a>
<header class="topbar">
  <a class="brand" href="/dashboard"><span class="logo" aria-hidden="true">◆</span> ${t('dash.title')}</a>
  <div class="topbar-end">
    <nav class="lang" aria-label="${t('dash.lang')}">
      <ul>${LANGUAGES.map((lang) => html`<li><a href="${url('/dashboard/lang', { set: lang, return_to: page.here })}" lang="${lang}" hreflang="${lang}" ${lang === page.lang ? html`aria-current="true"` : ''}>${LANGUAGE_NAMES[lang]}</a></li>`)}</ul>
    </nav>
    ${chrome.user ? html`<span class="who">${t('dash.signed_in_as', { email: chrome.user.email })}</span>
    <form method="post" action="/dashboard/sign-out" class="inline">${csrfField(chrome)}<button type="submit" class="secondary small">${t('dash.sign_out')}</button></form>` : ''}
  </div>
</header>
<div class="shell ${chrome.section ? 'with-nav' : ''}">
${chrome.section ? html`<nav class="sidenav" aria-label="${t('dash.nav')}">
  ${project ? html`<p class="project-name">${t('dash.project.current', { name: project.name })}</p>
  <p class="project-switch"><a href="${url(chrome.section === 'log' ? LOG_PATH : API_ACCESS_PATH, {})}">${t('dash.project.switch')}</a></p>` : ''}
  <ul>
    ${navItem('api-access', url(API_ACCESS_PATH, { project: project?.id }), t('dash.nav.api_access'))}
    ${navItem('log', url(LOG_PATH, { project: project?.id }), t('dash.nav.security_log'))}
  </ul>
</nav>` : ''}
<main id="main" tabindex="-1">
${body}
</main>
</div>
</body>
</html>`.value;
}

/* ----------------------------------------------------------------------------------------------- */

export function messagePage(page: DashPage, chrome: Chrome, view: { title: string; body: string; links?: Array<{ href: string; label: string }>; alert?: boolean }): string {
  return layout(page, chrome, view.title, html`
<h1>${view.title}</h1>
${view.alert ? html`<div class="alert" role="alert">${view.body}</div>` : html`<p>${view.body}</p>`}
${view.links?.length ? html`<ul class="links">${view.links.map((l) => html`<li><a href="${l.href}">${l.label}</a></li>`)}</ul>` : ''}`);
}

export interface ProjectChoice {
  id: string;
  name: string;
  depth: number;
}

export function chooseProjectPage(page: DashPage, chrome: Chrome, view: { projects: ProjectChoice[]; target: string }): string {
  const { t } = page;
  return layout(page, chrome, t('dash.project.choose.title'), html`
<h1>${t('dash.project.choose.title')}</h1>
<p>${t('dash.project.choose.intro')}</p>
<ul class="projects">
${view.projects.map((p) => html`<li class="depth-${Math.min(p.depth, 5)}"><a href="${url(view.target, { project: p.id })}">${p.name}</a> <code>${p.id}</code></li>`)}
</ul>`);
}

/* API access --------------------------------------------------------------------------------------- */

export interface KeyRow {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  environment: 'live' | 'test';
  status: 'active' | 'rotating' | 'expired' | 'revoked';
  created_at: string;
  expires_at: string;
  last_used_at: string | null;
}

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
  project: { id: string; name: string };
  keys: KeyRow[];
  sort: { by: SortKey; dir: SortDir };
  heldScopes: string[];
  maxTtlDays: number;
  form: KeyFormValues;
  /** Field → message, from KeyService's KeyInputError (and our own checks). */
  errors: Record<string, string>;
  created?: { key: string; name: string; rotated?: { grace_until: string | null } } | undefined;
  notice?: string | undefined;
}

export const GRACE_CHOICES = [0, 3600, 86400, 604800] as const;

function statusBadge(page: DashPage, status: KeyRow['status']): SafeHtml {
  return html`<span class="badge status-${status}">${page.t(`dash.status.${status}` as DashKey)}</span>`;
}

function keysTable(page: DashPage, chrome: Chrome, view: ApiAccessView): SafeHtml {
  const { t } = page;
  const project = view.project.id;
  const sortable = (key: SortKey, label: string) => {
    const active = view.sort.by === key;
    const nextDir: SortDir = active && view.sort.dir === 'asc' ? 'desc' : 'asc';
    const ariaSort = active ? (view.sort.dir === 'asc' ? 'ascending' : 'descending') : undefined;
    return html`<th scope="col" ${ariaSort ? html`aria-sort="${ariaSort}"` : ''}><a class="sort" href="${url(API_ACCESS_PATH, { project, sort: key, dir: nextDir })}">${label}<span class="visually-hidden"> ${active ? t(view.sort.dir === 'asc' ? 'dash.sort.asc' : 'dash.sort.desc') : ''}</span><span class="sort-icon" aria-hidden="true">${active ? (view.sort.dir === 'asc' ? '▲' : '▼') : '↕'}</span></a></th>`;
  };
  if (!view.keys.length) return html`<p class="empty">${t('dash.keys.empty')}</p>`;
  return html`<div class="table-wrap" role="region" aria-labelledby="keys-caption" tabindex="0">
<table class="data">
<caption id="keys-caption">${t('dash.keys.caption', { project: view.project.name })}</caption>
<thead><tr>
  ${sortable('name', t('dash.col.name'))}
  <th scope="col">${t('dash.col.prefix')}</th>
  <th scope="col">${t('dash.col.scopes')}</th>
  <th scope="col">${t('dash.col.environment')}</th>
  ${sortable('created', t('dash.col.created'))}
  ${sortable('expires', t('dash.col.expires'))}
  ${sortable('last_used', t('dash.col.last_used'))}
  <th scope="col">${t('dash.col.status')}</th>
  <th scope="col">${t('dash.col.actions')}</th>
</tr></thead>
<tbody>
${view.keys.map((k) => html`<tr data-key-id="${k.id}">
  <th scope="row">${k.name}</th>
  <td><code>${k.prefix}…</code></td>
  <td><ul class="scopes">${k.scopes.map((s) => html`<li><code>${s}</code></li>`)}</ul></td>
  <td><span class="badge env-${k.environment}" title="${t(`dash.env.${k.environment}`)}">${k.environment}</span></td>
  <td>${formatTime(page, k.created_at, true)}</td>
  <td>${formatTime(page, k.expires_at, true)}</td>
  <td>${formatTime(page, k.last_used_at)}</td>
  <td>${statusBadge(page, k.status)}</td>
  <td class="actions-cell">
    ${k.status === 'active' ? html`<form method="post" action="${url(ROTATE_PATH, { project })}" class="row-form">
      ${csrfField(chrome)}<input type="hidden" name="id" value="${k.id}">
      <label for="grace-${k.id}" class="visually-hidden">${t('dash.rotate.grace_for', { name: k.name })}</label>
      <select id="grace-${k.id}" name="grace_seconds" title="${t('dash.rotate.grace')}">
        ${GRACE_CHOICES.map((g) => html`<option value="${g}" ${g === 86400 ? 'selected' : ''}>${t(`dash.rotate.grace.${g}`)}</option>`)}
      </select>
      <button type="submit" class="secondary small">${t('dash.rotate.submit')}<span class="visually-hidden"> ${k.name}</span></button>
    </form>` : ''}
    ${k.status === 'active' || k.status === 'rotating' ? html`<form method="get" action="${REVOKE_PATH}" class="row-form">
      <input type="hidden" name="project" value="${project}"><input type="hidden" name="key" value="${k.id}">
      <button type="submit" class="danger small">${t('dash.revoke.link')}<span class="visually-hidden"> ${k.name}</span></button>
    </form>` : ''}
  </td>
</tr>`)}
</tbody>
</table>
</div>`;
}

function fieldError(errors: Record<string, string>, field: string): SafeHtml {
  const message = errors[field];
  return message ? html`<p class="field-error" id="${field}-error"><span aria-hidden="true">⚠ </span>${message}</p>` : html``;
}

function describedBy(errors: Record<string, string>, field: string, hint?: string): SafeHtml {
  const ids = [hint, errors[field] ? `${field}-error` : undefined].filter(Boolean).join(' ');
  return html`${ids ? html`aria-describedby="${ids}"` : ''} ${errors[field] ? html`aria-invalid="true"` : ''}`;
}

function createForm(page: DashPage, chrome: Chrome, view: ApiAccessView): SafeHtml {
  const { t } = page;
  const { form, errors } = view;
  const errorCount = Object.keys(errors).length;
  return html`<section class="panel" aria-labelledby="create-title">
<h2 id="create-title">${t('dash.create.title')}</h2>
${errorCount ? html`<div class="alert" role="alert" id="form-errors">${t('dash.form.errors')}
  <ul>${Object.entries(errors).map(([field, message]) => html`<li><a href="#${fieldAnchor(field)}">${message}</a></li>`)}</ul></div>` : ''}
<form method="post" action="${url(API_ACCESS_PATH, { project: view.project.id })}" class="stack" novalidate>
  ${csrfField(chrome)}
  <div class="field">
    <label for="key-name">${t('dash.create.name')}</label>
    <p class="hint" id="key-name-hint">${t('dash.create.name_hint')}</p>
    <input id="key-name" name="name" type="text" maxlength="200" required value="${form.name}" ${describedBy(errors, 'name', 'key-name-hint')}>
    ${fieldError(errors, 'name')}
  </div>
  <fieldset class="field" id="key-scopes" ${errors.scopes ? html`aria-describedby="scopes-error"` : ''}>
    <legend>${t('dash.create.scopes')}</legend>
    ${view.heldScopes.map((s) => html`<div class="check"><input type="checkbox" id="scope-${s.replace(':', '-')}" name="scopes" value="${s}" ${form.scopes.includes(s) ? 'checked' : ''}><label for="scope-${s.replace(':', '-')}">${s}</label></div>`)}
    ${fieldError(errors, 'scopes')}
  </fieldset>
  <div class="field-row">
    <div class="field">
      <label for="key-environment">${t('dash.create.environment')}</label>
      <select id="key-environment" name="environment" ${describedBy(errors, 'environment')}>
        ${(['live', 'test'] as const).map((e) => html`<option value="${e}" ${form.environment === e ? 'selected' : ''}>${t(`dash.env.${e}`)}</option>`)}
      </select>
      ${fieldError(errors, 'environment')}
    </div>
    <div class="field">
      <label for="key-ttl">${t('dash.create.ttl')}</label>
      <input id="key-ttl" name="ttl_days" type="number" inputmode="numeric" min="1" max="${view.maxTtlDays}" step="1" value="${form.ttl_days}" ${describedBy(errors, 'ttl_days', 'key-ttl-hint')}>
      <p class="hint" id="key-ttl-hint">${t('dash.create.ttl_hint', { max: view.maxTtlDays })}</p>
      ${fieldError(errors, 'ttl_days')}
    </div>
  </div>
  <div class="field">
    <label for="key-ip">${t('dash.create.ip')}</label>
    <p class="hint" id="key-ip-hint">${t('dash.create.ip_hint')}</p>
    <textarea id="key-ip" name="ip_allowlist" rows="3" spellcheck="false" ${describedBy(errors, 'ip_allowlist', 'key-ip-hint')}>${form.ip_allowlist}</textarea>
    ${fieldError(errors, 'ip_allowlist')}
  </div>
  <div class="field check">
    <input type="checkbox" id="key-auto-rotate" name="auto_rotate" value="on" aria-describedby="key-auto-rotate-hint" ${form.auto_rotate ? 'checked' : ''}>
    <label for="key-auto-rotate">${t('dash.create.auto_rotate')}</label>
    <p class="hint" id="key-auto-rotate-hint">${t('dash.create.auto_rotate_hint')}</p>
  </div>
  <div><button type="submit">${t('dash.create.submit')}</button></div>
</form>
</section>`;
}

const FIELD_ANCHORS: Record<string, string> = { name: 'key-name', scopes: 'key-scopes', environment: 'key-environment', ttl_days: 'key-ttl', ip_allowlist: 'key-ip' };
function fieldAnchor(field: string): string {
  return FIELD_ANCHORS[field] ?? 'key-name';
}

function createdKey(page: DashPage, view: NonNullable<ApiAccessView['created']>, project: string): SafeHtml {
  const { t } = page;
  return html`<section class="panel created" aria-labelledby="created-title">
<h2 id="created-title">${view.rotated ? t('dash.created.rotated_title') : t('dash.created.title')}</h2>
<p class="warning" id="created-warning"><strong>${t('dash.created.warning')}</strong></p>
${view.rotated ? html`<p>${view.rotated.grace_until && Date.parse(view.rotated.grace_until) > Date.now() ? t('dash.created.grace', { until: new Intl.DateTimeFormat(page.lang === 'ru' ? 'ru-RU' : 'en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' }).format(new Date(view.rotated.grace_until)) + ' UTC' }) : t('dash.created.grace_none')}</p>` : ''}
<label for="new-key">${t('dash.created.label')} — ${view.name}</label>
<div class="copy-row">
  <input id="new-key" type="text" readonly value="${view.key}" aria-describedby="created-warning" spellcheck="false" autocomplete="off" class="mono">
  <button type="button" class="secondary" data-copy="new-key" data-copied="${t('dash.created.copied')}" data-copy-failed="${t('dash.created.copy_failed')}" hidden>${t('dash.created.copy')}</button>
</div>
<p class="status" role="status" data-copy-status="new-key"></p>
<p><a href="${url(API_ACCESS_PATH, { project })}">${t('dash.created.done')}</a></p>
</section>`;
}

export function apiAccessPage(page: DashPage, chrome: Chrome, view: ApiAccessView): string {
  const { t } = page;
  return layout(page, chrome, t('dash.keys.title'), html`
<h1>${t('dash.keys.title')}</h1>
<p class="lead">${t('dash.keys.intro', { project: view.project.name })}</p>
${view.notice ? html`<div class="notice" role="status">${view.notice}</div>` : ''}
${view.created ? createdKey(page, view.created, view.project.id) : ''}
${keysTable(page, chrome, view)}
${createForm(page, chrome, view)}`);
}

export function revokePage(page: DashPage, chrome: Chrome, view: { project: { id: string; name: string }; key: KeyRow; error?: string | undefined }): string {
  const { t } = page;
  const title = t('dash.revoke.title', { name: view.key.name });
  return layout(page, chrome, title, html`
<h1>${title}</h1>
<section class="panel danger-zone">
<p>${t('dash.revoke.body', { prefix: view.key.prefix })}</p>
<dl class="facts">
  <dt>${t('dash.col.name')}</dt><dd>${view.key.name}</dd>
  <dt>${t('dash.col.prefix')}</dt><dd><code>${view.key.prefix}…</code></dd>
  <dt>${t('dash.col.scopes')}</dt><dd>${view.key.scopes.join(', ')}</dd>
  <dt>${t('dash.col.status')}</dt><dd>${statusBadge(page, view.key.status)}</dd>
</dl>
<form method="post" action="${url(REVOKE_PATH, { project: view.project.id })}" class="stack" novalidate>
  ${csrfField(chrome)}
  <input type="hidden" name="id" value="${view.key.id}">
  <div class="field check">
    <input type="checkbox" id="revoke-confirm" name="confirm" value="yes" ${view.error ? html`aria-invalid="true" aria-describedby="confirm-error"` : ''}>
    <label for="revoke-confirm">${t('dash.revoke.confirm')}</label>
    ${view.error ? html`<p class="field-error" id="confirm-error" role="alert">${view.error}</p>` : ''}
  </div>
  <div class="button-row">
    <button type="submit" class="danger">${t('dash.revoke.submit')}</button>
    <a class="button secondary" href="${url(API_ACCESS_PATH, { project: view.project.id })}">${t('dash.revoke.cancel')}</a>
  </div>
</form>
</section>`);
}

/* Security log --------------------------------------------------------------------------------------- */

export interface LogEventRow {
  id: string;
  timestamp: string;
  actor: { type: string; id: string | null };
  action: string;
  target: { type: string; id: string | null } | null;
  ip: string | null;
  outcome: 'success' | 'failure';
  /** Set when the target is a key that can still be revoked. */
  revocableKey?: string | undefined;
  /** People's emails for user ids (actor or target), for reading; the id stays in the title and exports. */
  actorEmail?: string | undefined;
  targetEmail?: string | undefined;
}

function party(kind: string, id: string | null, email: string | undefined): SafeHtml {
  if (email) return html`<span class="muted">${kind}</span> <span title="${id ?? ''}">${email}</span>`;
  return html`<span class="muted">${kind}</span> ${id ? html`<code>${id}</code>` : ''}`;
}

export interface LogFilters {
  action: string;
  actor: string;
  target: string;
  since: string;
  until: string;
}

export interface LogView {
  project: { id: string; name: string };
  filters: LogFilters;
  errors: Record<string, string>;
  actions: string[];
  events: LogEventRow[];
  next: string | null;
  paged: boolean;
}

export function securityLogPage(page: DashPage, chrome: Chrome, view: LogView): string {
  const { t } = page;
  const f = view.filters;
  const project = view.project.id;
  const filterParams = { project, action: f.action, actor: f.actor, target: f.target, since: f.since, until: f.until };
  const families = [...new Set(view.actions.map((a) => a.split('.')[0]!))];
  const input = (id: string, name: keyof LogFilters, label: string, type = 'text') => html`<div class="field">
    <label for="${id}">${label}</label>
    <input id="${id}" name="${name}" type="${type}" value="${f[name]}" ${type === 'date' ? html`placeholder="YYYY-MM-DD"` : ''} ${describedBy(view.errors, name)}>
    ${fieldError(view.errors, name)}
  </div>`;
  return layout(page, chrome, t('dash.log.title'), html`
<h1>${t('dash.log.title')}</h1>
<p class="lead">${t('dash.log.intro', { project: view.project.name })}</p>
<section class="panel" aria-labelledby="filters-title">
<h2 id="filters-title">${t('dash.log.filters')}</h2>
<form method="get" action="${LOG_PATH}" class="filters">
  <input type="hidden" name="project" value="${project}">
  <div class="field">
    <label for="log-action">${t('dash.log.action')}</label>
    <select id="log-action" name="action">
      <option value="">${t('dash.log.action_any')}</option>
      ${families.map((fam) => html`<option value="${fam}" ${f.action === fam ? 'selected' : ''}>${t('dash.log.action_family', { family: `${fam}.*` })}</option>`)}
      ${view.actions.map((a) => html`<option value="${a}" ${f.action === a ? 'selected' : ''}>${a}</option>`)}
    </select>
  </div>
  ${input('log-actor', 'actor', t('dash.log.actor'))}
  ${input('log-target', 'target', t('dash.log.target'))}
  ${input('log-since', 'since', t('dash.log.since'), 'date')}
  ${input('log-until', 'until', t('dash.log.until'), 'date')}
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
${view.events.length ? html`<div class="table-wrap" role="region" aria-labelledby="log-caption" tabindex="0">
<table class="data log">
<caption id="log-caption">${t('dash.log.caption', { project: view.project.name })}</caption>
<thead><tr>
  <th scope="col">${t('dash.col.time')}</th>
  <th scope="col">${t('dash.col.action')}</th>
  <th scope="col">${t('dash.col.actor')}</th>
  <th scope="col">${t('dash.col.target')}</th>
  <th scope="col">${t('dash.col.ip')}</th>
  <th scope="col">${t('dash.col.outcome')}</th>
  <th scope="col">${t('dash.col.actions')}</th>
</tr></thead>
<tbody>
${view.events.map((e) => html`<tr data-event-id="${e.id}">
  <td>${formatTime(page, e.timestamp)}</td>
  <th scope="row"><code>${e.action}</code></th>
  <td>${party(e.actor.type, e.actor.id, e.actorEmail)}</td>
  <td>${e.target ? party(e.target.type, e.target.id, e.targetEmail) : '—'}</td>
  <td>${e.ip ?? '—'}</td>
  <td><span class="badge outcome-${e.outcome}">${t(`dash.outcome.${e.outcome}`)}</span></td>
  <td>${e.revocableKey ? html`<form method="get" action="${REVOKE_PATH}" class="row-form">
      <input type="hidden" name="project" value="${project}"><input type="hidden" name="key" value="${e.revocableKey}">
      <button type="submit" class="danger small">${t('dash.log.revoke')}<span class="visually-hidden"> ${e.revocableKey}</span></button>
    </form>` : ''}</td>
</tr>`)}
</tbody>
</table>
</div>` : html`<p class="empty">${t('dash.log.empty')}</p>`}
<nav class="pager" aria-label="${t('dash.log.title')}">
  ${view.paged ? html`<a href="${url(LOG_PATH, filterParams)}">${t('dash.log.first')}</a>` : ''}
  ${view.next ? html`<a href="${url(LOG_PATH, { ...filterParams, after: view.next })}" rel="next">${t('dash.log.next')}</a>` : ''}
</nav>`);
}
