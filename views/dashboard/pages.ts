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
  section?: 'api-access' | 'log' | 'members' | 'webhooks' | 'sso' | 'applications' | undefined;
  /** Administers an organisation (a root project): may manage single sign-on. */
  orgAdmin?: boolean | undefined;
}

export const API_ACCESS_PATH = '/dashboard/settings/security/api-access';
export const LOG_PATH = '/dashboard/settings/security/log';
export const REVOKE_PATH = `${API_ACCESS_PATH}/revoke`;
export const ROTATE_PATH = `${API_ACCESS_PATH}/rotate`;
export const USAGE_PATH = `${API_ACCESS_PATH}/usage`;
export const MEMBERS_PATH = '/dashboard/settings/members';
export const WEBHOOKS_PATH = '/dashboard/settings/webhooks';
export const SSO_PATH = '/dashboard/settings/security/sso';
export const SSO_NEW_PATH = `${SSO_PATH}/new`;
export const SSO_EDIT_PATH = `${SSO_PATH}/edit`;
export const SSO_TEST_PATH = `${SSO_PATH}/test`;
export const SSO_TRY_PATH = `${SSO_PATH}/try`;
export const SSO_DELETE_PATH = `${SSO_PATH}/delete`;
export const SSO_SCIM_ROTATE_PATH = `${SSO_PATH}/scim/rotate`;
export const SSO_RULE_ADD_PATH = `${SSO_PATH}/rules/add`;
export const SSO_RULE_DELETE_PATH = `${SSO_PATH}/rules/delete`;
export const WEBHOOK_DELETE_PATH = `${WEBHOOKS_PATH}/delete`;
export const DELIVERIES_PATH = `${WEBHOOKS_PATH}/deliveries`;
export const REDELIVER_PATH = `${WEBHOOKS_PATH}/redeliver`;
export const MEMBER_ROLE_PATH = `${MEMBERS_PATH}/role`;
export const MEMBER_REMOVE_PATH = `${MEMBERS_PATH}/remove`;
export const INVITE_PATH = `${MEMBERS_PATH}/invite`;
export const INVITATION_REVOKE_PATH = `${MEMBERS_PATH}/invitations/revoke`;
export const MAPPING_ADD_PATH = `${MEMBERS_PATH}/mappings/add`;
export const MAPPING_DELETE_PATH = `${MEMBERS_PATH}/mappings/delete`;

/** Settings → Integrations → Applications (views/dashboard/applications.ts). */
const APPLICATIONS_NAV_PATH = '/dashboard/settings/integrations/applications';

const SECTION_PATHS: Record<NonNullable<Chrome['section']>, string> = { 'api-access': API_ACCESS_PATH, log: LOG_PATH, members: MEMBERS_PATH, webhooks: WEBHOOKS_PATH, sso: SSO_PATH, applications: APPLICATIONS_NAV_PATH };

const LANGUAGE_NAMES: Record<Lang, string> = { en: 'English', ru: 'Русский' };

export function url(path: string, params: Record<string, string | undefined | null>): string {
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

export function csrfField(chrome: Chrome): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${chrome.csrf ?? ''}">`;
}

