import type { Context, Middleware } from 'koa';
import type { Services } from '../container.ts';
import type { Principal } from '../domain/index.ts';
import { DomainError, type DomainErrorCode } from '../domain/index.ts';
import { sessionEnded, type Project } from '../directory/index.ts';
import { pageContext } from '../http/page.ts';
import { readForm } from '../http/form.ts';
import { dashboardTranslator } from '../../views/dashboard/i18n.ts';
import type { Chrome, DashboardPage } from '../../views/dashboard/components.ts';
import { DASHBOARD_PATH, LOGIN_PATH, SIGNED_OUT_PATH, url } from '../../views/dashboard/routes.ts';
import { chooseProjectPage } from '../../views/dashboard/pages/choose-project.ts';
import { messagePage } from '../../views/dashboard/pages/message.ts';
import { noAccessPage } from '../../views/dashboard/pages/no-access.ts';
import { secretKeyFromEnv } from '../config/index.ts';
import { type JsonObject, SecretBox } from '../store/index.ts';
import { DashboardSessions, type DashboardSession, type FlashKind } from './repository.ts';
import { SESSION_COOKIE, safeEqual } from './session.ts';

/** What a signed-in dashboard request knows: the session, the person as a /v1 principal, what they administer. */
export interface DashboardState {
  sessionId: string;
  session: DashboardSession;
  principal: Principal;
  /** Projects the person holds admin:projects on (directly or through an ancestor). */
  adminProjects: Set<string>;
  chrome: Chrome;
}

export function dashboardPage(ctx: Context): DashboardPage {
  const { lang } = pageContext(ctx);
  return { lang, t: dashboardTranslator(lang), here: ctx.originalUrl.startsWith(DASHBOARD_PATH) ? ctx.originalUrl : DASHBOARD_PATH };
}

export function render(ctx: Context, body: string, status = 200): void {
  ctx.status = status;
  ctx.type = 'html';
  ctx.body = body;
}

/**
 * Dashboard pages run our own script (/static/dashboard.js, never inline) and post forms to themselves.
 * `Referrer-Policy: same-origin` instead of `no-referrer`: with no-referrer a browser sends `Origin: null`
 * on form posts, and the Origin check below needs the real origin. Nothing is cached: pages show keys.
 */
export const dashboardHeaders: Middleware = async (ctx, next) => {
  ctx.set('Content-Security-Policy', "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'");
  ctx.set('Referrer-Policy', 'same-origin');
  ctx.set('Cache-Control', 'no-store');
  await next();
};

/** A domain service's refusal as a dashboard page shows it: the message next to its field, and the status. */
export interface Refusal {
  /** What kind of refusal: pages choose their words by `code` and `field`. */
  code: DomainErrorCode;
  /** The form field at fault (the service's `field`), when one is. */
  field: string | undefined;
  message: string;
  status: number;
}

const REFUSAL_STATUS: Record<DomainErrorCode, number> = { invalid: 400, forbidden: 403, not_found: 404, conflict: 409, rate_limited: 429, unavailable: 503 };

/**
 * The dashboard's one error mapper (as src/admin/problem.ts is /v1's and src/cli/main.ts's `failure` the
 * CLI's): a DomainError becomes the message shown next to `field`; anything else is not a refusal
 * (undefined: the page rethrows it). Pages match on `field` and `code`, never on the message's text.
 */
export function refusalOf(err: unknown): Refusal | undefined {
  if (!(err instanceof DomainError)) return undefined;
  return { code: err.code, field: err.field, message: err.message, status: REFUSAL_STATUS[err.code] };
}


/** What a list page with a create form shows besides its list: the form and its errors, a result shown once, notices. */
interface FormPageParts<F, C> {
  form: F;
  errors: Record<string, string>;
  created?: C | undefined;
  notice?: string | undefined;
  caution?: string | undefined;
}

/** The parts a post's answer sets (`extra`), the rest blank: a fresh form, no errors, nothing to say. */
export function formPageParts<F, C>(extra: Partial<FormPageParts<F, C>>, blank: () => F): FormPageParts<F, C> {
  return { form: extra.form ?? blank(), errors: extra.errors ?? {}, created: extra.created, notice: extra.notice, caution: extra.caution };
}

export class DashboardContext {
  readonly services: Services;
  readonly sessions: DashboardSessions;
  readonly secure: boolean;
  readonly origin: string;

  constructor(services: Services) {
    this.services = services;
    this.sessions = new DashboardSessions(services.store, new SecretBox(services.store, secretKeyFromEnv().encryptionKey));
    this.secure = services.config.issuer.startsWith('https:');
    this.origin = new URL(services.config.issuer).origin;
  }

