/**
 * Server-rendered single sign-on pages: the connections list, the provider wizard (with the URIs to give
 * the provider and "Test connection") and the provisioning rules. Same escaping and layout as components.ts.
 */
import { html, type SafeHtml } from '../html.ts';
import { ROLES } from '../../src/directory/index.ts';
import { isDashboardKey } from './i18n.ts';
import type { ConnectorForm, FormField } from '../../src/connectors/types.ts';
import { checkboxField, confirmationPage, copyField, csrfForm, errorSummary, facts, layout, options, roleName, roleOptions, rowButton, secretShownOnce, selectField, table, textField, type Chrome, type DashboardPage, type FieldErrors } from './components.ts';
import { SSO_DELETE_PATH, SSO_EDIT_PATH, SSO_NEW_PATH, SSO_PATH, SSO_RULE_ADD_PATH, SSO_RULE_DELETE_PATH, SSO_SCIM_ROTATE_PATH, SSO_TEST_PATH, SSO_TRY_PATH, url } from './routes.ts';

/* Single sign-on --------------------------------------------------------------------------------------- */

/**
 * A connector type as the wizard shows it: its name in the reader's language, its abilities and its form,
 * all from the type's own description (src/connectors: ConnectorType).
 */
export interface ProviderForm {
  type: string;
  name: string;
  /** False: the provider cannot tell whether a second factor was used; the MFA box is disabled, with why. */
  canProveMfa: boolean;
  /** A directory connector: its edit page offers "Try a sign-in". */
  canTry: boolean;
  form: ConnectorForm;
}

/** SCIM connections: not a sign-in provider but the door a directory pushes people through; its own form. */
export const SCIM_TYPE = 'scim';

export interface ConnectionRow {
  id: string;
  name: string;
  type: string;
  /** The type as people call it (a SCIM connection: with the connector it is tied to). */
  typeName: string;
  email_domains: string[];
  origin: 'config' | 'api';
  enabled: boolean;
  /** A SCIM connection's connector (its people sign in with it); managed through /v1/connections. */
  connector?: string | undefined;
}

export interface RuleRow {
  id: string;
  email_domain: string;
  /** Connection names (ids when unknown); empty = any connection. */
  connections: string[];
  project: string | null;
  role: string | null;
  origin: 'config' | 'api';
}

export interface RuleForm {
  email_domain: string;
  connector: string;
  project: string;
  role: string;
}

export interface SsoView {
  connections: ConnectionRow[];
  rules: RuleRow[];
  /** What the rule form offers: connections and the projects the person administers (indented by depth). */
  connectorChoices: Array<{ id: string; name: string }>;
  /** The connector types a connection can be made of, in the order offered. */
  providers: Array<{ type: string; name: string }>;
  projectChoices: Array<{ id: string; name: string; depth: number }>;
  canOwner: boolean;
  ruleForm: RuleForm;
  errors: Record<string, string>;
  notice?: string | undefined;
}

function rulesTable(page: DashboardPage, chrome: Chrome, rules: RuleRow[], caption: string): SafeHtml {
  const { t } = page;
  return table({
    id: 'rules',
    className: 'rules',
    caption,
    columns: [t('dash.rules.col.domain'), t('dash.rules.col.connections'), t('dash.rules.col.project'), t('dash.members.role'), t('dash.sso.col.origin'), t('dash.col.actions')],
    rows: rules,
    empty: '',
    row: (r) => html`<tr data-rule-id="${r.id}">
  <th scope="row"><code>@${r.email_domain}</code></th>
  <td>${r.connections.length ? r.connections.join(', ') : t('dash.rules.any')}</td>
  <td>${r.project ?? '—'}</td>
  <td>${r.role ? roleName(page, r.role) : t('dash.rules.no_role')}</td>
  <td>${originBadge(page, r.origin)}</td>
  <td>${r.origin === 'api' ? rowButton(chrome, { method: 'post', action: SSO_RULE_DELETE_PATH, hidden: { id: r.id }, label: t('dash.rules.delete'), hiddenLabel: `@${r.email_domain}`, danger: true }) : ''}</td>
</tr>`,
  });
}

