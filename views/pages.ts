import { html, trusted, type SafeHtml } from './html.ts';
import type { Lang, Translate, MessageKey } from './i18n.ts';

export interface PageContext {
  lang: Lang;
  t: Translate;
}

function layout(page: PageContext, title: string, body: SafeHtml): string {
  return html`<!doctype html>
<html lang="${page.lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${title} · LogTrace</title>
<link rel="stylesheet" href="/static/auth.css">
</head>
<body>
<main class="card">
<div class="brand" aria-hidden="true"><span class="logo">◆</span> LogTrace</div>
${body}
</main>
</body>
</html>`.value;
}

export interface LoginView {
  action: string;
  clientName: string;
  email?: string | undefined;
  error?: string | undefined;
  abortUrl: string;
  /**
   * Connector buttons (federated sign-in), in display order; `logo` is the type's small text badge (no
   * external images: strict CSP, works offline).
   */
  connectors?: Array<{ id: string; name: string; type: string; logo: string; href: string }>;
}

export function loginPage(page: PageContext, view: LoginView): string {
  const { t } = page;
  const errorId = 'login-error';
  return layout(page, t('login.title'), html`
<h1>${t('login.title')}</h1>
<p class="subtitle">${t('login.subtitle', { client: view.clientName })}</p>
${view.error ? html`<div class="alert" role="alert" id="${errorId}">${view.error}</div>` : ''}
${view.connectors?.length ? html`<ul class="connectors">${view.connectors.map((c) => html`<li><a class="button secondary connector connector-${c.type}" data-connector="${c.id}" href="${c.href}"><span class="logo-badge" aria-hidden="true">${c.logo}</span> ${t('login.continue_with', { name: c.name })}</a></li>`)}</ul><div class="divider"><span>${t('login.or')}</span></div>` : ''}
<form method="post" action="${view.action}" novalidate>
  <label for="email">${t('login.email')}</label>
  <input id="email" name="email" type="email" autocomplete="username" autocapitalize="none" spellcheck="false" value="${view.email ?? ''}" autofocus ${view.error ? html`aria-describedby="${errorId}" aria-invalid="true"` : ''}>
  <label for="password">${t('login.password')}</label>
  <input id="password" name="password" type="password" autocomplete="current-password" ${view.error ? html`aria-describedby="${errorId}"` : ''}>
  <button type="submit">${t('login.submit')}</button>
</form>
<p class="footer"><a href="${view.abortUrl}">${t('login.cancel')}</a></p>`);
}

export interface ConsentView {
  action: string;
  clientName: string;
  email: string;
  scopes: string[];
  /**
   * The organisation that registered the application (src/clients), named next to the name it chose for
   * itself: a registered application may call itself anything, "LogTrace Dashboard" included.
   */
  publisher?: string | undefined;
}

export function consentPage(page: PageContext, view: ConsentView): string {
  const { t } = page;
  const label = (scope: string) => {
    const key = `scope.${scope}`;
    return key in SCOPE_KEYS ? t(key as MessageKey) : scope;
  };
  return layout(page, t('consent.title'), html`
<h1>${t('consent.title')}</h1>
<p class="subtitle">${t('consent.subtitle', { client: view.clientName, email: view.email })}</p>
${view.publisher ? html`<p class="publisher">${t('consent.publisher', { organisation: view.publisher })}</p>` : ''}
<p>${t('consent.scopes')}</p>
<ul class="scopes">${view.scopes.map((s) => html`<li><code>${s}</code> — ${label(s)}</li>`)}</ul>
<form method="post" action="${view.action}" class="actions">
  <button type="submit" name="decision" value="allow">${t('consent.allow')}</button>
  <button type="submit" name="decision" value="deny" class="secondary">${t('consent.deny')}</button>
</form>`);
}

const SCOPE_KEYS: Record<string, true> = Object.fromEntries(
  ['openid', 'email', 'profile', 'offline_access', 'read:logs', 'write:alerts', 'admin:projects'].map((s) => [`scope.${s}`, true]),
);

