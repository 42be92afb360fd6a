import type { Context } from 'koa';
import type { Services } from '../container.ts';
import type { AuditInput } from '../audit/index.ts';
import type { Principal } from '../domain/index.ts';
import { clip } from '../http/caller.ts';

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