const originBadge = (page: DashboardPage, origin: 'config' | 'api') => html`<span class="badge ${origin === 'config' ? 'status-expired' : 'env-live'}">${page.t(`dash.sso.origin.${origin}`)}</span>`;

/** The connection test's answer: each check with its verdict (`named`: the checks' names are shown). */
function testPanel(page: DashboardPage, test: NonNullable<SsoFormView['test']>, named: boolean): SafeHtml {
  const { t } = page;
  const name = (check: string) => {
    const key = `dash.sso.check.${check}`;
    return isDashboardKey(key) ? t(key) : check;
  };
  return html`<section class="panel ${test.ok ? '' : 'danger-zone'}" aria-labelledby="test-title">
<h2 id="test-title">${t('dash.sso.test_title')}</h2>
<p role="status" class="${test.ok ? 'notice' : 'alert'}">${t(test.ok ? 'dash.sso.test_ok' : 'dash.sso.test_failed')}</p>
<ul class="checks">${test.checks.map((c) => html`<li class="${c.ok ? 'check-ok' : 'check-failed'}"><span class="badge ${c.ok ? 'outcome-success' : 'outcome-failure'}">${t(c.ok ? 'dash.sso.check.ok' : 'dash.sso.check.failed')}</span> ${named ? html`<strong>${name(c.check)}</strong>: ` : ''}${c.detail}</li>`)}</ul>
</section>`;
}

/** "Test connection" and "Delete" under an edit form (delete opens its confirmation page). */
function editActions(page: DashboardPage, chrome: Chrome, id: string): SafeHtml {
  const { t } = page;
  return html`${csrfForm(chrome, { action: url(SSO_TEST_PATH, { id }), className: 'confirm-form', hidden: { id } }, html`<button type="submit" class="secondary">${t('dash.sso.test')}</button>`)}
<form method="get" action="${SSO_DELETE_PATH}" class="confirm-form">
  <input type="hidden" name="id" value="${id}">
  <button type="submit" class="danger">${t('dash.sso.delete')}</button>
</form>`;
}

/** A choice of connections, `(id)` after each name. */
const connectionOptions = (choices: Array<{ id: string; name: string }>, first: string, selected: string) =>
  options([{ value: '', label: first }, ...choices.map((c) => ({ value: c.id, label: `${c.name} (${c.id})` }))], selected);

