import type { Context } from 'koa';
import type { Services } from '../container.ts';
import type { AuditInput } from '../audit/index.ts';
import type { Principal } from './koa-auth.ts';
import type { Caller } from '../domain/index.ts';

export function principalOf(ctx: Context): Principal {
  return ctx.state.principal as Principal;
}

/**
 * A request-chosen string cut for the audit log: a failed call's path or a user agent may be kilobytes
 * long, and an anonymous caller must not be able to write kilobytes per request into the log.
 */
export function clip(value: string, max: number): string {
  return value.length > max ? `${value.slice(0, max)}…` : value;
}

/** Records an admin action by the calling principal, with the request's IP and user agent. */
export async function auditAction(ctx: Context, services: Services, event: Omit<AuditInput, 'actor' | 'ip' | 'user_agent'>): Promise<void> {
  const principal = ctx.state.principal as Principal | undefined;
  await services.audit.record({
    actor: principal?.actor ?? { type: 'anonymous', id: null },
    ip: ctx.ip,
    user_agent: clip(ctx.get('user-agent'), 512) || null,
    ...event,
  });
}

/** The calling principal and where the call came from, as domain services take it. */
export function callerOf(ctx: Context): Caller {
  return { principal: principalOf(ctx), ip: ctx.ip, user_agent: clip(ctx.get('user-agent'), 512) || null };
}
