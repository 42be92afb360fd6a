import type Router from '@koa/router';
import type { Context } from 'koa';
import { CLIENT_API_SCOPES, CLIENT_OPENID_SCOPES, type ClientView, type CreateClientInput } from '../clients/index.ts';
import type { Project } from '../directory/index.ts';
import { APPLICATION_DELETE_PATH, APPLICATION_PATH, APPLICATION_ROTATE_PATH, APPLICATIONS_PATH } from '../../views/dashboard/routes.ts';
import { DEFAULT_GRACE } from '../../views/dashboard/components.ts';
import {
  applicationPage,
  applicationsPage,
  deleteApplicationPage,
  type ApplicationFormValues,
  type ApplicationRow,
  type ApplicationsView,
} from '../../views/dashboard/pages/applications.ts';
import { dashboardHeaders, dashboardPage, formPageParts, refusalOf, render, type DashboardContext, type DashboardState } from './context.ts';
import { callerOf } from '../http/caller.ts';

/** What a post made, for the page it redirects to: the client id and its secret, shown once. */
type CreatedFlash = NonNullable<ApplicationsView['created']> & { deleted?: boolean; [key: string]: unknown };

function row(c: ClientView): ApplicationRow {
  return {
    client_id: c.client_id,
    name: c.name,
    type: c.type,
    grant_types: c.grant_types,
    redirect_uris: c.redirect_uris,
    scopes: c.scopes,
    first_party: c.first_party,
    created_at: c.created_at,
    last_token_at: c.last_token_at,
    secret_expires_at: c.secret_expires_at,
    previous_secret_expires_at: c.previous_secret_expires_at,
  };
}

/** The service's field (`redirect_uris.2`, `scopes.0`) as the form field it belongs to. */
const formField = (field: string | undefined): string => (field ?? 'name').split('.')[0]!;

/**
 * Settings → Integrations → Applications: OAuth clients of a project. The same ClientService calls, rules,
 * audit events and webhooks as /v1/clients, with the signed-in person as the caller. Register and rotate
 * follow post/redirect/get: the secret travels to the list page in a one-time flash of the session, so a
 * reload or Back never registers a second application or rotates twice.
 */
