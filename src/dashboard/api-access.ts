import type Router from '@koa/router';
import type { Context } from 'koa';
import { keyCreated, keyRevoked, keyRotated } from '../admin/key-events.ts';
import { KEY_SCOPES, KeyInputError, type ApiKeyView, type CreateKeyInput } from '../keys/index.ts';
import type { Project } from '../directory/index.ts';
import { API_ACCESS_PATH, REVOKE_PATH, ROTATE_PATH, USAGE_PATH } from '../../views/dashboard/routes.ts';
import { apiAccessPage, type ApiAccessView, type KeyFormValues, type KeyRow, type SortDir, type SortKey } from '../../views/dashboard/pages/api-access.ts';
import { revokePage } from '../../views/dashboard/pages/revoke.ts';
import { usagePage } from '../../views/dashboard/pages/usage.ts';
import type { DashTranslate } from '../../views/dashboard/i18n.ts';
import { allowed, dashboardHeaders, dashPage, render, type DashboardContext, type DashState } from './context.ts';

const SORT_KEYS: readonly SortKey[] = ['name', 'created', 'expires', 'last_used'];

/** A key made (or rotated) by a post, for the page the post redirects to: its secret, shown once. */
type CreatedKeyFlash = NonNullable<ApiAccessView['created']> & { [key: string]: unknown };

function row(k: ApiKeyView): KeyRow {
  return { id: k.id, name: k.name, prefix: k.prefix, scopes: k.scopes, environment: k.environment, status: k.status, created_at: k.created_at, expires_at: k.expires_at, last_used_at: k.last_used_at };
}

export function sortKeys(keys: KeyRow[], by: SortKey, dir: SortDir): KeyRow[] {
  const value = (k: KeyRow): string => (by === 'name' ? k.name.toLocaleLowerCase() : by === 'created' ? k.created_at : by === 'expires' ? k.expires_at : (k.last_used_at ?? ''));
  const sign = dir === 'asc' ? 1 : -1;
  return [...keys].sort((a, b) => sign * value(a).localeCompare(value(b)) || a.id.localeCompare(b.id));
}

/** KeyService's field errors in the reader's language (the service's own message as a fallback). */
function fieldMessage(t: DashTranslate, err: KeyInputError, lines: string[], maxTtlDays: number): [string, string] {
  const line = /^ip_allowlist\[(\d+)\]$/.exec(err.field);
  if (line) {
    const i = Number(line[1]);
    return ['ip_allowlist', t('dash.err.ip_allowlist', { line: i + 1, value: lines[i] ?? '' })];
  }
  switch (err.field) {
    case 'name': return ['name', t('dash.err.name')];
    case 'scopes': return ['scopes', t('dash.err.scopes')];
    case 'environment': return ['environment', t('dash.err.environment')];
    case 'ttl_days': return ['ttl_days', t('dash.err.ttl_days', { max: maxTtlDays })];
    default: return [err.field, err.message];
  }
}

/**
 * API Access: the project's keys, create, rotate, revoke. The same service calls, rules, audit events and
 * webhooks as /v1/keys (src/admin/keys.ts), with the person as the actor. Create and rotate follow
 * post/redirect/get: the new secret travels to the list page in a one-time flash of the session, so a
 * reload or Back never makes a second key.
 */
