export { KeyRepository, KEY_SCOPES, VERIFY_OUTCOMES, VERIFY_FAILURES, statusOf, type ApiKeyRecord, type ApiKeyView, type VerifyResult, type KeyScope, type NewKey } from './repository.ts';
export { KeyService, type CreateKeyInput, type KeyUsage, type UsageReport, type KeyEventBatch, type KeyEventSubscription, type WebhookEmitter } from './service.ts';
export { generateKey, parseKey, hashKey, KEY_ENVIRONMENTS, KEY_PATTERN, type KeyEnvironment } from './format.ts';
export { parseCidr, normalizeIp, addressBucket } from './ip.ts';
export { ExpiryWatcher, type OnceEmitter } from './expiry-watcher.ts';
export { KeyEventFeed, KEY_EVENT_TYPES, KEY_EVENTS_LOG, publishKeyEvent, type KeyEvent, type KeyEventType } from './events.ts';