export function layout(page: DashPage, chrome: Chrome, title: string, body: SafeHtml): string {
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
  <p class="project-switch"><a href="${url(SECTION_PATHS[chrome.section], {})}">${t('dash.project.switch')}</a></p>` : ''}
  <ul>
    ${navItem('api-access', url(API_ACCESS_PATH, { project: project?.id }), t('dash.nav.api_access'))}
    ${navItem('log', url(LOG_PATH, { project: project?.id }), t('dash.nav.security_log'))}
    ${navItem('members', url(MEMBERS_PATH, { project: project?.id }), t('dash.nav.members'))}
    ${navItem('webhooks', url(WEBHOOKS_PATH, { project: project?.id }), t('dash.nav.webhooks'))}
    ${navItem('applications', url(APPLICATIONS_NAV_PATH, { project: project?.id }), t('dash.nav.applications'))}
    ${chrome.orgAdmin ? navItem('sso', SSO_PATH, t('dash.nav.sso')) : ''}
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

/** A word as the shell reads it: bare when plainly safe, otherwise in single quotes (a `'` written as `'\''`). */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Where the operator puts the organisation's name; quoted, so a pasted command fails with a clear message. */
export const ORGANISATION_PLACEHOLDER = '<organisation>';

/** The operator CLI commands that make `email` the first owner of an organisation (README: "First owner"). */
export function firstOwnerCommands(email: string): { bootstrap: string; owner: string } {
  const organisation = shellWord(ORGANISATION_PLACEHOLDER);
  return {
    bootstrap: `npm run --silent cli -- bootstrap --project ${organisation}`,
    owner: `npm run --silent cli -- users add --email ${shellWord(email)} --project ${organisation} --role owner`,
  };
}

/**
 * A signed-in person who administers nothing: ask an owner, or, on a server nobody owns yet, the
 * operator's commands that make them the first owner.
 */
export function noAccessPage(page: DashPage, chrome: Chrome, view: { email: string }): string {
  const { t } = page;
  const commands = firstOwnerCommands(view.email);
  // Wrapped, never scrolled sideways: a scrolling region would need to be focusable to be read.
  const command = (id: string, text: string) => html`<pre class="command" id="${id}"><code>${text}</code></pre>`;
  return layout(page, chrome, t('dash.no_access.title'), html`
<h1>${t('dash.no_access.title')}</h1>
<p>${t('dash.no_access.body', { email: view.email })}</p>
<ul class="links"><li><a href="/dashboard/login?prompt=login">${t('dash.no_access.other')}</a></li></ul>
<section class="panel" aria-labelledby="first-owner-title">
<h2 id="first-owner-title">${t('dash.no_access.operator_title')}</h2>
<p>${t('dash.no_access.operator_intro', { email: view.email })}</p>
<ol class="steps">
  <li><p>${t('dash.no_access.operator_bootstrap')}</p>${command('bootstrap-command', commands.bootstrap)}</li>
  <li><p>${t('dash.no_access.operator_owner', { email: view.email })}</p>${command('owner-command', commands.owner)}</li>
</ol>
<p class="hint">${t('dash.no_access.operator_placeholder')}</p>
</section>`);
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
  /** Not an error, but not good news: a one-time secret asked for again (post/redirect/get flash). */
  caution?: string | undefined;
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
    <p class="row-link"><a href="${url(USAGE_PATH, { project, key: k.id })}">${t('dash.usage.link')}<span class="visually-hidden"> ${k.name}</span></a></p>
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

export function fieldError(errors: Record<string, string>, field: string): SafeHtml {
  const message = errors[field];
  return message ? html`<p class="field-error" id="${field}-error"><span aria-hidden="true">⚠ </span>${message}</p>` : html``;
}

export function describedBy(errors: Record<string, string>, field: string, hint?: string): SafeHtml {
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
${view.caution ? html`<div class="warning caution" role="status">${view.caution}</div>` : ''}
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

/* Usage chart --------------------------------------------------------------------------------------- */

export const USAGE_OUTCOMES = ['valid', 'not_found', 'expired', 'revoked', 'rotated', 'ip_not_allowed', 'insufficient_scope', 'wrong_project'] as const;
export type UsageOutcome = (typeof USAGE_OUTCOMES)[number];

export interface UsageView {
  project: { id: string; name: string };
  key: KeyRow;
  days: Array<{ date: string; counts: Record<UsageOutcome, number>; total: number }>;
  last_used_at: string | null;
}

/** "Nice" axis maximum: 1, 2, 5 × 10ⁿ at or above the largest day. */
export function axisMax(value: number): number {
  if (value <= 0) return 1;
  const base = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 5, 10]) if (m * base >= value) return m * base;
  return 10 * base;
}

/** A server-side stacked bar chart (one bar per day), no script; the table below holds the same numbers. */
export function usageChart(page: DashPage, view: UsageView): SafeHtml {
  const { t } = page;
  const W = 720, H = 260, left = 44, right = 8, top = 12, bottom = 36;
  const plotW = W - left - right, plotH = H - top - bottom;
  const max = axisMax(Math.max(0, ...view.days.map((d) => d.total)));
  const slot = plotW / Math.max(1, view.days.length);
  const barW = Math.max(2, slot * 0.7);
  const y = (v: number) => top + plotH - (v / max) * plotH;
  const total = view.days.reduce((a, d) => a + d.total, 0);
  const label = t('dash.usage.chart_label', { name: view.key.name, days: view.days.length, total });
  const ticks = [0, max / 2, max];
  const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));
  return html`<figure class="chart">
<svg role="img" viewBox="0 0 ${W} ${H}" width="100%" preserveAspectRatio="xMidYMid meet" class="usage-chart" aria-label="${label}">
<title>${label}</title>
${ticks.map((v) => html`<g class="tick"><line x1="${left}" x2="${W - right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}"></line><text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${fmt(v)}</text></g>`)}
${view.days.map((d, i) => {
  const x = left + i * slot + (slot - barW) / 2;
  let acc = 0;
  return html`<g class="bar" data-date="${d.date}">${USAGE_OUTCOMES.filter((o) => d.counts[o] > 0).map((o) => {
    const y0 = y(acc), y1 = y(acc + d.counts[o]);
    acc += d.counts[o];
    return html`<rect class="o-${o}" x="${x.toFixed(1)}" y="${y1.toFixed(1)}" width="${barW.toFixed(1)}" height="${Math.max(0.5, y0 - y1).toFixed(1)}"><title>${d.date}: ${t(`dash.verify.${o}`)} ${d.counts[o]}</title></rect>`;
  })}${i % 5 === 0 || i === view.days.length - 1 ? html`<text class="day" x="${(x + barW / 2).toFixed(1)}" y="${H - bottom + 16}" text-anchor="middle">${d.date.slice(5)}</text>` : ''}</g>`;
})}
</svg>
<figcaption>
<ul class="legend" aria-label="${t('dash.usage.legend')}">${USAGE_OUTCOMES.map((o) => html`<li><span class="swatch o-${o}" aria-hidden="true"></span>${t(`dash.verify.${o}`)}</li>`)}</ul>
</figcaption>
</figure>`;
}

export function usagePage(page: DashPage, chrome: Chrome, view: UsageView): string {
  const { t } = page;
  const title = t('dash.usage.title', { name: view.key.name });
  const total = view.days.reduce((a, d) => a + d.total, 0);
  const shown = USAGE_OUTCOMES.filter((o) => view.days.some((d) => d.counts[o] > 0));
  return layout(page, chrome, title, html`
<h1>${title}</h1>
<p class="lead">${t('dash.usage.intro', { days: view.days.length })}</p>
<p>${t('dash.usage.last_used')} ${formatTime(page, view.last_used_at)} · <code>${view.key.prefix}…</code> ${statusBadge(page, view.key.status)}</p>
${total === 0 ? html`<p class="empty">${t('dash.usage.none', { days: view.days.length })}</p>` : html`<section class="panel">
${usageChart(page, view)}
</section>
<div class="table-wrap" role="region" aria-labelledby="usage-caption" tabindex="0">
<table class="data usage">
<caption id="usage-caption">${t('dash.usage.caption', { name: view.key.name })}</caption>
<thead><tr><th scope="col">${t('dash.usage.date')}</th>${shown.map((o) => html`<th scope="col">${t(`dash.verify.${o}`)}</th>`)}<th scope="col">${t('dash.usage.total')}</th></tr></thead>
<tbody>
${view.days.filter((d) => d.total > 0).map((d) => html`<tr><th scope="row"><time datetime="${d.date}">${d.date}</time></th>${shown.map((o) => html`<td>${d.counts[o]}</td>`)}<td>${d.total}</td></tr>`)}
</tbody>
</table>
</div>`}
<p><a href="${url(API_ACCESS_PATH, { project: view.project.id })}">${t('dash.usage.back')}</a></p>`);
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

/* Members and roles ------------------------------------------------------------------------------------ */

export const DASH_ROLES = ['owner', 'admin', 'member', 'viewer'] as const;
export type DashRole = (typeof DASH_ROLES)[number];

export interface MemberRow {
  user_id: string;
  email: string;
  name: string | null;
  role: DashRole;
  causes: Array<{ role: DashRole; cause: 'manual' | 'ldap_sync' | 'idp_groups' | 'provisioning' | 'scim'; source: string | null }>;
  manual: DashRole | null;
}

export interface MappingRow {
  id: string;
  source: string;
  group: string;
  role: DashRole;
  origin: 'config' | 'api';
}

export interface MappingForm {
  source: string;
  group: string;
  role: string;
}

export interface InvitationRow {
  id: string;
  email: string;
  role: DashRole;
  /** The inviter for people: an email, or the API key. */
  invited_by: string;
  created_at: string;
  expires_at: string;
}

export interface MembersView {
  project: { id: string; name: string };
  members: MemberRow[];
  /** Pending invitations of the project. */
  invitations: InvitationRow[];
  /** An invitation made just now: its link, shown this once. */
  created?: { url: string; email: string; role: string; expires_at: string } | undefined;
  /** Whether the person may grant, change or remove the owner role here. */
  canOwner: boolean;
  mappings: MappingRow[];
  sources: string[];
  invite: { email: string; role: string };
  mappingForm: MappingForm;
  errors: Record<string, string>;
  notice?: string | undefined;
  /** Not an error, but not good news: a one-time secret asked for again (post/redirect/get flash). */
  caution?: string | undefined;
}

export function roleName(page: DashPage, role: string | null): string {
  return role ? page.t(`dash.role.${role}` as DashKey) : page.t('dash.mappings.none');
}

export function roleOptions(page: DashPage, roles: readonly string[], selected: string | null): SafeHtml {
  return html`${roles.map((r) => html`<option value="${r}" ${r === selected ? 'selected' : ''}>${roleName(page, r)}</option>`)}`;
}

function causeText(page: DashPage, c: MemberRow['causes'][number]): string {
  return page.t(`dash.cause.${c.cause}`, { source: c.source ?? '' });
}

function createdInvitation(page: DashPage, view: NonNullable<MembersView['created']>, project: string): SafeHtml {
  const { t } = page;
  const date = `${new Intl.DateTimeFormat(page.lang === 'ru' ? 'ru-RU' : 'en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' }).format(new Date(view.expires_at))} UTC`;
  return html`<section class="panel created" aria-labelledby="invitation-title">
