export { configSchema, type Config, type ClientConfig } from './schema.ts';
export { loadConfig, parseConfig, ConfigError, devWarnings, developmentDefaultsCheck, developmentDefaultsRefusal } from './load.ts';
export { secretKeyFromEnv } from './secret-key.ts';
