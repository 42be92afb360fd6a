import type { Context } from 'koa';
import type { Caller, Principal } from '../domain/index.ts';

/**
 * What every door (/v1, the dashboard, SCIM) tells a domain service about a request: the principal its
 * authentication put in `ctx.state.principal`, and where the request came from.
 */
function principalOf(ctx: Context): Principal {
  return ctx.state.principal as Principal;
}

/**
 * A request-chosen string cut for the audit log: a failed call's path or a user agent may be kilobytes
 * long, and an anonymous caller must not be able to write kilobytes per request into the log.
 */
export function clip(value: string, max: number): string {
  return value.length > max ? `${value.slice(0, max)}…` : value;
}

/** The calling principal and where the call came from, as domain services take it. */
export function callerOf(ctx: Context): Caller {
  return { principal: principalOf(ctx), ip: ctx.ip, user_agent: clip(ctx.get('user-agent'), 512) || null };
}