export function errorPage(page: PageContext, view: { error: string; description?: string | undefined }): string {
  const { t } = page;
  return layout(page, t('error.title'), html`
<h1>${t('error.title')}</h1>
<div class="alert" role="alert"><code>${view.error}</code>${view.description ? html`: ${view.description}` : ''}</div>
<p>${t('error.back')}</p>`);
}

export function logoutPage(page: PageContext, view: { formHtml: string }): string {
  const { t } = page;
  // oidc-provider supplies the confirmation form (with its xsrf token); we submit it with our buttons.
  return layout(page, t('logout.title'), html`
<h1>${t('logout.title')}</h1>
<p>${t('logout.question')}</p>
${trusted(view.formHtml)}
<div class="actions">
  <button type="submit" form="op.logoutForm" name="logout" value="yes">${t('logout.yes')}</button>
  <button type="submit" form="op.logoutForm" class="secondary">${t('logout.no')}</button>
</div>`);
}

export function loggedOutPage(page: PageContext): string {
  const { t } = page;
  return layout(page, t('logout.title'), html`<h1>${t('logout.title')}</h1><p>${t('logout.done')}</p>`);
}

/* Invitations (public pages: the link is the credential) ----------------------------------------------- */

export interface InvitationView {
  action: string;
  project: string;
  role: string;
  email: string;
  name?: string | undefined;
  minLength: number;
  /** Field errors by field (`name`, `password`, `confirm`). */
  errors?: Record<string, string> | undefined;
  /** Names of the single sign-on connectors the person could use instead of a password. */
  sso?: string[] | undefined;
}

function inviteFieldError(errors: Record<string, string>, field: string): SafeHtml {
  const message = errors[field];
  return message ? html`<p class="field-error" id="${field}-error">${message}</p>` : html``;
}

function inviteDescribedBy(errors: Record<string, string>, field: string, hint?: string): SafeHtml {
  const ids = [hint, errors[field] ? `${field}-error` : undefined].filter(Boolean).join(' ');
  return html`${ids ? html`aria-describedby="${ids}"` : ''} ${errors[field] ? html`aria-invalid="true"` : ''}`;
}

export function invitationPage(page: PageContext, view: InvitationView): string {
  const { t } = page;
  const errors = view.errors ?? {};
  const role = t(`role.${view.role}` as MessageKey);
  const title = t('invite.title', { project: view.project, role });
  return layout(page, title, html`
<h1>${title}</h1>
<p class="subtitle">${t('invite.for', { email: view.email })}</p>
${Object.keys(errors).length ? html`<div class="alert" role="alert">${t('invite.error.summary')}</div>` : ''}
<form method="post" action="${view.action}" novalidate>
  <label for="email">${t('invite.email')}</label>
  <input id="email" type="email" autocomplete="username" value="${view.email}" readonly>
  <label for="name">${t('invite.name')}</label>
  <input id="name" name="name" type="text" autocomplete="name" maxlength="200" required value="${view.name ?? ''}" ${Object.keys(errors).length ? '' : html`autofocus`} ${inviteDescribedBy(errors, 'name')}>
  ${inviteFieldError(errors, 'name')}
  <label for="password">${t('invite.password')}</label>
  <p class="hint" id="password-hint">${t('invite.password_hint', { min: view.minLength })}</p>
  <input id="password" name="password" type="password" autocomplete="new-password" required ${inviteDescribedBy(errors, 'password', 'password-hint')}>
  ${inviteFieldError(errors, 'password')}
  <label for="confirm">${t('invite.confirm')}</label>
  <input id="confirm" name="confirm" type="password" autocomplete="new-password" required ${inviteDescribedBy(errors, 'confirm')}>
  ${inviteFieldError(errors, 'confirm')}
  <button type="submit">${t('invite.submit')}</button>
</form>
${view.sso?.length ? html`<p class="footer" data-sso>${t('invite.sso', { names: view.sso.join(', '), email: view.email })}</p>` : ''}`);
}

/** A link that leads nowhere (any more), or an invitation that cannot be taken up: a message, no form. */
export function invitationMessagePage(page: PageContext, view: { title: string; body: string; alert?: boolean }): string {
  return layout(page, view.title, html`
<h1>${view.title}</h1>
${view.alert ? html`<div class="alert" role="alert">${view.body}</div>` : html`<p role="status">${view.body}</p>`}`);
}