<h2 id="invitation-title">${t('dash.invite.link_title', { email: view.email })}</h2>
<p class="warning" id="invitation-warning"><strong>${t('dash.invite.link_warning', { email: view.email, date, role: roleName(page, view.role) })}</strong></p>
<label for="invitation-link">${t('dash.invite.link_label')}</label>
<div class="copy-row">
  <input id="invitation-link" type="text" readonly value="${view.url}" aria-describedby="invitation-warning" spellcheck="false" autocomplete="off" class="mono">
  <button type="button" class="secondary" data-copy="invitation-link" data-copied="${t('dash.created.copied')}" data-copy-failed="${t('dash.invite.copy_failed')}" hidden>${t('dash.created.copy')}</button>
</div>
<p class="status" role="status" data-copy-status="invitation-link"></p>
<p><a href="${url(MEMBERS_PATH, { project })}">${t('dash.invite.link_done')}</a></p>
</section>`;
}

function pendingInvitations(page: DashPage, chrome: Chrome, view: MembersView): SafeHtml {
  const { t } = page;
  const project = view.project.id;
  return html`<h3 id="invitations-title">${t('dash.invite.pending_title')}</h3>
${view.invitations.length ? html`<div class="table-wrap" role="region" aria-labelledby="invitations-caption" tabindex="0">
<table class="data invitations">
<caption id="invitations-caption">${t('dash.invite.pending_caption', { project: view.project.name })}</caption>
<thead><tr>
  <th scope="col">${t('dash.invite.email')}</th>
  <th scope="col">${t('dash.members.role')}</th>
  <th scope="col">${t('dash.invite.invited_by')}</th>
  <th scope="col">${t('dash.invite.expires')}</th>
  <th scope="col">${t('dash.col.actions')}</th>
</tr></thead>
<tbody>
${view.invitations.map((i) => html`<tr data-invitation-id="${i.id}">
  <th scope="row">${i.email}</th>
  <td>${roleName(page, i.role)}</td>
  <td>${i.invited_by}</td>
  <td>${formatTime(page, i.expires_at)}</td>
  <td class="actions-cell">${i.role === 'owner' && !view.canOwner ? html`<p class="muted">${t('dash.invite.owner_only')}</p>` : html`<form method="post" action="${url(INVITATION_REVOKE_PATH, { project })}" class="row-form">
      ${csrfField(chrome)}<input type="hidden" name="id" value="${i.id}">
      <button type="submit" class="danger small">${t('dash.invite.revoke')}<span class="visually-hidden"> ${i.email}</span></button>
    </form>`}</td>
</tr>`)}
</tbody>
</table>
</div>` : html`<p class="empty">${t('dash.invite.pending_empty')}</p>`}`;
}

export function membersPage(page: DashPage, chrome: Chrome, view: MembersView): string {
  const { t } = page;
  const project = view.project.id;
  const offered = view.canOwner ? DASH_ROLES : DASH_ROLES.filter((r) => r !== 'owner');
  const errors = view.errors;
  return layout(page, chrome, t('dash.members.title'), html`
