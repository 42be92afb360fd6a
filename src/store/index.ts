/**
 * The store module's public surface: the contract (types.ts) and `openStore`, which picks the
 * implementation from configuration. Nothing outside src/store imports embedded.ts or redis.ts.
 */
import { readFile } from 'node:fs/promises';
import { openEmbeddedStore } from './embedded.ts';
import { openRedisStore } from './redis.ts';
import type { Store, StoreErrorKind } from './types.ts';

export { CrossSlotBatchError, EVENT_ID, MAX_KEY_BYTES, StoreInputError, StoreUnavailableError, hashTagOf, writeInOrder } from './types.ts';
export type { BatchOp, JsonObject, RangeOptions, Store, StoredEvent, StoreErrorKind, StoreTopology } from './types.ts';

/** The `store` section of the configuration file (src/config/schema.ts). */
export type OpenStoreConfig =
  | { driver: 'embedded'; path: string; prefix?: string | undefined }
  | {
      driver: 'redis';
      url?: string | undefined;
      cluster?: string[] | undefined;
      sentinel?: { name: string; nodes: string[]; username?: string | undefined; password?: string | undefined; tls?: boolean | undefined } | undefined;
      prefix?: string | undefined;
      username?: string | undefined;
      password?: string | undefined;
      tls?: { ca_file?: string | undefined } | undefined;
      wait_for_replicas?: number | undefined;
    };

interface OpenStoreHooks {
  /** Redis only: told once per outage that the connection is failing (message without credentials). */
  onConnectionError?: (error: Error) => void;
  /** Redis only: told of every failed operation, by kind. */
  onError?: (kind: StoreErrorKind) => void;
  /** Redis only: told when another node became the master. */
  onFailover?: (detail: string) => void;
}

/** Raised when the store's configuration names something that cannot be used (an unreadable CA file). */
export class StoreConfigError extends Error {
  override readonly name = 'StoreConfigError';
}

export async function openStore(config: OpenStoreConfig, hooks: OpenStoreHooks = {}): Promise<Store> {
  const prefix = config.prefix !== undefined ? { prefix: config.prefix } : {};
  switch (config.driver) {
    case 'embedded':
      return openEmbeddedStore({ path: config.path, ...prefix });
    case 'redis': {
      let ca: string | undefined;
      if (config.tls?.ca_file !== undefined) {
        try {
          ca = await readFile(config.tls.ca_file, 'utf8');
        } catch (error) {
          throw new StoreConfigError(`store.tls.ca_file: cannot read ${config.tls.ca_file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
        }
      }
      return openRedisStore({
        url: config.url,
        cluster: config.cluster,
        sentinel: config.sentinel,
        ...prefix,
        username: config.username,
        password: config.password,
        ...(config.tls ? { tls: { ca } } : {}),
        waitForReplicas: config.wait_for_replicas,
        onConnectionError: hooks.onConnectionError,
        onError: hooks.onError,
        onFailover: hooks.onFailover,
      });
    }
  }
}
export { SecretBox, type SealedSecret } from './secret-box.ts';
