import type Router from '@koa/router';
import type { Context } from 'koa';
import { callerOf } from '../http/caller.ts';
import { KEY_SCOPES, type ApiKeyView, type CreateKeyInput } from '../keys/index.ts';
import type { Project } from '../directory/index.ts';
import { API_ACCESS_PATH, REVOKE_PATH, ROTATE_PATH, USAGE_PATH } from '../../views/dashboard/routes.ts';
import { apiAccessPage, type ApiAccessView, type KeyFormValues, type KeyRow, type SortDir, type SortKey } from '../../views/dashboard/pages/api-access.ts';
import { revokePage } from '../../views/dashboard/pages/revoke.ts';
import { usagePage } from '../../views/dashboard/pages/usage.ts';
import type { DashboardTranslate } from '../../views/dashboard/i18n.ts';
import { dashboardHeaders, dashboardPage, formPageParts, refusalOf, render, type DashboardContext, type DashboardState, type Refusal } from './context.ts';

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

/** The value, or undefined when the key service refuses (unknown, or not the person's to see). */
async function unlessRefused<T>(run: Promise<T>): Promise<T | undefined> {
  try {
    return await run;
  } catch (err) {
    if (refusalOf(err)) return undefined;
    throw err;
  }
}

/** A refusal of KeyService.create as the form shows it: the field at fault and a message in the reader's language. */
function createError(t: DashboardTranslate, err: Refusal, form: { lines: string[]; scopes: string[]; held: string[]; maxTtlDays: number }): [string, string] {
  if (err.code === 'forbidden' && err.field === 'scopes') return ['scopes', t('dash.err.scopes_not_held', { scopes: form.scopes.filter((s) => !form.held.includes(s)).join(', ') })];
  const line = err.field === undefined ? null : /^ip_allowlist\[(\d+)\]$/.exec(err.field);
  if (line) {
    const i = Number(line[1]);
    return ['ip_allowlist', t('dash.err.ip_allowlist', { line: i + 1, value: form.lines[i] ?? '' })];
  }
  switch (err.field) {
    case 'name': return ['name', t('dash.err.name')];
    case 'scopes': return ['scopes', t('dash.err.scopes')];
    case 'environment': return ['environment', t('dash.err.environment')];
    case 'ttl_days': return ['ttl_days', t('dash.err.ttl_days', { max: form.maxTtlDays })];
    default: return [err.field ?? 'name', err.message];
  }
}

/**
 * API Access: the project's keys, create, rotate, revoke: KeyService's methods (as /v1/keys calls them)
 * with the person as the caller, its refusals shown by field and code. Create and rotate follow
 * post/redirect/get: the new secret travels to the list page in a one-time flash of the session, so a
 * reload or Back never makes a second key.
 */
