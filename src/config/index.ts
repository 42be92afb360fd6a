export { configSchema, type Config, type ClientConfig, type UserConfig, type StoreConfig } from './schema.ts';
export { loadConfig, parseConfig, ConfigError, devWarnings, developmentDefaults, developmentDefaultsCheck, developmentDefaultsRefusal, isLoopbackIssuer, DEFAULT_CONFIG_PATH } from './load.ts';
export { secretKeyFromEnv } from './secret-key.ts';
