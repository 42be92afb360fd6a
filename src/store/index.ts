/**
 * The store module's public surface: the contract (types.ts) and `openStore`, which picks the
 * implementation from configuration. Nothing outside src/store imports embedded.ts or redis.ts.
 */
import { openEmbeddedStore } from './embedded.ts';
import { openRedisStore } from './redis.ts';
import type { Store } from './types.ts';

export { EVENT_ID, MAX_KEY_BYTES, StoreInputError, StoreUnavailableError } from './types.ts';
export type { BatchOp, JsonObject, RangeOptions, Store, StoredEvent } from './types.ts';
export type { EmbeddedStoreOptions } from './embedded.ts';
export type { RedisStoreOptions } from './redis.ts';

/** The `store` section of the configuration file (src/config/schema.ts). */
export type OpenStoreConfig =
  | { driver: 'embedded'; path: string; prefix?: string | undefined }
  | { driver: 'redis'; url: string; prefix?: string | undefined };

export interface OpenStoreHooks {
  /** Redis only: told once per outage that the connection is failing (message without credentials). */
  onConnectionError?: (error: Error) => void;
}

export async function openStore(config: OpenStoreConfig, hooks: OpenStoreHooks = {}): Promise<Store> {
  const prefix = config.prefix !== undefined ? { prefix: config.prefix } : {};
  switch (config.driver) {
    case 'embedded':
      return openEmbeddedStore({ path: config.path, ...prefix });
    case 'redis':
      return openRedisStore({
        url: config.url,
        ...prefix,
        ...(hooks.onConnectionError ? { onConnectionError: hooks.onConnectionError } : {}),
      });
  }
}
