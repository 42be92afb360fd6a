import type Router from '@koa/router';
import type { Context } from 'koa';
import { auditAction } from '../admin/context.ts';
import { testConnection } from '../admin/connections.ts';
import { ConnectionInputError, type ConnectionView } from '../connectors/connections.ts';
import {
  NO_MFA,
  PROVIDER_TYPES,
  SSO_EDIT_PATH,
  SSO_NEW_PATH,
  SSO_PATH,
  SSO_TEST_PATH,
  messagePage,
  ssoFormPage,
  ssoPage,
  type ProviderType,
  type SsoFormValues,
  type SsoFormView,
} from '../../views/dashboard/pages.ts';
import type { DashTranslate } from '../../views/dashboard/i18n.ts';
import { dashboardHeaders, dashPage, render, type DashboardContext, type DashState } from './context.ts';

const FORM_FIELDS = new Set(['id', 'name', 'client_id', 'client_secret', 'issuer', 'tenant', 'idp_metadata_url', 'email_domains', 'require_mfa', 'trust_email']);

function isProviderType(value: unknown): value is ProviderType {
  return typeof value === 'string' && (PROVIDER_TYPES as readonly string[]).includes(value);
}

function valuesOf(c: ConnectionView): SsoFormValues {
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  return {
    id: c.id,
    name: str(c.name),
    client_id: str(c.client_id),
    issuer: str(c.issuer),
    tenant: str(c.tenant),
    idp_metadata_url: str(c.idp_metadata_url),
    email_domains: Array.isArray(c.email_domains) ? c.email_domains.join(', ') : '',
    require_mfa: c.require_mfa === true,
    trust_email: c.trust_email === true,
  };
}

/** ConnectionSet's error next to its field, in the reader's language where we know the case. */
function fieldError(t: DashTranslate, err: ConnectionInputError): [string, string] {
  if (err.code === 'no_secret_key') return ['client_secret', t('dash.sso.err_secret_key')];
  if (err.code === 'conflict' && err.field === 'id') return ['id', /configuration file/.test(err.message) ? t('dash.sso.err_config') : t('dash.sso.err_id_taken')];
  const field = (err.field ?? '').split('.')[0]!;
  if (field === 'email_domains') return ['email_domains', t('dash.sso.err_domains')];
  const message = err.message.replace(/^[\w.]+: /, '');
  return [FORM_FIELDS.has(field) ? field : 'name', FORM_FIELDS.has(field) ? message : err.message];
}

/**
 * Single sign-on: the connections (configuration ones read-only) and a wizard per provider type, with the
 * URIs to give the provider and "Test connection". The same service calls, rule (admin:projects on the
 * organisation root), audit events and checks as /v1/connections (src/admin/connections.ts).
 */
