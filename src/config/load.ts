import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { configSchema, type Config } from './schema.ts';
import { connectorType } from '../connectors/index.ts';

const DEFAULT_CONFIG_PATH = 'config/default.yaml';

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
 * PORT, ISSUER, LOG_LEVEL, WORKERS; REDIS_URL (the store becomes standalone Redis at that URL, keeping the
 * file's prefix); DATA_DIR (the embedded store's directory: only when the store is embedded, never turning a
 * configured Redis store into a private lmdb file, which would split the nodes' state). Each override of a
 * value the file set, and each variable ignored, is described in `notes` for the start-up log.
 */
function applyEnvOverrides(raw: Record<string, unknown>, env: Env, notes: string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = { ...raw };
  const set = (key: string, variable: string, value: unknown): void => {
    if (raw[key] !== undefined && JSON.stringify(raw[key]) !== JSON.stringify(value)) notes.push(`${variable} overrides ${key} from the configuration file`);
    out[key] = value;
  };
  if (env.PORT !== undefined && env.PORT !== '') set('port', 'PORT', /^\d+$/.test(env.PORT) ? Number(env.PORT) : env.PORT);
  if (env.ISSUER) set('issuer', 'ISSUER', env.ISSUER);
  if (env.LOG_LEVEL) set('log_level', 'LOG_LEVEL', env.LOG_LEVEL);
  if (env.WORKERS) set('workers', 'WORKERS', /^\d+$/.test(env.WORKERS) ? Number(env.WORKERS) : env.WORKERS);
  const store = (typeof raw.store === 'object' && raw.store !== null ? raw.store : undefined) as Record<string, unknown> | undefined;
  const prefix = store?.prefix !== undefined ? { prefix: store.prefix } : {};
  const configuredDriver = store?.driver ?? 'embedded';
  if (env.REDIS_URL) {
    if (store !== undefined) {
      const was = configuredDriver === 'redis' ? (store.cluster ? 'Redis Cluster' : store.sentinel ? 'Redis Sentinel' : 'Redis') : String(configuredDriver);
      notes.push(`REDIS_URL overrides store from the configuration file (${was} store): using standalone Redis at ${redactUrl(env.REDIS_URL)}`);
    }
    out.store = { driver: 'redis', url: env.REDIS_URL, ...prefix };
    if (env.DATA_DIR) notes.push('DATA_DIR is ignored: the store is Redis (REDIS_URL)');
  } else if (env.DATA_DIR) {
    if (configuredDriver === 'embedded') {
      if (store?.path !== undefined && store.path !== env.DATA_DIR) notes.push('DATA_DIR overrides store.path from the configuration file');
      out.store = { ...(store ?? {}), driver: 'embedded', path: env.DATA_DIR };
    } else {
      notes.push(`DATA_DIR is ignored: the configuration file's store is ${String(configuredDriver)}, not embedded`);
    }
  }
  return out;
}

/** A Redis URL without its password, for logs. */
function redactUrl(text: string): string {
  try {
    const url = new URL(text);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '(not a URL)';
  }
}

function formatIssues(error: z.ZodError): string[] {
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
export function parseConfig(raw: unknown, source = 'configuration', env: Env = {}, notes: string[] = []): Config {
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(source, ['(root): expected a mapping']);
  const result = configSchema.safeParse(applyEnvOverrides(raw as Record<string, unknown>, env, notes));
  if (!result.success) throw new ConfigError(source, formatIssues(result.error));
  const config = result.data;
  if (config.store.driver === 'embedded') config.store.path = path.resolve(config.store.path);
  return config;
}

/**
 * Reads the YAML file named by LOGTRACE_CONFIG (default config/default.yaml) and applies env overrides;
 * `overrides` says which environment variables replaced (or could not replace) a configured value.
 */
export async function loadConfig(env: Env = process.env): Promise<{ config: Config; source: string; overrides: string[] }> {
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
  const overrides: string[] = [];
  return { config: parseConfig(raw, source, env, overrides), source, overrides };
}

const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);

/** True when the issuer is a loopback address: a trial on this machine, where development defaults are fine. */
function isLoopbackIssuer(issuer: string): boolean {
  return LOOPBACK_HOSTS.has(new URL(issuer).hostname);
}

/** config/default.yaml's account (admin@example.com / change-me-now). */
const SHIPPED_PASSWORD_HASHES: ReadonlySet<string> = new Set(['$argon2id$v=19$m=65536,p=4,t=3$J9Zy8Tf0P7LK8zEvbwOthA$0FmZzhBmYnyGDAdmyL+tPa8IEQxFHDO4baGg6y1pIIo']);
/** RFC 2606 names: nobody receives mail there, so an account there is a development account. */
const EXAMPLE_EMAIL = /@(?:[^@]+\.)?example\.(?:com|net|org)$|\.example$/;
/** Placeholder secrets (config/default.yaml's `dev-ingest-secret-change-me-…`); precise, since it can stop start-up. */
const PLACEHOLDER_SECRET = /change-?me|example|secret-secret|^dev[-_]/i;

/**
 * Development defaults: fine on localhost (warned about), refused with any other issuer unless
 * `allow_development_defaults: true`. Each entry names the key and what is wrong with it.
 */
function developmentDefaults(config: Config, env: Env = process.env): string[] {
  const found: string[] = [];
  config.users.forEach((user, i) => {
    if (SHIPPED_PASSWORD_HASHES.has(user.password_hash)) found.push(`users.${i}: ${user.email} has the development password from config/default.yaml`);
    else if (EXAMPLE_EMAIL.test(user.email)) found.push(`users.${i}: ${user.email} is a development account (example domain)`);
  });
  config.clients.forEach((client, i) => {
    if (client.client_secret && PLACEHOLDER_SECRET.test(client.client_secret)) found.push(`clients.${i}.client_secret: client ${client.client_id} uses a development client secret`);
  });
  const bootstrap = config.development.bootstrap_organisation;
  if (bootstrap) found.push(`development.bootstrap_organisation: on the first start, organisation "${bootstrap.name}" is made and ${bootstrap.owner} becomes its owner`);
  if (!env.LOGTRACE_SECRET_KEY) {
    found.push('LOGTRACE_SECRET_KEY is not set: signing keys and cookie keys are kept in the store in clear (anyone who can read the store can sign tokens)');
  }
  return found;
}

/**
 * Start-up's verdict on development defaults: `refuse` lists them when the issuer is not localhost and
 * `allow_development_defaults` is not set; otherwise they are `warnings`.
 */
export function developmentDefaultsCheck(config: Config, env: Env = process.env): { refuse: string[]; warnings: string[] } {
  const found = developmentDefaults(config, env);
  if (found.length === 0) return { refuse: [], warnings: [] };
  if (isLoopbackIssuer(config.issuer)) return { refuse: [], warnings: found.map((f) => `development default (fine on localhost only): ${f}`) };
  if (config.allow_development_defaults) return { refuse: [], warnings: found.map((f) => `development default in use with issuer ${config.issuer} (allow_development_defaults: true): ${f}`) };
  return { refuse: found, warnings: [] };
}

/** The message start-up exits with when development defaults are refused. */
export function developmentDefaultsRefusal(config: Config, refuse: string[]): string {
  return `refusing to start: issuer ${config.issuer} is not localhost, and development defaults are in use:\n  ${refuse.join('\n  ')}\nReplace them, or set allow_development_defaults: true to start anyway.`;
}

/** Settings that work but must not reach production unchanged (oidc-provider's `mustChange` idea). */
export function devWarnings(config: Config, env: Env = process.env): string[] {
  const warnings: string[] = [...developmentDefaultsCheck(config, env).warnings];
  const url = new URL(config.issuer);
  if (url.protocol === 'http:' && !LOOPBACK_HOSTS.has(url.hostname)) {
    warnings.push(`issuer ${config.issuer} is plain http on a non-loopback host: use https in production`);
  }
  for (const client of config.clients) {
    if (client.client_secret && !PLACEHOLDER_SECRET.test(client.client_secret) && /change|example|secret-secret|dev/i.test(client.client_secret)) {
      warnings.push(`client ${client.client_id}'s client_secret looks like a development secret: check it`);
    }
  }
  const connectorIds = new Set(config.connectors.map((c) => c.id));
  config.provisioning.rules.forEach((rule, i) => {
    for (const id of rule.connectors ?? []) if (!connectorIds.has(id)) warnings.push(`provisioning.rules.${i}.connectors: no configured connector ${id} (fine if it is a connection created through /v1/connections)`);
  });
  config.role_mappings.forEach((mapping, i) => {
    const directory = config.ldap || config.connectors.some((c) => connectorType(c.type)?.directory);
    if (mapping.source === 'ldap' && !directory) warnings.push(`role_mappings.${i}.source: ldap, but no ldap: block or LDAP connector is configured (fine if an LDAP connection is created through /v1/connections)`);
    if (mapping.source !== 'ldap' && !connectorIds.has(mapping.source)) warnings.push(`role_mappings.${i}.source: no configured connector ${mapping.source} (fine if it is a connection created through /v1/connections)`);
  });
  if (!config.webhooks.block_private_addresses) {
    warnings.push('webhooks.block_private_addresses is false: admins can aim webhooks and connections at loopback, private and cloud metadata addresses; name the internal hosts that need it in outbound.allow_private instead');
  }
  return warnings;
}
