import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Koa, { type Middleware } from 'koa';
import Router from '@koa/router';
import type { Services } from './container.ts';
import { StoreInputError, StoreUnavailableError } from './store/index.ts';
import { firstPartyOfflineAccess } from './oidc/index.ts';
import { interactionRoutes, invitationRoutes } from './interactions/index.ts';
import { pageContext } from './http/page.ts';
import { errorPage } from '../views/pages.ts';
import { storeGate } from './http/koa-store-gate.ts';
import { metricsEndpoint } from './http/metrics.ts';
import { clientAddress, proxyTrustEnabled } from './http/koa-client-address.ts';
import { dashboardRoutes } from './dashboard/index.ts';
import { adminApi, storeInputDetail, verifyApi } from './admin/index.ts';
import { scimApi } from './scim/index.ts';
import { etagOf, ifNoneMatch } from './http/etag.ts';

const STATIC_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../views/static');

/** A request id from a trusted proxy's `X-Request-Id`, or a fresh one; echoed in the response. */
const requestId: Middleware = async (ctx, next) => {
  if (!ctx.state.requestId) {
    ctx.state.requestId = randomUUID();
    ctx.set('X-Request-Id', ctx.state.requestId as string);
  }
  await next();
};

function routeLabel(p: string): string {
  if (p.startsWith('/interaction/')) return '/interaction/:uid' + (p.split('/').length > 3 ? '/' + p.split('/')[3] : '');
  if (p.startsWith('/static/')) return '/static';
  if (p.startsWith('/.well-known/')) return p;
  const known = ['/auth', '/token', '/token/introspection', '/token/revocation', '/jwks', '/me', '/session/end', '/request', '/healthz', '/readyz', '/metrics'];
  const match = known.find((k) => p === k || p.startsWith(`${k}/`));
  return match ?? 'other';
}

/** An invitation link's path is its secret: the log keeps only that it was one. */
function loggedPath(p: string): string {
  return p.startsWith('/invitations/') ? '/invitations/…' : p;
}

/**
 * JSON access log with the request id, and Prometheus request metrics. Paths only: query strings carry codes.
 * Written when the response closes (sent, or cut off: those are logged too). Everything it reads is taken
 * before the request runs: a listener runs outside the request's promise chain, where a throw (Koa's
 * `ctx.ip` once the socket is gone) is an uncaught exception that ends the process.
 */
function accessLog(services: Services): Middleware {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    const { method, res } = ctx;
    const path = ctx.path;
    const route = routeLabel(path);
    const ip = ctx.ip;
    const done = () => {
      try {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        // 499 (nginx's "client closed request"): cut off before an answer was sent.
        const status = !res.writableFinished ? (res.headersSent ? res.statusCode : 499) : ctx.respond === false ? res.statusCode : ctx.status;
        services.metrics.httpRequests.inc({ method, route, status: String(status) });
        services.metrics.httpDuration.observe({ method, route }, seconds);
        if (route !== '/healthz' && route !== '/readyz' && route !== '/metrics') {
          services.logger.info({ req_id: ctx.state.requestId, method, path: loggedPath(path), status, ms: Math.round(seconds * 1e4) / 10, ip, ...(res.writableFinished ? {} : { aborted: true }) }, 'request');
        }
      } catch (err) {
        services.logger.error({ req_id: ctx.state.requestId, err }, 'access log failed');
      }
    };
    res.once('close', done);
    await next();
  };
}

/**
 * A request line whose percent-escapes do not decode (`%ZZ`, a cut `%E0%A4%A`, bytes that are not
 * UTF-8) is refused here, once, with 400: no route has to guess what it meant.
 */