<h1>${t('dash.members.title')}</h1>
<p class="lead">${t('dash.members.intro', { project: view.project.name })}</p>
${view.notice ? html`<div class="notice" role="status">${view.notice}</div>` : ''}
${view.caution ? html`<div class="warning caution" role="status">${view.caution}</div>` : ''}
${errors.member ? html`<div class="alert" role="alert">${errors.member}</div>` : ''}
${view.created ? createdInvitation(page, view.created, project) : ''}
${view.members.length ? html`<div class="table-wrap" role="region" aria-labelledby="members-caption" tabindex="0">
<table class="data members">
<caption id="members-caption">${t('dash.members.caption', { project: view.project.name })}</caption>
<thead><tr>
  <th scope="col">${t('dash.members.person')}</th>
  <th scope="col">${t('dash.members.role')}</th>
  <th scope="col">${t('dash.members.causes')}</th>
  <th scope="col">${t('dash.members.manual_role')}</th>
</tr></thead>
<tbody>
${view.members.map((m) => {
  const locked = !view.canOwner && m.manual === 'owner';
  return html`<tr data-user-id="${m.user_id}">
  <th scope="row">${m.email}${m.name ? html`<br><span class="muted">${m.name}</span>` : ''}</th>
  <td><span class="badge role-${m.role}">${roleName(page, m.role)}</span></td>
  <td><ul class="causes">${m.causes.map((c) => html`<li>${causeText(page, c)}: ${roleName(page, c.role)}</li>`)}</ul></td>
  <td class="actions-cell">${locked ? html`<p class="muted">${t('dash.members.owner_only')}</p>` : html`<form method="post" action="${url(MEMBER_ROLE_PATH, { project })}" class="row-form">
      ${csrfField(chrome)}<input type="hidden" name="user_id" value="${m.user_id}">
      <label for="role-${m.user_id}" class="visually-hidden">${t('dash.members.role_for', { email: m.email })}</label>
      <select id="role-${m.user_id}" name="role">${m.manual ? '' : html`<option value="" selected>—</option>`}${roleOptions(page, offered, m.manual)}</select>
      <button type="submit" class="secondary small">${t('dash.members.save')}<span class="visually-hidden"> ${m.email}</span></button>
    </form>
    ${m.manual ? html`<form method="post" action="${url(MEMBER_REMOVE_PATH, { project })}" class="row-form">
      ${csrfField(chrome)}<input type="hidden" name="user_id" value="${m.user_id}">
      <button type="submit" class="danger small">${t('dash.members.remove')}<span class="visually-hidden"> ${m.email}</span></button>
    </form>` : ''}`}</td>
</tr>`;
})}
</tbody>
</table>
</div>` : html`<p class="empty">${t('dash.members.empty')}</p>`}

