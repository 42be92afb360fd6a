import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Services } from '../container.ts';
import { ConnectionInputError, changedFields, mergePatch, type ConnectionView } from '../connectors/connections.ts';
import type { ConnectionCheck } from '../connectors/index.ts';
import { AppError, readJson } from './problem.ts';
import { authMiddleware } from './koa-auth.ts';
import { auditAction, principalOf } from './context.ts';

/** Reading and testing connections: an organisation admin (changes are decided by requireConnectionChange). */
const requireConnectionsAdmin = (ctx: Context, services: Services) => services.access.requireOrgAdmin(principalOf(ctx), 'managing connections');

function connectionError(err: unknown): never {
  if (err instanceof ConnectionInputError) {
    const code = err.code === 'invalid' ? 'invalid_request' : err.code === 'no_secret_key' ? 'conflict' : err.code;
    throw new AppError(code, err.message, { field: err.field });
  }
  throw err;
}

export type Check = ConnectionCheck;

/**
 * What POST /v1/connections/{id}/test checks (also the dashboard's "Test connection"): each connector type
 * says what to check (ConnectionSet.test). Changes nothing.
 */
export function testConnection(services: Services, connection: ConnectionView): Promise<Check[]> {
  return services.connections.test(connection);
}

export function connectionRoutes(router: Router, services: Services): void {
  const auth = authMiddleware(services);
  const { connections } = services;

  router.get('/v1/connections', auth, async (ctx) => {
    await requireConnectionsAdmin(ctx, services);
    ctx.body = { connections: await connections.list() };
  });

  router.get('/v1/connections/:id', auth, async (ctx) => {
    await requireConnectionsAdmin(ctx, services);
    const connection = await connections.get(ctx.params.id!);
    if (!connection) throw new AppError('not_found', `connection ${ctx.params.id} does not exist`);
    ctx.body = connection;
  });

  router.post('/v1/connections', auth, async (ctx) => {
    const root = await services.access.requireConnectionChange(principalOf(ctx), { action: 'create' });
    const body = await readJson(ctx);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new AppError('invalid_request', 'send a JSON object with the connector fields');
    const saved = await connections.save(body as Record<string, unknown>, 'create').catch(connectionError);
    await auditAction(ctx, services, { action: 'connection.created', target: { type: 'connection', id: saved.id }, project_id: root, outcome: 'success', detail: { type: saved.type } });
    ctx.status = 201;
    ctx.body = saved;
  });

  router.patch('/v1/connections/:id', auth, async (ctx) => {
    const root = await requireConnectionsAdmin(ctx, services);
    const body = await readJson(ctx);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new AppError('invalid_request', 'send a JSON object with the fields to change');
    const current = await connections.storedConfig(ctx.params.id!);
    if (!current) {
      if (await connections.get(ctx.params.id!)) throw new AppError('conflict', `connector ${ctx.params.id} comes from the configuration file; change it there`);
      throw new AppError('not_found', `connection ${ctx.params.id} does not exist`);
    }
    const changes = body as Record<string, unknown>;
    if ('id' in changes && changes.id !== ctx.params.id) throw new AppError('invalid_request', 'the id of a connection cannot change', { field: 'id' });
    if ('type' in changes && changes.type !== current.type) throw new AppError('invalid_request', 'the type of a connection cannot change; create a new one', { field: 'type' });
    const next = { ...mergePatch(current, changes), id: ctx.params.id };
    await services.access.requireConnectionChange(principalOf(ctx), { action: 'update', fields: changedFields(current, next) });
    const saved = await connections.save(next, 'update').catch(connectionError);
    await auditAction(ctx, services, { action: 'connection.updated', target: { type: 'connection', id: saved.id }, project_id: root, outcome: 'success', detail: { fields: Object.keys(changes) } });
    ctx.body = saved;
  });

  router.delete('/v1/connections/:id', auth, async (ctx) => {
    const root = await services.access.requireConnectionChange(principalOf(ctx), { action: 'delete' });
    const wasScim = (await connections.get(ctx.params.id!))?.type === 'scim';
    const deleted = await connections.delete(ctx.params.id!).catch(connectionError);
    if (!deleted) throw new AppError('not_found', `connection ${ctx.params.id} does not exist`);
    if (wasScim) await services.scim.connectionDeleted(ctx.params.id!, { ip: ctx.ip, user_agent: ctx.get('user-agent') || null });
    await auditAction(ctx, services, { action: 'connection.deleted', target: { type: 'connection', id: ctx.params.id! }, project_id: root, outcome: 'success' });
    ctx.status = 204;
  });

  /**
   * A new bearer token for a SCIM connection, shown once; the old one stops working at once. Owner business,
   * like creating the connection: the token provisions and disables accounts.
   */
  router.post('/v1/connections/:id/token/rotate', auth, async (ctx) => {
    const root = await services.access.requireConnectionChange(principalOf(ctx), { action: 'update', fields: ['token'] });
    const token = await connections.rotateScimToken(ctx.params.id!).catch(connectionError);
    await auditAction(ctx, services, { action: 'connection.token_rotated', target: { type: 'connection', id: ctx.params.id! }, project_id: root, outcome: 'success' });
    ctx.body = { id: ctx.params.id, token };
  });

  /** Fetches discovery or metadata and says, in plain words, what is wrong. Changes nothing. */
  router.post('/v1/connections/:id/test', auth, async (ctx) => {
    const root = await requireConnectionsAdmin(ctx, services);
    const connection = await connections.get(ctx.params.id!);
    if (!connection) throw new AppError('not_found', `connection ${ctx.params.id} does not exist`);
    const checks = await testConnection(services, connection);
    const ok = checks.every((c) => c.ok);
    await auditAction(ctx, services, { action: 'connection.tested', target: { type: 'connection', id: connection.id }, project_id: root, outcome: ok ? 'success' : 'failure', detail: { checks: checks.filter((c) => !c.ok).map((c) => c.check) } });
    ctx.body = { ok, checks };
  });
}