export function ssoPage(page: DashboardPage, chrome: Chrome, view: SsoView): string {
  const { t } = page;
  const { errors, ruleForm } = view;
  const roles = view.canOwner ? ROLES : ROLES.filter((r) => r !== 'owner');
  const ruleAnchors = Object.fromEntries(Object.keys(errors).map((field) => [field, `rule-${field.replace('_', '-')}`]));
  return layout(page, chrome, t('dash.sso.title'), html`
<h1>${t('dash.sso.title')}</h1>
<p class="lead">${t('dash.sso.intro')}</p>
${view.notice ? html`<div class="notice" role="status">${view.notice}</div>` : ''}
${table({
    id: 'sso',
    className: 'connections',
    caption: t('dash.sso.caption'),
    columns: [t('dash.col.name'), t('dash.sso.col.id'), t('dash.sso.col.type'), t('dash.sso.col.domains'), t('dash.sso.col.status'), t('dash.sso.col.origin'), t('dash.col.actions')],
    rows: view.connections,
    empty: t('dash.sso.empty'),
    row: (c) => html`<tr data-connection-id="${c.id}">
  <th scope="row">${c.name}</th>
  <td><code>${c.id}</code></td>
  <td>${c.typeName}</td>
  <td>${c.email_domains.join(', ') || '—'}</td>
  <td><span class="badge ${c.enabled ? 'status-active' : 'status-expired'}">${t(c.enabled ? 'dash.sso.enabled_yes' : 'dash.sso.enabled_no')}</span></td>
  <td>${originBadge(page, c.origin)}</td>
  <td>${c.origin === 'api' ? html`<a href="${url(SSO_EDIT_PATH, { id: c.id })}">${t('dash.sso.edit')}<span class="visually-hidden"> ${c.id}</span></a>` : ''}</td>
</tr>`,
  })}
<section class="panel" aria-labelledby="sso-add-title">
<h2 id="sso-add-title">${t('dash.sso.add')}</h2>
<p>${t('dash.sso.choose')}:</p>
<ul class="provider-choice">${view.providers.map((p) => html`<li><a class="button secondary" href="${url(SSO_NEW_PATH, { type: p.type })}">${p.name}</a></li>`)}
  <li><a class="button secondary" href="${url(SSO_NEW_PATH, { type: SCIM_TYPE })}">${t('dash.scim.choice')}</a></li></ul>
</section>
<section class="panel" id="rules" aria-labelledby="rules-title">
<h2 id="rules-title">${t('dash.rules.title')}</h2>
<p class="hint">${t('dash.rules.intro')}</p>
${view.rules.length ? rulesTable(page, chrome, view.rules, t('dash.rules.caption')) : html`<p class="empty">${t('dash.rules.empty')}</p>`}
<h3 id="rule-add-title">${t('dash.rules.add')}</h3>
${errorSummary({ intro: t('dash.rules.errors'), errors, anchors: ruleAnchors, fallback: 'rule-email-domain' })}
${csrfForm(chrome, { action: SSO_RULE_ADD_PATH, className: 'stack', novalidate: true, labelledBy: 'rule-add-title' }, html`<div class="field-row">
    ${textField({ id: 'rule-email-domain', name: 'email_domain', label: t('dash.rules.domain'), hint: t('dash.rules.domain_hint'), value: ruleForm.email_domain, errors, attrs: { spellcheck: 'false', autocomplete: 'off', placeholder: 'acme.ru' } })}
    ${selectField({ id: 'rule-connector', name: 'connector', label: t('dash.rules.connection'), errors, options: connectionOptions(view.connectorChoices, t('dash.rules.any'), ruleForm.connector) })}
  </div>
  <div class="field-row">
    ${selectField({ id: 'rule-project', name: 'project', label: t('dash.rules.project'), hint: t('dash.rules.project_hint'), errors, options: options([{ value: '', label: t('dash.rules.no_project') }, ...view.projectChoices.map((p) => ({ value: p.id, label: `${'\u00a0\u00a0'.repeat(Math.min(p.depth, 5))}${p.name}` }))], ruleForm.project) })}
    ${selectField({ id: 'rule-role', name: 'role', label: t('dash.members.role'), errors, options: roleOptions(page, roles, ruleForm.role || 'viewer') })}
  </div>
  <div><button type="submit">${t('dash.rules.submit')}</button></div>`)}
</section>`);
}

export interface SsoFormValues {
  id: string;
  name: string;
  email_domains: string;
  require_mfa: boolean;
  trust_email: boolean;
  enabled: boolean;
  /** The type's own inputs (ConnectorForm), by posted name: text as shown, flags as booleans. Secrets never. */
  fields: Record<string, string | boolean>;
}

export interface SsoFormView {
  provider: ProviderForm;
  mode: 'create' | 'edit';
  issuer: string;
  form: SsoFormValues;
  secretSet: boolean;
  errors: Record<string, string>;
  notice?: string | undefined;
  test?: { ok: boolean; checks: Array<{ check: string; ok: boolean; detail: string }> } | undefined;
  /** Provisioning rules that apply to this connection (edit mode). */
  rules?: RuleRow[] | undefined;
  /** Why an enabled connection is not running (its start failed), in the server's words. */
  notRunning?: string | undefined;
  /** The type's settings block is absent (LDAP over the configuration file's `ldap:` block): not edited here. */
  sharedDirectory?: boolean | undefined;
  /** LDAP "Try a sign-in": the email tried and what the directory said (nothing is signed in or created). */
  tryResult?: LdapTryResult | undefined;
}

