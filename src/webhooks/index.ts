/**
 * The webhooks module's public surface: signed event deliveries with retries, on the Standard Webhooks
 * signature scheme (https://www.standardwebhooks.com). Plain inputs and outputs; no HTTP framework.
 * WebhookRepository is the store and the delivery worker; WebhookService is what the doors call.
 */
export { DEFAULT_RETRY_SCHEDULE, DELIVERY_RETENTION_SECONDS, EVENT_TYPES, WebhookRepository } from './repository.ts';
export type {
  AttemptView,
  CreateWebhookInput,
  DeliveryStatus,
  DeliveryView,
  WebhookEvent,
  WebhookEventType,
  WebhookRepositoryOptions,
  WebhookView,
} from './repository.ts';
export { WebhookService, type WebhookInput, type WebhookServiceDeps } from './service.ts';
export { generateSecret, sign } from './signature.ts';
export { isBlockedAddress } from './addresses.ts';
