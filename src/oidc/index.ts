export { buildProvider, isFirstParty, PASSWORD_ACR, type ProviderDeps } from './provider.ts';
export { projectOfClient } from './registered-clients.ts';
export { createAdapterFactory, StoreDownError } from './adapter.ts';
export { ensureKeySet, listSigningKeys, rotateSigningKey, rotateCookieKeys, KeySetUnavailableError, type KeySet, type SigningAlg } from './keys.ts';
export { ProviderHolder } from './holder.ts';
export { firstPartyOfflineAccess } from './first-party.ts';
