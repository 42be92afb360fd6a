import type Router from '@koa/router';
import { z } from 'zod';
import type { Services } from '../container.ts';
import { WebhookInputError } from '../webhooks/index.ts';
import { AppError, parseBody, readJson } from './problem.ts';
import { authMiddleware } from './koa-auth.ts';
import { auditAction, principalOf } from './context.ts';

const createWebhook = z.strictObject({
  project_id: z.string().min(1),
  url: z.string().min(1).max(2000),
  events: z.array(z.string()).min(1),
  description: z.string().max(500).optional(),
});

export function webhookRoutes(router: Router, services: Services): void {
  const auth = authMiddleware(services);
  const { webhooks } = services;

  async function webhookFor(ctx: Parameters<Parameters<Router['get']>[1]>[0], id: string) {
    const webhook = await webhooks.get(id);
    if (!webhook) throw new AppError('not_found', `webhook ${id} does not exist`, { field: 'id' });
    await services.access.require(principalOf(ctx), webhook.project_id, 'admin:projects', 'id', `webhook ${webhook.id}`);
    return webhook;
  }

  router.post('/v1/webhooks', auth, async (ctx) => {
    const input = parseBody(createWebhook, await readJson(ctx));
    await services.access.require(principalOf(ctx), input.project_id, 'admin:projects');
    let created;
    try {
      created = await webhooks.create({ ...input, created_by: principalOf(ctx).actor });
    } catch (err) {
      if (err instanceof WebhookInputError) throw new AppError('invalid_request', err.message, { field: err.field });
      throw err;
    }
    await auditAction(ctx, services, { action: 'webhook.created', target: { type: 'webhook', id: created.webhook.id }, project_id: input.project_id, outcome: 'success', detail: { url: created.webhook.url, events: created.webhook.events } });
    ctx.status = 201;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { ...created.webhook, secret: created.secret };
  });

  router.get('/v1/webhooks', auth, async (ctx) => {
    const projectId = typeof ctx.query.project_id === 'string' ? ctx.query.project_id : '';
    if (!projectId) throw new AppError('invalid_request', 'project_id is required', { field: 'project_id' });
    await services.access.require(principalOf(ctx), projectId, 'admin:projects');
    ctx.body = { webhooks: await webhooks.list(projectId) };
  });

  router.get('/v1/webhooks/:id', auth, async (ctx) => {
    ctx.body = await webhookFor(ctx, ctx.params.id!);
  });

  router.delete('/v1/webhooks/:id', auth, async (ctx) => {
    const webhook = await webhookFor(ctx, ctx.params.id!);
    await webhooks.delete(webhook.id);
    await auditAction(ctx, services, { action: 'webhook.deleted', target: { type: 'webhook', id: webhook.id }, project_id: webhook.project_id, outcome: 'success' });
    ctx.status = 204;
  });

  router.get('/v1/webhooks/:id/deliveries', auth, async (ctx) => {
    const webhook = await webhookFor(ctx, ctx.params.id!);
    ctx.body = { deliveries: await webhooks.deliveries(webhook.id, { limit: 100 }) };
  });

  router.post('/v1/webhooks/:id/deliveries/:delivery/redeliver', auth, async (ctx) => {
    const webhook = await webhookFor(ctx, ctx.params.id!);
    if (!(await webhooks.redeliver(ctx.params.delivery!, { webhookId: webhook.id }))) {
      throw new AppError('not_found', `delivery ${ctx.params.delivery} of webhook ${webhook.id} does not exist or is still pending`);
    }
    await auditAction(ctx, services, { action: 'webhook.redelivered', target: { type: 'webhook', id: webhook.id }, project_id: webhook.project_id, outcome: 'success', detail: { delivery: ctx.params.delivery } });
    ctx.status = 202;
    ctx.body = { scheduled: true };
  });
}