  /** The person as the /v1 API would see a token of theirs: current roles (not the ones at sign-in), the token's scopes. */
  async principalOf(session: DashboardSession): Promise<Principal> {
    return {
      kind: 'token',
      actor: { type: 'user', id: session.user_id },
      scopes: session.scopes,
      project_roles: await this.services.membershipRepository.rolesOf(session.user_id),
    };
  }

  /**
   * Loads the session or answers for the request: no session → to sign-in; a disabled account → signed
   * out; no project to administer → the "no access" page. Returns undefined when it has answered.
   */
  async signedIn(ctx: Context): Promise<DashboardState | undefined> {
    const sessionId = ctx.cookies.get(SESSION_COOKIE);
    const session = await this.sessions.load(sessionId);
    if (!session || !sessionId) {
      if (ctx.method === 'GET') {
        ctx.redirect(`${LOGIN_PATH}?return_to=${encodeURIComponent(ctx.originalUrl)}`);
      } else {
        const page = dashboardPage(ctx);
        render(ctx, messagePage(page, {}, { title: page.t('dash.error.title'), body: page.t('dash.error.csrf'), alert: true, links: [{ href: LOGIN_PATH, label: page.t('dash.sign_in') }] }), 403);
      }
      return undefined;
    }
    const user = await this.services.userRepository.findById(session.user_id);
    // Disabled, or disabled and enabled again since this session began: its sessions ended then.
    if (!user || user.disabled || sessionEnded(user, Date.parse(session.created_at) / 1000)) {
      await this.sessions.destroy(sessionId);
      ctx.redirect(SIGNED_OUT_PATH);
      return undefined;
    }
    const principal = await this.principalOf(session);
    // callerOf (src/http/caller.ts) reads the principal from here, as for /v1.
    ctx.state.principal = principal;
    const adminProjects = await this.services.access.visibleProjects(principal, 'admin:projects');
    const orgAdmin = (await this.services.access.administeredOrganisations(principal)).length > 0;
    const chrome: Chrome = { user: { email: session.email, name: session.name }, csrf: session.csrf, orgAdmin };
    if (adminProjects.size === 0) {
      const page = dashboardPage(ctx);
      render(ctx, noAccessPage(page, chrome, { email: session.email }), 403);
      return undefined;
    }
    return { sessionId, session, principal, adminProjects, chrome };
  }

  /**
   * A form post of a signed-in person: same origin (Origin, else Referer) and the session's CSRF token.
   * Returns the form, or undefined after answering 403.
   */
  async checkedForm(ctx: Context, state: Pick<DashboardState, 'session' | 'chrome'>): Promise<URLSearchParams | undefined> {
    const refuse = () => {
      const page = dashboardPage(ctx);
      render(ctx, messagePage(page, state.chrome, { title: page.t('dash.error.title'), body: page.t('dash.error.csrf'), alert: true, links: [{ href: DASHBOARD_PATH, label: page.t('dash.error.back') }] }), 403);
      return undefined;
    };
    if (!this.sameOrigin(ctx)) return refuse();
    const form = await readForm(ctx);
    const token = form.get('_csrf') ?? '';
    if (!token || !safeEqual(token, state.session.csrf)) return refuse();
    return form;
  }

  /**
   * Post/redirect/get after a form post that made something: what the next page shows (a secret, once)
   * goes into a flash of this session, and the browser is sent (303) to `path` with the flash's id. A
   * reload or Back then repeats the GET, never the post.
   */
  async redirectWithFlash(ctx: Context, state: Pick<DashboardState, 'sessionId'>, kind: FlashKind, projectId: string, path: string, payload: JsonObject): Promise<void> {
    const flash = await this.sessions.putFlash(state.sessionId, kind, projectId, payload);
    ctx.status = 303;
    ctx.redirect(url(path, { project: projectId, flash }));
  }

  /**
   * The flash named by `?flash=`, taken (shown once); `gone` when the URL names one that is no longer
   * there (a reload, another tab, another session), so the page can say it was shown once.
   */
  async takeFlash<T extends JsonObject>(ctx: Context, state: Pick<DashboardState, 'sessionId'>, kind: FlashKind, projectId: string): Promise<{ flash?: T | undefined; gone: boolean }> {
    const id = typeof ctx.query.flash === 'string' ? ctx.query.flash : undefined;
    if (id === undefined) return { gone: false };
    const flash = await this.sessions.takeFlash<T>(state.sessionId, kind, projectId, id);
    return { flash, gone: !flash };
  }

  sameOrigin(ctx: Context): boolean {
    const origin = ctx.get('origin');
    if (origin) return origin === this.origin;
    const referer = ctx.get('referer');
    if (!referer) return false;
    try {
      return new URL(referer).origin === this.origin;
    } catch {
      return false;
    }
  }