export function ssoRoutes(router: Router, dash: DashboardContext): void {
  const { services } = dash;
  const { connections, config } = services;

  /** The person and the organisation root they administer; otherwise answers 403. */
  async function orgAdmin(ctx: Context): Promise<{ state: DashState; root: string } | undefined> {
    const state = await dash.signedIn(ctx);
    if (!state) return undefined;
    for (const root of await services.projects.roots()) {
      if (await dash.administers(state, root.id)) return { state, root: root.id };
    }
    const page = dashPage(ctx);
    render(ctx, messagePage(page, { ...state.chrome, section: 'sso' }, { title: page.t('dash.sso.title'), body: page.t('dash.sso.forbidden'), alert: true, links: [{ href: '/dashboard', label: page.t('dash.error.back') }] }), 403);
    return undefined;
  }

  const chrome = (state: DashState) => ({ ...state.chrome, section: 'sso' as const });
  const renderForm = (ctx: Context, state: DashState, view: Omit<SsoFormView, 'issuer'>, status = 200) => render(ctx, ssoFormPage(dashPage(ctx), chrome(state), { ...view, issuer: config.issuer }), status);

  /** A connection managed here (stored, not from the configuration file); otherwise answers. */
  async function stored(ctx: Context, state: DashState, id: string): Promise<ConnectionView | undefined> {
    const connection = id ? await connections.get(id) : undefined;
    const page = dashPage(ctx);
    if (!connection || !isProviderType(connection.type)) {
      render(ctx, messagePage(page, chrome(state), { title: page.t('dash.error.title'), body: page.t('dash.error.not_found'), alert: true, links: [{ href: SSO_PATH, label: page.t('dash.sso.back') }] }), 404);
      return undefined;
    }
    if (connection.origin === 'config') {
      render(ctx, messagePage(page, chrome(state), { title: page.t('dash.error.title'), body: page.t('dash.sso.err_config'), alert: true, links: [{ href: SSO_PATH, label: page.t('dash.sso.back') }] }), 409);
      return undefined;
    }
    return connection;
  }

  router.get(SSO_PATH, dashboardHeaders, async (ctx) => {
    const o = await orgAdmin(ctx);
    if (!o) return;
    const rows = (await connections.list()).map((c) => ({ id: c.id, name: typeof c.name === 'string' ? c.name : c.id, type: c.type, email_domains: Array.isArray(c.email_domains) ? (c.email_domains as string[]) : [], origin: c.origin }));
    render(ctx, ssoPage(dashPage(ctx), chrome(o.state), { connections: rows }));
  });

  router.get(SSO_NEW_PATH, dashboardHeaders, async (ctx) => {
    const o = await orgAdmin(ctx);
    if (!o) return;
    const type = ctx.query.type;
    if (!isProviderType(type)) return ctx.redirect(SSO_PATH);
    renderForm(ctx, o.state, { type, mode: 'create', form: { id: '', name: '', client_id: '', issuer: '', tenant: '', idp_metadata_url: '', email_domains: '', require_mfa: false, trust_email: false }, secretSet: false, errors: {} });
  });

  router.get(SSO_EDIT_PATH, dashboardHeaders, async (ctx) => {
    const o = await orgAdmin(ctx);
    if (!o) return;
    const connection = await stored(ctx, o.state, typeof ctx.query.id === 'string' ? ctx.query.id : '');
    if (!connection) return;
    const { t } = dashPage(ctx);
    renderForm(ctx, o.state, { type: connection.type as ProviderType, mode: 'edit', form: valuesOf(connection), secretSet: connection.secrets_set.includes('client_secret'), errors: {}, notice: ctx.query.saved === '1' ? t('dash.sso.saved', { id: connection.id }) : undefined });
  });

  async function save(ctx: Context, mode: 'create' | 'edit'): Promise<void> {
    const o = await orgAdmin(ctx);
    if (!o) return;
    const form = await dash.checkedForm(ctx, o.state);
    if (!form) return;
    const { t } = dashPage(ctx);
    let type: ProviderType;
    let current: Record<string, unknown> = {};
    let secretSet = false;
    if (mode === 'create') {
      if (!isProviderType(ctx.query.type)) return ctx.redirect(SSO_PATH);
      type = ctx.query.type;
    } else {
      const connection = await stored(ctx, o.state, form.get('id') ?? '');
      if (!connection) return;
      type = connection.type as ProviderType;
      current = (await connections.storedConfig(connection.id)) ?? {};
      secretSet = connection.secrets_set.includes('client_secret');
    }
    const get = (name: string) => (form.get(name) ?? '').trim();
    const values: SsoFormValues = {
      id: get('id'),
      name: get('name'),
      client_id: get('client_id'),
      issuer: get('issuer'),
      tenant: get('tenant'),
      idp_metadata_url: get('idp_metadata_url'),
      email_domains: get('email_domains'),
      require_mfa: form.get('require_mfa') === 'on' && !NO_MFA.includes(type),
      trust_email: form.get('trust_email') === 'on',
    };
    const changes: Record<string, unknown> = {
      id: values.id,
      type,
      email_domains: values.email_domains.split(',').map((d) => d.trim()).filter(Boolean),
      require_mfa: values.require_mfa,
      trust_email: values.trust_email,
    };
    if (values.name) changes.name = values.name;
    if (type !== 'saml') changes.client_id = values.client_id;
    if (type === 'oidc') changes.issuer = values.issuer;
    if (type === 'entra') changes.tenant = values.tenant;
    if (type === 'saml') changes.idp_metadata_url = values.idp_metadata_url;
    const secret = form.get('client_secret') ?? '';
    if (type !== 'saml' && secret) changes.client_secret = secret;
    const raw: Record<string, unknown> = { ...current, ...changes };
    if (!values.name) delete raw.name;
    let saved: ConnectionView;
    try {
      saved = await connections.save(raw, mode === 'create' ? 'create' : 'update');
    } catch (err) {
      if (!(err instanceof ConnectionInputError)) throw err;
      const [field, message] = fieldError(t, err);
      return renderForm(ctx, o.state, { type, mode, form: values, secretSet, errors: { [field]: message } }, err.code === 'no_secret_key' || err.code === 'conflict' ? 409 : 400);
    }
    await auditAction(ctx, services, mode === 'create'
      ? { action: 'connection.created', target: { type: 'connection', id: saved.id }, project_id: o.root, outcome: 'success', detail: { type: saved.type } }
      : { action: 'connection.updated', target: { type: 'connection', id: saved.id }, project_id: o.root, outcome: 'success', detail: { fields: Object.keys(changes).filter((k) => k !== 'id' && k !== 'type') } });
    ctx.status = 303;
    ctx.redirect(`${SSO_EDIT_PATH}?id=${encodeURIComponent(saved.id)}&saved=1`);
  }

  router.post(SSO_NEW_PATH, dashboardHeaders, (ctx) => save(ctx, 'create'));
  router.post(SSO_EDIT_PATH, dashboardHeaders, (ctx) => save(ctx, 'edit'));

  /** As POST /v1/connections/{id}/test: the same checks, audited as connection.tested. */
  router.post(SSO_TEST_PATH, dashboardHeaders, async (ctx) => {
    const o = await orgAdmin(ctx);
    if (!o) return;
    const form = await dash.checkedForm(ctx, o.state);
    if (!form) return;
    const connection = await stored(ctx, o.state, form.get('id') ?? '');
    if (!connection) return;
    const checks = await testConnection(services, connection);
    const ok = checks.every((c) => c.ok);
    await auditAction(ctx, services, { action: 'connection.tested', target: { type: 'connection', id: connection.id }, project_id: o.root, outcome: ok ? 'success' : 'failure', detail: { checks: checks.filter((c) => !c.ok).map((c) => c.check) } });
    renderForm(ctx, o.state, { type: connection.type as ProviderType, mode: 'edit', form: valuesOf(connection), secretSet: connection.secrets_set.includes('client_secret'), errors: {}, test: { ok, checks } });
  });
}