<section class="panel" aria-labelledby="invite-title">
<h2 id="invite-title">${t('dash.invite.title')}</h2>
<p class="hint">${t('dash.invite.intro')}</p>
<form method="post" action="${url(INVITE_PATH, { project })}" class="stack" novalidate>
  ${csrfField(chrome)}
  <div class="field-row">
    <div class="field">
      <label for="invite-email">${t('dash.invite.email')}</label>
      <input id="invite-email" name="email" type="email" autocomplete="off" value="${view.invite.email}" ${describedBy(errors, 'email')}>
      ${fieldError(errors, 'email')}
    </div>
    <div class="field">
      <label for="invite-role">${t('dash.invite.role')}</label>
      <select id="invite-role" name="role" ${describedBy(errors, 'invite_role')}>${roleOptions(page, offered, view.invite.role || 'member')}</select>
      ${fieldError(errors, 'invite_role')}
    </div>
  </div>
  <div><button type="submit">${t('dash.invite.submit')}</button></div>
</form>
${pendingInvitations(page, chrome, view)}
</section>

<section class="panel" aria-labelledby="mappings-title">
<h2 id="mappings-title">${t('dash.mappings.title')}</h2>
<p class="hint">${t('dash.mappings.intro')}</p>
${view.mappings.length ? html`<div class="table-wrap" role="region" aria-labelledby="mappings-caption" tabindex="0">
<table class="data mappings">
<caption id="mappings-caption">${t('dash.mappings.caption', { project: view.project.name })}</caption>
<thead><tr>
  <th scope="col">${t('dash.mappings.group')}</th>
  <th scope="col">${t('dash.mappings.source')}</th>
  <th scope="col">${t('dash.members.role')}</th>
  <th scope="col">${t('dash.mappings.origin')}</th>
  <th scope="col">${t('dash.col.actions')}</th>
</tr></thead>
<tbody>
${view.mappings.map((m) => html`<tr data-mapping-id="${m.id}">
  <th scope="row"><code>${m.group}</code></th>
  <td><code>${m.source}</code></td>
  <td>${roleName(page, m.role)}</td>
  <td>${t(`dash.mappings.origin.${m.origin}`)}</td>
  <td>${m.origin === 'api' ? html`<form method="get" action="${MAPPING_DELETE_PATH}" class="row-form">
      <input type="hidden" name="project" value="${project}"><input type="hidden" name="id" value="${m.id}">
      <button type="submit" class="danger small">${t('dash.mappings.delete')}<span class="visually-hidden"> ${m.group}</span></button>
    </form>` : ''}</td>
</tr>`)}
</tbody>
</table>
</div>` : html`<p class="empty">${t('dash.mappings.empty')}</p>`}
<h3 id="mapping-add-title">${t('dash.mappings.add')}</h3>
${view.sources.length ? html`<form method="post" action="${url(MAPPING_ADD_PATH, { project })}" class="stack" novalidate aria-labelledby="mapping-add-title">
  ${csrfField(chrome)}
  <div class="field-row">
    <div class="field">
      <label for="mapping-source">${t('dash.mappings.source')}</label>
      <select id="mapping-source" name="source" ${describedBy(errors, 'source')}>${view.sources.map((src) => html`<option value="${src}" ${view.mappingForm.source === src ? 'selected' : ''}>${src}</option>`)}</select>
      ${fieldError(errors, 'source')}
    </div>
    <div class="field">
      <label for="mapping-group">${t('dash.mappings.group')}</label>
      <input id="mapping-group" name="group" type="text" maxlength="1000" value="${view.mappingForm.group}" ${describedBy(errors, 'group', 'mapping-group-hint')}>
      <p class="hint" id="mapping-group-hint">${t('dash.mappings.group_hint')}</p>
      ${fieldError(errors, 'group')}
    </div>
    <div class="field">
      <label for="mapping-role">${t('dash.members.role')}</label>
      <select id="mapping-role" name="role" ${describedBy(errors, 'role')}>${roleOptions(page, offered, view.mappingForm.role || 'viewer')}</select>
      ${fieldError(errors, 'role')}
    </div>
  </div>
  <div><button type="submit" class="secondary">${t('dash.mappings.preview')}</button></div>
</form>` : html`<p class="empty">${t('dash.mappings.no_sources')}</p>`}
</section>`);
}

export interface PreviewChange {
  email: string | null;
  user_id: string;
  project: string;
  from: string | null;
  to: string | null;
}

/** Confirmation of adding (`form` set) or deleting (`mapping` set) a role mapping, with the preview. */
export function mappingConfirmPage(page: DashPage, chrome: Chrome, view: { project: { id: string; name: string }; mode: 'add' | 'delete'; mapping: { id?: string; source: string; group: string; role: string }; changes: PreviewChange[]; error?: string | undefined }): string {
  const { t } = page;
  const project = view.project.id;
  const title = t(view.mode === 'add' ? 'dash.mappings.confirm_add_title' : 'dash.mappings.confirm_delete_title');
  const m = view.mapping;
  return layout(page, chrome, title, html`
