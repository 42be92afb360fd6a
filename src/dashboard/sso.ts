import type Router from '@koa/router';
import type { Context } from 'koa';
import { callerOf } from '../http/caller.ts';
import { getPath, mergePatch, type ConnectionView } from '../connectors/connections.ts';
import type { SignInTry } from '../connectors/service.ts';
import { connectorType, connectorTypes, type ConnectorType, type FormField } from '../connectors/index.ts';
import { rolesFromGroups } from '../directory/index.ts';
import { provisioningRuleInput } from '../provisioning/index.ts';
import type { Project } from '../directory/index.ts';
import { SSO_DELETE_PATH, SSO_EDIT_PATH, SSO_NEW_PATH, SSO_PATH, SSO_RULE_ADD_PATH, SSO_RULE_DELETE_PATH, SSO_SCIM_ROTATE_PATH, SSO_TEST_PATH, SSO_TRY_PATH, url } from '../../views/dashboard/routes.ts';
import { messagePage } from '../../views/dashboard/pages/message.ts';
import { SCIM_TYPE, connectionDeletePage, formFields, scimFormPage, ssoFormPage, ssoPage, type ProviderForm, type ScimFormValues, type ScimFormView, type RuleForm, type RuleRow, type SsoFormValues, type SsoFormView, type SsoView, type LdapTryResult } from '../../views/dashboard/sso.ts';
import { isDashboardKey, type DashboardTranslate } from '../../views/dashboard/i18n.ts';
import type { Lang } from '../../views/i18n.ts';
import { dashboardHeaders, dashboardPage, refusalOf, render, type DashboardContext, type DashboardState, type Refusal } from './context.ts';

/** The inputs every connection has besides its type's own (ConnectorType.form). */
const COMMON_FIELDS = new Set(['id', 'name', 'email_domains', 'require_mfa', 'trust_email']);

/** A connector type as the wizard shows it, in the reader's language; undefined for no (sign-in) type. */
function providerOf(type: unknown, lang: Lang): ProviderForm | undefined {
  const described: ConnectorType | undefined = typeof type === 'string' ? connectorType(type) : undefined;
  if (!described) return undefined;
  return { type: described.type, name: described.names[lang], canProveMfa: described.canProveMfa, canTry: described.directory === true, form: described.form };
}

/** The connection's type as people call it; a SCIM connection with the connector it is tied to. */
function typeNameOf(t: DashboardTranslate, lang: Lang, c: { type: string; connector?: unknown }, long = false): string {
  if (c.type === SCIM_TYPE) return long ? t('dash.scim.choice') : `SCIM 2.0${typeof c.connector === 'string' && c.connector ? ` → ${c.connector}` : ''}`;
  return connectorType(c.type)?.names[lang] ?? c.type;
}

/** The inputs of a type that are shown (a shared block's are not) and posted. */
function shownFields(provider: ProviderForm, shared: boolean): FormField[] {
  const block = provider.form.block;
  return formFields(provider.form).filter((f) => !(shared && block && (f.path === block.path || f.path.startsWith(`${block.path}.`))));
}

/** Sets a dotted path in a plain object, making the objects on the way. */
function putPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let at = obj;
  for (const part of parts.slice(0, -1)) at = (at[part] ??= {}) as Record<string, unknown>;
  at[parts.at(-1)!] = value;
}

/** A stored setting as its input shows it; an absent one as the type's default. */
function shownValue(field: FormField, value: unknown): string | boolean {
  if (field.kind === 'flag') return value === true;
  if (Array.isArray(value)) return value.join(field.kind === 'list' ? ', ' : ' ');
  if (typeof value === 'string' || typeof value === 'number') return String(value);
  return field.default ?? '';
}

function valuesOf(c: ConnectionView, provider: ProviderForm): SsoFormValues {
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  return {
    id: c.id,
    name: str(c.name),
    email_domains: Array.isArray(c.email_domains) ? c.email_domains.join(', ') : '',
    require_mfa: c.require_mfa === true,
    trust_email: c.trust_email === true,
    enabled: c.enabled !== false,
    fields: Object.fromEntries(formFields(provider.form).filter((f) => f.kind !== 'secret').map((f) => [f.name, shownValue(f, getPath(c, f.path))])),
  };
}

