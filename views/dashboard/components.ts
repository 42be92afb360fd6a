/**
 * The parts every dashboard page is built from: the layout (chrome), form fields with their label, hint
 * and error wired by aria-describedby, the error summary, tables, CSRF-protected forms, the confirmation
 * page and the secret shown once. Every value goes through the escaping `html` template; the only script
 * is /static/dashboard.js (progressive enhancement: the Copy buttons).
 */
import { html, type SafeHtml } from '../html.ts';
import { LANGUAGES, type Lang } from '../i18n.ts';
import type { DashboardKey, DashboardTranslate } from './i18n.ts';
import { API_ACCESS_PATH, APPLICATIONS_PATH, DASHBOARD_PATH, LANG_PATH, LOG_PATH, MEMBERS_PATH, SECTION_PATHS, SIGN_OUT_PATH, SSO_PATH, WEBHOOKS_PATH, url, type Section } from './routes.ts';

export interface DashboardPage {
  lang: Lang;
  t: DashboardTranslate;
  /** The current path and query, for the language links to come back to. */
  here: string;
}

export interface Chrome {
  user?: { email: string; name: string | null } | undefined;
  csrf?: string | undefined;
  project?: { id: string; name: string } | undefined;
  section?: Section | undefined;
  /** Administers an organisation (a root project): may manage single sign-on. */
  orgAdmin?: boolean | undefined;
}

/** A project as pages name it. */
export interface ProjectRef {
  id: string;
  name: string;
}

/** Field name → message for the person (the form's errors). */
export type FieldErrors = Record<string, string>;

const LANGUAGE_NAMES: Record<Lang, string> = { en: 'English', ru: 'Русский' };

function locale(page: DashboardPage): string {
  return page.lang === 'ru' ? 'ru-RU' : 'en-GB';
}

