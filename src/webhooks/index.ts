/**
 * The webhooks module's public surface: signed event deliveries with retries, on the Standard Webhooks
 * signature scheme (https://www.standardwebhooks.com). Plain inputs and outputs; no HTTP framework.
 * WebhookRepository is the store and the delivery worker; WebhookService is what the doors call.
 */
export { EVENT_TYPES, WebhookRepository } from './repository.ts';
export type { CreateWebhookInput, DeliveryStatus, DeliveryView, WebhookRepositoryOptions, WebhookView } from './repository.ts';
export { WebhookService } from './service.ts';
export { generateSecret, sign } from './signature.ts';
export { isBlockedAddress } from './addresses.ts';
