import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { Services } from '../container.ts';
import { KeyInputError, KEY_SCOPES, type ApiKeyView } from '../keys/index.ts';
import { AppError, parseBody, readJson } from './problem.ts';
import { authMiddleware } from './koa-auth.ts';
import { principalOf } from './context.ts';
import { keyCreated, keyRevoked, keyRotated } from './key-events.ts';
import { keyStreamRoutes } from './key-stream.ts';

const createKey = z.strictObject({
  project_id: z.string().min(1),
  name: z.string().trim().min(1).max(200),
  scopes: z.array(z.string()).min(1),
  environment: z.enum(['live', 'test']),
  ttl_days: z.number().int().optional(),
  ip_allowlist: z.array(z.string()).max(100).optional(),
  auto_rotate: z.boolean().optional(),
});
const rotateKey = z.strictObject({ id: z.string().min(1), grace_seconds: z.number().int().optional() });

function keyError(err: unknown): never {
  if (err instanceof KeyInputError) {
    throw new AppError(err.code === 'invalid' ? 'invalid_request' : err.code, err.message, { field: err.field });
  }
  throw err;
}

/** The key, when the caller administers its project (the access policy); 404 for an unknown id. */
async function keyFor(ctx: Context, services: Services, id: string): Promise<ApiKeyView> {
  const key = await services.keys.get(id);
  if (!key) throw new AppError('not_found', `API key ${id} does not exist`, { field: 'id' });
  await services.access.requireKeyAdmin(principalOf(ctx), key);
  return key;
}

export function keyRoutes(router: Router, services: Services): void {
  const auth = authMiddleware(services);
  const { keys } = services;

  router.post('/v1/keys', auth, async (ctx) => {
    const input = parseBody(createKey, await readJson(ctx));
    await services.access.require(principalOf(ctx), input.project_id, 'admin:projects');
    const unknown = input.scopes.filter((s) => !(KEY_SCOPES as readonly string[]).includes(s));
    if (unknown.length) throw new AppError('invalid_request', `unknown scope ${unknown.join(', ')}; allowed: ${KEY_SCOPES.join(', ')}`, { field: 'scopes' });
    await services.access.requireKeyScopes(principalOf(ctx), input.project_id, input.scopes);
    const created = await keys.create(input, principalOf(ctx).actor).catch(keyError);
    await keyCreated(ctx, services, input.project_id, created.view);
    ctx.status = 201;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { ...created.view, key: created.key };
  });

  router.get('/v1/keys', auth, async (ctx) => {
    const projectId = typeof ctx.query.project_id === 'string' ? ctx.query.project_id : '';
    if (!projectId) throw new AppError('invalid_request', 'project_id is required', { field: 'project_id' });
    await services.access.require(principalOf(ctx), projectId, 'admin:projects');
    ctx.body = { keys: await keys.list(projectId) };
  });

  router.post('/v1/keys/rotate', auth, async (ctx) => {
    const input = parseBody(rotateKey, await readJson(ctx));
    const old = await keyFor(ctx, services, input.id);
    // A rotation mints a new secret with the key's scopes: it needs every one of them, as creating it did.
    await services.access.requireKeyScopes(principalOf(ctx), old.project_id, old.scopes, 'scopes', `API key ${old.id}`);
    const rotated = await keys.rotate(old.id, input.grace_seconds ?? services.config.api_keys.rotation_grace_seconds, principalOf(ctx).actor).catch(keyError);
    await keyRotated(ctx, services, rotated);
    ctx.status = 201;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { ...rotated.view, key: rotated.key, previous: rotated.old };
  });

  // Before /v1/keys/:id, which would take "events" for an id.
  keyStreamRoutes(router, services);

  router.get('/v1/keys/:id', auth, async (ctx) => {
    ctx.body = await keyFor(ctx, services, ctx.params.id!);
  });

  router.get('/v1/keys/:id/usage', auth, async (ctx) => {
    const key = await keyFor(ctx, services, ctx.params.id!);
    const days = ctx.query.days === undefined ? 30 : Number(ctx.query.days);
    if (!Number.isInteger(days) || days < 1 || days > 400) throw new AppError('invalid_request', 'days must be a whole number from 1 to 400', { field: 'days' });
    ctx.body = await keys.usageOf(key.id, days);
  });

  router.delete('/v1/keys/:id', auth, async (ctx) => {
    const id = ctx.params.id!;
    const key = await keys.get(id);
    if (!key) throw new AppError('not_found', `API key ${id} does not exist`, { field: 'id' });
    // A key may always revoke itself (whoever finds it leaked can kill it with the key alone).
    await services.access.requireKeyAdmin(principalOf(ctx), key, 'revoke');
    const revoked = await keys.revoke(key.id, principalOf(ctx).actor).catch(keyError);
    await keyRevoked(ctx, services, key, revoked);
    ctx.body = revoked;
  });

}