export interface LdapTryResult {
  email: string;
  ok: boolean;
  /** Plain words: why it failed, or that the password was accepted. */
  detail: string;
  person?: { dn: string; id: string; email: string; name: string | null } | undefined;
  groups?: string[] | undefined;
  /** The project roles the current role mappings give for these groups. */
  roles?: Array<{ project: string; role: string }> | undefined;
}

/** A message key of the dashboard, or a string a connector type wrote in its own words. */
function say(page: DashboardPage, text: string, vars?: Record<string, string | number>): string {
  return isDashboardKey(text) ? page.t(text, vars) : text;
}

const dashed = (name: string) => name.replaceAll('_', '-');
/** The HTML id of a type's input. */
export const fieldId = (field: FormField): string => field.id ?? `sso-${dashed(field.name)}`;
const COMMON_ANCHORS: Record<string, string> = { id: 'sso-id', name: 'sso-name', email_domains: 'sso-domains', require_mfa: 'sso-mfa', trust_email: 'sso-trust' };

/** Every input of a type's form, in order. */
export function formFields(form: ConnectorForm): FormField[] {
  return form.sections.flatMap((section) => section.fields.flat());
}

/** One input of a connector type's form, as the type describes it: a checkbox, a write-only secret or text. */
function providerField(page: DashboardPage, view: SsoFormView, field: FormField): SafeHtml {
  const { errors, form } = view;
  const id = fieldId(field);
  const value = form.fields[field.name];
  const label = say(page, field.label);
  if (field.kind === 'secret') {
    return textField({ id, name: field.name, label, type: 'password', hint: page.t(view.secretSet ? 'dash.sso.field.secret_hint_set' : 'dash.sso.field.secret_hint_new'), value: '', errors, attrs: { autocomplete: 'new-password' } });
  }
  const hint = field.hint ? say(page, field.hint, { [field.name]: (typeof value === 'string' && value) || field.example || '' }) : undefined;
  if (field.kind === 'flag') return checkboxField({ id, name: field.name, label, hint, value: 'on', checked: value === true, errors, announce: false });
  return textField({ id, name: field.name, label, hint, value: typeof value === 'string' ? value : '', errors, attrs: { spellcheck: 'false', autocomplete: field.autocomplete, inputmode: field.inputmode } });
}

/** A connector type's inputs, section by section (a section with a legend is a fieldset). */
function providerFields(page: DashboardPage, view: SsoFormView): SafeHtml {
  const { sections, block } = view.provider.form;
  if (block && view.sharedDirectory) return html`<p class="hint">${say(page, block.sharedHint)}</p>`;
  return html`${sections.map((section) => {
    const inputs = html`${section.fields.map((entry) => (Array.isArray(entry) ? html`<div class="field-row">
    ${entry.map((field) => providerField(page, view, field))}
  </div>` : providerField(page, view, entry)))}`;
    return section.legend ? html`<fieldset class="field">
  <legend>${say(page, section.legend)}</legend>
  ${section.hint ? html`<p class="hint">${say(page, section.hint)}</p>` : ''}
  ${inputs}
</fieldset>` : inputs;
  })}`;
}

/** An address to give the provider, with a Copy button. */
const addressField = (page: DashboardPage, id: string, label: string, value: string) =>
  html`<div class="field">
  ${copyField(page, { id, label, value, copyLabel: html`${page.t('dash.sso.copy')}<span class="visually-hidden"> ${label}</span>` })}
</div>`;

/**
 * The wizard of one connector type: the addresses to give the provider, the inputs every connection has
 * (id, name, email domains, MFA, trust, enabled) around the type's own (its `form`), test and delete.
 */
