/**
 * Settings → Integrations → Applications: OAuth clients registered in a project (src/dashboard/applications.ts),
 * built from the shared components; its words are the `dash.app.*` messages of views/dashboard/i18n/.
 */
import { html, type SafeHtml } from '../../html.ts';
import { CLIENT_GRANT_TYPES, CLIENT_TYPES } from '../../../src/clients/index.ts';
import { DEFAULT_GRACE, GRACE_CHOICES, checkboxField, checkboxGroup, confirmationPage, copyField, csrfForm, errorSummary, facts, formatTime, layout, messages, options, rowButton, table, textareaField, textField, type Chrome, type DashboardPage } from '../components.ts';
import { APPLICATIONS_PATH, APPLICATION_DELETE_PATH, APPLICATION_PATH, APPLICATION_ROTATE_PATH, url } from '../routes.ts';

export interface ApplicationRow {
  client_id: string;
  name: string;
  type: 'confidential' | 'public';
  grant_types: string[];
  redirect_uris: string[];
  scopes: string[];
  first_party: boolean;
  created_at: string | null;
  last_token_at: string | null;
  secret_expires_at?: string | undefined;
  previous_secret_expires_at?: string | undefined;
}

export interface ApplicationFormValues {
  name: string;
  type: string;
  grant_types: string[];
  redirect_uris: string;
  scopes: string[];
  secret_ttl_days: string;
}

export interface ApplicationsView {
  project: { id: string; name: string };
  applications: ApplicationRow[];
  /** Scopes the form offers: the log API scopes the person holds, then the OpenID ones. */
  scopeChoices: string[];
  maxTtlDays: number;
  form: ApplicationFormValues;
  errors: Record<string, string>;
  /** What a post just made, shown once (post/redirect/get). */
  created?: { client_id: string; name: string; client_secret?: string | undefined; rotated?: boolean | undefined } | undefined;
  notice?: string | undefined;
  caution?: string | undefined;
}

/** "Rotate secret" with how long the old secret keeps working (the same choices as an API key's rotation). */
function rotateForm(page: DashboardPage, chrome: Chrome, project: string, app: ApplicationRow): SafeHtml {
  const { t } = page;
  return csrfForm(chrome, { action: url(APPLICATION_ROTATE_PATH, { project }), className: 'row-form', hidden: { client_id: app.client_id } }, html`<label for="grace-${app.client_id}">${t('dash.app.rotate.grace')}</label>
      <select id="grace-${app.client_id}" name="grace_seconds">
        ${options(GRACE_CHOICES.map((g) => ({ value: String(g), label: t(`dash.rotate.grace.${g}`) })), String(DEFAULT_GRACE))}
      </select>
      <button type="submit" class="secondary small">${t('dash.app.rotate.submit')}<span class="visually-hidden"> ${app.name}</span></button>`);
}

function applicationsTable(page: DashboardPage, chrome: Chrome, view: ApplicationsView): SafeHtml {
  const { t } = page;
  const project = view.project.id;
  return table({
    id: 'apps',
    caption: t('dash.app.caption', { project: view.project.name }),
    columns: [t('dash.app.col.name'), t('dash.app.col.client_id'), t('dash.app.col.type'), t('dash.app.col.scopes'), t('dash.app.col.created'), t('dash.app.col.last_token'), t('dash.col.actions')],
    rows: view.applications,
    empty: t('dash.app.empty'),
    row: (app) => html`<tr data-client-id="${app.client_id}">
  <th scope="row"><a href="${url(APPLICATION_PATH, { project, client: app.client_id })}">${app.name}</a></th>
  <td><code>${app.client_id}</code></td>
  <td>${t(`dash.app.type.short.${app.type}`)}</td>
  <td><ul class="scopes">${app.scopes.map((s) => html`<li><code>${s}</code></li>`)}</ul></td>
  <td>${formatTime(page, app.created_at, true)}</td>
  <td>${formatTime(page, app.last_token_at)}</td>
  <td class="actions-cell">
    ${app.type === 'confidential' ? rotateForm(page, chrome, project, app) : ''}
    ${rowButton(chrome, { method: 'get', action: APPLICATION_DELETE_PATH, hidden: { project, client: app.client_id }, label: t('dash.app.delete.link'), hiddenLabel: app.name, danger: true })}
  </td>
</tr>`,
  });
}

