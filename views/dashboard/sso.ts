/**
 * Server-rendered single sign-on pages: the connections list, the provider wizard (with the URIs to give
 * the provider and "Test connection") and the provisioning rules. Same escaping and layout as components.ts.
 */
import { html, type SafeHtml } from '../html.ts';
import { ROLES } from '../../src/directory/index.ts';
import { isDashboardKey, type DashboardKey } from './i18n.ts';
import type { ConnectorForm, FormField } from '../../src/connectors/types.ts';
import { csrfField, describedBy, fieldError, layout, roleName, roleOptions, type Chrome, type DashboardPage } from './components.ts';
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
  return html`<div class="table-wrap" role="region" aria-labelledby="rules-caption" tabindex="0">
<table class="data rules">
<caption id="rules-caption">${caption}</caption>
<thead><tr>
  <th scope="col">${t('dash.rules.col.domain')}</th>
  <th scope="col">${t('dash.rules.col.connections')}</th>
  <th scope="col">${t('dash.rules.col.project')}</th>
  <th scope="col">${t('dash.members.role')}</th>
  <th scope="col">${t('dash.sso.col.origin')}</th>
  <th scope="col">${t('dash.col.actions')}</th>
</tr></thead>
<tbody>
${rules.map((r) => html`<tr data-rule-id="${r.id}">
  <th scope="row"><code>@${r.email_domain}</code></th>
  <td>${r.connections.length ? r.connections.join(', ') : t('dash.rules.any')}</td>
  <td>${r.project ?? '—'}</td>
  <td>${r.role ? roleName(page, r.role) : t('dash.rules.no_role')}</td>
  <td><span class="badge ${r.origin === 'config' ? 'status-expired' : 'env-live'}">${t(`dash.sso.origin.${r.origin}`)}</span></td>
  <td>${r.origin === 'api' ? html`<form method="post" action="${SSO_RULE_DELETE_PATH}" class="row-form">
      ${csrfField(chrome)}<input type="hidden" name="id" value="${r.id}">
      <button type="submit" class="danger small">${t('dash.rules.delete')}<span class="visually-hidden"> @${r.email_domain}</span></button>
    </form>` : ''}</td>
</tr>`)}
</tbody>
</table>
</div>`;
}

