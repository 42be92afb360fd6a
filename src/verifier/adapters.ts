import { VerifierError } from './errors.ts';
import type { Principal, Verifier, VerifyInput } from './verifier.ts';

/**
 * Thin adapters for Koa, Express and plain node:http. They are typed structurally (no import of koa or
 * express): the library depends on jose alone. Each reads `Authorization` and `X-Logs-Api-Key`, takes the
 * end client's address (behind a proxy, pass `clientIp`, decided by your trusted-proxy rules, never a raw
 * X-Forwarded-For), verifies, and either hands on the principal or answers the refusal: 401/403/503 with
 * `WWW-Authenticate` and `{ "error", "error_description" }`.
 */
export interface GuardOptions<R> {
  /** Require this scope (space-separated: all of them). */
  scope?: string;
  /** The project the request acts on (with `scope`: checked as `verifier.can`). */
  project?: (request: R) => string | undefined;
  /** The end client's address; defaults to the framework's (Koa ctx.ip, Express req.ip, the socket's). */
  clientIp?: (request: R) => string | undefined;
}

interface HeaderSource {
  headers: Record<string, string | string[] | undefined>;
  socket?: { remoteAddress?: string | undefined } | null;
}

interface ResponseSink {
  statusCode: number;
  headersSent?: boolean;
  setHeader(name: string, value: string): unknown;
  end(body?: string): unknown;
}

function header(req: HeaderSource, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The verify() input of a node:http (or Express, or Koa's ctx.req) request. */
export function credentialsOf(req: HeaderSource, ip?: string): VerifyInput {
  return { authorization: header(req, 'authorization'), apiKey: header(req, 'x-logs-api-key'), ip: ip ?? req.socket?.remoteAddress };
}

function errorBody(err: VerifierError): string {
  return JSON.stringify({ error: err.code, error_description: err.message });
}

function asVerifierError(err: unknown): VerifierError {
  if (err instanceof VerifierError) return err;
  return new VerifierError(503, 'unavailable', 'the credential could not be verified', { realm: 'logtrace', cause: err });
}

/** Writes a refusal on a node:http response. */
export function sendRefusal(res: ResponseSink, err: unknown): void {
  const refusal = asVerifierError(err);
  res.statusCode = refusal.status;
  res.setHeader('WWW-Authenticate', refusal.wwwAuthenticate);
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Cache-Control', 'no-store');
  res.end(errorBody(refusal));
}

/**
 * node:http: `const principal = await guard(req, res); if (!principal) return;` — on refusal the response
 * has been written.
 */
export function nodeHttpGuard<R extends HeaderSource>(verifier: Verifier, options: GuardOptions<R> = {}): (req: R, res: ResponseSink) => Promise<Principal | undefined> {
  return async (req, res) => {
    try {
      return await verifier.verify({ ...credentialsOf(req, options.clientIp?.(req)), scope: options.scope, project_id: options.project?.(req) });
    } catch (err) {
      sendRefusal(res, err);
      return undefined;
    }
  };
}

interface KoaLikeContext {
  req: HeaderSource;
  ip: string;
  status: number;
  body: unknown;
  state: Record<string, unknown>;
  set(name: string, value: string): void;
}

/** Koa middleware: `ctx.state.principal`, or the refusal answered. */
export function koaGuard<C extends KoaLikeContext>(verifier: Verifier, options: GuardOptions<C> = {}): (ctx: C, next: () => Promise<unknown>) => Promise<void> {
  return async (ctx, next) => {
    let principal: Principal;
    try {
      principal = await verifier.verify({ ...credentialsOf(ctx.req, options.clientIp?.(ctx) ?? ctx.ip), scope: options.scope, project_id: options.project?.(ctx) });
    } catch (err) {
      const refusal = asVerifierError(err);
      ctx.status = refusal.status;
      ctx.set('WWW-Authenticate', refusal.wwwAuthenticate);
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { error: refusal.code, error_description: refusal.message };
      return;
    }
    ctx.state.principal = principal;
    await next();
  };
}

interface ExpressLikeRequest extends HeaderSource {
  ip?: string | undefined;
}
interface ExpressLikeResponse extends ResponseSink {
  locals: Record<string, unknown>;
}

/** Express middleware: `res.locals.principal`, or the refusal answered. */
export function expressGuard<Q extends ExpressLikeRequest, S extends ExpressLikeResponse>(verifier: Verifier, options: GuardOptions<Q> = {}): (req: Q, res: S, next: (err?: unknown) => void) => void {
  return (req, res, next) => {
    verifier.verify({ ...credentialsOf(req, options.clientIp?.(req) ?? req.ip), scope: options.scope, project_id: options.project?.(req) }).then(
      (principal) => {
        res.locals.principal = principal;
        next();
      },
      (err: unknown) => sendRefusal(res, err),
    );
  };
}
