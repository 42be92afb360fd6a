import type { IncomingMessage } from 'node:http';
import type { Middleware } from 'koa';
import { compileProxyTrust, resolveForwarded, type ForwardedView, type TrustProxySetting } from './client-address.ts';

const views = new WeakMap<IncomingMessage, ForwardedView>();

/**
 * Decides once per request who the client is and what scheme and host it used (see client-address.ts),
 * and makes every reader agree: `ctx.ip` here, and for the Koa apps further in (oidc-provider builds its
 * own context from the raw request) the forwarded headers are rewritten to the decided values, so Koa's
 * `proxy` getters (`ip`, `protocol`, `host`) read nothing a client wrote. Headers from an untrusted peer
 * are removed.
 */
export function clientAddress(setting: TrustProxySetting): Middleware {
  const trust = compileProxyTrust(setting);
  return async (ctx, next) => {
    const req = ctx.req;
    const view = resolveForwarded(req.socket.remoteAddress, req.headers, trust);
    views.set(req, view);
    ctx.request.ip = view.ip;
    if (trust.enabled) {
      req.headers['x-forwarded-for'] = view.ip;
      if (view.protocol) req.headers['x-forwarded-proto'] = view.protocol;
      else delete req.headers['x-forwarded-proto'];
      if (view.host) req.headers['x-forwarded-host'] = view.host;
      else delete req.headers['x-forwarded-host'];
    }
    await next();
  };
}

/** Whether Koa apps (ours and oidc-provider's) should read forwarded headers at all. */
export function proxyTrustEnabled(setting: TrustProxySetting): boolean {
  return compileProxyTrust(setting).enabled;
}