export function ssoFormPage(page: DashboardPage, chrome: Chrome, view: SsoFormView): string {
  const { t } = page;
  const { form, errors, provider } = view;
  const { type } = provider;
  const title = view.mode === 'create' ? t('dash.sso.new_title', { type: provider.name }) : t('dash.sso.edit_title', { id: form.id });
  const action = view.mode === 'create' ? url(SSO_NEW_PATH, { type }) : url(SSO_EDIT_PATH, { id: form.id });
  const noMfa = !provider.canProveMfa;
  const anchors = { ...Object.fromEntries(formFields(provider.form).map((f) => [f.name, fieldId(f)])), ...COMMON_ANCHORS };
  const base = `${view.issuer}/federation/${form.id || '{id}'}`;
  return layout(page, chrome, title, html`
<h1>${title}</h1>
${view.notice ? html`<div class="notice" role="status">${view.notice}</div>` : ''}
${view.notRunning ? html`<div class="alert" role="alert">${t('dash.sso.not_running', { reason: view.notRunning })}</div>` : ''}
${view.test ? testPanel(page, view.test, true) : ''}
${provider.form.intro ? html`<p class="hint">${say(page, provider.form.intro)}</p>` : ''}
${provider.form.urls.length ? html`<section class="panel" aria-labelledby="sso-urls-title">
<h2 id="sso-urls-title">${t('dash.sso.urls')}</h2>
${provider.form.urls.map((u) => addressField(page, u.id, say(page, u.label), `${base}/${u.suffix}`))}
</section>` : ''}
<section class="panel" aria-labelledby="sso-form-title">
<h2 id="sso-form-title">${provider.name}</h2>
${errorSummary({ intro: t('dash.sso.errors'), errors, anchors, fallback: 'sso-name' })}
${csrfForm(chrome, { action, className: 'stack', novalidate: true }, html`${view.mode === 'create'
    ? textField({ id: 'sso-id', name: 'id', label: t('dash.sso.field.id'), hint: t('dash.sso.field.id_hint'), value: form.id, errors, attrs: { spellcheck: 'false', maxlength: 63, autocomplete: 'off' } })
    : html`<input type="hidden" name="id" value="${form.id}">`}
  ${textField({ id: 'sso-name', name: 'name', label: t('dash.sso.field.name'), value: form.name, errors, attrs: { spellcheck: 'false', maxlength: 100 } })}
  ${providerFields(page, view)}
  ${provider.form.emailDomains ? textField({ id: 'sso-domains', name: 'email_domains', label: t('dash.sso.field.domains'), hint: t('dash.sso.field.domains_hint'), value: form.email_domains, errors, attrs: { spellcheck: 'false' } }) : ''}
  ${checkboxField({ id: 'sso-mfa', name: 'require_mfa', label: t('dash.sso.field.require_mfa'), hint: noMfa ? t('dash.sso.field.mfa_unavailable', { type: provider.name }) : undefined, value: 'on', checked: form.require_mfa && !noMfa, errors, announce: false, attrs: { disabled: noMfa } })}
  ${checkboxField({ id: 'sso-trust', name: 'trust_email', label: t('dash.sso.field.trust_email'), value: 'on', checked: form.trust_email, errors, announce: false })}
  ${checkboxField({ id: 'sso-enabled', name: 'enabled', label: t('dash.sso.field.enabled'), hint: t('dash.sso.field.enabled_hint'), value: 'on', checked: form.enabled, errors: {} })}
  <div class="button-row"><button type="submit">${t('dash.sso.save')}</button></div>`)}
${view.mode === 'edit' ? editActions(page, chrome, form.id) : ''}
</section>
${view.mode === 'edit' && provider.canTry ? tryPanel(page, chrome, view) : ''}
${view.mode === 'edit' && view.rules ? html`<section class="panel" aria-labelledby="conn-rules-title">
<h2 id="conn-rules-title">${t('dash.rules.for_connection')}</h2>
${view.rules.length ? rulesTable(page, chrome, view.rules, t('dash.rules.caption_connection', { id: form.id })) : html`<p class="empty">${t('dash.rules.none_for_connection')}</p>`}
<p><a href="${SSO_PATH}#rules">${t('dash.rules.manage')}</a></p>
</section>` : ''}
<p><a href="${SSO_PATH}">${t('dash.sso.back')}</a></p>`);
}