const wellFormedTarget: Middleware = async (ctx, next) => {
  const url = ctx.url;
  if (url.includes('%')) {
    try {
      decodeURIComponent(url);
    } catch {
      ctx.status = 400;
      ctx.set('Cache-Control', 'no-store');
      if (ctx.path === '/v1' || ctx.path.startsWith('/v1/')) {
        ctx.type = 'application/problem+json';
        ctx.body = { type: 'urn:logtrace:problem:invalid_request', title: 'Invalid request', status: 400, detail: 'the request target has a malformed percent-encoding', code: 'invalid_request', request_id: ctx.state.requestId ?? null };
      } else {
        ctx.body = { error: 'invalid_request', error_description: 'the request target has a malformed percent-encoding' };
      }
      return;
    }
  }
  await next();
};

/** Headers for every HTML page we render; oidc-provider's form_post pages set their own CSP. */
const securityHeaders = (https: boolean): Middleware => async (ctx, next) => {
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.set('X-Frame-Options', 'DENY');
  ctx.set('Cross-Origin-Opener-Policy', 'same-origin');
  if (https) ctx.set('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
  // No form-action: Chromium applies it to the redirects that follow a form post (back to the client).
  ctx.set('Content-Security-Policy', "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'");
  await next();
};

/** Our own routes' errors: a store outage is 503 (fail closed); others keep their status, no internals. */
function errorHandler(services: Services): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const e = err as Error & { status?: number; expose?: boolean; error?: string; error_description?: string };
      let status = e.status ?? 500;
      let error = e.error ?? (status < 500 && e.expose ? e.message : 'server_error');
      let inputDescription: string | undefined;
      if (err instanceof StoreUnavailableError) {
        status = 503;
        error = 'temporarily_unavailable';
      } else if (err instanceof StoreInputError) {
        status = 400;
        error = 'invalid_request';
        inputDescription = storeInputDetail(err);
      }
      if (status >= 500 && !(err instanceof StoreUnavailableError)) services.logger.error({ req_id: ctx.state.requestId, err }, 'unhandled error');
      ctx.status = status;
      const description = inputDescription ?? e.error_description ?? (status < 500 && e.expose ? e.message : undefined);
      if (ctx.accepts('json', 'html') === 'html') {
        ctx.type = 'html';
        ctx.body = errorPage(pageContext(ctx), { error, description });
      } else {
        ctx.body = { error, ...(description ? { error_description: description } : {}) };
      }
    }
  };
}

/**
 * GET /jwks: the public signing keys, served from the key set this node holds (keys published ahead of
 * signing included, retired ones gone), with `Cache-Control: max-age` = `signing_keys.jwks_max_age` and an
 * ETag, so resource servers cache it for a known time and revalidate it cheaply. `signing-keys rotate`
 * publishes a new key longer than that ahead of its first signature (`signing_keys.publish_ahead`).
 */