  /**
   * The project named by `?project=`, when the person administers it; otherwise answers (choose page
   * without a parameter, 404 unknown, 403 not theirs) and returns undefined.
   */
  async project(ctx: Context, state: DashboardState, target: string): Promise<Project | undefined> {
    const page = dashboardPage(ctx);
    const id = typeof ctx.query.project === 'string' ? ctx.query.project : '';
    if (!id) {
      const projects = (await Promise.all([...state.adminProjects].map((p) => this.services.projectRepository.get(p)))).filter((p): p is Project => !!p);
      projects.sort((a, b) => a.path.join('/').localeCompare(b.path.join('/')));
      render(ctx, chooseProjectPage(page, { ...state.chrome }, { target, projects: projects.map((p) => ({ id: p.id, name: p.name, depth: p.path.length - 1 })) }));
      return undefined;
    }
    const project = await this.services.projectRepository.get(id);
    if (!project) {
      render(ctx, messagePage(page, state.chrome, { title: page.t('dash.error.title'), body: page.t('dash.error.not_found'), alert: true, links: [{ href: target, label: page.t('dash.error.back') }] }), 404);
      return undefined;
    }
    if (!(await this.administers(state, project.id))) {
      render(ctx, messagePage(page, state.chrome, { title: page.t('dash.error.title'), body: page.t('dash.error.forbidden'), alert: true, links: [{ href: target, label: page.t('dash.error.back') }] }), 403);
      return undefined;
    }
    return project;
  }

  /** The same rule as the /v1 API's access.require(…, 'admin:projects'). */
  async administers(state: Pick<DashboardState, 'principal'>, projectId: string): Promise<boolean> {
    return (await this.services.access.scopesOn(state.principal, projectId)).includes('admin:projects');
  }

  /** A project page's GET: the signed-in person and the project of `?project=` they administer, or undefined after answering. */
  async onProject(ctx: Context, target: string): Promise<{ state: DashboardState; project: Project } | undefined> {
    const state = await this.signedIn(ctx);
    if (!state) return undefined;
    const project = await this.project(ctx, state, target);
    return project && { state, project };
  }

  /** A form post: the signed-in person and their checked form (same origin, CSRF token), or undefined after answering. */
  async posted(ctx: Context): Promise<{ state: DashboardState; form: URLSearchParams } | undefined> {
    const state = await this.signedIn(ctx);
    if (!state) return undefined;
    const form = await this.checkedForm(ctx, state);
    return form && { state, form };
  }

  /** A form post to a project page: {@link posted}, then the project of `?project=`, or undefined after answering. */
  async postedOnProject(ctx: Context, target: string): Promise<{ state: DashboardState; form: URLSearchParams; project: Project } | undefined> {
    const post = await this.posted(ctx);
    if (!post) return undefined;
    const project = await this.project(ctx, post.state, target);
    return project && { ...post, project };
  }

  /** A page about one thing: the signed-in person and what `find` answers for them, or undefined once answered. */
  async signedInFor<T extends object>(ctx: Context, find: (state: DashboardState) => Promise<T | undefined>): Promise<(T & { state: DashboardState }) | undefined> {
    const state = await this.signedIn(ctx);
    const found = state && (await find(state));
    return found && { ...found, state };
  }

  /** A form post about one thing: {@link posted}, then what `find` answers, or undefined once answered. */
  async postedFor<T extends object>(ctx: Context, find: (state: DashboardState, form: URLSearchParams) => Promise<T | undefined>): Promise<(T & { state: DashboardState; form: URLSearchParams }) | undefined> {
    const post = await this.posted(ctx);
    const found = post && (await find(post.state, post.form));
    return found && { ...found, ...post };
  }

  /**
   * What `find` returns, or undefined after answering 404 when it finds nothing or the service refuses
   * (another organisation's thing is as unknown as a missing one).
   */
  async found<T>(ctx: Context, state: DashboardState, back: string, find: () => Promise<T | undefined>): Promise<T | undefined> {
    let value: T | undefined;
    try {
      value = await find();
    } catch (err) {
      if (!refusalOf(err)) throw err;
    }
    if (value === undefined) this.notFound(ctx, state, back);
    return value;
  }

  notFound(ctx: Context, state: DashboardState, back: string): void {
    const page = dashboardPage(ctx);
    render(ctx, messagePage(page, state.chrome, { title: page.t('dash.error.title'), body: page.t('dash.error.not_found'), alert: true, links: [{ href: back, label: page.t('dash.error.back') }] }), 404);
  }
}