/** Where the error summary sends each field's refusal. */
const FIELD_IDS: Record<string, string> = { name: 'app-name', type: 'app-type', grant_types: 'app-grants', redirect_uris: 'app-redirects', scopes: 'app-scopes', secret_ttl_days: 'app-ttl' };

function registerForm(page: DashboardPage, chrome: Chrome, view: ApplicationsView): SafeHtml {
  const { t } = page;
  const { form: values, errors } = view;
  return html`<section class="panel" aria-labelledby="register-title">
<h2 id="register-title">${t('dash.app.form.title')}</h2>
${errorSummary({ id: 'form-errors', intro: t('dash.app.form.errors'), errors, anchors: FIELD_IDS, fallback: 'app-name' })}
${csrfForm(chrome, { action: url(APPLICATIONS_PATH, { project: view.project.id }), className: 'stack', novalidate: true }, html`${textField({ id: 'app-name', name: 'name', label: t('dash.app.form.name'), hint: t('dash.app.form.name_hint'), value: values.name, errors, attrs: { maxlength: 100, required: true } })}
  ${checkboxGroup({ id: 'app-type', name: 'type', type: 'radio', legend: t('dash.app.form.type'), choices: CLIENT_TYPES.map((type) => ({ value: type, label: t(`dash.app.type.${type}`) })), checked: [values.type], errors, idOf: (type) => `app-type-${type}` })}
  ${checkboxGroup({ id: 'app-grants', name: 'grant_types', legend: t('dash.app.form.grant_types'), choices: CLIENT_GRANT_TYPES.map((g) => ({ value: g, label: t(`dash.app.grant.${g}`) })), checked: values.grant_types, errors, idOf: (g) => `app-grant-${g}` })}
  ${textareaField({ id: 'app-redirects', name: 'redirect_uris', label: t('dash.app.form.redirect_uris'), hint: t('dash.app.form.redirect_hint'), value: values.redirect_uris, errors, attrs: { spellcheck: 'false' } })}
  ${checkboxGroup({ id: 'app-scopes', name: 'scopes', legend: t('dash.app.form.scopes'), choices: view.scopeChoices.map((s) => ({ value: s, label: s })), checked: values.scopes, errors, idOf: (s) => `app-scope-${s.replace(':', '-')}` })}
  ${textField({ id: 'app-ttl', name: 'secret_ttl_days', type: 'number', label: t('dash.app.form.ttl'), hint: t('dash.app.form.ttl_hint', { max: view.maxTtlDays }), value: values.secret_ttl_days, errors, attrs: { inputmode: 'numeric', min: 1, max: view.maxTtlDays, step: 1 } })}
  <div><button type="submit">${t('dash.app.form.submit')}</button></div>`)}
</section>`;
}

/** The client id, and the secret this once (a public application has none: PKCE). */
function created(page: DashboardPage, view: NonNullable<ApplicationsView['created']>, project: string): SafeHtml {
  const { t } = page;
  const copyFailed = t('dash.app.created.copy_failed');
  return html`<section class="panel created" aria-labelledby="created-title">
<h2 id="created-title">${view.rotated ? t('dash.app.created.rotated_title') : t('dash.app.created.title')} — ${view.name}</h2>
${copyField(page, { id: 'new-client-id', label: t('dash.app.created.client_id'), value: view.client_id, copyFailed })}
${view.client_secret ? html`<p class="warning" id="created-warning"><strong>${t('dash.app.created.warning')}</strong></p>
${copyField(page, { id: 'new-client-secret', label: t('dash.app.created.client_secret'), value: view.client_secret, describedBy: 'created-warning', copyFailed })}` : html`<p>${t('dash.app.created.public')}</p>`}
<p><a href="${url(APPLICATIONS_PATH, { project })}">${t('dash.app.created.done')}</a></p>
</section>`;
}