<h1>${title}</h1>
${view.error ? html`<div class="alert" role="alert">${view.error}</div>` : ''}
<section class="panel ${view.mode === 'delete' ? 'danger-zone' : ''}">
<dl class="facts">
  <dt>${t('dash.mappings.source')}</dt><dd><code>${m.source}</code></dd>
  <dt>${t('dash.mappings.group')}</dt><dd><code>${m.group}</code></dd>
  <dt>${t('dash.members.role')}</dt><dd>${roleName(page, m.role)}</dd>
</dl>
<h2>${t('dash.mappings.changes')}</h2>
${view.changes.length ? html`<div class="table-wrap" role="region" aria-labelledby="preview-caption" tabindex="0">
<table class="data preview">
<caption id="preview-caption" class="visually-hidden">${t('dash.mappings.changes')}</caption>
<thead><tr><th scope="col">${t('dash.members.person')}</th><th scope="col">${t('dash.project')}</th><th scope="col">${t('dash.mappings.from')}</th><th scope="col">${t('dash.mappings.to')}</th></tr></thead>
<tbody>
${view.changes.map((c) => html`<tr><th scope="row">${c.email ?? c.user_id}</th><td>${c.project}</td><td>${roleName(page, c.from)}</td><td><strong>${roleName(page, c.to)}</strong></td></tr>`)}
</tbody>
</table>
</div>` : html`<p class="empty">${t('dash.mappings.no_changes')}</p>`}
<form method="post" action="${url(view.mode === 'add' ? MAPPING_ADD_PATH : MAPPING_DELETE_PATH, { project })}" class="stack confirm-form">
  ${csrfField(chrome)}
  <input type="hidden" name="confirm" value="yes">
  ${view.mode === 'add' ? html`<input type="hidden" name="source" value="${m.source}"><input type="hidden" name="group" value="${m.group}"><input type="hidden" name="role" value="${m.role}">` : html`<input type="hidden" name="id" value="${m.id ?? ''}">`}
  <div class="button-row">
    <button type="submit" class="${view.mode === 'delete' ? 'danger' : ''}">${t(view.mode === 'add' ? 'dash.mappings.confirm' : 'dash.mappings.confirm_delete')}</button>
    <a class="button secondary" href="${url(MEMBERS_PATH, { project })}">${t('dash.mappings.cancel')}</a>
  </div>
</form>
</section>`);
}

/* Webhooks --------------------------------------------------------------------------------------------- */

export interface WebhookRow {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  created_at: string;
}

export interface WebhookForm {
  url: string;
  events: string[];
  description: string;
}

export interface WebhooksView {
  project: { id: string; name: string };
  webhooks: WebhookRow[];
  eventTypes: readonly string[];
  form: WebhookForm;
  errors: Record<string, string>;
  created?: { url: string; secret: string } | undefined;
  notice?: string | undefined;
  /** Not an error, but not good news: a one-time secret asked for again (post/redirect/get flash). */
  caution?: string | undefined;
}

const WEBHOOK_ANCHORS: Record<string, string> = { url: 'wh-url', events: 'wh-events', description: 'wh-description' };

export function webhooksPage(page: DashPage, chrome: Chrome, view: WebhooksView): string {
  const { t } = page;
  const project = view.project.id;
  const { form, errors } = view;
  const errorCount = Object.keys(errors).length;
  return layout(page, chrome, t('dash.wh.title'), html`
