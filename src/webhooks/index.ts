/**
 * The webhooks module's public surface: signed event deliveries with retries, on the Standard Webhooks
 * signature scheme (https://www.standardwebhooks.com). Plain inputs and outputs; no HTTP framework.
 */
export { DEFAULT_RETRY_SCHEDULE, DELIVERY_RETENTION_SECONDS, EVENT_TYPES, WebhookInputError, WebhookService } from './service.ts';
export type {
  Actor,
  AttemptView,
  CreateWebhookInput,
  DeliveryStatus,
  DeliveryView,
  WebhookEvent,
  WebhookEventType,
  WebhookServiceOptions,
  WebhookView,
} from './service.ts';
export { generateSecret, sign } from './signature.ts';
export { isBlockedAddress } from './addresses.ts';
export { SecretBox, type SealedSecret } from './secrets.ts';