/** Directory connectors (LDAP): sign a person in against the directory to see their entry, groups and roles; changes nothing. */
function tryPanel(page: DashboardPage, chrome: Chrome, view: SsoFormView): SafeHtml {
  const { t } = page;
  const r = view.tryResult;
  const none: FieldErrors = {};
  return html`<section class="panel" aria-labelledby="try-title">
<h2 id="try-title">${t('dash.ldap.try_title')}</h2>
<p class="hint">${t('dash.ldap.try_intro')}</p>
${r ? html`<div class="${r.ok ? 'notice' : 'alert'}" role="status">${r.detail}</div>
${r.person ? facts([
    ['DN', html`<code class="wrap">${r.person.dn}</code>`],
    [t('dash.ldap.id_attr'), html`<code>${r.person.id}</code>`],
    [t('dash.ldap.email_attr'), r.person.email],
    [t('dash.ldap.name_attr'), r.person.name ?? '—'],
    [t('dash.ldap.groups'), r.groups?.length ? r.groups.join(', ') : t('dash.ldap.try_no_groups')],
    [t('dash.ldap.try_roles'), r.roles?.length ? html`<ul class="causes">${r.roles.map((x) => html`<li>${x.project}: ${roleName(page, x.role)}</li>`)}</ul>` : t('dash.ldap.try_no_roles')],
  ]) : ''}` : ''}
${csrfForm(chrome, { action: url(SSO_TRY_PATH, { id: view.form.id }), className: 'stack', novalidate: true, hidden: { id: view.form.id } }, html`<div class="field-row">
    ${textField({ id: 'try-email', name: 'email', type: 'email', label: t('dash.ldap.try_email'), value: r?.email ?? '', errors: none, attrs: { autocomplete: 'off' } })}
    ${textField({ id: 'try-password', name: 'password', type: 'password', label: t('dash.ldap.try_password'), value: '', errors: none, attrs: { autocomplete: 'off' } })}
  </div>
  <div><button type="submit" class="secondary">${t('dash.ldap.try_submit')}</button></div>`)}
</section>`;
}

export function connectionDeletePage(page: DashboardPage, chrome: Chrome, view: { connection: { id: string; name: string; typeName: string }; rules: RuleRow[] }): string {
  const { t } = page;
  const { connection } = view;
  return confirmationPage(page, chrome, {
    title: t('dash.sso.delete_title', { name: connection.name }),
    titleClass: 'wrap',
    danger: true,
    body: html`<p>${t('dash.sso.delete_body')}</p>
${facts([[t('dash.sso.col.id'), html`<code>${connection.id}</code>`], [t('dash.sso.col.type'), connection.typeName]])}
${view.rules.length ? html`<p>${t('dash.sso.delete_rules', { count: view.rules.length })}</p>` : ''}`,
    action: SSO_DELETE_PATH,
    hidden: { id: connection.id },
    submit: t('dash.sso.delete_submit'),
    cancel: { href: url(SSO_EDIT_PATH, { id: connection.id }), label: t('dash.revoke.cancel') },
  });
}

export interface ScimFormValues {
  id: string;
  /** The connection its people sign in with. */
  connector: string;
  enabled: boolean;
}

export interface ScimFormView {
  mode: 'create' | 'edit';
  issuer: string;
  form: ScimFormValues;
  /** Sign-in connections (not SCIM ones) a SCIM connection can be tied to. */
  connectorChoices: Array<{ id: string; name: string }>;
  errors: Record<string, string>;
  notice?: string | undefined;
  /** Not an error, but not good news: the one-time token asked for again (post/redirect/get flash). */
  caution?: string | undefined;
  /** The bearer token just made (create or rotate), from the one-time flash: shown once. */
  token?: { value: string; rotated: boolean } | undefined;
  test?: SsoFormView['test'];
}

const SCIM_ANCHORS: Record<string, string> = { id: 'scim-id', connector: 'scim-connector', enabled: 'scim-enabled' };

