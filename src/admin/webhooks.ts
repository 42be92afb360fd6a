import { z } from 'zod';
import { EVENT_TYPES, type WebhookService } from '../webhooks/index.ts';
import type { ApiRoutes } from './api-routes.ts';
import { callerOf } from '../http/caller.ts';

const TAG = 'Webhooks';

const CREATE_WEBHOOK = z.strictObject({
  project_id: z.string().min(1).describe('The project; the webhook hears events of its whole subtree'),
  url: z.string().min(1).max(2000).describe('https (http only for hosts outbound.allow_private names); never a private address'),
  events: z.array(z.string()).min(1).describe(`Event types: ${EVENT_TYPES.join(', ')}`),
  description: z.string().max(500).optional(),
});

const time = z.iso.datetime();
const WEBHOOK = z.strictObject({
  id: z.string(),
  project_id: z.string(),
  url: z.string(),
  events: z.array(z.string()),
  description: z.string().nullable(),
  created_at: time,
  created_by: z.strictObject({ type: z.enum(['api_key', 'user', 'client', 'system']), id: z.string().nullable() }),
  enabled: z.boolean(),
});
const DELIVERY = z.strictObject({
  id: z.string().describe('The message id, sent as `webhook-id` on every attempt'),
  event_type: z.string(),
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.array(z.strictObject({ at: time, status_code: z.number().int().nullable(), error: z.string().nullable(), duration_ms: z.number() })),
  next_attempt_at: time.nullable(),
  created_at: time,
});

const WEBHOOK_ID = z.object({ id: z.string().describe('The webhook id (wh_…)') });

/** /v1/webhooks: a door over WebhookService (src/webhooks/service.ts); every rule is there. */
export function webhookRoutes(api: ApiRoutes, deps: { webhooks: WebhookService }): void {
  const { webhooks } = deps;

  api.add(
    {
      method: 'post',
      path: '/v1/webhooks',
      operationId: 'createWebhook',
      summary: 'Subscribes a URL to events of a project (the signing secret is in this answer only)',
      tag: TAG,
      body: CREATE_WEBHOOK,
      responses: { 201: { description: 'The webhook, with its signing secret', schema: z.strictObject({ ...WEBHOOK.shape, secret: z.string().describe('The Standard Webhooks signing secret (whsec_…): shown once') }) } },
      problems: [404],
    },
    async (ctx, { body }) => {
      const created = await webhooks.create(callerOf(ctx), body);
      return { ...created.webhook, secret: created.secret };
    },
  );

  api.add(
    {
      method: 'get',
      path: '/v1/webhooks',
      operationId: 'listWebhooks',
      summary: 'The webhooks on a project (not its subtree), oldest first',
      tag: TAG,
      query: z.object({ project_id: z.string().min(1).describe('The project (admin:projects needed)') }),
      responses: { 200: { description: 'The webhooks', schema: z.strictObject({ webhooks: z.array(WEBHOOK) }) } },
      problems: [404],
    },
    async (ctx, { query }) => ({ webhooks: await webhooks.list(callerOf(ctx), { project_id: query.project_id }) }),
  );

  api.add(
    {
      method: 'get',
      path: '/v1/webhooks/:id',
      operationId: 'getWebhook',
      summary: 'One webhook (never its secret)',
      tag: TAG,
      params: WEBHOOK_ID,
      responses: { 200: { description: 'The webhook', schema: WEBHOOK } },
      problems: [404],
    },
    async (ctx, { params }) => webhooks.get(callerOf(ctx), { id: params.id }),
  );

  api.add(
    {
      method: 'delete',
      path: '/v1/webhooks/:id',
      operationId: 'deleteWebhook',
      summary: 'Deletes a webhook; its pending deliveries end without another attempt',
      tag: TAG,
      params: WEBHOOK_ID,
      responses: { 204: { description: 'Deleted' } },
      problems: [404],
    },
    async (ctx, { params }) => {
      await webhooks.delete(callerOf(ctx), { id: params.id });
      return null;
    },
  );

  api.add(
    {
      method: 'get',
      path: '/v1/webhooks/:id/deliveries',
      operationId: 'listWebhookDeliveries',
      summary: "The webhook's latest 100 deliveries, newest first, with their attempts",
      tag: TAG,
      params: WEBHOOK_ID,
      responses: { 200: { description: 'The deliveries', schema: z.strictObject({ deliveries: z.array(DELIVERY) }) } },
      problems: [404],
    },
    async (ctx, { params }) => ({ deliveries: await webhooks.deliveries(callerOf(ctx), { id: params.id }) }),
  );

  api.add(
    {
      method: 'post',
      path: '/v1/webhooks/:id/deliveries/:delivery/redeliver',
      operationId: 'redeliverWebhookDelivery',
      summary: 'Sends a delivered or failed delivery again, now, with the same webhook-id',
      tag: TAG,
      params: z.object({ id: z.string().describe('The webhook id'), delivery: z.string().describe('The delivery id (msg_…)') }),
      responses: { 202: { description: 'Scheduled', schema: z.strictObject({ scheduled: z.literal(true) }) } },
      problems: [404],
    },
    async (ctx, { params }) => {
      await webhooks.redeliver(callerOf(ctx), { id: params.id, delivery: params.delivery });
      return { scheduled: true };
    },
  );
}