function emptyForm(provider: ProviderForm): SsoFormValues {
  return { id: '', name: '', email_domains: '', require_mfa: false, trust_email: false, enabled: true, fields: Object.fromEntries(formFields(provider.form).filter((f) => f.kind !== 'secret').map((f) => [f.name, f.kind === 'flag' ? false : (f.default ?? '')])) };
}

/** A posted input as a merge-patch value: a cleared optional one is `null` (back to the connector's default). */
function patchValue(field: FormField, value: string | boolean): unknown {
  const list = (separator: RegExp) => String(value).split(separator).map((v) => v.trim()).filter(Boolean);
  switch (field.kind) {
    case 'flag': return value === true;
    case 'number': return Number(value);
    case 'optional': return value || null;
    case 'words': return value ? list(/\s+/) : null;
    case 'list': return list(/[\s,]+/);
    default: return value;
  }
}

/** What the form lacks, in the reader's language, all at once (the validator stops at the first): required text, then secrets, then numbers. */
function formErrors(t: DashboardTranslate, fields: FormField[], values: SsoFormValues, secretsGiven: Set<string>, secretSet: boolean): Record<string, string> {
  const errors: Record<string, string> = {};
  const say = (key: string, vars?: Record<string, string>) => (isDashboardKey(key) ? t(key, vars) : key);
  for (const f of fields) if (f.required && f.kind !== 'secret' && f.kind !== 'flag' && !values.fields[f.name]) errors[f.name] = say(f.required, { field: say(f.label) });
  for (const f of fields) if (f.required && f.kind === 'secret' && !secretsGiven.has(f.name) && !secretSet) errors[f.name] = say(f.required);
  for (const f of fields) if (f.kind === 'number' && f.invalid && !/^[1-9]\d{0,6}$/.test(String(values.fields[f.name]))) errors[f.name] = say(f.invalid);
  return errors;
}

/** A refusal's message without the field it starts with (`issuer: …`): the form shows it next to that field. */
function withoutField(err: Refusal): string {
  return err.field && err.message.startsWith(`${err.field}: `) ? err.message.slice(err.field.length + 2) : err.message;
}

/**
 * The connection service's refusal next to its input (found by settings path), in the reader's language
 * where we know the case — told apart by code and field, never by the message's words. `fromConfig`: the
 * id belongs to a connection of the configuration file; `secretsGiven`/`secretSet`: which write-only inputs
 * were typed, and whether one is stored.
 */
function fieldError(t: DashboardTranslate, err: Refusal, provider: ProviderForm, context: { fromConfig: boolean; secretsGiven: Set<string>; secretSet: boolean }): [string, string] {
  const fields = formFields(provider.form);
  if (err.code === 'conflict' && err.field === 'id') return ['id', context.fromConfig ? t('dash.sso.err_config') : t('dash.sso.err_id_taken')];
  if (err.code === 'conflict') {
    // The only other conflict of a save: a secret, and no LOGTRACE_SECRET_KEY to seal it with.
    const secret = fields.find((f) => f.kind === 'secret' && f.path === err.field) ?? fields.find((f) => f.kind === 'secret');
    return [secret?.name ?? 'client_secret', t('dash.sso.err_secret_key')];
  }
  const message = withoutField(err);
  const path = err.field ?? '';
  const parts = path.split('.');
  let field: FormField | undefined;
  for (let n = parts.length; n > 0 && !field; n--) {
    const prefix = parts.slice(0, n).join('.');
    field = fields.find((f) => f.path === prefix || f.aliases?.includes(prefix));
  }
  const block = provider.form.block;
  if (!field && block && path.startsWith(block.path)) field = fields.find((f) => f.path.startsWith(`${block.path}.`));
  // A stored secret that was not typed again is refused only when where it is sent changed.
  if (field?.kind === 'secret' && context.secretSet && !context.secretsGiven.has(field.name)) return [field.name, t('dash.sso.err_secret_moved')];
  if (field) return [field.name, field.error && isDashboardKey(field.error) ? t(field.error) : message];
  if (parts[0] === 'email_domains') return ['email_domains', t('dash.sso.err_domains')];
  return COMMON_FIELDS.has(parts[0]!) ? [parts[0]!, message] : ['name', err.message];
}

/** A SCIM connection's token made by a post (create or rotate), for the edit page it redirects to: shown once. */
type ScimTokenFlash = { token: string; rotated: boolean } & { [key: string]: unknown };

