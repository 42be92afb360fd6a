export { buildProvider, clientMetadata, isFirstParty, PASSWORD_ACR, type ProviderDeps } from './provider.ts';
export { createAdapterFactory, StoreDownError } from './adapter.ts';
export { ensureKeySet, readKeySet, listSigningKeys, rotateSigningKey, rotateCookieKeys, providerJwks, nextKeyTransition, KeySetUnavailableError, type KeySet, type KeyMetadata, type SigningAlg, type StoredSigningKey } from './keys.ts';
export { ProviderHolder } from './holder.ts';
export { firstPartyOfflineAccess } from './first-party.ts';
export { API_KEY_CLIENT_ID, API_KEY_TOKEN_TYPE, TOKEN_EXCHANGE, type ApiKeyCheck } from './token-exchange.ts';
