import type Router from '@koa/router';
import type { Context } from 'koa';
import { callerOf } from '../http/caller.ts';
import { EVENT_TYPES, type WebhookView } from '../webhooks/index.ts';
import type { Project } from '../directory/index.ts';
import { DELIVERIES_PATH, REDELIVER_PATH, WEBHOOK_DELETE_PATH, WEBHOOKS_PATH } from '../../views/dashboard/routes.ts';
import { webhookDeletePage, webhooksPage, type WebhookForm, type WebhookRow, type WebhooksView } from '../../views/dashboard/pages/webhooks.ts';
import { deliveriesPage } from '../../views/dashboard/pages/deliveries.ts';
import type { DashboardPage } from '../../views/dashboard/components.ts';
import { dashboardHeaders, dashboardPage, refusalOf, render, type DashboardContext, type DashboardState, type Refusal } from './context.ts';

/** An endpoint made by a post, for the page the post redirects to: its signing secret, shown once. */
type CreatedWebhookFlash = NonNullable<WebhooksView['created']> & { [key: string]: unknown };

function row(w: WebhookView): WebhookRow {
  return { id: w.id, url: w.url, events: w.events, description: w.description, created_at: w.created_at };
}

/** A refusal of WebhookService.create as the form shows it, in the reader's language (by field). */
function createError(t: DashboardPage['t'], err: Refusal, values: WebhookForm): string {
  switch (err.field) {
    case 'url': return !values.url || values.url.length > 2000 ? t('dash.wh.err_url_empty') : t('dash.wh.err_url', { reason: err.message });
    case 'events': return t('dash.wh.err_events');
    case 'description': return t('dash.wh.err_description');
    default: return err.message;
  }
}

/**
 * Webhooks: the project's endpoints, create (the signing secret shown once), delete, delivery history
 * and redelivery: WebhookService's methods (as /v1/webhooks calls them) with the person as the caller.
 * Create follows post/redirect/get with a one-time flash, as keys do (src/dashboard/api-access.ts).
 */