export function applicationsPage(page: DashboardPage, chrome: Chrome, view: ApplicationsView): string {
  const { t } = page;
  return layout(page, chrome, t('dash.app.title'), html`
<h1>${t('dash.app.title')}</h1>
<p class="lead">${t('dash.app.intro', { project: view.project.name })}</p>
${messages({ notice: view.notice, caution: view.caution })}
${view.created ? created(page, view.created, view.project.id) : ''}
${applicationsTable(page, chrome, view)}
${registerForm(page, chrome, view)}`);
}

export function applicationPage(page: DashboardPage, chrome: Chrome, view: { project: { id: string; name: string }; app: ApplicationRow }): string {
  const { t } = page;
  const { app } = view;
  const project = view.project.id;
  return layout(page, chrome, app.name, html`
<h1>${app.name}</h1>
<p><a href="${url(APPLICATIONS_PATH, { project })}">${t('dash.app.view.back')}</a></p>
<section class="panel">
${facts([
    [t('dash.app.col.client_id'), html`<code>${app.client_id}</code>`],
    [t('dash.app.col.type'), t(`dash.app.type.${app.type}`)],
    [t('dash.app.col.grant_types'), app.grant_types.join(', ')],
    [t('dash.app.col.redirect_uris'), app.redirect_uris.length ? html`<ul>${app.redirect_uris.map((u) => html`<li><code>${u}</code></li>`)}</ul>` : '—'],
    [t('dash.app.col.scopes'), app.scopes.join(' ')],
    [t('dash.app.col.first_party'), app.first_party ? t('dash.app.yes') : t('dash.app.no')],
    [t('dash.app.col.created'), formatTime(page, app.created_at)],
    [t('dash.app.col.last_token'), html`<span data-last-token>${formatTime(page, app.last_token_at)}</span>`],
    ...(app.type === 'confidential' ? [[t('dash.app.col.secret_expires'), formatTime(page, app.secret_expires_at)] as const] : []),
    ...(app.previous_secret_expires_at ? [[t('dash.app.col.previous_secret'), formatTime(page, app.previous_secret_expires_at)] as const] : []),
  ])}
${app.type === 'confidential' ? rotateForm(page, chrome, project, app) : ''}
<p><a class="button danger" href="${url(APPLICATION_DELETE_PATH, { project, client: app.client_id })}">${t('dash.app.delete.link')}</a></p>
</section>`);
}

export function deleteApplicationPage(page: DashboardPage, chrome: Chrome, view: { project: { id: string; name: string }; app: ApplicationRow; error?: string | undefined }): string {
  const { t } = page;
  return confirmationPage(page, chrome, {
    title: t('dash.app.delete.title', { name: view.app.name }),
    danger: true,
    body: html`<p>${t('dash.app.delete.body')}</p>
${facts([[t('dash.app.col.name'), view.app.name], [t('dash.app.col.client_id'), html`<code>${view.app.client_id}</code>`]])}`,
    action: url(APPLICATION_DELETE_PATH, { project: view.project.id }),
    hidden: { client_id: view.app.client_id },
    fields: checkboxField({ id: 'delete-confirm', name: 'confirm', error: 'confirm', label: t('dash.app.delete.confirm'), value: 'yes', checked: false, errors: view.error ? { confirm: view.error } : {} }),
    submit: t('dash.app.delete.submit'),
    cancel: { href: url(APPLICATIONS_PATH, { project: view.project.id }), label: t('dash.revoke.cancel') },
  });
}
