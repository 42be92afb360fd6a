import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import type { Config } from './config/index.ts';
import { openStore, type Store } from './store/index.ts';
import { UserRepository } from './directory/index.ts';
import { AuditLog } from './audit/index.ts';
import { buildProvider, ensureKeySet, ProviderHolder, type KeySet } from './oidc/index.ts';
import { Metrics, instrumentStore } from './http/metrics.ts';
import { StoreHealth } from './http/koa-store-gate.ts';
import { oidcViews } from './interactions/views.ts';

/** Everything a route or job needs, built once at start-up and passed explicitly. */
export interface Services {
  config: Config;
  logger: Logger;
  store: Store;
  users: UserRepository;
  audit: AuditLog;
  metrics: Metrics;
  providers: ProviderHolder;
  storeHealth: StoreHealth;
  close(): Promise<void>;
}

export async function buildServices(config: Config, logger: Logger): Promise<Services> {
  const metrics = new Metrics();
  const rawStore = await openStore(config.store, {
    onConnectionError: (error) => logger.error({ err: error.message }, 'store connection failing'),
  });
  const store = instrumentStore(rawStore, metrics);
  const users = new UserRepository(store);
  const audit = new AuditLog(store);

  const keySet = await ensureKeySet(store, config.signing_keys.algorithm, config.signing_keys.additional);
  for (const user of config.users) await users.upsertStatic(user);

  const build = (keys: KeySet): Provider => buildProvider({ config, store, users, keySet: keys, ...oidcViews });
  const providers = new ProviderHolder(keySet, build, (provider) => observeProvider(provider, metrics, logger));
  providers.watch(store, config.signing_keys.reload_interval, logger);
  const storeHealth = new StoreHealth(rawStore, logger);
  storeHealth.start();

  return {
    config,
    logger,
    store,
    users,
    audit,
    metrics,
    providers,
    storeHealth,
    async close() {
      providers.stop();
      storeHealth.stop();
      await rawStore.close();
    },
  };
}

/** Grant outcomes for /metrics and the log; the token endpoint's errors never carry secrets. */
function observeProvider(provider: Provider, metrics: Metrics, logger: Logger): void {
  provider.on('grant.success', (ctx) => {
    metrics.grants.inc({ grant_type: String(ctx.oidc.params?.grant_type ?? 'unknown'), outcome: 'success' });
  });
  provider.on('grant.error', (ctx, err: Error & { error?: string; error_description?: string }) => {
    metrics.grants.inc({ grant_type: String(ctx.oidc.params?.grant_type ?? 'unknown'), outcome: err.error ?? 'server_error' });
    logger.info({ client_id: ctx.oidc.client?.clientId, error: err.error, detail: err.error_description }, 'grant refused');
  });
  provider.on('server_error', (_ctx, err: Error) => {
    logger.error({ err }, 'oidc-provider server error');
  });
}