<h1>${t('dash.wh.title')}</h1>
<p class="lead">${t('dash.wh.intro', { project: view.project.name })}</p>
${view.notice ? html`<div class="notice" role="status">${view.notice}</div>` : ''}
${view.caution ? html`<div class="warning caution" role="status">${view.caution}</div>` : ''}
${view.created ? html`<section class="panel created" aria-labelledby="created-title">
<h2 id="created-title">${t('dash.wh.secret_title')}</h2>
<p class="warning" id="created-warning"><strong>${t('dash.wh.secret_warning')}</strong></p>
<label for="new-secret">${t('dash.wh.secret_label')} — ${view.created.url}</label>
<div class="copy-row">
  <input id="new-secret" type="text" readonly value="${view.created.secret}" aria-describedby="created-warning" spellcheck="false" autocomplete="off" class="mono">
  <button type="button" class="secondary" data-copy="new-secret" data-copied="${t('dash.created.copied')}" data-copy-failed="${t('dash.created.copy_failed')}" hidden>${t('dash.created.copy')}</button>
</div>
<p class="status" role="status" data-copy-status="new-secret"></p>
<p><a href="${url(WEBHOOKS_PATH, { project })}">${t('dash.wh.done')}</a></p>
</section>` : ''}
${view.webhooks.length ? html`<div class="table-wrap" role="region" aria-labelledby="wh-caption" tabindex="0">
<table class="data webhooks">
<caption id="wh-caption">${t('dash.wh.caption', { project: view.project.name })}</caption>
<thead><tr>
  <th scope="col">${t('dash.wh.url')}</th>
  <th scope="col">${t('dash.wh.events')}</th>
  <th scope="col">${t('dash.wh.created')}</th>
  <th scope="col">${t('dash.col.actions')}</th>
</tr></thead>
<tbody>
${view.webhooks.map((w) => html`<tr data-webhook-id="${w.id}">
  <th scope="row"><code class="wrap">${w.url}</code>${w.description ? html`<br><span class="muted">${w.description}</span>` : ''}</th>
  <td><ul class="scopes">${w.events.map((e) => html`<li><code>${e}</code></li>`)}</ul></td>
  <td>${formatTime(page, w.created_at)}</td>
  <td class="actions-cell">
    <p class="row-link"><a href="${url(DELIVERIES_PATH, { project, id: w.id })}">${t('dash.wh.deliveries')}<span class="visually-hidden"> ${w.url}</span></a></p>
    <form method="get" action="${WEBHOOK_DELETE_PATH}" class="row-form">
      <input type="hidden" name="project" value="${project}"><input type="hidden" name="id" value="${w.id}">
      <button type="submit" class="danger small">${t('dash.wh.delete')}<span class="visually-hidden"> ${w.url}</span></button>
    </form>
  </td>
</tr>`)}
</tbody>
</table>
</div>` : html`<p class="empty">${t('dash.wh.empty')}</p>`}
<section class="panel" aria-labelledby="wh-create-title">
<h2 id="wh-create-title">${t('dash.wh.create')}</h2>
${errorCount ? html`<div class="alert" role="alert">${t('dash.wh.errors')}
  <ul>${Object.entries(errors).map(([field, message]) => html`<li><a href="#${WEBHOOK_ANCHORS[field] ?? 'wh-url'}">${message}</a></li>`)}</ul></div>` : ''}
<form method="post" action="${url(WEBHOOKS_PATH, { project })}" class="stack" novalidate>
  ${csrfField(chrome)}
  <div class="field">
    <label for="wh-url">${t('dash.wh.url')}</label>
    <p class="hint" id="wh-url-hint">${t('dash.wh.url_hint')}</p>
    <input id="wh-url" name="url" type="text" inputmode="url" maxlength="2000" spellcheck="false" value="${form.url}" ${describedBy(errors, 'url', 'wh-url-hint')}>
    ${fieldError(errors, 'url')}
  </div>
  <fieldset class="field" id="wh-events" ${errors.events ? html`aria-describedby="events-error"` : ''}>
    <legend>${t('dash.wh.events')}</legend>
    ${view.eventTypes.map((e) => html`<div class="check"><input type="checkbox" id="event-${e.replace('.', '-')}" name="events" value="${e}" ${form.events.includes(e) ? 'checked' : ''}><label for="event-${e.replace('.', '-')}">${e}</label></div>`)}
    ${fieldError(errors, 'events')}
  </fieldset>
  <div class="field">
    <label for="wh-description">${t('dash.wh.description')}</label>
    <input id="wh-description" name="description" type="text" maxlength="500" value="${form.description}" ${describedBy(errors, 'description')}>
    ${fieldError(errors, 'description')}
  </div>
  <div><button type="submit">${t('dash.wh.submit')}</button></div>