/** A provisioning rule's refusal (the service's, or the form's shape) next to its field of the rule form. */
function ruleError(t: DashboardTranslate, err: Pick<Refusal, 'code' | 'field'>): [string, string] {
  const field = err.field ?? '';
  if (field === 'email_domain') return ['email_domain', err.code === 'conflict' ? t('dash.rules.err_conflict') : t('dash.rules.err_domain')];
  if (field.startsWith('connectors')) return ['connector', t('dash.rules.err_connector')];
  if (field === 'role' && err.code === 'forbidden') return ['role', t('dash.rules.err_owner')];
  if (field === 'role') return ['role', t('dash.members.err_role')];
  return ['project', t('dash.rules.err_project')];
}

/**
 * Single sign-on: the connections (configuration ones read-only), a wizard per provider type with the
 * URIs to give the provider and "Test connection", and the provisioning rules. Connections go through the
 * same ConnectionService methods as /v1/connections (rights, audit, checks), with the signed-in person as
 * the caller; rules as /v1/provisioning-rules (src/provisioning).
 */
export function ssoRoutes(router: Router, dash: DashboardContext): void {
  const { services } = dash;
  const { connectionSet, connections, config, provisioningRuleRepository } = services;

  /** The person and the organisation root they administer; otherwise answers 403. */
  async function orgAdmin(ctx: Context): Promise<{ state: DashboardState; root: string } | undefined> {
    const state = await dash.signedIn(ctx);
    if (!state) return undefined;
    const [root] = await services.access.administeredOrganisations(state.principal);
    if (root) return { state, root };
    const page = dashboardPage(ctx);
    render(ctx, messagePage(page, { ...state.chrome, section: 'sso' }, { title: page.t('dash.sso.title'), body: page.t('dash.sso.forbidden'), alert: true, links: [{ href: '/dashboard', label: page.t('dash.error.back') }] }), 403);
    return undefined;
  }

  const chrome = (state: DashboardState) => ({ ...state.chrome, section: 'sso' as const });

  /**
   * The connection service's refusals every post answers the same way: the access policy's (a change that
   * is an owner's) with 403, a connection gone since the page was shown with 404. Returns the other
   * refusals, for the caller to show next to a field, or undefined when it has answered.
   */
  async function refusal(ctx: Context, state: DashboardState, err: unknown): Promise<Refusal | undefined> {
    const refused = refusalOf(err);
    if (!refused) throw err;
    if (refused.code === 'forbidden') {
      const page = dashboardPage(ctx);
      render(ctx, messagePage(page, chrome(state), { title: page.t('dash.sso.title'), body: page.t('dash.sso.owner_only'), alert: true, links: [{ href: SSO_PATH, label: page.t('dash.sso.back') }] }), 403);
      return undefined;
    }
    if (refused.code === 'not_found') {
      dash.notFound(ctx, state, SSO_PATH);
      return undefined;
    }
    return refused;
  }
  /** Whether an id taken is a connection of the configuration file (rather than one made here). */
  const fromConfig = async (ctx: Context, id: string) => (await connections.list(callerOf(ctx))).some((c) => c.id === id && c.origin === 'config');
  const renderForm = (ctx: Context, state: DashboardState, view: Omit<SsoFormView, 'issuer'>, status = 200) => render(ctx, ssoFormPage(dashboardPage(ctx), chrome(state), { ...view, issuer: config.issuer }), status);

  /** Rules as people read them: connection and project names instead of ids. */
  async function ruleRows(listed: ConnectionView[], filter: (connectors: string[]) => boolean = () => true): Promise<RuleRow[]> {
    const names = new Map(listed.map((c) => [c.id, typeof c.name === 'string' ? c.name : c.id]));
    const rows: RuleRow[] = [];
    for (const rule of (await provisioningRuleRepository.list()).filter((r) => filter(r.connectors))) {
      const project = rule.project ? await services.projectRepository.get(rule.project) : undefined;
      rows.push({ id: rule.id, email_domain: rule.email_domain, connections: rule.connectors.map((id) => names.get(id) ?? id), project: project?.name ?? rule.project, role: rule.role, origin: rule.origin });
    }
    return rows;
  }

  async function renderSso(ctx: Context, o: { state: DashboardState; root: string }, extra: Partial<Pick<SsoView, 'ruleForm' | 'errors' | 'notice'>> = {}, status = 200): Promise<void> {
    const list = await connections.list(callerOf(ctx));
    const { t, lang } = dashboardPage(ctx);
    const rows = list.map((c) => ({ id: c.id, name: typeof c.name === 'string' ? c.name : c.id, type: c.type, typeName: typeNameOf(t, lang, c), email_domains: Array.isArray(c.email_domains) ? (c.email_domains as string[]) : [], origin: c.origin, enabled: c.enabled !== false, connector: typeof c.connector === 'string' ? c.connector : undefined }));
    const projects = (await Promise.all([...o.state.adminProjects].map((id) => services.projectRepository.get(id)))).filter((p): p is Project => !!p);
    projects.sort((a, b) => a.path.join('/').localeCompare(b.path.join('/')));
    render(ctx, ssoPage(dashboardPage(ctx), chrome(o.state), {
      connections: rows,
      rules: await ruleRows(list),
      // A SCIM connection signs nobody in: provisioning rules are about connectors.
      connectorChoices: rows.filter((c) => c.type !== SCIM_TYPE).map((c) => ({ id: c.id, name: c.name })),
      providers: connectorTypes().map((type) => ({ type: type.type, name: type.names[lang] })),
      projectChoices: projects.map((p) => ({ id: p.id, name: p.name, depth: p.path.length - 1 })),
      canOwner: await services.access.isOwner(o.state.principal, o.root),
      ruleForm: extra.ruleForm ?? { email_domain: '', connector: '', project: '', role: 'viewer' },
      errors: extra.errors ?? {},
      notice: extra.notice,
    }), status);
  }

  /** A connection managed here (stored, not from the configuration file); otherwise answers. */
  async function stored(ctx: Context, state: DashboardState, id: string): Promise<ConnectionView | undefined> {
    const connection = id ? await connections.get(callerOf(ctx), id).catch((err: unknown) => {
      if (refusalOf(err)?.code === 'not_found') return undefined;
      throw err;
    }) : undefined;
    const page = dashboardPage(ctx);
    if (!connection || (!connectorType(connection.type) && connection.type !== SCIM_TYPE)) {
      render(ctx, messagePage(page, chrome(state), { title: page.t('dash.error.title'), body: page.t('dash.error.not_found'), alert: true, links: [{ href: SSO_PATH, label: page.t('dash.sso.back') }] }), 404);
      return undefined;
    }
    if (connection.origin === 'config') {
      render(ctx, messagePage(page, chrome(state), { title: page.t('dash.error.title'), body: page.t('dash.sso.err_config'), alert: true, links: [{ href: SSO_PATH, label: page.t('dash.sso.back') }] }), 409);
      return undefined;
    }
    return connection;
  }

  /** A form post about one stored connection, by an organisation admin, with a valid CSRF token; otherwise answers. */
  async function postedConnection(ctx: Context): Promise<{ o: { state: DashboardState; root: string }; form: URLSearchParams; connection: ConnectionView } | undefined> {
    const o = await orgAdmin(ctx);
    if (!o) return undefined;
    const form = await dash.checkedForm(ctx, o.state);
    if (!form) return undefined;
    const connection = await stored(ctx, o.state, form.get('id') ?? '');
    return connection ? { o, form, connection } : undefined;
  }

  /** A connection whose type keeps settings in a block it lacks (LDAP over the shared `ldap:` directory). */
  const sharedOf = (provider: ProviderForm, connection: Record<string, unknown>) => !!provider.form.block && connection[provider.form.block.path] === undefined;
  /** Whether the type's write-only input (client secret, bind password) has a stored value. */
  const secretOf = (provider: ProviderForm, connection: ConnectionView) => formFields(provider.form).some((f) => f.kind === 'secret' && connection.secrets_set.includes(f.path));
  const rulesFor = async (ctx: Context, id: string) => ruleRows(await connections.list(callerOf(ctx)), (connectors) => connectors.length === 0 || connectors.includes(id));
  /** The edit page of a stored connection as it is now; callers add the notice, test or try result. */
  const editView = async (ctx: Context, connection: ConnectionView) => {
    const provider = providerOf(connection.type, dashboardPage(ctx).lang)!; // stored() let only known types through
    return { provider, mode: 'edit' as const, form: valuesOf(connection, provider), secretSet: secretOf(provider, connection), errors: {}, sharedDirectory: sharedOf(provider, connection), rules: await rulesFor(ctx, connection.id) };
  };

  /* SCIM connections: their own form (id, the connection its people sign in with, Enabled), as /v1/connections. */
  const scimValues = (c: ConnectionView): ScimFormValues => ({ id: c.id, connector: typeof c.connector === 'string' ? c.connector : '', enabled: c.enabled !== false });
  /** What a SCIM connection can be tied to: the connections people sign in with (not other SCIM ones). */
  const scimChoices = async (ctx: Context) => (await connections.list(callerOf(ctx))).filter((c) => c.type !== SCIM_TYPE).map((c) => ({ id: c.id, name: typeof c.name === 'string' ? c.name : c.id }));
  const renderScim = async (ctx: Context, state: DashboardState, view: Omit<ScimFormView, 'issuer' | 'connectorChoices'>, status = 200) => render(ctx, scimFormPage(dashboardPage(ctx), chrome(state), { ...view, issuer: config.issuer, connectorChoices: await scimChoices(ctx) }), status);

  /**
   * Post/redirect/get for a new token (create, rotate): it travels to the edit page in a one-time flash of
   * this session, bound to the organisation root, so a reload or Back never shows it again nor makes another.
   */
  async function redirectWithToken(ctx: Context, o: { state: DashboardState; root: string }, id: string, flash: ScimTokenFlash): Promise<void> {
    const flashId = await dash.sessions.putFlash(o.state.sessionId, 'scim_token', o.root, flash);
    ctx.status = 303;
    ctx.redirect(url(SSO_EDIT_PATH, { id, flash: flashId }));
  }

  /** As POST /v1/connections (create) and PATCH (edit) with type scim: the same owner check, service call and audit. */
  async function saveScim(ctx: Context, o: { state: DashboardState; root: string }, form: URLSearchParams, existing: ConnectionView | undefined): Promise<void> {
    const { t } = dashboardPage(ctx);
    const mode = existing ? 'edit' : 'create';
    const values: ScimFormValues = { id: existing ? existing.id : (form.get('id') ?? '').trim(), connector: form.get('connector') ?? '', enabled: form.get('enabled') === 'on' };
    const changes = { id: values.id, type: SCIM_TYPE, connector: values.connector, enabled: values.enabled };
    let saved: Awaited<ReturnType<typeof connections.create>>;
    try {
      saved = existing ? await connections.update(callerOf(ctx), existing.id, changes) : await connections.create(callerOf(ctx), mergePatch({}, changes));
    } catch (err) {
      const refused = await refusal(ctx, o.state, err);
      if (!refused) return;
      const [field, message] = refused.field === 'connector'
        ? ['connector', t('dash.scim.err_connector')]
        : refused.code === 'conflict' ? ['id', (await fromConfig(ctx, values.id)) ? t('dash.sso.err_config') : t('dash.sso.err_id_taken')] : ['id', withoutField(refused)];
      return renderScim(ctx, o.state, { mode, form: values, errors: { [field]: message } }, refused.code === 'conflict' ? 409 : 400);
    }
    if (saved.token) return redirectWithToken(ctx, o, saved.id, { token: saved.token, rotated: false });
    ctx.status = 303;
    ctx.redirect(url(SSO_EDIT_PATH, { id: saved.id, saved: '1' }));
  }

  router.get(SSO_PATH, dashboardHeaders, async (ctx) => {
    const o = await orgAdmin(ctx);
    if (!o) return;
    await renderSso(ctx, o);
  });

  router.get(SSO_NEW_PATH, dashboardHeaders, async (ctx) => {
    const o = await orgAdmin(ctx);
    if (!o) return;
    const type = ctx.query.type;
    if (type === SCIM_TYPE) return renderScim(ctx, o.state, { mode: 'create', form: { id: '', connector: '', enabled: true }, errors: {} });
    const provider = providerOf(type, dashboardPage(ctx).lang);
    if (!provider) return ctx.redirect(SSO_PATH);
    renderForm(ctx, o.state, { provider, mode: 'create', form: emptyForm(provider), secretSet: false, errors: {} });
  });

  router.get(SSO_EDIT_PATH, dashboardHeaders, async (ctx) => {
    const o = await orgAdmin(ctx);
    if (!o) return;
    const connection = await stored(ctx, o.state, typeof ctx.query.id === 'string' ? ctx.query.id : '');
    if (!connection) return;
    const { t } = dashboardPage(ctx);
    if (connection.type === SCIM_TYPE) {
      const { flash, gone } = await dash.takeFlash<ScimTokenFlash>(ctx, o.state, 'scim_token', o.root);
      const token = flash && typeof flash.token === 'string' ? { value: flash.token, rotated: flash.rotated === true } : undefined;
      return renderScim(ctx, o.state, {
        mode: 'edit',
        form: scimValues(connection),
        errors: {},
        token,
        caution: gone ? t('dash.scim.token_gone') : undefined,
        notice: token && !token.rotated ? t('dash.scim.created', { id: connection.id }) : ctx.query.saved === '1' ? t('dash.sso.saved_only', { id: connection.id }) : undefined,
      });
    }
    const notRunning = connection.enabled === false ? undefined : connectionSet.failures.get(connection.id);
    renderForm(ctx, o.state, { ...(await editView(ctx, connection)), notRunning, notice: ctx.query.saved === '1' ? t(notRunning ? 'dash.sso.saved_only' : 'dash.sso.saved', { id: connection.id }) : undefined });
  });

  async function save(ctx: Context, mode: 'create' | 'edit'): Promise<void> {
    const o = await orgAdmin(ctx);
    if (!o) return;
    const form = await dash.checkedForm(ctx, o.state);
    if (!form) return;
    const { t, lang } = dashboardPage(ctx);
    let provider: ProviderForm | undefined;
    let current: Record<string, unknown> = {};
    let editing = '';
    let secretSet = false;
    if (mode === 'create') {
      // SCIM connections are no connector type: their own form.
      if (ctx.query.type === SCIM_TYPE) return saveScim(ctx, o, form, undefined);
      provider = providerOf(ctx.query.type, lang);
      if (!provider) return ctx.redirect(SSO_PATH);
    } else {
      const connection = await stored(ctx, o.state, form.get('id') ?? '');
      if (!connection) return;
      if (connection.type === SCIM_TYPE) return saveScim(ctx, o, form, connection);
      provider = providerOf(connection.type, lang)!; // stored() let only known types through
      editing = connection.id;
      try {
        current = await connections.settings(callerOf(ctx), connection.id);
      } catch (err) {
        if (!(await refusal(ctx, o.state, err))) return;
        throw err;
      }
      secretSet = secretOf(provider, connection);
    }
    const { type } = provider;
    const get = (name: string) => (form.get(name) ?? '').trim();
    const on = (name: string) => form.get(name) === 'on';
    const shared = mode === 'edit' && sharedOf(provider, current);
    const fields = shownFields(provider, shared);
    const values: SsoFormValues = {
      id: get('id'),
      name: get('name'),
      email_domains: get('email_domains'),
      require_mfa: on('require_mfa') && provider.canProveMfa,
      trust_email: on('trust_email'),
      enabled: on('enabled'),
      fields: Object.fromEntries(formFields(provider.form).filter((f) => f.kind !== 'secret').map((f) => [f.name, f.kind === 'flag' ? on(f.name) : get(f.name)])),
    };
    const changes: Record<string, unknown> = {
      id: values.id,
      type,
      email_domains: values.email_domains.split(',').map((d) => d.trim()).filter(Boolean),
      require_mfa: values.require_mfa,
      // Unticked = not `true`. An explicit `false` set through the API ("do not trust these addresses") is
      // kept; otherwise unticked is "not set", never a new `false`: for LDAP that would mark the
      // directory's own addresses unverified, and nobody could get an account through it.
      trust_email: values.trust_email ? true : current.trust_email === false ? false : null,
      enabled: values.enabled,
      name: values.name || null,
    };
    // Secrets are write-only: sent only when typed. Cleared optional inputs are `null` in the merge patch.
    const secretsGiven = new Set(fields.filter((f) => f.kind === 'secret' && form.get(f.name)).map((f) => f.name));
    const errors = formErrors(t, fields, values, secretsGiven, secretSet);
    if (Object.keys(errors).length) return renderForm(ctx, o.state, { provider, mode, form: values, secretSet, sharedDirectory: shared, errors }, 400);
    for (const field of fields) {
      if (field.kind === 'secret') {
        if (secretsGiven.has(field.name)) putPath(changes, field.path, form.get(field.name));
      } else {
        putPath(changes, field.path, patchValue(field, values.fields[field.name] ?? ''));
      }
    }
    let saved: ConnectionView;
    try {
      // A new connection is the form's settings (a cleared input is no setting); an edit is a merge patch.
      saved = mode === 'create' ? await connections.create(callerOf(ctx), mergePatch({}, changes)) : await connections.update(callerOf(ctx), editing, changes);
    } catch (err) {
      const refused = await refusal(ctx, o.state, err);
      if (!refused) return;
      const [field, message] = fieldError(t, refused, provider, { fromConfig: refused.code === 'conflict' && (await fromConfig(ctx, values.id)), secretsGiven, secretSet });
      return renderForm(ctx, o.state, { provider, mode, form: values, secretSet, sharedDirectory: shared, errors: { [field]: message } }, refused.status);
    }
    ctx.status = 303;
    ctx.redirect(`${SSO_EDIT_PATH}?id=${encodeURIComponent(saved.id)}&saved=1`);
  }

  router.post(SSO_NEW_PATH, dashboardHeaders, (ctx) => save(ctx, 'create'));
  router.post(SSO_EDIT_PATH, dashboardHeaders, (ctx) => save(ctx, 'edit'));

  /** As POST /v1/connections/{id}/test: the same checks, audited as connection.tested. */
  router.post(SSO_TEST_PATH, dashboardHeaders, async (ctx) => {
    const p = await postedConnection(ctx);
    if (!p) return;
    const { o, connection } = p;
    let test: Awaited<ReturnType<typeof connections.test>>;
    try {
      test = await connections.test(callerOf(ctx), connection.id);
    } catch (err) {
      if (!(await refusal(ctx, o.state, err))) return;
      throw err;
    }
    const { ok, checks } = test;
    if (connection.type === SCIM_TYPE) return renderScim(ctx, o.state, { mode: 'edit', form: scimValues(connection), errors: {}, test: { ok, checks } });
    renderForm(ctx, o.state, { ...(await editView(ctx, connection)), test: { ok, checks } });
  });

  /**
   * LDAP "Try a sign-in" (Keycloak's "Test authentication"): the directory's answer for one email and
   * password, the groups found and the roles the current mappings give. Signs nobody in, creates nothing;
   * audited as connection.tested without the password.
   */
  router.post(SSO_TRY_PATH, dashboardHeaders, async (ctx) => {
    const p = await postedConnection(ctx);
    if (!p) return;
    const { o, form, connection } = p;
    if (!connectorType(connection.type)?.directory) return ctx.redirect(`${SSO_EDIT_PATH}?id=${encodeURIComponent(connection.id)}`);
    const { t } = dashboardPage(ctx);
    const email = (form.get('email') ?? '').trim();
    let tried: SignInTry;
    try {
      tried = await connections.trySignIn(callerOf(ctx), connection.id, { email, password: form.get('password') ?? '' });
    } catch (err) {
      if (!(await refusal(ctx, o.state, err))) return;
      throw err;
    }
    let result: LdapTryResult;
    switch (tried.outcome) {
      case 'missing': result = { email, ok: false, detail: t('dash.ldap.try_missing') }; break;
      case 'unavailable': result = { email, ok: false, detail: t('dash.ldap.try_unavailable', { reason: tried.reason }) }; break;
      case 'locked': result = { email, ok: false, detail: t('dash.ldap.try_locked', { email, minutes: Math.ceil(tried.retryAfter / 60) }) }; break;
      case 'rejected': result = { email, ok: false, detail: t('dash.ldap.try_bad', { email }) }; break;
      case 'accepted': {
        // The project roles the current mappings give for these groups (nothing is granted).
        const mappings = (await services.groupRoles.list()).filter((m) => m.source === tried.source);
        const roles = [];
        for (const grant of rolesFromGroups(mappings, [{ source: tried.source, groups: tried.groups }])) {
          roles.push({ project: (await services.projectRepository.get(grant.project_id))?.name ?? grant.project_id, role: grant.role });
        }
        result = { email, ok: true, detail: t('dash.ldap.try_ok', { email: tried.person.email }), person: tried.person, groups: tried.groups, roles };
      }
    }
    renderForm(ctx, o.state, { ...(await editView(ctx, connection)), tryResult: result });
  });

  router.get(SSO_DELETE_PATH, dashboardHeaders, async (ctx) => {
    const o = await orgAdmin(ctx);
    if (!o) return;
    const connection = await stored(ctx, o.state, typeof ctx.query.id === 'string' ? ctx.query.id : '');
    if (!connection) return;
    const rules = await ruleRows(await connections.list(callerOf(ctx)), (connectors) => connectors.includes(connection.id));
    const page = dashboardPage(ctx);
    render(ctx, connectionDeletePage(page, chrome(o.state), { connection: { id: connection.id, name: typeof connection.name === 'string' ? connection.name : connection.id, typeName: typeNameOf(page.t, page.lang, connection, true) }, rules }));
  });

  /** As DELETE /v1/connections/{id}: gone from every node within the reload interval; accounts stay. */
  router.post(SSO_DELETE_PATH, dashboardHeaders, async (ctx) => {
    const p = await postedConnection(ctx);
    if (!p) return;
    const { o, connection } = p;
    try {
      // A SCIM connection's people lose the roles its groups gave.
      await connections.delete(callerOf(ctx), connection.id);
    } catch (err) {
      if (!(await refusal(ctx, o.state, err))) return;
      throw err;
    }
    await renderSso(ctx, o, { notice: dashboardPage(ctx).t('dash.sso.deleted', { id: connection.id }) });
  });

  /**
   * As POST /v1/connections/{id}/token/rotate: owner business (the token provisions and disables accounts),
   * audited; the new token is shown once on the edit page, the old one stops working at once.
   */
  router.post(SSO_SCIM_ROTATE_PATH, dashboardHeaders, async (ctx) => {
    const p = await postedConnection(ctx);
    if (!p) return;
    const { o, connection } = p;
    if (connection.type !== SCIM_TYPE) return dash.notFound(ctx, o.state, SSO_PATH);
    let token: string;
    try {
      ({ token } = await connections.rotateScimToken(callerOf(ctx), connection.id));
    } catch (err) {
      // An admin (owner business), or deleted between the page and the post.
      if (!(await refusal(ctx, o.state, err))) return;
      throw err;
    }
    await redirectWithToken(ctx, o, connection.id, { token, rotated: true });
  });

  /** As POST /v1/provisioning-rules (the same service call). */
  router.post(SSO_RULE_ADD_PATH, dashboardHeaders, async (ctx) => {
    const o = await orgAdmin(ctx);
    if (!o) return;
    const form = await dash.checkedForm(ctx, o.state);
    if (!form) return;
    const { t } = dashboardPage(ctx);
    const ruleForm: RuleForm = { email_domain: (form.get('email_domain') ?? '').trim().replace(/^@/, ''), connector: form.get('connector') ?? '', project: form.get('project') ?? '', role: form.get('role') ?? '' };
    const parsed = provisioningRuleInput.safeParse({
      email_domain: ruleForm.email_domain,
      ...(ruleForm.connector ? { connectors: [ruleForm.connector] } : {}),
      ...(ruleForm.project ? { project_id: ruleForm.project, role: ruleForm.role } : {}),
    });
    if (!parsed.success) {
      const errors: Record<string, string> = {};
      for (const issue of parsed.error.issues) {
        const [field, message] = ruleError(t, { code: 'invalid', field: issue.path.join('.') });
        errors[field] ??= message;
      }
      return renderSso(ctx, o, { ruleForm, errors }, 400);
    }
    try {
      const rule = await services.provisioningRules.create(callerOf(ctx), parsed.data);
      await renderSso(ctx, o, { notice: t('dash.rules.added', { domain: rule.email_domain }) });
    } catch (caught) {
      const err = refusalOf(caught);
      if (!err) throw caught;
      const [field, message] = ruleError(t, err);
      await renderSso(ctx, o, { ruleForm, errors: { [field]: message } }, err.status);
    }
  });

  /** As DELETE /v1/provisioning-rules/{id}. Accounts a rule created are kept. */
  router.post(SSO_RULE_DELETE_PATH, dashboardHeaders, async (ctx) => {
    const o = await orgAdmin(ctx);
    if (!o) return;
    const form = await dash.checkedForm(ctx, o.state);
    if (!form) return;
    const { t } = dashboardPage(ctx);
    try {
      const rule = await services.provisioningRules.remove(callerOf(ctx), form.get('id') ?? '');
      await renderSso(ctx, o, { notice: t('dash.rules.deleted', { domain: rule.email_domain }) });
    } catch (caught) {
      const err = refusalOf(caught);
      if (!err) throw caught;
      const message = err.code === 'not_found' ? t('dash.error.not_found') : err.code === 'conflict' ? t('dash.rules.err_config') : err.field === 'role' ? t('dash.rules.err_owner') : t('dash.rules.err_project');
      await renderSso(ctx, o, { errors: { email_domain: message } }, err.status);
    }
  });
}
