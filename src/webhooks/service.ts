import type { AccessPolicy } from '../access/index.ts';
import type { AuditLog } from '../audit/index.ts';
import { DomainError, type Caller } from '../domain/index.ts';
import type { DeliveryView, WebhookRepository, WebhookView } from './repository.ts';

interface WebhookServiceDeps {
  webhooks: WebhookRepository;
  access: AccessPolicy;
  audit: AuditLog;
}

interface WebhookInput {
  project_id: string;
  url: string;
  events: string[];
  description?: string | null | undefined;
}

const ADMIN = 'admin:projects';
/** Deliveries a listing shows, newest first. */
const DELIVERY_PAGE = 100;

/**
 * Webhooks as every door uses them (/v1, the dashboard): each method takes the caller and plain input,
 * asks the access policy (admin:projects on the webhook's project), writes the audit event and returns
 * plain results or throws DomainError. The store and the delivery worker are WebhookRepository's.
 *
 * `emit` and `emitOnce` are how domain services announce events (key.created, …): no caller, they only
 * enqueue deliveries.
 */
export class WebhookService {
  readonly emit: WebhookRepository['emit'];
  readonly emitOnce: WebhookRepository['emitOnce'];
  private readonly deps: WebhookServiceDeps;

  constructor(deps: WebhookServiceDeps) {
    this.deps = deps;
    this.emit = deps.webhooks.emit.bind(deps.webhooks);
    this.emitOnce = deps.webhooks.emitOnce.bind(deps.webhooks);
  }

  /** A new webhook on a project the caller administers; its signing secret is in the result this once. */
  async create(caller: Caller, input: WebhookInput): Promise<{ webhook: WebhookView; secret: string }> {
    await this.deps.access.require(caller.principal, input.project_id, ADMIN);
    const created = await this.deps.webhooks.create({ ...input, created_by: caller.principal.actor });
    const { webhook } = created;
    await this.record(caller, 'webhook.created', webhook, { url: webhook.url, events: webhook.events });
    return created;
  }

  /** The webhooks on a project the caller administers (not its subtree), oldest first. */
  async list(caller: Caller, input: { project_id: string }): Promise<WebhookView[]> {
    await this.deps.access.require(caller.principal, input.project_id, ADMIN);
    return this.deps.webhooks.list(input.project_id);
  }

  /** The webhook, when the caller administers its project (404 for an unknown id, 403 for another's). */
  async get(caller: Caller, input: { id: string }): Promise<WebhookView> {
    const webhook = await this.deps.webhooks.get(input.id);
    if (!webhook) throw new DomainError('not_found', `webhook ${input.id} does not exist`, 'id');
    await this.deps.access.require(caller.principal, webhook.project_id, ADMIN, 'id', `webhook ${webhook.id}`);
    return webhook;
  }

  /** Deletes the webhook; its pending deliveries end without another attempt. */
  async delete(caller: Caller, input: { id: string }): Promise<WebhookView> {
    const webhook = await this.get(caller, input);
    await this.deps.webhooks.delete(webhook.id);
    await this.record(caller, 'webhook.deleted', webhook);
    return webhook;
  }

  /** The webhook's latest deliveries, newest first, with their attempts. */
  async deliveries(caller: Caller, input: { id: string }): Promise<DeliveryView[]> {
    const webhook = await this.get(caller, input);
    return this.deps.webhooks.deliveries(webhook.id, { limit: DELIVERY_PAGE });
  }

  /** Schedules a delivered or failed delivery of the webhook again, now, with the same `webhook-id`. */
  async redeliver(caller: Caller, input: { id: string; delivery: string }): Promise<void> {
    const webhook = await this.get(caller, input);
    if (!input.delivery || !(await this.deps.webhooks.redeliver(input.delivery, { webhookId: webhook.id }))) {
      throw new DomainError('not_found', `delivery ${input.delivery} of webhook ${webhook.id} does not exist or is still pending`, 'delivery');
    }
    await this.record(caller, 'webhook.redelivered', webhook, { delivery: input.delivery });
  }

  private async record(caller: Caller, action: string, webhook: WebhookView, detail?: Record<string, unknown>): Promise<void> {
    await this.deps.audit.recordBy(caller, {
      action,
      target: { type: 'webhook', id: webhook.id },
      project_id: webhook.project_id,
      outcome: 'success',
      ...(detail ? { detail } : {}),
    });
  }
}