/**
 * A SCIM connection (Entra ID, Okta provisioning): its id, the connection its people sign in with, Enabled;
 * on its edit page the SCIM base URL, the token once after create or rotate, "Rotate token", test, delete.
 */
export function scimFormPage(page: DashboardPage, chrome: Chrome, view: ScimFormView): string {
  const { t } = page;
  const { form, errors } = view;
  const title = view.mode === 'create' ? t('dash.sso.new_title', { type: t('dash.scim.choice') }) : t('dash.sso.edit_title', { id: form.id });
  const action = view.mode === 'create' ? url(SSO_NEW_PATH, { type: SCIM_TYPE }) : url(SSO_EDIT_PATH, { id: form.id });
  const baseUrl = `${view.issuer}/scim/v2`;
  return layout(page, chrome, title, html`
<h1>${title}</h1>
${view.notice ? html`<div class="notice" role="status">${view.notice}</div>` : ''}
${view.caution ? html`<div class="alert" role="status">${view.caution}</div>` : ''}
<p class="lead">${t('dash.scim.intro')}</p>
${view.token ? secretShownOnce(page, {
    id: 'scim-token',
    panel: 'scim-token',
    title: t(view.token.rotated ? 'dash.scim.token_rotated_title' : 'dash.scim.token_title'),
    warning: t('dash.scim.token_warning'),
    before: view.token.rotated ? html`<p>${t('dash.scim.token_old')}</p>` : undefined,
    label: t('dash.scim.token_label'),
    value: view.token.value,
  }) : ''}
${view.mode === 'edit' ? html`<section class="panel" aria-labelledby="scim-urls-title">
<h2 id="scim-urls-title">${t('dash.scim.urls')}</h2>
${addressField(page, 'scim-base-url', t('dash.scim.base_url'), baseUrl)}
</section>` : ''}
${view.test ? testPanel(page, view.test, false) : ''}
<section class="panel" aria-labelledby="scim-form-title">
<h2 id="scim-form-title">${t('dash.scim.choice')}</h2>
${errorSummary({ intro: t('dash.sso.errors'), errors, anchors: SCIM_ANCHORS, fallback: 'scim-id' })}
${view.connectorChoices.length ? '' : html`<p class="alert" role="status">${t('dash.scim.no_connectors')}</p>`}
${csrfForm(chrome, { action, className: 'stack', novalidate: true }, html`${view.mode === 'create'
    ? textField({ id: 'scim-id', name: 'id', label: t('dash.sso.field.id'), hint: t('dash.scim.id_hint'), value: form.id, errors, attrs: { spellcheck: 'false', maxlength: 63, autocomplete: 'off' } })
    : html`<input type="hidden" name="id" value="${form.id}">`}
  ${selectField({ id: 'scim-connector', name: 'connector', label: t('dash.scim.connector'), hint: t('dash.scim.connector_hint'), errors, options: connectionOptions(view.connectorChoices, t('dash.scim.choose_connector'), form.connector) })}
  ${checkboxField({ id: 'scim-enabled', name: 'enabled', label: t('dash.sso.field.enabled'), hint: t('dash.scim.enabled_hint'), value: 'on', checked: form.enabled, errors: {} })}
  <div class="button-row"><button type="submit">${t('dash.sso.save')}</button></div>`)}
${view.mode === 'edit' ? editActions(page, chrome, form.id) : ''}
</section>
${view.mode === 'edit' ? html`<section class="panel" aria-labelledby="scim-rotate-title">
<h2 id="scim-rotate-title">${t('dash.scim.rotate_title')}</h2>
<p class="hint">${t('dash.scim.rotate_intro')}</p>
${csrfForm(chrome, { action: url(SSO_SCIM_ROTATE_PATH, { id: form.id }), className: 'confirm-form', hidden: { id: form.id } }, html`<button type="submit" class="secondary">${t('dash.scim.rotate')}</button>`)}
</section>` : ''}
<p><a href="${SSO_PATH}">${t('dash.sso.back')}</a></p>`);
}
