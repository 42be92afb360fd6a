import type Router from '@koa/router';
import type { Context } from 'koa';
import * as oidc from 'openid-client';
import { DASHBOARD_CLIENT_ID } from '../oidc/provider.ts';
import { LANGUAGES } from '../../views/i18n.ts';
import { messagePage } from '../../views/dashboard/pages/message.ts';
import { API_ACCESS_PATH, CALLBACK_PATH, DASHBOARD_PATH, LANG_PATH, LOGIN_PATH, SIGN_OUT_PATH, SIGNED_OUT_PATH } from '../../views/dashboard/routes.ts';
import { dashboardHeaders, dashboardPage, render, type DashboardContext } from './context.ts';
import { clearCookie, LOGIN_COOKIE, SESSION_COOKIE, setCookie } from './session.ts';
import { SESSION_ABSOLUTE_SECONDS } from './repository.ts';

const SCOPE = 'openid email profile read:logs write:alerts admin:projects';

/** Only our own pages: a path under /dashboard, never `//host` or `/\host`. */
export function safeReturnTo(value: unknown): string {
  return typeof value === 'string' && /^\/dashboard(?:[/?#]|$)/.test(value) && !/[\\\r\n]/.test(value) ? value : DASHBOARD_PATH;
}

/**
 * Sign-in to the dashboard is an ordinary authorization-code flow with PKCE against this very server
 * (the dashboard is the built-in public client `logtrace-dashboard`); the code is redeemed from the
 * backend, and the tokens stay in the session record.
 */
export function signInRoutes(router: Router, dash: DashboardContext): void {
  const { config, userRepository } = dash.services;
  const issuer = new URL(config.issuer);
  let configuration: Promise<oidc.Configuration> | undefined;
  const client = () => {
    configuration ??= oidc
      .discovery(issuer, DASHBOARD_CLIENT_ID, undefined, oidc.None(), issuer.protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : undefined)
      .catch((err: unknown) => {
        configuration = undefined;
        throw err;
      });
    return configuration;
  };
  const redirectUri = `${config.issuer}${CALLBACK_PATH}`;
  const signedOutUri = `${config.issuer}${SIGNED_OUT_PATH}`;

  const failure = (ctx: Context, reason: string, status = 400) => {
    const page = dashboardPage(ctx);
    render(ctx, messagePage(page, {}, { title: page.t('dash.error.title'), body: page.t('dash.error.sign_in', { reason }), alert: true, links: [{ href: LOGIN_PATH, label: page.t('dash.sign_in') }] }), status);
  };

  router.get(DASHBOARD_PATH, dashboardHeaders, async (ctx) => {
    const state = await dash.signedIn(ctx);
    if (state) ctx.redirect(API_ACCESS_PATH);
  });

  router.get(LOGIN_PATH, dashboardHeaders, async (ctx) => {
    const verifier = oidc.randomPKCECodeVerifier();
    const nonce = oidc.randomNonce();
    const state = await dash.sessions.startLogin({ verifier, nonce, return_to: safeReturnTo(ctx.query.return_to) });
    const url = oidc.buildAuthorizationUrl(await client(), {
      redirect_uri: redirectUri,
      scope: SCOPE,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      ...(ctx.query.prompt === 'login' ? { prompt: 'login' } : {}),
    });
    // Binds the flow to this browser: the callback must come back with the cookie that matches `state`.
    setCookie(ctx, LOGIN_COOKIE, state, { secure: dash.secure, maxAge: 600 });
    ctx.redirect(url.href);
  });

  router.get(CALLBACK_PATH, dashboardHeaders, async (ctx) => {
    const expectedState = ctx.cookies.get(LOGIN_COOKIE);
    clearCookie(ctx, LOGIN_COOKIE, dash.secure);
    const login = await dash.sessions.takeLogin(expectedState);
    if (!login || !expectedState) return failure(ctx, 'state');
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(await client(), new URL(ctx.originalUrl, config.issuer), {
        pkceCodeVerifier: login.verifier,
        expectedState,
        expectedNonce: login.nonce,
        idTokenExpected: true,
      });
    } catch (err) {
      const e = err as Error & { error?: string; code?: string };
      dash.services.logger.info({ err: e.message, error: e.error }, 'dashboard sign-in failed');
      return failure(ctx, e.error ?? e.code ?? 'error');
    }
    const claims = tokens.claims();
    const user = claims ? await userRepository.findById(claims.sub) : undefined;
    if (!claims || !user || user.disabled || !tokens.id_token) return failure(ctx, 'account', 403);
    const { id } = await dash.sessions.create({
      user_id: user.id,
      email: user.email,
      name: user.name ?? null,
      id_token: tokens.id_token,
      access_token: tokens.access_token,
      scopes: (tokens.scope ?? '').split(' ').filter(Boolean),
    });
    const previous = ctx.cookies.get(SESSION_COOKIE);
    if (previous) await dash.sessions.destroy(previous);
    setCookie(ctx, SESSION_COOKIE, id, { secure: dash.secure, maxAge: SESSION_ABSOLUTE_SECONDS });
    // The language is remembered per person: whatever browser they sign in from.
    if (user.preferred_language && (LANGUAGES as readonly string[]).includes(user.preferred_language)) {
      setCookie(ctx, 'lt_lang', user.preferred_language, { secure: dash.secure, path: '/', maxAge: 365 * 86_400 });
    }
    ctx.status = 303;
    ctx.redirect(login.return_to);
  });

  /** Ends our session, then the provider's (RP-initiated logout), which returns to /dashboard/signed-out. */
  router.post(SIGN_OUT_PATH, dashboardHeaders, async (ctx) => {
    const sessionId = ctx.cookies.get(SESSION_COOKIE);
    const session = await dash.sessions.load(sessionId);
    if (!session) {
      ctx.status = 303;
      ctx.redirect(SIGNED_OUT_PATH);
      return;
    }
    const form = await dash.checkedForm(ctx, { session, chrome: { user: { email: session.email, name: session.name }, csrf: session.csrf } });
    if (!form) return;
    await dash.sessions.destroy(sessionId);
    clearCookie(ctx, SESSION_COOKIE, dash.secure);
    const url = oidc.buildEndSessionUrl(await client(), { id_token_hint: session.id_token, post_logout_redirect_uri: signedOutUri });
    ctx.status = 303;
    ctx.redirect(url.href);
  });

  router.get(SIGNED_OUT_PATH, dashboardHeaders, async (ctx) => {
    const page = dashboardPage(ctx);
    render(ctx, messagePage(page, {}, { title: page.t('dash.signed_out.title'), body: page.t('dash.signed_out.body'), links: [{ href: LOGIN_PATH, label: page.t('dash.sign_in') }] }));
  });

  /** The language switch: remembered in `lt_lang` (also read by the sign-in pages) and, when signed in, on the account. */
  router.get(LANG_PATH, dashboardHeaders, async (ctx) => {
    const lang = typeof ctx.query.set === 'string' && (LANGUAGES as readonly string[]).includes(ctx.query.set) ? ctx.query.set : undefined;
    if (lang) {
      setCookie(ctx, 'lt_lang', lang, { secure: dash.secure, path: '/', maxAge: 365 * 86_400 });
      const session = await dash.sessions.load(ctx.cookies.get(SESSION_COOKIE));
      if (session) await userRepository.update(session.user_id, { preferred_language: lang });
    }
    ctx.redirect(safeReturnTo(ctx.query.return_to));
  });
}
