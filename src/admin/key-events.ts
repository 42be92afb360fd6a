import type { Context } from 'koa';
import type { Services } from '../container.ts';
import type { ApiKeyView } from '../keys/index.ts';
import { auditAction } from './context.ts';

/**
 * What follows a key change made by a signed-in caller (the /v1 API or the dashboard): the audit event
 * and the webhook, the same from both doors.
 */
export async function keyCreated(ctx: Context, services: Services, projectId: string, key: ApiKeyView): Promise<void> {
  await auditAction(ctx, services, { action: 'key.created', target: { type: 'api_key', id: key.id }, project_id: projectId, outcome: 'success', detail: { name: key.name, scopes: key.scopes, environment: key.environment, expires_at: key.expires_at } });
  await services.webhooks.emit({ type: 'key.created', project_id: projectId, data: { key } });
}

export async function keyRotated(ctx: Context, services: Services, rotated: { view: ApiKeyView; old: ApiKeyView }): Promise<void> {
  const { view, old } = rotated;
  await auditAction(ctx, services, { action: 'key.rotated', target: { type: 'api_key', id: old.id }, project_id: old.project_id, outcome: 'success', detail: { new_key_id: view.id, grace_until: old.grace_until } });
  await services.webhooks.emit({ type: 'key.rotated', project_id: old.project_id, data: { key: view, previous: old } });
}

/** Only a key that was not revoked already: revoking twice records and announces nothing new. */
export async function keyRevoked(ctx: Context, services: Services, before: ApiKeyView, revoked: ApiKeyView): Promise<void> {
  if (before.status === 'revoked') return;
  await auditAction(ctx, services, { action: 'key.revoked', target: { type: 'api_key', id: before.id }, project_id: before.project_id, outcome: 'success' });
  await services.webhooks.emit({ type: 'key.revoked', project_id: before.project_id, data: { key: revoked } });
}