export function ssoPage(page: DashboardPage, chrome: Chrome, view: SsoView): string {
  const { t } = page;
  const { errors, ruleForm } = view;
  const roles = view.canOwner ? ROLES : ROLES.filter((r) => r !== 'owner');
  return layout(page, chrome, t('dash.sso.title'), html`
<h1>${t('dash.sso.title')}</h1>
<p class="lead">${t('dash.sso.intro')}</p>
${view.notice ? html`<div class="notice" role="status">${view.notice}</div>` : ''}
${view.connections.length ? html`<div class="table-wrap" role="region" aria-labelledby="sso-caption" tabindex="0">
<table class="data connections">
<caption id="sso-caption">${t('dash.sso.caption')}</caption>
<thead><tr>
  <th scope="col">${t('dash.col.name')}</th>
  <th scope="col">${t('dash.sso.col.id')}</th>
  <th scope="col">${t('dash.sso.col.type')}</th>
  <th scope="col">${t('dash.sso.col.domains')}</th>
  <th scope="col">${t('dash.sso.col.status')}</th>
  <th scope="col">${t('dash.sso.col.origin')}</th>
  <th scope="col">${t('dash.col.actions')}</th>
</tr></thead>
<tbody>
${view.connections.map((c) => html`<tr data-connection-id="${c.id}">
  <th scope="row">${c.name}</th>
  <td><code>${c.id}</code></td>
  <td>${c.typeName}</td>
  <td>${c.email_domains.join(', ') || '—'}</td>
  <td><span class="badge ${c.enabled ? 'status-active' : 'status-expired'}">${t(c.enabled ? 'dash.sso.enabled_yes' : 'dash.sso.enabled_no')}</span></td>
  <td><span class="badge ${c.origin === 'config' ? 'status-expired' : 'env-live'}">${t(`dash.sso.origin.${c.origin}`)}</span></td>
  <td>${c.origin === 'api' ? html`<a href="${url(SSO_EDIT_PATH, { id: c.id })}">${t('dash.sso.edit')}<span class="visually-hidden"> ${c.id}</span></a>` : ''}</td>
</tr>`)}
</tbody>
</table>
</div>` : html`<p class="empty">${t('dash.sso.empty')}</p>`}
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
${Object.keys(errors).length ? html`<div class="alert" role="alert">${t('dash.rules.errors')}
  <ul>${Object.entries(errors).map(([field, message]) => html`<li><a href="#rule-${field.replace('_', '-')}">${message}</a></li>`)}</ul></div>` : ''}
<form method="post" action="${SSO_RULE_ADD_PATH}" class="stack" novalidate aria-labelledby="rule-add-title">
  ${csrfField(chrome)}
  <div class="field-row">
    <div class="field">
      <label for="rule-email-domain">${t('dash.rules.domain')}</label>
      <input id="rule-email-domain" name="email_domain" type="text" spellcheck="false" autocomplete="off" placeholder="acme.ru" value="${ruleForm.email_domain}" ${describedBy(errors, 'email_domain', 'rule-email-domain-hint')}>
      <p class="hint" id="rule-email-domain-hint">${t('dash.rules.domain_hint')}</p>
      ${fieldError(errors, 'email_domain')}
    </div>
    <div class="field">
      <label for="rule-connector">${t('dash.rules.connection')}</label>
      <select id="rule-connector" name="connector" ${describedBy(errors, 'connector')}>
        <option value="" ${ruleForm.connector === '' ? 'selected' : ''}>${t('dash.rules.any')}</option>
        ${view.connectorChoices.map((c) => html`<option value="${c.id}" ${ruleForm.connector === c.id ? 'selected' : ''}>${c.name} (${c.id})</option>`)}
      </select>
      ${fieldError(errors, 'connector')}
    </div>
  </div>
  <div class="field-row">
    <div class="field">
      <label for="rule-project">${t('dash.rules.project')}</label>
      <select id="rule-project" name="project" ${describedBy(errors, 'project', 'rule-project-hint')}>
        <option value="" ${ruleForm.project === '' ? 'selected' : ''}>${t('dash.rules.no_project')}</option>
        ${view.projectChoices.map((p) => html`<option value="${p.id}" ${ruleForm.project === p.id ? 'selected' : ''}>${'\u00a0\u00a0'.repeat(Math.min(p.depth, 5))}${p.name}</option>`)}
      </select>
      <p class="hint" id="rule-project-hint">${t('dash.rules.project_hint')}</p>
      ${fieldError(errors, 'project')}
    </div>
    <div class="field">
      <label for="rule-role">${t('dash.members.role')}</label>
      <select id="rule-role" name="role" ${describedBy(errors, 'role')}>${roleOptions(page, roles, ruleForm.role || 'viewer')}</select>
      ${fieldError(errors, 'role')}
    </div>
  </div>
  <div><button type="submit">${t('dash.rules.submit')}</button></div>
</form>
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

/** One input of a connector type's form, as the type describes it. */
function providerField(page: DashboardPage, view: SsoFormView, field: FormField): SafeHtml {
  const { errors, form } = view;
  const id = fieldId(field);
  const value = form.fields[field.name];
  const hint = field.hint ? say(page, field.hint, { [field.name]: (typeof value === 'string' && value) || field.example || '' }) : undefined;
  if (field.kind === 'flag') {
    return html`<div class="field check">
    <input type="checkbox" id="${id}" name="${field.name}" value="on" ${hint ? html`aria-describedby="${id}-hint"` : ''} ${value === true ? 'checked' : ''}>
    <label for="${id}">${say(page, field.label)}</label>
    ${hint ? html`<p class="hint" id="${id}-hint">${hint}</p>` : ''}
    ${fieldError(errors, field.name)}
  </div>`;
  }
  if (field.kind === 'secret') {
    return html`<div class="field">
    <label for="${id}">${say(page, field.label)}</label>
    <p class="hint" id="${id}-hint">${page.t(view.secretSet ? 'dash.sso.field.secret_hint_set' : 'dash.sso.field.secret_hint_new')}</p>
    <input id="${id}" name="${field.name}" type="password" autocomplete="new-password" value="" ${describedBy(errors, field.name, `${id}-hint`)}>
    ${fieldError(errors, field.name)}
  </div>`;
  }
  return html`<div class="field">
    <label for="${id}">${say(page, field.label)}</label>
    ${hint ? html`<p class="hint" id="${id}-hint">${hint}</p>` : ''}
    <input id="${id}" name="${field.name}" type="text" spellcheck="false" ${field.autocomplete ? html`autocomplete="${field.autocomplete}"` : ''} value="${typeof value === 'string' ? value : ''}" ${field.inputmode ? html`inputmode="${field.inputmode}"` : ''} ${describedBy(errors, field.name, hint ? `${id}-hint` : undefined)}>
    ${fieldError(errors, field.name)}
  </div>`;
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

function copyField(page: DashboardPage, id: string, label: string, value: string): SafeHtml {
  const { t } = page;
  return html`<div class="field">
  <label for="${id}">${label}</label>
  <div class="copy-row">
    <input id="${id}" type="text" readonly value="${value}" spellcheck="false" class="mono">
    <button type="button" class="secondary" data-copy="${id}" data-copied="${t('dash.created.copied')}" data-copy-failed="${t('dash.created.copy_failed')}" hidden>${t('dash.sso.copy')}<span class="visually-hidden"> ${label}</span></button>
  </div>
  <p class="status" role="status" data-copy-status="${id}"></p>
</div>`;
}

export function ssoFormPage(page: DashboardPage, chrome: Chrome, view: SsoFormView): string {
  const { t } = page;
  const { form, errors, provider } = view;
  const { type } = provider;
  const title = view.mode === 'create' ? t('dash.sso.new_title', { type: provider.name }) : t('dash.sso.edit_title', { id: form.id });
  const action = view.mode === 'create' ? url(SSO_NEW_PATH, { type }) : url(SSO_EDIT_PATH, { id: form.id });
  const text = (field: 'id' | 'name' | 'email_domains', id: string, label: string, hint?: string, extra: SafeHtml = html``) => html`<div class="field">
    <label for="${id}">${label}</label>
    ${hint ? html`<p class="hint" id="${id}-hint">${hint}</p>` : ''}
    <input id="${id}" name="${field}" type="text" spellcheck="false" value="${String(form[field])}" ${extra} ${describedBy(errors, field, hint ? `${id}-hint` : undefined)}>
    ${fieldError(errors, field)}
  </div>`;
  const noMfa = !provider.canProveMfa;
  const fields = formFields(provider.form);
  const anchorOf = (name: string) => COMMON_ANCHORS[name] ?? (fields.find((f) => f.name === name) ? fieldId(fields.find((f) => f.name === name)!) : 'sso-name');
  const base = `${view.issuer}/federation/${form.id || '{id}'}`;
  const errorCount = Object.keys(errors).length;
  return layout(page, chrome, title, html`
<h1>${title}</h1>
${view.notice ? html`<div class="notice" role="status">${view.notice}</div>` : ''}
${view.notRunning ? html`<div class="alert" role="alert">${t('dash.sso.not_running', { reason: view.notRunning })}</div>` : ''}
${view.test ? html`<section class="panel ${view.test.ok ? '' : 'danger-zone'}" aria-labelledby="test-title">
<h2 id="test-title">${t('dash.sso.test_title')}</h2>
<p role="status" class="${view.test.ok ? 'notice' : 'alert'}">${t(view.test.ok ? 'dash.sso.test_ok' : 'dash.sso.test_failed')}</p>
<ul class="checks">${view.test.checks.map((c) => html`<li class="${c.ok ? 'check-ok' : 'check-failed'}"><span class="badge ${c.ok ? 'outcome-success' : 'outcome-failure'}">${t(c.ok ? 'dash.sso.check.ok' : 'dash.sso.check.failed')}</span> <strong>${isDashboardKeyLocal(`dash.sso.check.${c.check}`) ? t(`dash.sso.check.${c.check}` as DashboardKey) : c.check}</strong>: ${c.detail}</li>`)}</ul>
</section>` : ''}
${provider.form.intro ? html`<p class="hint">${say(page, provider.form.intro)}</p>` : ''}
${provider.form.urls.length ? html`<section class="panel" aria-labelledby="sso-urls-title">
<h2 id="sso-urls-title">${t('dash.sso.urls')}</h2>
${provider.form.urls.map((u) => copyField(page, u.id, say(page, u.label), `${base}/${u.suffix}`))}
</section>` : ''}
<section class="panel" aria-labelledby="sso-form-title">
<h2 id="sso-form-title">${provider.name}</h2>
${errorCount ? html`<div class="alert" role="alert">${t('dash.sso.errors')}
  <ul>${Object.entries(errors).map(([field, message]) => html`<li><a href="#${anchorOf(field)}">${message}</a></li>`)}</ul></div>` : ''}
<form method="post" action="${action}" class="stack" novalidate>
  ${csrfField(chrome)}
  ${view.mode === 'create' ? text('id', 'sso-id', t('dash.sso.field.id'), t('dash.sso.field.id_hint'), html`maxlength="63" autocomplete="off"`) : html`<input type="hidden" name="id" value="${form.id}">`}
  ${text('name', 'sso-name', t('dash.sso.field.name'), undefined, html`maxlength="100"`)}
  ${providerFields(page, view)}
  ${provider.form.emailDomains ? text('email_domains', 'sso-domains', t('dash.sso.field.domains'), t('dash.sso.field.domains_hint')) : ''}
  <div class="field check">
    <input type="checkbox" id="sso-mfa" name="require_mfa" value="on" ${form.require_mfa && !noMfa ? 'checked' : ''} ${noMfa ? html`disabled aria-describedby="sso-mfa-hint"` : describedBy(errors, 'require_mfa')}>
    <label for="sso-mfa">${t('dash.sso.field.require_mfa')}</label>
    ${noMfa ? html`<p class="hint" id="sso-mfa-hint">${t('dash.sso.field.mfa_unavailable', { type: provider.name })}</p>` : ''}
    ${fieldError(errors, 'require_mfa')}
  </div>
  <div class="field check">
    <input type="checkbox" id="sso-trust" name="trust_email" value="on" ${form.trust_email ? 'checked' : ''}>
    <label for="sso-trust">${t('dash.sso.field.trust_email')}</label>
  </div>
  <div class="field check">
    <input type="checkbox" id="sso-enabled" name="enabled" value="on" aria-describedby="sso-enabled-hint" ${form.enabled ? 'checked' : ''}>
    <label for="sso-enabled">${t('dash.sso.field.enabled')}</label>
    <p class="hint" id="sso-enabled-hint">${t('dash.sso.field.enabled_hint')}</p>
  </div>
  <div class="button-row"><button type="submit">${t('dash.sso.save')}</button></div>
</form>
${view.mode === 'edit' ? html`<form method="post" action="${url(SSO_TEST_PATH, { id: form.id })}" class="confirm-form">
  ${csrfField(chrome)}<input type="hidden" name="id" value="${form.id}">
  <button type="submit" class="secondary">${t('dash.sso.test')}</button>
</form>` : ''}
${view.mode === 'edit' ? html`<form method="get" action="${SSO_DELETE_PATH}" class="confirm-form">
  <input type="hidden" name="id" value="${form.id}">
  <button type="submit" class="danger">${t('dash.sso.delete')}</button>
</form>` : ''}
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
  return html`<section class="panel" aria-labelledby="try-title">
<h2 id="try-title">${t('dash.ldap.try_title')}</h2>
<p class="hint">${t('dash.ldap.try_intro')}</p>
${r ? html`<div class="${r.ok ? 'notice' : 'alert'}" role="status">${r.detail}</div>
${r.person ? html`<dl class="facts">
  <dt>DN</dt><dd><code class="wrap">${r.person.dn}</code></dd>
  <dt>${t('dash.ldap.id_attr')}</dt><dd><code>${r.person.id}</code></dd>
  <dt>${t('dash.ldap.email_attr')}</dt><dd>${r.person.email}</dd>
  <dt>${t('dash.ldap.name_attr')}</dt><dd>${r.person.name ?? '—'}</dd>
  <dt>${t('dash.ldap.groups')}</dt><dd>${r.groups?.length ? r.groups.join(', ') : t('dash.ldap.try_no_groups')}</dd>
  <dt>${t('dash.ldap.try_roles')}</dt><dd>${r.roles?.length ? html`<ul class="causes">${r.roles.map((x) => html`<li>${x.project}: ${roleName(page, x.role)}</li>`)}</ul>` : t('dash.ldap.try_no_roles')}</dd>
</dl>` : ''}` : ''}
<form method="post" action="${url(SSO_TRY_PATH, { id: view.form.id })}" class="stack" novalidate>
  ${csrfField(chrome)}<input type="hidden" name="id" value="${view.form.id}">
  <div class="field-row">
    <div class="field">
      <label for="try-email">${t('dash.ldap.try_email')}</label>
      <input id="try-email" name="email" type="email" autocomplete="off" value="${r?.email ?? ''}">
    </div>
    <div class="field">
      <label for="try-password">${t('dash.ldap.try_password')}</label>
      <input id="try-password" name="password" type="password" autocomplete="off" value="">
    </div>
  </div>
  <div><button type="submit" class="secondary">${t('dash.ldap.try_submit')}</button></div>
</form>
</section>`;
}

export function connectionDeletePage(page: DashboardPage, chrome: Chrome, view: { connection: { id: string; name: string; typeName: string }; rules: RuleRow[] }): string {
  const { t } = page;
  const { connection } = view;
  const title = t('dash.sso.delete_title', { name: connection.name });
  return layout(page, chrome, title, html`
<h1 class="wrap">${title}</h1>
<section class="panel danger-zone">
<p>${t('dash.sso.delete_body')}</p>
<dl class="facts">
  <dt>${t('dash.sso.col.id')}</dt><dd><code>${connection.id}</code></dd>
  <dt>${t('dash.sso.col.type')}</dt><dd>${connection.typeName}</dd>
</dl>
${view.rules.length ? html`<p>${t('dash.sso.delete_rules', { count: view.rules.length })}</p>` : ''}
<form method="post" action="${SSO_DELETE_PATH}" class="stack">
  ${csrfField(chrome)}
  <input type="hidden" name="id" value="${connection.id}">
  <div class="button-row">
    <button type="submit" class="danger">${t('dash.sso.delete_submit')}</button>
    <a class="button secondary" href="${url(SSO_EDIT_PATH, { id: connection.id })}">${t('dash.revoke.cancel')}</a>
  </div>
</form>
</section>`);
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
  const errorCount = Object.keys(errors).length;
  return layout(page, chrome, title, html`
<h1>${title}</h1>
${view.notice ? html`<div class="notice" role="status">${view.notice}</div>` : ''}
${view.caution ? html`<div class="alert" role="status">${view.caution}</div>` : ''}
<p class="lead">${t('dash.scim.intro')}</p>
${view.token ? html`<section class="panel created" aria-labelledby="scim-token-title">
<h2 id="scim-token-title">${t(view.token.rotated ? 'dash.scim.token_rotated_title' : 'dash.scim.token_title')}</h2>
<p class="warning" id="scim-token-warning"><strong>${t('dash.scim.token_warning')}</strong></p>
${view.token.rotated ? html`<p>${t('dash.scim.token_old')}</p>` : ''}
<label for="scim-token">${t('dash.scim.token_label')}</label>
<div class="copy-row">
  <input id="scim-token" type="text" readonly value="${view.token.value}" aria-describedby="scim-token-warning" spellcheck="false" autocomplete="off" class="mono">
  <button type="button" class="secondary" data-copy="scim-token" data-copied="${t('dash.created.copied')}" data-copy-failed="${t('dash.created.copy_failed')}" hidden>${t('dash.created.copy')}</button>
</div>
<p class="status" role="status" data-copy-status="scim-token"></p>
</section>` : ''}
${view.mode === 'edit' ? html`<section class="panel" aria-labelledby="scim-urls-title">
<h2 id="scim-urls-title">${t('dash.scim.urls')}</h2>
${copyField(page, 'scim-base-url', t('dash.scim.base_url'), baseUrl)}
</section>` : ''}
${view.test ? html`<section class="panel ${view.test.ok ? '' : 'danger-zone'}" aria-labelledby="test-title">
<h2 id="test-title">${t('dash.sso.test_title')}</h2>
<p role="status" class="${view.test.ok ? 'notice' : 'alert'}">${t(view.test.ok ? 'dash.sso.test_ok' : 'dash.sso.test_failed')}</p>
<ul class="checks">${view.test.checks.map((c) => html`<li class="${c.ok ? 'check-ok' : 'check-failed'}"><span class="badge ${c.ok ? 'outcome-success' : 'outcome-failure'}">${t(c.ok ? 'dash.sso.check.ok' : 'dash.sso.check.failed')}</span> ${c.detail}</li>`)}</ul>
</section>` : ''}
<section class="panel" aria-labelledby="scim-form-title">
<h2 id="scim-form-title">${t('dash.scim.choice')}</h2>
${errorCount ? html`<div class="alert" role="alert">${t('dash.sso.errors')}
  <ul>${Object.entries(errors).map(([field, message]) => html`<li><a href="#${SCIM_ANCHORS[field] ?? 'scim-id'}">${message}</a></li>`)}</ul></div>` : ''}
${view.connectorChoices.length ? '' : html`<p class="alert" role="status">${t('dash.scim.no_connectors')}</p>`}
<form method="post" action="${action}" class="stack" novalidate>
  ${csrfField(chrome)}
  ${view.mode === 'create' ? html`<div class="field">
    <label for="scim-id">${t('dash.sso.field.id')}</label>
    <p class="hint" id="scim-id-hint">${t('dash.scim.id_hint')}</p>
    <input id="scim-id" name="id" type="text" spellcheck="false" maxlength="63" autocomplete="off" value="${form.id}" ${describedBy(errors, 'id', 'scim-id-hint')}>
    ${fieldError(errors, 'id')}
  </div>` : html`<input type="hidden" name="id" value="${form.id}">`}
  <div class="field">
    <label for="scim-connector">${t('dash.scim.connector')}</label>
    <p class="hint" id="scim-connector-hint">${t('dash.scim.connector_hint')}</p>
    <select id="scim-connector" name="connector" ${describedBy(errors, 'connector', 'scim-connector-hint')}>
      <option value="" ${form.connector === '' ? 'selected' : ''}>${t('dash.scim.choose_connector')}</option>
      ${view.connectorChoices.map((c) => html`<option value="${c.id}" ${form.connector === c.id ? 'selected' : ''}>${c.name} (${c.id})</option>`)}
    </select>
    ${fieldError(errors, 'connector')}
  </div>
  <div class="field check">
    <input type="checkbox" id="scim-enabled" name="enabled" value="on" aria-describedby="scim-enabled-hint" ${form.enabled ? 'checked' : ''}>
    <label for="scim-enabled">${t('dash.sso.field.enabled')}</label>
    <p class="hint" id="scim-enabled-hint">${t('dash.scim.enabled_hint')}</p>
  </div>
  <div class="button-row"><button type="submit">${t('dash.sso.save')}</button></div>
</form>
${view.mode === 'edit' ? html`<form method="post" action="${url(SSO_TEST_PATH, { id: form.id })}" class="confirm-form">
  ${csrfField(chrome)}<input type="hidden" name="id" value="${form.id}">
  <button type="submit" class="secondary">${t('dash.sso.test')}</button>
</form>
<form method="get" action="${SSO_DELETE_PATH}" class="confirm-form">
  <input type="hidden" name="id" value="${form.id}">
  <button type="submit" class="danger">${t('dash.sso.delete')}</button>
</form>` : ''}
</section>
${view.mode === 'edit' ? html`<section class="panel" aria-labelledby="scim-rotate-title">
<h2 id="scim-rotate-title">${t('dash.scim.rotate_title')}</h2>
<p class="hint">${t('dash.scim.rotate_intro')}</p>
<form method="post" action="${url(SSO_SCIM_ROTATE_PATH, { id: form.id })}" class="confirm-form">
  ${csrfField(chrome)}<input type="hidden" name="id" value="${form.id}">
  <button type="submit" class="secondary">${t('dash.scim.rotate')}</button>
</form>
</section>` : ''}
<p><a href="${SSO_PATH}">${t('dash.sso.back')}</a></p>`);
}

function isDashboardKeyLocal(key: string): boolean {
  return /^dash\.sso\.check\.(discovery|issuer|signing_keys|metadata|configuration|disabled|connect|service_bind|user_search|group_search)$/.test(key);
}