export function webhookRoutes(router: Router, dash: DashboardContext): void {
  const { services } = dash;
  const { webhooks } = services;
  const chromeOf = (state: DashboardState, project: Project) => ({ ...state.chrome, project: { id: project.id, name: project.name }, section: 'webhooks' as const });

  async function renderList(ctx: Context, state: DashboardState, project: Project, extra: Partial<Pick<WebhooksView, 'form' | 'errors' | 'created' | 'notice' | 'caution'>> = {}, status = 200) {
    render(ctx, webhooksPage(dashboardPage(ctx), chromeOf(state, project), {
      project: { id: project.id, name: project.name },
      webhooks: (await webhooks.list(callerOf(ctx), { project_id: project.id })).map(row),
      eventTypes: EVENT_TYPES,
      form: extra.form ?? { url: '', events: [...EVENT_TYPES], description: '' },
      errors: extra.errors ?? {},
      created: extra.created,
      notice: extra.notice,
      caution: extra.caution,
    }), status);
  }

  /** The webhook named by id, on the page's project, that the person administers; else 404 answered. */
  async function webhookOf(ctx: Context, state: DashboardState, project: Project, id: string): Promise<WebhookView | undefined> {
    let webhook: WebhookView | undefined;
    try {
      if (id) webhook = await webhooks.get(callerOf(ctx), { id });
    } catch (err) {
      if (!refusalOf(err)) throw err;
    }
    if (!webhook || webhook.project_id !== project.id) {
      dash.notFound(ctx, state, `${WEBHOOKS_PATH}?project=${encodeURIComponent(project.id)}`);
      return undefined;
    }
    return webhook;
  }

  /** A page of the project (a GET) or a checked form post to it; undefined once answered. */
  const opened = (ctx: Context, post: boolean): Promise<{ state: DashboardState; project: Project; form?: URLSearchParams } | undefined> =>
    post ? dash.postedOnProject(ctx, WEBHOOKS_PATH) : dash.onProject(ctx, WEBHOOKS_PATH);

  router.get(WEBHOOKS_PATH, dashboardHeaders, async (ctx) => {
    const o = await opened(ctx, false);
    if (!o) return;
    const { flash: created, gone } = await dash.takeFlash<CreatedWebhookFlash>(ctx, o.state, 'webhook', o.project.id);
    await renderList(ctx, o.state, o.project, { created, caution: gone ? dashboardPage(ctx).t('dash.flash.gone_webhook') : undefined });
  });

  router.post(WEBHOOKS_PATH, dashboardHeaders, async (ctx) => {
    const o = await opened(ctx, true);
    if (!o) return;
    const { state, project, form } = o;
    const { t } = dashboardPage(ctx);
    const values: WebhookForm = { url: (form!.get('url') ?? '').trim(), events: form!.getAll('events'), description: (form!.get('description') ?? '').trim() };
    let created: Awaited<ReturnType<typeof webhooks.create>>;
    try {
      created = await webhooks.create(callerOf(ctx), { project_id: project.id, url: values.url, events: values.events, description: values.description || undefined });
    } catch (err) {
      const refused = refusalOf(err);
      if (!refused) throw err;
      return renderList(ctx, state, project, { form: values, errors: { [refused.field ?? 'url']: createError(t, refused, values) } }, refused.status);
    }
    const flash: CreatedWebhookFlash = { url: created.webhook.url, secret: created.secret };
    await dash.redirectWithFlash(ctx, state, 'webhook', project.id, WEBHOOKS_PATH, flash);
  });

  router.get(WEBHOOK_DELETE_PATH, dashboardHeaders, async (ctx) => {
    const o = await opened(ctx, false);
    if (!o) return;
    const webhook = await webhookOf(ctx, o.state, o.project, typeof ctx.query.id === 'string' ? ctx.query.id : '');
    if (webhook) render(ctx, webhookDeletePage(dashboardPage(ctx), chromeOf(o.state, o.project), { project: o.project, webhook: row(webhook) }));
  });

  router.post(WEBHOOK_DELETE_PATH, dashboardHeaders, async (ctx) => {
    const o = await opened(ctx, true);
    if (!o) return;
    const webhook = await webhookOf(ctx, o.state, o.project, o.form!.get('id') ?? '');
    if (!webhook) return;
    await webhooks.delete(callerOf(ctx), { id: webhook.id });
    await renderList(ctx, o.state, o.project, { notice: dashboardPage(ctx).t('dash.wh.deleted', { url: webhook.url }) });
  });

  async function renderDeliveries(ctx: Context, state: DashboardState, project: Project, webhook: WebhookView, extra: { notice?: string; error?: string } = {}, status = 200) {
    const deliveries = await webhooks.deliveries(callerOf(ctx), { id: webhook.id });
    render(ctx, deliveriesPage(dashboardPage(ctx), chromeOf(state, project), { project, webhook: row(webhook), deliveries, ...extra }), status);
  }

  router.get(DELIVERIES_PATH, dashboardHeaders, async (ctx) => {
    const o = await opened(ctx, false);
    if (!o) return;
    const webhook = await webhookOf(ctx, o.state, o.project, typeof ctx.query.id === 'string' ? ctx.query.id : '');
    if (!webhook) return;
    const redelivered = typeof ctx.query.redelivered === 'string' && /^[\w-]{1,100}$/.test(ctx.query.redelivered) ? ctx.query.redelivered : undefined;
    await renderDeliveries(ctx, o.state, o.project, webhook, redelivered ? { notice: dashboardPage(ctx).t('dash.wh.redelivered', { id: redelivered }) } : {});
  });

  router.post(REDELIVER_PATH, dashboardHeaders, async (ctx) => {
    const o = await opened(ctx, true);
    if (!o) return;
    const webhook = await webhookOf(ctx, o.state, o.project, o.form!.get('id') ?? '');
    if (!webhook) return;
    const delivery = o.form!.get('delivery') ?? '';
    const { t } = dashboardPage(ctx);
    try {
      await webhooks.redeliver(callerOf(ctx), { id: webhook.id, delivery });
    } catch (err) {
      if (refusalOf(err)?.code !== 'not_found') throw err;
      return renderDeliveries(ctx, o.state, o.project, webhook, { error: t('dash.wh.redeliver_failed', { id: delivery }) }, 404);
    }
    // Post/redirect/get: reloading the history must not redeliver again.
    ctx.status = 303;
    ctx.redirect(`${DELIVERIES_PATH}?project=${encodeURIComponent(o.project.id)}&id=${encodeURIComponent(webhook.id)}&redelivered=${encodeURIComponent(delivery)}`);
  });
}