</form>
</section>`);
}

export function webhookDeletePage(page: DashPage, chrome: Chrome, view: { project: { id: string; name: string }; webhook: WebhookRow }): string {
  const { t } = page;
  const title = t('dash.wh.delete_title', { url: view.webhook.url });
  return layout(page, chrome, title, html`
<h1 class="wrap">${title}</h1>
<section class="panel danger-zone">
<p>${t('dash.wh.delete_body')}</p>
<dl class="facts">
  <dt>${t('dash.wh.url')}</dt><dd><code class="wrap">${view.webhook.url}</code></dd>
  <dt>${t('dash.wh.events')}</dt><dd>${view.webhook.events.join(', ')}</dd>
</dl>
<form method="post" action="${url(WEBHOOK_DELETE_PATH, { project: view.project.id })}" class="stack">
  ${csrfField(chrome)}
  <input type="hidden" name="id" value="${view.webhook.id}">
  <div class="button-row">
    <button type="submit" class="danger">${t('dash.wh.delete_submit')}</button>
    <a class="button secondary" href="${url(WEBHOOKS_PATH, { project: view.project.id })}">${t('dash.revoke.cancel')}</a>
  </div>
</form>
</section>`);
}

export interface DeliveryRow {
  id: string;
  event_type: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: Array<{ at: string; status_code: number | null; error: string | null; duration_ms: number }>;
  next_attempt_at: string | null;
  created_at: string;
}

export function deliveriesPage(page: DashPage, chrome: Chrome, view: { project: { id: string; name: string }; webhook: WebhookRow; deliveries: DeliveryRow[]; notice?: string | undefined; error?: string | undefined }): string {
  const { t } = page;
  const project = view.project.id;
  const title = t('dash.wh.del_title', { url: view.webhook.url });
  return layout(page, chrome, title, html`
<h1 class="wrap">${title}</h1>
<p class="lead">${t('dash.wh.del_intro')}</p>
${view.notice ? html`<div class="notice" role="status">${view.notice}</div>` : ''}
${view.error ? html`<div class="alert" role="alert">${view.error}</div>` : ''}
${view.deliveries.length ? html`<div class="table-wrap" role="region" aria-labelledby="del-caption" tabindex="0">
<table class="data deliveries">
<caption id="del-caption">${t('dash.wh.del_caption', { url: view.webhook.url })}</caption>
<thead><tr>
  <th scope="col">${t('dash.col.time')}</th>
  <th scope="col">${t('dash.wh.del_event')}</th>
  <th scope="col">${t('dash.wh.del_status')}</th>
  <th scope="col">${t('dash.wh.del_attempts')}</th>
  <th scope="col">${t('dash.col.actions')}</th>
</tr></thead>
<tbody>
${view.deliveries.map((d) => html`<tr data-delivery-id="${d.id}">
  <td>${formatTime(page, d.created_at)}</td>
  <th scope="row"><code>${d.event_type}</code><br><code class="muted">${d.id}</code></th>
  <td><span class="badge delivery-${d.status}">${t(`dash.wh.status.${d.status}`)}</span>${d.status === 'pending' && d.next_attempt_at ? html`<br><span class="muted">${t('dash.wh.del_next')}: ${formatTime(page, d.next_attempt_at)}</span>` : ''}</td>
  <td><ol class="attempts">${d.attempts.map((a) => html`<li>${formatTime(page, a.at)} — ${a.status_code !== null ? html`<strong>HTTP ${a.status_code}</strong>` : html`<strong>${t('dash.wh.del_no_response')}</strong>`}${a.error ? html` <span class="muted">(${a.error})</span>` : ''} · ${a.duration_ms} ms</li>`)}</ol></td>
  <td>${d.status !== 'pending' ? html`<form method="post" action="${url(REDELIVER_PATH, { project })}" class="row-form">
      ${csrfField(chrome)}<input type="hidden" name="id" value="${view.webhook.id}"><input type="hidden" name="delivery" value="${d.id}">
      <button type="submit" class="secondary small">${t('dash.wh.redeliver')}<span class="visually-hidden"> ${d.id}</span></button>
    </form>` : ''}</td>
</tr>`)}
</tbody>
</table>
</div>` : html`<p class="empty">${t('dash.wh.del_empty')}</p>`}
<p><a href="${url(WEBHOOKS_PATH, { project })}">${t('dash.wh.back')}</a></p>`);
}