export function applicationRoutes(router: Router, dash: DashboardContext): void {
  const { services } = dash;
  const { clients } = services;
  const maxTtlDays = services.config.api_keys.max_ttl_days;
  const defaults = (): ApplicationFormValues => ({ name: '', type: 'confidential', grant_types: ['client_credentials'], redirect_uris: '', scopes: ['read:logs'], secret_ttl_days: '' });

  async function renderList(ctx: Context, state: DashboardState, project: Project, extra: Partial<Pick<ApplicationsView, 'form' | 'errors' | 'created' | 'notice' | 'caution'>> = {}, status = 200) {
    const page = dashboardPage(ctx);
    const held = await services.access.scopesOn(state.principal, project.id);
    const list = await clients.list(callerOf(ctx), { project_id: project.id });
    render(ctx, applicationsPage(page, { ...state.chrome, project: { id: project.id, name: project.name }, section: 'applications' }, {
      project: { id: project.id, name: project.name },
      applications: list.map(row),
      scopeChoices: [...CLIENT_API_SCOPES.filter((s) => held.includes(s)), ...CLIENT_OPENID_SCOPES],
      maxTtlDays,
      ...formPageParts(extra, defaults),
    }), status);
  }

  /** A registered client of a project the person administers, else 404 answered. */
  const clientOf = (ctx: Context, state: DashboardState, id: string): Promise<{ client: ClientView; project: Project } | undefined> =>
    dash.found(ctx, state, APPLICATIONS_PATH, async () => {
      const client = await clients.get(callerOf(ctx), id);
      const project = client.project_id ? await services.projectRepository.get(client.project_id) : undefined;
      return project && client.origin === 'registered' ? { client, project } : undefined;
    });

  router.get(APPLICATIONS_PATH, dashboardHeaders, async (ctx) => {
    const on = await dash.onProject(ctx, APPLICATIONS_PATH);
    if (!on) return;
    const { state, project } = on;
    const { t } = dashboardPage(ctx);
    const { flash, gone } = await dash.takeFlash<CreatedFlash>(ctx, state, 'client', project.id);
    // A deletion's notice travels in a flash too: a link cannot make the page claim something was deleted.
    const notice = flash?.deleted ? t('dash.app.delete.done', { name: flash.name }) : undefined;
    await renderList(ctx, state, project, { created: flash && !flash.deleted ? flash : undefined, notice, caution: gone ? t('dash.app.created.gone') : undefined });
  });

  router.post(APPLICATIONS_PATH, dashboardHeaders, async (ctx) => {
    const post = await dash.postedOnProject(ctx, APPLICATIONS_PATH);
    if (!post) return;
    const { state, form, project } = post;
    const values: ApplicationFormValues = {
      name: form.get('name') ?? '',
      type: form.get('type') ?? '',
      grant_types: form.getAll('grant_types'),
      redirect_uris: form.get('redirect_uris') ?? '',
      scopes: form.getAll('scopes'),
      secret_ttl_days: (form.get('secret_ttl_days') ?? '').trim(),
    };
    const ttl = values.secret_ttl_days === '' ? undefined : Number(values.secret_ttl_days);
    const input: CreateClientInput = {
      project_id: project.id,
      name: values.name,
      type: values.type as CreateClientInput['type'],
      grant_types: values.grant_types,
      redirect_uris: values.redirect_uris.split(/\r?\n/).map((l) => l.trim()).filter(Boolean),
      scopes: values.scopes,
      secret_ttl_days: ttl,
    };
    let made: Awaited<ReturnType<typeof clients.create>>;
    try {
      made = await clients.create(callerOf(ctx), input);
    } catch (err) {
      const refused = refusalOf(err);
      if (!refused) throw err;
      return renderList(ctx, state, project, { form: values, errors: { [formField(refused.field)]: refused.message } }, refused.status);
    }
    const flash: CreatedFlash = { client_id: made.client.client_id, name: made.client.name, ...(made.client_secret ? { client_secret: made.client_secret } : {}) };
    await dash.redirectWithFlash(ctx, state, 'client', project.id, APPLICATIONS_PATH, flash);
  });

  router.get(APPLICATION_PATH, dashboardHeaders, async (ctx) => {
    const found = await dash.signedInFor(ctx, (state) => clientOf(ctx, state, typeof ctx.query.client === 'string' ? ctx.query.client : ''));
    if (!found) return;
    const { state, client, project } = found;
    render(ctx, applicationPage(dashboardPage(ctx), { ...state.chrome, project, section: 'applications' }, { project: { id: project.id, name: project.name }, app: row(client) }));
  });

  router.post(APPLICATION_ROTATE_PATH, dashboardHeaders, async (ctx) => {
    const found = await dash.postedFor(ctx, (state, form) => clientOf(ctx, state, form.get('client_id') ?? ''));
    if (!found) return;
    const { state, form, client, project } = found;
    const grace = Number(form.get('grace_seconds') ?? DEFAULT_GRACE);
    let rotated: Awaited<ReturnType<typeof clients.rotateSecret>>;
    try {
      rotated = await clients.rotateSecret(callerOf(ctx), client.client_id, { grace_seconds: grace });
    } catch (err) {
      const refused = refusalOf(err);
      if (!refused) throw err;
      return renderList(ctx, state, project, { notice: refused.message }, refused.status);
    }
    const flash: CreatedFlash = { client_id: client.client_id, name: client.name, client_secret: rotated.client_secret, rotated: true };
    await dash.redirectWithFlash(ctx, state, 'client', project.id, APPLICATIONS_PATH, flash);
  });

  router.get(APPLICATION_DELETE_PATH, dashboardHeaders, async (ctx) => {
    const found = await dash.signedInFor(ctx, (state) => clientOf(ctx, state, typeof ctx.query.client === 'string' ? ctx.query.client : ''));
    if (!found) return;
    const { state, client, project } = found;
    render(ctx, deleteApplicationPage(dashboardPage(ctx), { ...state.chrome, project, section: 'applications' }, { project: { id: project.id, name: project.name }, app: row(client) }));
  });

  router.post(APPLICATION_DELETE_PATH, dashboardHeaders, async (ctx) => {
    const found = await dash.postedFor(ctx, (state, form) => clientOf(ctx, state, form.get('client_id') ?? ''));
    if (!found) return;
    const { state, form, client, project } = found;
    const page = dashboardPage(ctx);
    if (form.get('confirm') !== 'yes') {
      render(ctx, deleteApplicationPage(page, { ...state.chrome, project, section: 'applications' }, { project: { id: project.id, name: project.name }, app: row(client), error: page.t('dash.app.delete.need_confirm') }), 400);
      return;
    }
    await clients.delete(callerOf(ctx), client.client_id);
    const flash: CreatedFlash = { client_id: client.client_id, name: client.name, deleted: true };
    await dash.redirectWithFlash(ctx, state, 'client', project.id, APPLICATIONS_PATH, flash);
  });
}
