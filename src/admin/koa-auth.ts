import type { Middleware, Context } from 'koa';
import type { Principal } from '../domain/index.ts';
import { AppError } from './problem.ts';
import { authenticateBearer, credentialFrom, type BearerDeps } from '../http/bearer.ts';

/** The principal behind one credential (src/http/bearer.ts), or 401 as problem+json with its challenge. */
export async function authenticateCredential(ctx: Context, credential: string, deps: BearerDeps): Promise<Principal> {
  const result = await authenticateBearer(credential, ctx.ip, deps);
  if (result.ok) return result.principal;
  if (result.invalidToken) ctx.set('WWW-Authenticate', 'Bearer realm="logtrace", error="invalid_token"');
  throw new AppError('unauthorized', result.detail);
}

/** /v1's authentication: an API key or an access token of this server, in `ctx.state.principal`. */
export function authMiddleware(deps: BearerDeps): Middleware {
  return async (ctx, next) => {
    const credential = credentialFrom(ctx);
    if (!credential) {
      ctx.set('WWW-Authenticate', 'Bearer realm="logtrace"');
      throw new AppError('unauthorized', 'send an API key (Authorization: Bearer lt_… or X-Logs-Api-Key) or an access token');
    }
    ctx.state.principal = await authenticateCredential(ctx, credential, deps);
    await next();
  };
}