function publishedKeys(services: Services): Middleware {
  const maxAge = services.config.signing_keys.jwks_max_age;
  return async (ctx, next) => {
    if (ctx.path !== '/jwks' || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    const json = JSON.stringify(services.providers.publicJwks());
    const etag = etagOf(json);
    ctx.set('Cache-Control', `public, max-age=${maxAge}`);
    ctx.set('ETag', etag);
    ctx.set('Access-Control-Allow-Origin', '*');
    if (ifNoneMatch(ctx.get('if-none-match'), etag)) {
      ctx.status = 304;
      return;
    }
    ctx.type = 'application/jwk-set+json; charset=utf-8';
    ctx.body = json;
  };
}

interface AppOptions {
  /** `metrics.token` / `metrics.token_file`, read at start-up: /metrics then needs it as a bearer token. */
  metricsToken?: string | undefined;
}

export function createApp(services: Services, options: AppOptions = {}): Koa {
  const { config, store } = services;
  const app = new Koa({ proxy: proxyTrustEnabled(config.trust_proxy) });
  const router = new Router();

  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    const timeout = <T>(promise: Promise<T>): Promise<T> => Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('store ping timed out')), 1500).unref())]);
    // Counts only: the store's internal addresses are not for whoever can reach /readyz.
    const topology = await timeout(store.topology()).catch(() => undefined);
    try {
      await timeout(store.ping());
      ctx.body = { status: 'ready', store: store.driver, ...(topology ? { topology } : {}) };
    } catch (err) {
      ctx.status = 503;
      ctx.body = { status: 'not_ready', store: store.driver, ...(topology ? { topology } : {}), reason: (err as Error).message };
    }
  });
  if (config.metrics.listen) {
    // Served only on the separate metrics address (server.ts): not here.
    router.get('/metrics', (ctx) => ctx.throw(404));
  } else {
    // Fail closed: a configured token is never skipped because a caller did not pass it.
    const metricsToken = options.metricsToken ?? config.metrics.token;
    if (config.metrics.token_file && metricsToken === undefined) throw new Error('metrics.token_file is set but its token was not read (readMetricsToken)');
    router.get('/metrics', metricsEndpoint(services.metrics, metricsToken));
  }
  router.get('/static/:file', async (ctx) => {
    const file = ctx.params.file ?? '';
    if (!/^[\w.-]+\.(css|js)$/.test(file)) ctx.throw(404);
    ctx.type = file.endsWith('.js') ? 'text/javascript' : 'text/css';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = await readFile(path.join(STATIC_DIR, file)).catch(() => ctx.throw(404));
  });

  const pages = new Router();
  interactionRoutes(pages, services);
  invitationRoutes(pages, services);
  dashboardRoutes(pages, services);

  // Each router runs only for its own paths: the token endpoint and the key verification are hot paths,
  // and every router costs a pass over its routes.
  // (@koa/router's middleware types want its own context; Koa's is what it receives at run time.)
  const only = <C>(matches: (path: string) => boolean, middleware: (ctx: C, next: () => Promise<unknown>) => unknown): Middleware => (ctx, next) => (matches(ctx.path) ? (middleware(ctx as C, next) as Promise<void>) : next());
  const OPS = new Set(['/healthz', '/readyz', '/metrics']);
  const isOps = (p: string) => OPS.has(p) || p.startsWith('/static/');
  const isPage = (p: string) => p.startsWith('/interaction/') || p.startsWith('/federation/') || p.startsWith('/invitations/') || p === '/dashboard' || p.startsWith('/dashboard/');

  // Before anything reads ctx.ip: the client address and forwarded scheme/host, decided once (trust_proxy).
  app.use(clientAddress(config.trust_proxy));
  // The log API's hot path comes first: counted by logtrace_api_key_verifications_total rather than the
  // access log, and it echoes an incoming X-Request-Id instead of minting one.
  app.use(wellFormedTarget);
  app.use(async (ctx, next) => {
    const incoming = ctx.get('x-request-id');
    if (incoming && /^[\w.-]{1,128}$/.test(incoming)) {
      ctx.state.requestId = incoming;
      ctx.set('X-Request-Id', incoming);
    }
    await next();
  });
  app.use(verifyApi(services));
  app.use(requestId);
  app.use(accessLog(services));
  app.use(errorHandler(services));
  app.use(only(isOps, router.routes()));
  app.use(only(isOps, router.allowedMethods()));
  app.use(storeGate(services.storeHealth, ['/token', '/auth', '/interaction', '/me']));
  app.use(adminApi(services));
  app.use(scimApi(services));
  app.use(securityHeaders(config.issuer.startsWith('https:')));
  app.use(only(isPage, pages.routes()));
  app.use(firstPartyOfflineAccess(config, async (clientId) => (await services.clients.find(clientId))?.first_party === true));
  app.use(publishedKeys(services));
  // oidc-provider answers everything else (/auth, /token, discovery…), as its own Koa app.
  app.use(async (ctx) => {
    // Resource servers cache discovery as long as the JWKS (the verifier library reads both).
    if (ctx.path === '/.well-known/openid-configuration') ctx.res.setHeader('Cache-Control', `public, max-age=${config.signing_keys.jwks_max_age}`);
    ctx.respond = false;
    await services.providers.handler(ctx.req, ctx.res);
  });
  return app;
}
