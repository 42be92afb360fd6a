/**
 * Settings → Integrations → Applications: OAuth clients registered in a project (src/dashboard/applications.ts).
 * Its strings are its own (en/ru, below) so this page can change without touching the shared tables.
 */
import { html, type SafeHtml } from '../../html.ts';
import type { Lang } from '../../i18n.ts';
import { csrfField, fieldError, formatTime, layout, type Chrome, type DashboardPage } from '../components.ts';
import { APPLICATIONS_PATH, APPLICATION_DELETE_PATH, APPLICATION_PATH, APPLICATION_ROTATE_PATH, url } from '../routes.ts';

const EN = {
  title: 'Applications',
  intro: 'OAuth applications of {project}: services and integrations that get tokens from this server with their own client ID.',
  caption: 'Applications of {project}',
  empty: 'No applications yet.',
  'col.name': 'Name',
  'col.client_id': 'Client ID',
  'col.type': 'Type',
  'col.scopes': 'Scopes',
  'col.created': 'Registered',
  'col.last_token': 'Last token',
  'col.actions': 'Actions',
  'col.grant_types': 'Grant types',
  'col.redirect_uris': 'Redirect URIs',
  'col.secret_expires': 'Secret expires',
  'col.previous_secret': 'Previous secret valid until',
  'col.first_party': 'First-party (no consent screen)',
  'type.confidential': 'Confidential (server side, has a secret)',
  'type.public': 'Public (browser or mobile app, PKCE, no secret)',
  'type.short.confidential': 'confidential',
  'type.short.public': 'public',
  'grant.authorization_code': 'Authorization code (people sign in)',
  'grant.refresh_token': 'Refresh tokens',
  'grant.client_credentials': 'Client credentials (a service acting for itself)',
  'form.title': 'Register New Application',
  'form.errors': 'The application was not registered. Correct the following:',
  'form.name': 'Name',
  'form.name_hint': 'Shown on the consent screen and in the audit log.',
  'form.type': 'Type',
  'form.grant_types': 'Grant types',
  'form.redirect_uris': 'Redirect URIs',
  'form.redirect_hint': 'One per line: https, or http on localhost / 127.0.0.1; no #fragment. Needed for the authorization code flow.',
  'form.scopes': 'Scopes',
  'form.ttl': 'Secret lifetime (days)',
  'form.ttl_hint': 'Optional, at most {max}. Empty: the secret does not expire.',
  'form.submit': 'Register application',
  'created.title': 'Application registered',
  'created.rotated_title': 'New client secret',
  'created.warning': 'Copy the client secret now: it is shown only once and cannot be recovered.',
  'created.public': 'A public application has no secret: it uses PKCE.',
  'created.client_id': 'Client ID',
  'created.client_secret': 'Client secret',
  'created.copy': 'Copy',
  'created.copied': 'Copied',
  'created.copy_failed': 'Copy failed: select the text and copy it',
  'created.done': 'I have stored it',
  'created.gone': 'This secret was shown once and is no longer available. Rotate the secret if it was lost.',
  'rotate.submit': 'Rotate secret',
  'rotate.grace': 'Old secret keeps working for',
  'rotate.grace.0': 'no time (stop at once)',
  'rotate.grace.3600': '1 hour',
  'rotate.grace.86400': '24 hours',
  'rotate.grace.604800': '7 days',
  'delete.link': 'Delete',
  'delete.title': 'Delete application {name}?',
  'delete.body': 'The application stops authenticating at once; every token and refresh token it holds is revoked. This cannot be undone.',
  'delete.confirm': 'Yes, delete this application and revoke its tokens',
  'delete.need_confirm': 'Tick the box to confirm.',
  'delete.submit': 'Delete application',
  'delete.cancel': 'Cancel',
  'delete.done': 'Application {name} was deleted.',
  'view.link': 'Settings',
  'view.back': 'All applications',
  never: 'never',
  yes: 'yes',
  no: 'no',
} as const;

export type AppKey = keyof typeof EN;