export function apiAccessRoutes(router: Router, dash: DashboardContext): void {
  const { services } = dash;
  const { keys, config } = services;
  const maxTtlDays = config.api_keys.max_ttl_days;
  const defaults = (): KeyFormValues => ({ name: '', scopes: ['read:logs'], environment: 'live', ttl_days: String(config.api_keys.default_ttl_days), ip_allowlist: '', auto_rotate: false });

  async function renderKeys(ctx: Context, state: DashboardState, project: Project, extra: Partial<Pick<ApiAccessView, 'form' | 'errors' | 'created' | 'notice' | 'caution'>> = {}, status = 200) {
    const page = dashboardPage(ctx);
    const by = SORT_KEYS.includes(ctx.query.sort as SortKey) ? (ctx.query.sort as SortKey) : 'created';
    const dir: SortDir = ctx.query.dir === 'asc' || ctx.query.dir === 'desc' ? ctx.query.dir : by === 'name' ? 'asc' : 'desc';
    const held = await services.access.scopesOn(state.principal, project.id);
    render(ctx, apiAccessPage(page, { ...state.chrome, project: { id: project.id, name: project.name }, section: 'api-access' }, {
      project: { id: project.id, name: project.name },
      keys: sortKeys((await keys.list(callerOf(ctx), { project_id: project.id })).map(row), by, dir),
      sort: { by, dir },
      heldScopes: KEY_SCOPES.filter((s) => held.includes(s)),
      maxTtlDays,
      ...formPageParts(extra, defaults),
    }), status);
  }

  /** A key the person administers (by its project), else 404 answered. */
  const keyOf = (ctx: Context, state: DashboardState, id: string): Promise<{ key: ApiKeyView; project: Project } | undefined> =>
    dash.found(ctx, state, API_ACCESS_PATH, async () => {
      const key = id ? await keys.get(callerOf(ctx), { id }) : undefined;
      const project = key ? await services.projectRepository.get(key.project_id) : undefined;
      return key && project ? { key, project } : undefined;
    });

  router.get(API_ACCESS_PATH, dashboardHeaders, async (ctx) => {
    const on = await dash.onProject(ctx, API_ACCESS_PATH);
    if (!on) return;
    const { state, project } = on;
    const { t } = dashboardPage(ctx);
    let notice: string | undefined;
    if (typeof ctx.query.revoked === 'string') {
      const revoked = await unlessRefused(keys.get(callerOf(ctx), { id: ctx.query.revoked }));
      if (revoked && revoked.project_id === project.id && revoked.status === 'revoked') notice = t('dash.revoke.done', { name: revoked.name });
    }
    const { flash: created, gone } = await dash.takeFlash<CreatedKeyFlash>(ctx, state, 'key', project.id);
    await renderKeys(ctx, state, project, { notice, caution: gone ? t('dash.flash.gone_key') : undefined, created });
  });

  router.post(API_ACCESS_PATH, dashboardHeaders, async (ctx) => {
    const post = await dash.postedOnProject(ctx, API_ACCESS_PATH);
    if (!post) return;
    const { state, form, project } = post;
    const { t } = dashboardPage(ctx);
    const values: KeyFormValues = {
      name: form.get('name') ?? '',
      scopes: form.getAll('scopes'),
      environment: form.get('environment') ?? '',
      ttl_days: (form.get('ttl_days') ?? '').trim(),
      ip_allowlist: form.get('ip_allowlist') ?? '',
      auto_rotate: form.get('auto_rotate') === 'on',
    };
    const lines = values.ip_allowlist.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
    const input: CreateKeyInput = {
      project_id: project.id,
      name: values.name,
      scopes: values.scopes,
      environment: values.environment as CreateKeyInput['environment'],
      ttl_days: values.ttl_days === '' ? undefined : Number(values.ttl_days),
      ip_allowlist: lines,
      auto_rotate: values.auto_rotate,
    };
    let created: Awaited<ReturnType<typeof keys.create>>;
    try {
      created = await keys.create(callerOf(ctx), input);
    } catch (err) {
      const refused = refusalOf(err);
      if (!refused) throw err;
      const held = await services.access.scopesOn(state.principal, project.id);
      const [field, message] = createError(t, refused, { lines, scopes: values.scopes, held, maxTtlDays });
      return renderKeys(ctx, state, project, { form: values, errors: { [field]: message } }, refused.status);
    }
    const flash: CreatedKeyFlash = { key: created.key, name: created.view.name };
    await dash.redirectWithFlash(ctx, state, 'key', project.id, API_ACCESS_PATH, flash);
  });

  router.post(ROTATE_PATH, dashboardHeaders, async (ctx) => {
    const found = await dash.postedFor(ctx, (state, form) => keyOf(ctx, state, form.get('id') ?? ''));
    if (!found) return;
    const { state, form, key: old, project } = found;
    const grace = form.get('grace_seconds');
    let rotated: Awaited<ReturnType<typeof keys.rotate>>;
    try {
      rotated = await keys.rotate(callerOf(ctx), { id: old.id, grace_seconds: grace === null ? undefined : Number(grace) });
    } catch (err) {
      const refused = refusalOf(err);
      if (!refused) throw err;
      const { t } = dashboardPage(ctx);
      if (refused.code === 'forbidden') {
        // A rotation mints a new secret with every scope of the key: the person must hold them all.
        const held = await services.access.scopesOn(state.principal, old.project_id);
        return renderKeys(ctx, state, project, { notice: t('dash.err.scopes_not_held', { scopes: old.scopes.filter((s) => !held.includes(s)).join(', ') }) }, 403);
      }
      return renderKeys(ctx, state, project, { notice: refused.code === 'conflict' ? t('dash.err.id') : refused.message }, refused.status);
    }
    const flash: CreatedKeyFlash = { key: rotated.key, name: rotated.view.name, rotated: { grace_until: rotated.old.grace_until } };
    await dash.redirectWithFlash(ctx, state, 'key', project.id, API_ACCESS_PATH, flash);
  });

  router.get(REVOKE_PATH, dashboardHeaders, async (ctx) => {
    const found = await dash.signedInFor(ctx, (state) => keyOf(ctx, state, typeof ctx.query.key === 'string' ? ctx.query.key : ''));
    if (!found) return;
    const { state, key, project } = found;
    render(ctx, revokePage(dashboardPage(ctx), { ...state.chrome, project, section: 'api-access' }, { project, key: row(key) }));
  });

  /** Verifications per day by outcome (the data of GET /v1/keys/{id}/usage) as a chart and a table. */
  router.get(USAGE_PATH, dashboardHeaders, async (ctx) => {
    const found = await dash.signedInFor(ctx, (state) => keyOf(ctx, state, typeof ctx.query.key === 'string' ? ctx.query.key : ''));
    if (!found) return;
    const { state, key, project } = found;
    const usage = await keys.usage(callerOf(ctx), { id: key.id, days: 30 });
    render(ctx, usagePage(dashboardPage(ctx), { ...state.chrome, project, section: 'api-access' }, { project: { id: project.id, name: project.name }, key: row(key), days: usage.days, last_used_at: usage.last_used_at }));
  });

  router.post(REVOKE_PATH, dashboardHeaders, async (ctx) => {
    const found = await dash.postedFor(ctx, (state, form) => keyOf(ctx, state, form.get('id') ?? ''));
    if (!found) return;
    const { state, form, key, project } = found;
    if (form.get('confirm') !== 'yes') {
      const page = dashboardPage(ctx);
      render(ctx, revokePage(page, { ...state.chrome, project, section: 'api-access' }, { project, key: row(key), error: page.t('dash.revoke.need_confirm') }), 400);
      return;
    }
    await keys.revoke(callerOf(ctx), { id: key.id });
    ctx.status = 303;
    ctx.redirect(`${API_ACCESS_PATH}?project=${encodeURIComponent(project.id)}&revoked=${encodeURIComponent(key.id)}`);
  });
}
