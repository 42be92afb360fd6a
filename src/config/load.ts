import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { configSchema, type Config } from './schema.ts';

export const DEFAULT_CONFIG_PATH = 'config/default.yaml';

/** Raised for an unreadable or invalid configuration; `issues` lists every problem with its key path. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly issues: string[];
  constructor(source: string, issues: string[]) {
    super(`invalid configuration in ${source}:\n  ${issues.join('\n  ')}`);
    this.issues = issues;
  }
}

type Env = Record<string, string | undefined>;

/**
 * Environment overrides, applied over the file before validation so their errors name the key too:
 * PORT, ISSUER, DATA_DIR (embedded store directory), REDIS_URL (switches the store to Redis), LOG_LEVEL, WORKERS.
 */
export function applyEnvOverrides(raw: Record<string, unknown>, env: Env): Record<string, unknown> {
  const out: Record<string, unknown> = { ...raw };
  if (env.PORT !== undefined && env.PORT !== '') out.port = /^\d+$/.test(env.PORT) ? Number(env.PORT) : env.PORT;
  if (env.ISSUER) out.issuer = env.ISSUER;
  if (env.LOG_LEVEL) out.log_level = env.LOG_LEVEL;
  if (env.WORKERS) out.workers = /^\d+$/.test(env.WORKERS) ? Number(env.WORKERS) : env.WORKERS;
  const store = (typeof raw.store === 'object' && raw.store !== null ? raw.store : {}) as Record<string, unknown>;
  if (env.REDIS_URL) {
    out.store = { driver: 'redis', url: env.REDIS_URL, ...(store.prefix !== undefined ? { prefix: store.prefix } : {}) };
  } else if (env.DATA_DIR) {
    out.store = { driver: 'embedded', path: env.DATA_DIR, ...(store.prefix !== undefined ? { prefix: store.prefix } : {}) };
  }
  return out;
}

export function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const where = issue.path.length ? issue.path.join('.') : '(root)';
    let message = issue.message;
    if (issue.code === 'invalid_type') message = `expected ${issue.expected === 'int' ? 'an integer' : articled(issue.expected)}`;
    if (issue.code === 'unrecognized_keys') message = `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`;
    return `${where}: ${message}`;
  });
}

function articled(word: string): string {
  return /^[aeiou]/.test(word) ? `an ${word}` : `a ${word}`;
}

/** Parses an already-read object (used by tests and by loadConfig). */
export function parseConfig(raw: unknown, source = 'configuration', env: Env = {}): Config {
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(source, ['(root): expected a mapping']);
  const result = configSchema.safeParse(applyEnvOverrides(raw as Record<string, unknown>, env));
  if (!result.success) throw new ConfigError(source, formatIssues(result.error));
  const config = result.data;
  if (config.store.driver === 'embedded') config.store.path = path.resolve(config.store.path);
  return config;
}

/** Reads the YAML file named by LOGTRACE_CONFIG (default config/default.yaml) and applies env overrides. */
export async function loadConfig(env: Env = process.env): Promise<{ config: Config; source: string }> {
  const source = env.LOGTRACE_CONFIG || DEFAULT_CONFIG_PATH;
  let text: string;
  try {
    text = await readFile(source, 'utf8');
  } catch (err) {
    throw new ConfigError(source, [`cannot read file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    if (err instanceof YAMLParseError) throw new ConfigError(source, [`YAML syntax: ${err.message}`]);
    throw err;
  }
  return { config: parseConfig(raw, source, env), source };
}

/** Settings that work but must not reach production unchanged (oidc-provider's `mustChange` idea). */
export function devWarnings(config: Config): string[] {
  const warnings: string[] = [];
  const url = new URL(config.issuer);
  if (url.protocol === 'http:' && !['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)) {
    warnings.push(`issuer ${config.issuer} is plain http on a non-loopback host: use https in production`);
  }
  for (const client of config.clients) {
    if (client.client_secret && /change|example|secret-secret|dev/i.test(client.client_secret)) {
      warnings.push(`client ${client.client_id} uses a development client_secret: replace it`);
    }
  }
  const connectorIds = new Set(config.connectors.map((c) => c.id));
  config.provisioning.rules.forEach((rule, i) => {
    for (const id of rule.connectors ?? []) if (!connectorIds.has(id)) warnings.push(`provisioning.rules.${i}.connectors: no configured connector ${id} (fine if it is a connection created through /v1/connections)`);
  });
  config.role_mappings.forEach((mapping, i) => {
    const directory = config.ldap || config.connectors.some((c) => c.type === 'ldap');
    if (mapping.source === 'ldap' && !directory) warnings.push(`role_mappings.${i}.source: ldap, but no ldap: block or LDAP connector is configured (fine if an LDAP connection is created through /v1/connections)`);
    if (mapping.source !== 'ldap' && !connectorIds.has(mapping.source)) warnings.push(`role_mappings.${i}.source: no configured connector ${mapping.source} (fine if it is a connection created through /v1/connections)`);
  });
  for (const user of config.users) {
    if (user.email.endsWith('@example.com')) warnings.push(`static user ${user.email} is a development account: remove it in production`);
  }
  if (!config.webhooks.block_private_addresses) {
    warnings.push('webhooks.block_private_addresses is false: admins can aim webhooks and connections at loopback, private and cloud metadata addresses; name the internal hosts that need it in outbound.allow_private instead');
  }
  return warnings;
}