const RU: Record<AppKey, string> = {
  title: 'Приложения',
  intro: 'OAuth-приложения проекта {project}: сервисы и интеграции, получающие токены этого сервера по своему идентификатору клиента.',
  caption: 'Приложения проекта {project}',
  empty: 'Приложений пока нет.',
  'col.name': 'Название',
  'col.client_id': 'Идентификатор клиента',
  'col.type': 'Тип',
  'col.scopes': 'Права',
  'col.created': 'Зарегистрировано',
  'col.last_token': 'Последний токен',
  'col.actions': 'Действия',
  'col.grant_types': 'Способы получения токенов',
  'col.redirect_uris': 'Адреса возврата',
  'col.secret_expires': 'Секрет истекает',
  'col.previous_secret': 'Прежний секрет действует до',
  'col.first_party': 'Собственное (без экрана согласия)',
  'type.confidential': 'Конфиденциальное (серверное, с секретом)',
  'type.public': 'Публичное (браузер или мобильное приложение, PKCE, без секрета)',
  'type.short.confidential': 'конфиденциальное',
  'type.short.public': 'публичное',
  'grant.authorization_code': 'Код авторизации (вход людей)',
  'grant.refresh_token': 'Токены обновления',
  'grant.client_credentials': 'Учётные данные клиента (сервис от своего имени)',
  'form.title': 'Регистрация нового приложения',
  'form.errors': 'Приложение не зарегистрировано. Исправьте следующее:',
  'form.name': 'Название',
  'form.name_hint': 'Видно на экране согласия и в журнале аудита.',
  'form.type': 'Тип',
  'form.grant_types': 'Способы получения токенов',
  'form.redirect_uris': 'Адреса возврата',
  'form.redirect_hint': 'По одному в строке: https или http на localhost / 127.0.0.1, без #фрагмента. Нужны для входа по коду авторизации.',
  'form.scopes': 'Права',
  'form.ttl': 'Срок действия секрета (дней)',
  'form.ttl_hint': 'Необязательно, не больше {max}. Пусто — секрет не истекает.',
  'form.submit': 'Зарегистрировать приложение',
  'created.title': 'Приложение зарегистрировано',
  'created.rotated_title': 'Новый секрет клиента',
  'created.warning': 'Скопируйте секрет клиента сейчас: он показывается один раз и не восстанавливается.',
  'created.public': 'У публичного приложения нет секрета: оно использует PKCE.',
  'created.client_id': 'Идентификатор клиента',
  'created.client_secret': 'Секрет клиента',
  'created.copy': 'Копировать',
  'created.copied': 'Скопировано',
  'created.copy_failed': 'Не удалось скопировать: выделите текст и скопируйте',
  'created.done': 'Я сохранил его',
  'created.gone': 'Этот секрет уже был показан и больше недоступен. Если он утерян, смените секрет.',
  'rotate.submit': 'Сменить секрет',
  'rotate.grace': 'Прежний секрет действует ещё',
  'rotate.grace.0': 'нисколько (сразу перестаёт)',
  'rotate.grace.3600': '1 час',
  'rotate.grace.86400': '24 часа',
  'rotate.grace.604800': '7 дней',
  'delete.link': 'Удалить',
  'delete.title': 'Удалить приложение {name}?',
  'delete.body': 'Приложение сразу перестанет проходить проверку; все его токены и токены обновления будут отозваны. Это нельзя отменить.',
  'delete.confirm': 'Да, удалить приложение и отозвать его токены',
  'delete.need_confirm': 'Отметьте флажок для подтверждения.',
  'delete.submit': 'Удалить приложение',
  'delete.cancel': 'Отмена',
  'delete.done': 'Приложение {name} удалено.',
  'view.link': 'Настройки',
  'view.back': 'Все приложения',
  never: 'никогда',
  yes: 'да',
  no: 'нет',
};

export type AppTranslate = (key: AppKey, values?: Record<string, string | number>) => string;

export function appTranslator(lang: Lang): AppTranslate {
  const table: Record<AppKey, string> = lang === 'ru' ? RU : EN;
  return (key, values = {}) => table[key].replace(/\{(\w+)\}/g, (_, name: string) => String(values[name] ?? `{${name}}`));
}

export const APP_GRACE_CHOICES = [0, 3600, 86400, 604800] as const;
export const APP_GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials'] as const;

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

const p = (page: DashboardPage): AppTranslate => appTranslator(page.lang);
const time = (page: DashboardPage, iso: string | null | undefined, dateOnly = false): SafeHtml => (iso ? formatTime(page, iso, dateOnly) : html`${p(page)('never')}`);

