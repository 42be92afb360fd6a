import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { Services } from '../container.ts';
import { KeyInputError, KEY_SCOPES, type ApiKeyView } from '../keys/index.ts';
import { AppError, parseBody, readJson } from './problem.ts';
import { authMiddleware, requireScope } from './koa-auth.ts';
import { principalOf } from './context.ts';
import { keyCreated, keyRevoked, keyRotated } from './key-events.ts';

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

async function keyFor(ctx: Context, services: Services, id: string, scope: string): Promise<ApiKeyView> {
  const key = await services.keys.get(id);
  if (!key) throw new AppError('not_found', `API key ${id} does not exist`, { field: 'id' });
  await requireScope(principalOf(ctx), key.project_id, scope, services);
  return key;
}

export function keyRoutes(router: Router, services: Services): void {
  const auth = authMiddleware(services);
  const { keys } = services;

  router.post('/v1/keys', auth, async (ctx) => {
    const input = parseBody(createKey, await readJson(ctx));
    const held = await requireScope(principalOf(ctx), input.project_id, 'admin:projects', services);
    const unknown = input.scopes.filter((s) => !(KEY_SCOPES as readonly string[]).includes(s));
    if (unknown.length) throw new AppError('invalid_request', `unknown scope ${unknown.join(', ')}; allowed: ${KEY_SCOPES.join(', ')}`, { field: 'scopes' });
    const missing = input.scopes.filter((s) => !held.includes(s));
    if (missing.length) throw new AppError('forbidden', `a key cannot hold scopes its creator lacks: ${missing.join(', ')}`, { field: 'scopes' });
    const created = await keys.create(input, principalOf(ctx).actor).catch(keyError);
    await keyCreated(ctx, services, input.project_id, created.view);
    ctx.status = 201;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { ...created.view, key: created.key };
  });

  router.get('/v1/keys', auth, async (ctx) => {
    const projectId = typeof ctx.query.project_id === 'string' ? ctx.query.project_id : '';
    if (!projectId) throw new AppError('invalid_request', 'project_id is required', { field: 'project_id' });
    await requireScope(principalOf(ctx), projectId, 'admin:projects', services);
    ctx.body = { keys: await keys.list(projectId) };
  });

  router.post('/v1/keys/rotate', auth, async (ctx) => {
    const input = parseBody(rotateKey, await readJson(ctx));
    const old = await keyFor(ctx, services, input.id, 'admin:projects');
    const rotated = await keys.rotate(old.id, input.grace_seconds ?? services.config.api_keys.rotation_grace_seconds, principalOf(ctx).actor).catch(keyError);
    await keyRotated(ctx, services, rotated);
    ctx.status = 201;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { ...rotated.view, key: rotated.key, previous: rotated.old };
  });

  router.get('/v1/keys/:id', auth, async (ctx) => {
    ctx.body = await keyFor(ctx, services, ctx.params.id!, 'admin:projects');
  });

  router.get('/v1/keys/:id/usage', auth, async (ctx) => {
    const key = await keyFor(ctx, services, ctx.params.id!, 'admin:projects');
    const days = ctx.query.days === undefined ? 30 : Number(ctx.query.days);
    if (!Number.isInteger(days) || days < 1 || days > 400) throw new AppError('invalid_request', 'days must be a whole number from 1 to 400', { field: 'days' });
    ctx.body = await keys.usageOf(key.id, days);
  });

  router.delete('/v1/keys/:id', auth, async (ctx) => {
    const principal = principalOf(ctx);
    const id = ctx.params.id!;
    // A key may always revoke itself (whoever finds it leaked can kill it with the key alone).
    const self = principal.kind === 'api_key' && principal.actor.id === id;
    const key = self ? await keys.get(id) : await keyFor(ctx, services, id, 'admin:projects');
    if (!key) throw new AppError('not_found', `API key ${id} does not exist`, { field: 'id' });
    const revoked = await keys.revoke(key.id, principalOf(ctx).actor).catch(keyError);
    await keyRevoked(ctx, services, key, revoked);
    ctx.body = revoked;
  });

}