/** A UTC time for people (the exact instant in `datetime` and the tooltip); `dateOnly` for long-range dates. */
export function formatTime(page: DashboardPage, iso: string | null | undefined, dateOnly = false): SafeHtml {
  if (!iso) return html`${page.t('dash.keys.never')}`;
  const text = new Intl.DateTimeFormat(locale(page), dateOnly ? { dateStyle: 'medium', timeZone: 'UTC' } : { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' }).format(new Date(iso));
  return html`<time datetime="${iso}" title="${iso}">${text}</time>`;
}

/** A UTC time as plain text, "12 Mar 2026, 10:00 UTC", for use inside a sentence. */
export function formatUtc(page: DashboardPage, iso: string): string {
  return `${new Intl.DateTimeFormat(locale(page), { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' }).format(new Date(iso))} UTC`;
}

/* Layout ----------------------------------------------------------------------------------------------- */

export function layout(page: DashboardPage, chrome: Chrome, title: string, body: SafeHtml): string {
  const { t } = page;
  const project = chrome.project;
  const navItem = (section: Section, href: string, label: string) =>
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
  <a class="brand" href="${DASHBOARD_PATH}"><span class="logo" aria-hidden="true">◆</span> ${t('dash.title')}</a>
  <div class="topbar-end">
    <nav class="lang" aria-label="${t('dash.lang')}">
      <ul>${LANGUAGES.map((lang) => html`<li><a href="${url(LANG_PATH, { set: lang, return_to: page.here })}" lang="${lang}" hreflang="${lang}" ${lang === page.lang ? html`aria-current="true"` : ''}>${LANGUAGE_NAMES[lang]}</a></li>`)}</ul>
    </nav>
    ${chrome.user ? html`<span class="who">${t('dash.signed_in_as', { email: chrome.user.email })}</span>
    <form method="post" action="${SIGN_OUT_PATH}" class="inline">${csrfField(chrome)}<button type="submit" class="secondary small">${t('dash.sign_out')}</button></form>` : ''}
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
    ${navItem('applications', url(APPLICATIONS_PATH, { project: project?.id }), t('dash.nav.applications'))}
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

/** The outcome of the last action: good news (`notice`), not-good news (`caution`), a refusal (`error`). */
export function messages(view: { notice?: string | undefined; caution?: string | undefined; error?: string | undefined }): SafeHtml {
  return html`${view.notice ? html`<div class="notice" role="status">${view.notice}</div>` : ''}
${view.caution ? html`<div class="warning caution" role="status">${view.caution}</div>` : ''}
${view.error ? html`<div class="alert" role="alert">${view.error}</div>` : ''}`;
}

/* Forms ------------------------------------------------------------------------------------------------ */

export function csrfField(chrome: Chrome): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${chrome.csrf ?? ''}">`;
}

function hiddenFields(hidden: Record<string, string> | undefined): SafeHtml {
  return html`${Object.entries(hidden ?? {}).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}`;
}

/** A form that changes something: POST with the CSRF token, then `hidden` fields, then `body`. */
export function csrfForm(chrome: Chrome, form: { action: string; className?: string; novalidate?: boolean; labelledBy?: string; hidden?: Record<string, string> }, body: SafeHtml): SafeHtml {
  return html`<form method="post" action="${form.action}" ${form.className ? html`class="${form.className}"` : ''}${form.novalidate ? html` novalidate` : ''}${form.labelledBy ? html` aria-labelledby="${form.labelledBy}"` : ''}>
  ${csrfField(chrome)}${hiddenFields(form.hidden)}
  ${body}
</form>`;
}

/** A one-button form in a table row: POST (with the CSRF token) to act, GET to open a confirmation first. */
export function rowButton(chrome: Chrome, form: { method: 'get' | 'post'; action: string; hidden: Record<string, string>; label: string; hiddenLabel: string; danger?: boolean }, before: SafeHtml = html``): SafeHtml {
  return html`<form method="${form.method}" action="${form.action}" class="row-form">
      ${form.method === 'post' ? csrfField(chrome) : ''}${hiddenFields(form.hidden)}${before}
      <button type="submit" class="${form.danger ? 'danger' : 'secondary'} small">${form.label}<span class="visually-hidden"> ${form.hiddenLabel}</span></button>
    </form>`;
}

export function fieldError(errors: FieldErrors, field: string, options: { alert?: boolean } = {}): SafeHtml {
  const message = errors[field];
  return message ? html`<p class="field-error" id="${field}-error"${options.alert ? html` role="alert"` : ''}><span aria-hidden="true">⚠ </span>${message}</p>` : html``;
}

export function describedBy(errors: FieldErrors, field: string, hint?: string): SafeHtml {
  const ids = [hint, errors[field] ? `${field}-error` : undefined].filter(Boolean).join(' ');
  return html`${ids ? html`aria-describedby="${ids}"` : ''} ${errors[field] ? html`aria-invalid="true"` : ''}`;
}

/** Extra attributes of a control; `true` writes the bare attribute, `false`/undefined leaves it out. */
export type Attributes = Record<string, string | number | boolean | undefined>;

function attributes(attrs: Attributes | undefined): SafeHtml {
  return html`${Object.entries(attrs ?? {}).map(([name, value]) => (value === false || value === undefined ? '' : value === true ? html` ${name}` : html` ${name}="${String(value)}"`))}`;
}

interface FieldCommon {
  /** The control's id; its hint is `<id>-hint`. */
  id: string;
  name: string;
  label: string;
  hint?: string | undefined;
  errors: FieldErrors;
  /** The key of this field in `errors` (its error's id is `<error>-error`); the name by default. */
  error?: string | undefined;
  attrs?: Attributes | undefined;
}

function fieldParts(f: FieldCommon): { error: string; hintId: string | undefined; hint: SafeHtml; described: SafeHtml } {
  const error = f.error ?? f.name;
  const hintId = f.hint ? `${f.id}-hint` : undefined;
  return { error, hintId, hint: f.hint ? html`<p class="hint" id="${hintId}">${f.hint}</p>` : html``, described: describedBy(f.errors, error, hintId) };
}

/** A labelled text-like input (text, email, number, date…) with its hint and error. */
export function textField(f: FieldCommon & { value: string; type?: 'text' | 'email' | 'number' | 'date' | 'url' | 'password' }): SafeHtml {
  const { error, hint, described } = fieldParts(f);
  return html`<div class="field">
    <label for="${f.id}">${f.label}</label>
    ${hint}
    <input id="${f.id}" name="${f.name}" type="${f.type ?? 'text'}"${attributes(f.attrs)} value="${f.value}" ${described}>
    ${fieldError(f.errors, error)}
  </div>`;
}

/** A labelled multi-line text field with its hint and error. */
export function textareaField(f: FieldCommon & { value: string; rows?: number }): SafeHtml {
  const { error, hint, described } = fieldParts(f);
  return html`<div class="field">
    <label for="${f.id}">${f.label}</label>
    ${hint}
    <textarea id="${f.id}" name="${f.name}" rows="${f.rows ?? 3}"${attributes(f.attrs)} ${described}>${f.value}</textarea>
    ${fieldError(f.errors, error)}
  </div>`;
}

export interface Option {
  value: string;
  label: string;
}

/** `<option>`s with `selected` on the chosen one. */
export function options(choices: readonly Option[], selected: string | null | undefined): SafeHtml {
  return html`${choices.map((o) => html`<option value="${o.value}" ${o.value === selected ? 'selected' : ''}>${o.label}</option>`)}`;
}

/** A labelled drop-down with its hint and error; `options` from `options()` or roleOptions(). */
export function selectField(f: FieldCommon & { options: SafeHtml }): SafeHtml {
  const { error, hint, described } = fieldParts(f);
  return html`<div class="field">
    <label for="${f.id}">${f.label}</label>
    ${hint}
    <select id="${f.id}" name="${f.name}"${attributes(f.attrs)} ${described}>${f.options}</select>
    ${fieldError(f.errors, error)}
  </div>`;
}

/**
 * Several checkboxes of one name in a fieldset (the fieldset's id is the error summary's anchor); `radio`
 * for one choice among them.
 */
export function checkboxGroup(f: { id: string; name: string; type?: 'checkbox' | 'radio'; legend: string; choices: readonly Option[]; checked: readonly string[]; errors: FieldErrors; error?: string; idOf: (value: string) => string }): SafeHtml {
  const error = f.error ?? f.name;
  return html`<fieldset class="field" id="${f.id}" ${f.errors[error] ? html`aria-describedby="${error}-error"` : ''}>
    <legend>${f.legend}</legend>
    ${f.choices.map((c) => html`<div class="check"><input type="${f.type ?? 'checkbox'}" id="${f.idOf(c.value)}" name="${f.name}" value="${c.value}" ${f.checked.includes(c.value) ? 'checked' : ''}><label for="${f.idOf(c.value)}">${c.label}</label></div>`)}
    ${fieldError(f.errors, error)}
  </fieldset>`;
}

/**
 * One checkbox with its label, hint and error. The error is announced (`role="alert"`) when the box is the
 * form's only field; `announce: false` in a form whose error summary already is the alert.
 */
export function checkboxField(f: FieldCommon & { value: string; checked: boolean; announce?: boolean }): SafeHtml {
  const { error, hint, described } = fieldParts(f);
  return html`<div class="field check">
    <input type="checkbox" id="${f.id}" name="${f.name}" value="${f.value}"${attributes(f.attrs)} ${described} ${f.checked ? 'checked' : ''}>
    <label for="${f.id}">${f.label}</label>
    ${hint}
    ${fieldError(f.errors, error, { alert: f.announce !== false })}
  </div>`;
}

/** The list of a form's errors above it, each linking to its field (`anchors`: field → element id). */
export function errorSummary(summary: { intro: string; errors: FieldErrors; anchors: Record<string, string>; fallback: string; id?: string }): SafeHtml {
  const entries = Object.entries(summary.errors);
  if (!entries.length) return html``;
  return html`<div class="alert" role="alert"${summary.id ? html` id="${summary.id}"` : ''}>${summary.intro}
  <ul>${entries.map(([field, message]) => html`<li><a href="#${summary.anchors[field] ?? summary.fallback}">${message}</a></li>`)}</ul></div>`;
}

/* Tables ----------------------------------------------------------------------------------------------- */

/**
 * A data table in a scrollable region named by its caption (`<id>-caption`); a column is a label or a
 * ready header cell (a sortable one). With no rows, the `empty` sentence instead.
 */
export function table<Row>(spec: { id: string; className?: string; caption: string; captionHidden?: boolean; columns: ReadonlyArray<string | SafeHtml>; rows: readonly Row[]; row: (row: Row) => SafeHtml; empty: string }): SafeHtml {
  if (!spec.rows.length) return html`<p class="empty">${spec.empty}</p>`;
  const captionId = `${spec.id}-caption`;
  return html`<div class="table-wrap" role="region" aria-labelledby="${captionId}" tabindex="0">
<table class="data${spec.className ? ` ${spec.className}` : ''}">
<caption id="${captionId}"${spec.captionHidden ? html` class="visually-hidden"` : ''}>${spec.caption}</caption>
<thead><tr>
  ${spec.columns.map((c) => (typeof c === 'string' ? html`<th scope="col">${c}</th>` : c))}
</tr></thead>
<tbody>
${spec.rows.map(spec.row)}
</tbody>
</table>
</div>`;
}

/** Label → value pairs, as a description list. */
export function facts(pairs: ReadonlyArray<readonly [string, string | SafeHtml]>): SafeHtml {
  return html`<dl class="facts">
  ${pairs.map(([label, value]) => html`<dt>${label}</dt><dd>${value}</dd>`)}
</dl>`;
}

/* Pages built from parts ------------------------------------------------------------------------------- */

/**
 * "Are you sure?": what will change (`body`), then a POST form with the CSRF token, the `hidden` fields,
 * any `fields` (a confirmation checkbox) and the submit and cancel buttons. `danger` for what cannot be undone.
 */
export function confirmationPage(page: DashboardPage, chrome: Chrome, view: { title: string; titleClass?: string; error?: string | undefined; danger: boolean; body: SafeHtml; action: string; hidden: Record<string, string>; fields?: SafeHtml; submit: string; cancel: { href: string; label: string }; formClass?: string }): string {
  return layout(page, chrome, view.title, html`
<h1${view.titleClass ? html` class="${view.titleClass}"` : ''}>${view.title}</h1>
${messages({ error: view.error })}
<section class="panel${view.danger ? ' danger-zone' : ''}">
${view.body}
${csrfForm(chrome, { action: view.action, className: view.formClass ?? 'stack', novalidate: true, hidden: view.hidden }, html`${view.fields ?? ''}
  <div class="button-row">
    <button type="submit"${view.danger ? html` class="danger"` : ''}>${view.submit}</button>
    <a class="button secondary" href="${view.cancel.href}">${view.cancel.label}</a>
  </div>`)}
</section>`);
}

/**
 * A value to copy (an address to give a provider, a client id): read-only, with a Copy button (shown by
 * dashboard.js) and where the button says whether it worked. `describedBy`: the warning it comes with.
 */
export function copyField(page: DashboardPage, f: { id: string; label: string; value: string; describedBy?: string; copyLabel?: SafeHtml; copyFailed?: string }): SafeHtml {
  const { t } = page;
  return html`<label for="${f.id}">${f.label}</label>
<div class="copy-row">
  <input id="${f.id}" type="text" readonly value="${f.value}"${f.describedBy ? html` aria-describedby="${f.describedBy}"` : ''} spellcheck="false" autocomplete="off" class="mono">
  <button type="button" class="secondary" data-copy="${f.id}" data-copied="${t('dash.created.copied')}" data-copy-failed="${f.copyFailed ?? t('dash.created.copy_failed')}" hidden>${f.copyLabel ?? t('dash.created.copy')}</button>
</div>
<p class="status" role="status" data-copy-status="${f.id}"></p>`;
}

/**
 * A secret shown this once (a new API key, a signing secret, an invitation link, a SCIM token): the
 * warning, the value in a read-only field with a Copy button, and the way back (`done`) when there is one.
 */
export function secretShownOnce(page: DashboardPage, view: { id: string; /** Prefix of the panel's ids (`<panel>-title`, `<panel>-warning`). */ panel: string; title: string; before?: SafeHtml; warning: string; label: string; value: string; copyFailed?: string; done?: { href: string; label: string } | undefined }): SafeHtml {
  const section = view.panel;
  return html`<section class="panel created" aria-labelledby="${section}-title">
<h2 id="${section}-title">${view.title}</h2>
<p class="warning" id="${section}-warning"><strong>${view.warning}</strong></p>
${view.before ?? ''}
${copyField(page, { id: view.id, label: view.label, value: view.value, describedBy: `${section}-warning`, ...(view.copyFailed ? { copyFailed: view.copyFailed } : {}) })}
${view.done ? html`<p><a href="${view.done.href}">${view.done.label}</a></p>` : ''}
</section>`;
}

/* Shared bits of domain display ------------------------------------------------------------------------ */

/** How long an old secret keeps working after a rotation (API keys, applications), seconds; both services accept 0 to 30 days. */
export const GRACE_CHOICES = [0, 3600, 86400, 604800] as const;
export const DEFAULT_GRACE = 86400;

export function roleName(page: DashboardPage, role: string | null): string {
  return role ? page.t(`dash.role.${role}` as DashboardKey) : page.t('dash.mappings.none');
}

export function roleOptions(page: DashboardPage, roles: readonly string[], selected: string | null): SafeHtml {
  return options(roles.map((r) => ({ value: r, label: roleName(page, r) })), selected);
}