function rotateForm(page: DashboardPage, chrome: Chrome, project: string, app: ApplicationRow): SafeHtml {
  const t = p(page);
  return html`<form method="post" action="${url(APPLICATION_ROTATE_PATH, { project })}" class="row-form">
      ${csrfField(chrome)}<input type="hidden" name="client_id" value="${app.client_id}">
      <label for="grace-${app.client_id}">${t('rotate.grace')}</label>
      <select id="grace-${app.client_id}" name="grace_seconds">
        ${APP_GRACE_CHOICES.map((g) => html`<option value="${g}" ${g === 86400 ? 'selected' : ''}>${t(`rotate.grace.${g}`)}</option>`)}
      </select>
      <button type="submit" class="secondary small">${t('rotate.submit')}<span class="visually-hidden"> ${app.name}</span></button>
    </form>`;
}

function table(page: DashboardPage, chrome: Chrome, view: ApplicationsView): SafeHtml {
  const t = p(page);
  const project = view.project.id;
  if (!view.applications.length) return html`<p class="empty">${t('empty')}</p>`;
  return html`<div class="table-wrap" role="region" aria-labelledby="apps-caption" tabindex="0">
<table class="data">
<caption id="apps-caption">${t('caption', { project: view.project.name })}</caption>
<thead><tr>
  <th scope="col">${t('col.name')}</th>
  <th scope="col">${t('col.client_id')}</th>
  <th scope="col">${t('col.type')}</th>
  <th scope="col">${t('col.scopes')}</th>
  <th scope="col">${t('col.created')}</th>
  <th scope="col">${t('col.last_token')}</th>
  <th scope="col">${t('col.actions')}</th>
</tr></thead>
<tbody>
${view.applications.map((app) => html`<tr data-client-id="${app.client_id}">
  <th scope="row"><a href="${url(APPLICATION_PATH, { project, client: app.client_id })}">${app.name}</a></th>
  <td><code>${app.client_id}</code></td>
  <td>${t(`type.short.${app.type}`)}</td>
  <td><ul class="scopes">${app.scopes.map((s) => html`<li><code>${s}</code></li>`)}</ul></td>
  <td>${time(page, app.created_at, true)}</td>
  <td>${time(page, app.last_token_at)}</td>
  <td class="actions-cell">
    ${app.type === 'confidential' ? rotateForm(page, chrome, project, app) : ''}
    <form method="get" action="${APPLICATION_DELETE_PATH}" class="row-form">
      <input type="hidden" name="project" value="${project}"><input type="hidden" name="client" value="${app.client_id}">
      <button type="submit" class="danger small">${t('delete.link')}<span class="visually-hidden"> ${app.name}</span></button>
    </form>
  </td>
</tr>`)}
</tbody>
</table>
</div>`;
}

const FIELD_IDS: Record<string, string> = { name: 'app-name', type: 'app-type', grant_types: 'app-grants', redirect_uris: 'app-redirects', scopes: 'app-scopes', secret_ttl_days: 'app-ttl', project_id: 'app-name', first_party: 'app-name' };

