export { KeyRepository, KEY_SCOPES, VERIFY_OUTCOMES, VERIFY_FAILURES, statusOf, type ApiKeyRecord, type ApiKeyView, type VerifyResult, type KeyScope, type NewKey } from './repository.ts';
export { KeyService, type CreateKeyInput, type KeyEventSubscription } from './service.ts';
export { generateKey, parseKey, hashKey, KEY_ENVIRONMENTS, KEY_PATTERN, type KeyEnvironment } from './format.ts';
export { parseCidr, normalizeIp, addressBucket } from './ip.ts';
export { ExpiryWatcher } from './expiry-watcher.ts';
export { KeyEventFeed, publishKeyEvent, type KeyEvent } from './events.ts';