export function apiAccessRoutes(router: Router, dash: DashboardContext): void {
  const { services } = dash;
  const { keys, config } = services;
  const maxTtlDays = config.api_keys.max_ttl_days;
  const defaults = (): KeyFormValues => ({ name: '', scopes: ['read:logs'], environment: 'live', ttl_days: String(config.api_keys.default_ttl_days), ip_allowlist: '', auto_rotate: false });

  async function renderKeys(ctx: Context, state: DashState, project: Project, extra: Partial<Pick<ApiAccessView, 'form' | 'errors' | 'created' | 'notice' | 'caution'>> = {}, status = 200) {
    const page = dashPage(ctx);
    const by = SORT_KEYS.includes(ctx.query.sort as SortKey) ? (ctx.query.sort as SortKey) : 'created';
    const dir: SortDir = ctx.query.dir === 'asc' || ctx.query.dir === 'desc' ? ctx.query.dir : by === 'name' ? 'asc' : 'desc';
    const held = await services.access.scopesOn(state.principal, project.id);
    render(ctx, apiAccessPage(page, { ...state.chrome, project: { id: project.id, name: project.name }, section: 'api-access' }, {
      project: { id: project.id, name: project.name },
      keys: sortKeys((await keys.list(project.id)).map(row), by, dir),
      sort: { by, dir },
      heldScopes: KEY_SCOPES.filter((s) => held.includes(s)),
      maxTtlDays,
      form: extra.form ?? defaults(),
      errors: extra.errors ?? {},
      created: extra.created,
      notice: extra.notice,
      caution: extra.caution,
    }), status);
  }

  /** A key the person administers (by its project), else 404 answered. */
  async function keyOf(ctx: Context, state: DashState, id: string): Promise<{ key: ApiKeyView; project: Project } | undefined> {
    const key = id ? await keys.get(id) : undefined;
    const project = key ? await services.projects.get(key.project_id) : undefined;
    if (!key || !project || !(await dash.administers(state, key.project_id))) {
      dash.notFound(ctx, state, API_ACCESS_PATH);
      return undefined;
    }
    return { key, project };
  }

  router.get(API_ACCESS_PATH, dashboardHeaders, async (ctx) => {
    const state = await dash.signedIn(ctx);
    if (!state) return;
    const project = await dash.project(ctx, state, API_ACCESS_PATH);
    if (!project) return;
    const { t } = dashPage(ctx);
    let notice: string | undefined;
    if (typeof ctx.query.revoked === 'string') {
      const revoked = await keys.get(ctx.query.revoked);
      if (revoked && revoked.project_id === project.id && revoked.status === 'revoked') notice = t('dash.revoke.done', { name: revoked.name });
    }
    const { flash: created, gone } = await dash.takeFlash<CreatedKeyFlash>(ctx, state, 'key', project.id);
    await renderKeys(ctx, state, project, { notice, caution: gone ? t('dash.flash.gone_key') : undefined, created });
  });

  router.post(API_ACCESS_PATH, dashboardHeaders, async (ctx) => {
    const state = await dash.signedIn(ctx);
    if (!state) return;
    const form = await dash.checkedForm(ctx, state);
    if (!form) return;
    const project = await dash.project(ctx, state, API_ACCESS_PATH);
    if (!project) return;
    const { t } = dashPage(ctx);
    const values: KeyFormValues = {
      name: form.get('name') ?? '',
      scopes: form.getAll('scopes'),
      environment: form.get('environment') ?? '',
      ttl_days: (form.get('ttl_days') ?? '').trim(),
      ip_allowlist: form.get('ip_allowlist') ?? '',
      auto_rotate: form.get('auto_rotate') === 'on',
    };
    const lines = values.ip_allowlist.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
    const errors: Record<string, string> = {};
    const ttl = values.ttl_days === '' ? undefined : Number(values.ttl_days);
    if (ttl !== undefined && !Number.isInteger(ttl)) errors.ttl_days = t('dash.err.ttl_days', { max: maxTtlDays });
    // As POST /v1/keys: nobody creates a key with a scope they do not hold (the access policy decides).
    const held = await services.access.scopesOn(state.principal, project.id);
    const missing = values.scopes.filter((s) => !held.includes(s));
    if (!(await allowed(() => services.access.requireKeyScopes(state.principal, project.id, values.scopes)))) errors.scopes = t('dash.err.scopes_not_held', { scopes: missing.join(', ') });
    const input: CreateKeyInput = {
      project_id: project.id,
      name: values.name,
      scopes: values.scopes,
      environment: values.environment as CreateKeyInput['environment'],
      ttl_days: ttl,
      ip_allowlist: lines,
      auto_rotate: values.auto_rotate,
    };
    let created: Awaited<ReturnType<typeof keys.create>> | undefined;
    if (!Object.keys(errors).length) {
      try {
        created = await keys.create(input, state.principal.actor);
      } catch (err) {
        if (!(err instanceof KeyInputError)) throw err;
        const [field, message] = fieldMessage(t, err, lines, maxTtlDays);
        errors[field] = message;
      }
    }
    if (!created) return renderKeys(ctx, state, project, { form: values, errors }, 400);
    await keyCreated(ctx, services, project.id, created.view);
    const flash: CreatedKeyFlash = { key: created.key, name: created.view.name };
    await dash.redirectWithFlash(ctx, state, 'key', project.id, API_ACCESS_PATH, flash);
  });

  router.post(ROTATE_PATH, dashboardHeaders, async (ctx) => {
    const state = await dash.signedIn(ctx);
    if (!state) return;
    const form = await dash.checkedForm(ctx, state);
    if (!form) return;
    const found = await keyOf(ctx, state, form.get('id') ?? '');
    if (!found) return;
    const { key: old, project } = found;
    // As POST /v1/keys/rotate: a rotation mints a new secret with every scope of the key.
    if (!(await allowed(() => services.access.requireKeyScopes(state.principal, old.project_id, old.scopes)))) {
      const held = await services.access.scopesOn(state.principal, old.project_id);
      const { t } = dashPage(ctx);
      return renderKeys(ctx, state, project, { notice: t('dash.err.scopes_not_held', { scopes: old.scopes.filter((s) => !held.includes(s)).join(', ') }) }, 403);
    }
    const grace = Number(form.get('grace_seconds') ?? services.config.api_keys.rotation_grace_seconds);
    let rotated: Awaited<ReturnType<typeof keys.rotate>>;
    try {
      rotated = await keys.rotate(old.id, grace, state.principal.actor);
    } catch (err) {
      if (!(err instanceof KeyInputError)) throw err;
      const { t } = dashPage(ctx);
      return renderKeys(ctx, state, project, { notice: err.field === 'id' ? t('dash.err.id') : err.message }, err.code === 'conflict' ? 409 : 400);
    }
    await keyRotated(ctx, services, rotated);
    const flash: CreatedKeyFlash = { key: rotated.key, name: rotated.view.name, rotated: { grace_until: rotated.old.grace_until } };
    await dash.redirectWithFlash(ctx, state, 'key', project.id, API_ACCESS_PATH, flash);
  });

  router.get(REVOKE_PATH, dashboardHeaders, async (ctx) => {
    const state = await dash.signedIn(ctx);
    if (!state) return;
    const found = await keyOf(ctx, state, typeof ctx.query.key === 'string' ? ctx.query.key : '');
    if (!found) return;
    const { key, project } = found;
    render(ctx, revokePage(dashPage(ctx), { ...state.chrome, project, section: 'api-access' }, { project, key: row(key) }));
  });

  /** Verifications per day by outcome (the data of GET /v1/keys/{id}/usage) as a chart and a table. */
  router.get(USAGE_PATH, dashboardHeaders, async (ctx) => {
    const state = await dash.signedIn(ctx);
    if (!state) return;
    const found = await keyOf(ctx, state, typeof ctx.query.key === 'string' ? ctx.query.key : '');
    if (!found) return;
    const { key, project } = found;
    const usage = await keys.usageOf(key.id, 30);
    render(ctx, usagePage(dashPage(ctx), { ...state.chrome, project, section: 'api-access' }, { project: { id: project.id, name: project.name }, key: row(key), days: usage.days, last_used_at: usage.last_used_at }));
  });

  router.post(REVOKE_PATH, dashboardHeaders, async (ctx) => {
    const state = await dash.signedIn(ctx);
    if (!state) return;
    const form = await dash.checkedForm(ctx, state);
    if (!form) return;
    const found = await keyOf(ctx, state, form.get('id') ?? '');
    if (!found) return;
    const { key, project } = found;
    if (form.get('confirm') !== 'yes') {
      const page = dashPage(ctx);
      render(ctx, revokePage(page, { ...state.chrome, project, section: 'api-access' }, { project, key: row(key), error: page.t('dash.revoke.need_confirm') }), 400);
      return;
    }
    const revoked = await keys.revoke(key.id, state.principal.actor);
    await keyRevoked(ctx, services, key, revoked);
    ctx.status = 303;
    ctx.redirect(`${API_ACCESS_PATH}?project=${encodeURIComponent(project.id)}&revoked=${encodeURIComponent(key.id)}`);
  });
}