function form(page: DashboardPage, chrome: Chrome, view: ApplicationsView): SafeHtml {
  const t = p(page);
  const { form: values, errors } = view;
  const ids = (field: string, hint?: string) => {
    const described = [hint, errors[field] ? `${field}-error` : undefined].filter(Boolean).join(' ');
    return html`${described ? html`aria-describedby="${described}"` : ''} ${errors[field] ? html`aria-invalid="true"` : ''}`;
  };
  return html`<section class="panel" aria-labelledby="register-title">
<h2 id="register-title">${t('form.title')}</h2>
${Object.keys(errors).length ? html`<div class="alert" role="alert" id="form-errors">${t('form.errors')}
  <ul>${Object.entries(errors).map(([field, message]) => html`<li><a href="#${FIELD_IDS[field] ?? 'app-name'}">${message}</a></li>`)}</ul></div>` : ''}
<form method="post" action="${url(APPLICATIONS_PATH, { project: view.project.id })}" class="stack" novalidate>
  ${csrfField(chrome)}
  <div class="field">
    <label for="app-name">${t('form.name')}</label>
    <p class="hint" id="app-name-hint">${t('form.name_hint')}</p>
    <input id="app-name" name="name" type="text" maxlength="100" required value="${values.name}" ${ids('name', 'app-name-hint')}>
    ${fieldError(errors, 'name')}
  </div>
  <fieldset class="field" id="app-type" ${errors.type ? html`aria-describedby="type-error"` : ''}>
    <legend>${t('form.type')}</legend>
    ${(['confidential', 'public'] as const).map((type) => html`<div class="check"><input type="radio" id="app-type-${type}" name="type" value="${type}" ${values.type === type ? 'checked' : ''}><label for="app-type-${type}">${t(`type.${type}`)}</label></div>`)}
    ${fieldError(errors, 'type')}
  </fieldset>
  <fieldset class="field" id="app-grants" ${errors.grant_types ? html`aria-describedby="grant_types-error"` : ''}>
    <legend>${t('form.grant_types')}</legend>
    ${APP_GRANT_TYPES.map((g) => html`<div class="check"><input type="checkbox" id="app-grant-${g}" name="grant_types" value="${g}" ${values.grant_types.includes(g) ? 'checked' : ''}><label for="app-grant-${g}">${t(`grant.${g}`)}</label></div>`)}
    ${fieldError(errors, 'grant_types')}
  </fieldset>
  <div class="field">
    <label for="app-redirects">${t('form.redirect_uris')}</label>
    <p class="hint" id="app-redirects-hint">${t('form.redirect_hint')}</p>
    <textarea id="app-redirects" name="redirect_uris" rows="3" spellcheck="false" ${ids('redirect_uris', 'app-redirects-hint')}>${values.redirect_uris}</textarea>
    ${fieldError(errors, 'redirect_uris')}
  </div>
  <fieldset class="field" id="app-scopes" ${errors.scopes ? html`aria-describedby="scopes-error"` : ''}>
    <legend>${t('form.scopes')}</legend>
    ${view.scopeChoices.map((s) => html`<div class="check"><input type="checkbox" id="app-scope-${s.replace(':', '-')}" name="scopes" value="${s}" ${values.scopes.includes(s) ? 'checked' : ''}><label for="app-scope-${s.replace(':', '-')}">${s}</label></div>`)}
    ${fieldError(errors, 'scopes')}
  </fieldset>
  <div class="field">
    <label for="app-ttl">${t('form.ttl')}</label>
    <input id="app-ttl" name="secret_ttl_days" type="number" inputmode="numeric" min="1" max="${view.maxTtlDays}" step="1" value="${values.secret_ttl_days}" ${ids('secret_ttl_days', 'app-ttl-hint')}>
    <p class="hint" id="app-ttl-hint">${t('form.ttl_hint', { max: view.maxTtlDays })}</p>
    ${fieldError(errors, 'secret_ttl_days')}
  </div>
  <div><button type="submit">${t('form.submit')}</button></div>
</form>
</section>`;
}

function created(page: DashboardPage, view: NonNullable<ApplicationsView['created']>, project: string): SafeHtml {
  const t = p(page);
  return html`<section class="panel created" aria-labelledby="created-title">
<h2 id="created-title">${view.rotated ? t('created.rotated_title') : t('created.title')} — ${view.name}</h2>
<label for="new-client-id">${t('created.client_id')}</label>
<div class="copy-row">
  <input id="new-client-id" type="text" readonly value="${view.client_id}" spellcheck="false" autocomplete="off" class="mono">
  <button type="button" class="secondary" data-copy="new-client-id" data-copied="${t('created.copied')}" data-copy-failed="${t('created.copy_failed')}" hidden>${t('created.copy')}</button>
</div>
<p class="status" role="status" data-copy-status="new-client-id"></p>
${view.client_secret ? html`<p class="warning" id="created-warning"><strong>${t('created.warning')}</strong></p>
<label for="new-client-secret">${t('created.client_secret')}</label>
<div class="copy-row">
  <input id="new-client-secret" type="text" readonly value="${view.client_secret}" aria-describedby="created-warning" spellcheck="false" autocomplete="off" class="mono">
  <button type="button" class="secondary" data-copy="new-client-secret" data-copied="${t('created.copied')}" data-copy-failed="${t('created.copy_failed')}" hidden>${t('created.copy')}</button>
</div>
<p class="status" role="status" data-copy-status="new-client-secret"></p>` : html`<p>${t('created.public')}</p>`}
<p><a href="${url(APPLICATIONS_PATH, { project })}">${t('created.done')}</a></p>
</section>`;
}

export function applicationsPage(page: DashboardPage, chrome: Chrome, view: ApplicationsView): string {
  const t = p(page);
  return layout(page, chrome, t('title'), html`
<h1>${t('title')}</h1>
<p class="lead">${t('intro', { project: view.project.name })}</p>
${view.notice ? html`<div class="notice" role="status">${view.notice}</div>` : ''}
${view.caution ? html`<div class="warning caution" role="status">${view.caution}</div>` : ''}
${view.created ? created(page, view.created, view.project.id) : ''}
${table(page, chrome, view)}
${form(page, chrome, view)}`);
}

export function applicationPage(page: DashboardPage, chrome: Chrome, view: { project: { id: string; name: string }; app: ApplicationRow }): string {
  const t = p(page);
  const { app } = view;
  const project = view.project.id;
  return layout(page, chrome, app.name, html`
<h1>${app.name}</h1>
<p><a href="${url(APPLICATIONS_PATH, { project })}">${t('view.back')}</a></p>
<section class="panel">
<dl class="facts">
  <dt>${t('col.client_id')}</dt><dd><code>${app.client_id}</code></dd>
  <dt>${t('col.type')}</dt><dd>${t(`type.${app.type}`)}</dd>
  <dt>${t('col.grant_types')}</dt><dd>${app.grant_types.join(', ')}</dd>
  <dt>${t('col.redirect_uris')}</dt><dd>${app.redirect_uris.length ? html`<ul>${app.redirect_uris.map((u) => html`<li><code>${u}</code></li>`)}</ul>` : '—'}</dd>
  <dt>${t('col.scopes')}</dt><dd>${app.scopes.join(' ')}</dd>
  <dt>${t('col.first_party')}</dt><dd>${app.first_party ? t('yes') : t('no')}</dd>
  <dt>${t('col.created')}</dt><dd>${time(page, app.created_at)}</dd>
  <dt>${t('col.last_token')}</dt><dd data-last-token>${time(page, app.last_token_at)}</dd>
  ${app.type === 'confidential' ? html`<dt>${t('col.secret_expires')}</dt><dd>${time(page, app.secret_expires_at)}</dd>` : ''}
  ${app.previous_secret_expires_at ? html`<dt>${t('col.previous_secret')}</dt><dd>${time(page, app.previous_secret_expires_at)}</dd>` : ''}
</dl>
${app.type === 'confidential' ? rotateForm(page, chrome, project, app) : ''}
<p><a class="button danger" href="${url(APPLICATION_DELETE_PATH, { project, client: app.client_id })}">${t('delete.link')}</a></p>
</section>`);
}

export function deleteApplicationPage(page: DashboardPage, chrome: Chrome, view: { project: { id: string; name: string }; app: ApplicationRow; error?: string | undefined }): string {
  const t = p(page);
  const title = t('delete.title', { name: view.app.name });
  return layout(page, chrome, title, html`
<h1>${title}</h1>
<section class="panel danger-zone">
<p>${t('delete.body')}</p>
<dl class="facts">
  <dt>${t('col.name')}</dt><dd>${view.app.name}</dd>
  <dt>${t('col.client_id')}</dt><dd><code>${view.app.client_id}</code></dd>
</dl>
<form method="post" action="${url(APPLICATION_DELETE_PATH, { project: view.project.id })}" class="stack" novalidate>
  ${csrfField(chrome)}
  <input type="hidden" name="client_id" value="${view.app.client_id}">
  <div class="field check">
    <input type="checkbox" id="delete-confirm" name="confirm" value="yes" ${view.error ? html`aria-invalid="true" aria-describedby="confirm-error"` : ''}>
    <label for="delete-confirm">${t('delete.confirm')}</label>
    ${view.error ? html`<p class="field-error" id="confirm-error" role="alert">${view.error}</p>` : ''}
  </div>
  <div class="button-row">
    <button type="submit" class="danger">${t('delete.submit')}</button>
    <a class="button secondary" href="${url(APPLICATIONS_PATH, { project: view.project.id })}">${t('delete.cancel')}</a>
  </div>
</form>
</section>`);
}
