import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import { writeInOrder, type Store, type SecretBox, type SealedSecret } from '../store/index.ts';
import { parseConnectorConfig, createConnector, upstreamOf, commonConnectorSchema, type ConnectorConfig } from './index.ts';
import { hasDirectory, isTestable, type ConnectionCheck, type Connector, type ConnectorDeps } from './types.ts';
import { allSecretFields, allServerFileFields, connectorType } from './registry.ts';
import type { LdapDirectory } from '../directory/ldap.ts';
import { BlockedAddressError } from '../net/index.ts';
import { DomainError } from '../domain/index.ts';

/**
 * Connections: connectors managed at run time through /v1/connections (the SSO wizard), next to the
 * read-only ones from the configuration file. Stored per id with their secrets sealed (AES-256-GCM with
 * LOGTRACE_SECRET_KEY); a version counter tells every node to rebuild its connector set, so a change takes
 * effect everywhere within the reload interval, without a restart.
 *
 * Layout: connection:{id} → { config (secrets removed), secrets: { field: SealedSecret } },
 *         connection:all:{index} → ids, connection:version:{all} → counter.
 */
/**
 * Write-only fields, as dotted paths (`ldap.bind_password` is the bind_password inside the ldap block), with
 * where each is sent (ConnectorType.secretFields, every registered type's): a stored secret is reused by an
 * update only while those stay as they were. Settings that name files on the server
 * (ConnectorType.serverFileFields) are refused for connections.
 */
const secretFields = () => allSecretFields();
const secretPaths = () => secretFields().map((f) => f.path);

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

export function getPath(obj: Json, path: string): unknown {
  let at: unknown = obj;
  for (const part of path.split('.')) at = isObject(at) ? at[part] : undefined;
  return at;
}

/**
 * The object holding a dotted path's last member, and that member's name. Parents on the way are copied
 * (copy on write), so nested objects shared with the caller's input are never mutated.
 */
function ownParent(obj: Json, path: string): [Json, string] | undefined {
  const parts = path.split('.');
  let at = obj;
  for (const part of parts.slice(0, -1)) {
    if (!isObject(at[part])) return undefined;
    at[part] = { ...(at[part] as Json) };
    at = at[part] as Json;
  }
  return [at, parts.at(-1)!];
}

function setPath(obj: Json, path: string, value: unknown): void {
  const found = ownParent(obj, path);
  if (found) found[0][found[1]] = value;
}

function deletePath(obj: Json, path: string): void {
  const found = ownParent(obj, path);
  if (found) delete found[0][found[1]];
}

/** Whether the object a dotted path's last member would live in exists (`ldap` for `ldap.bind_password`). */
function hasPlace(obj: Json, path: string): boolean {
  return !path.includes('.') || isObject(getPath(obj, path.slice(0, path.lastIndexOf('.'))));
}

/** A copy with the secrets removed. */
function withoutSecrets(config: Json): Json {
  const out: Json = { ...config };
  for (const field of secretPaths()) deletePath(out, field);
  return out;
}

/** RFC 7396 JSON Merge Patch: objects merge, `null` removes a member, anything else replaces. */
export function mergePatch(target: Json, patch: Json): Json {
  const out: Json = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else if (isObject(value)) out[key] = mergePatch(isObject(out[key]) ? (out[key] as Json) : {}, value);
    else out[key] = value;
  }
  return out;
}

/**
 * The top-level fields a change really touches (what the access policy decides on). Both sides are compared
 * as validated, so a form that sends a default explicitly changes nothing; a secret sent counts as a change
 * of the field that holds it (its value is never compared: the stored one is sealed).
 */
export function changedFields(before: Json, after: Json): string[] {
  const normal = (raw: Json): Json => {
    const stripped = withoutSecrets(raw);
    for (const field of secretPaths()) if (hasPlace(stripped, field)) setPath(stripped, field, 'sealed');
    const parsed = parseConnectorConfig(stripped);
    return parsed.ok ? (parsed.config as unknown as Json) : stripped;
  };
  const [a, b] = [normal(before), normal(after)];
  const changed = new Set([...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])));
  for (const field of secretPaths()) {
    const given = getPath(after, field);
    if (typeof given === 'string' && given !== '') changed.add(field.split('.')[0]!);
  }
  return [...changed];
}

const recordKey = (id: string) => `connection:{${id}}`;
const ALL = 'connection:all:{index}';
const VERSION = 'connection:version:{all}';
/**
 * Taken once, at the first start of a version that records issuers on identity links: every connection
 * that existed then, with the upstream it pointed at (ConnectorFactory.upstream). Links made before
 * (without an issuer) are followed only for a connection that still points there; a connection made,
 * or pointed elsewhere, afterwards inherits none of them.
 */
const LEGACY_SNAPSHOT = 'identity:legacy:{snapshot}';

/**
 * SCIM connections (`type: scim`): no connector, but the door a directory (Entra ID, Okta) pushes people and
 * groups through, tied to the connector those people sign in with. Its bearer token is shown once and kept
 * as SHA-256 (it is 256 random bits: a slow hash would buy nothing), with an index from the hash to the
 * connection: connection:scim-token:{sha256 hex} → { id }.
 */
const SCIM_TOKEN_PREFIX = 'lts_scim_';
const scimTokenKey = (sha256Hex: string) => `connection:scim-token:{${sha256Hex}}`;
const sha256 = (token: string) => createHash('sha256').update(token).digest();

export const scimConnectionSchema = z.strictObject({
  id: commonConnectorSchema.shape.id,
  type: z.literal('scim'),
  name: z.string().min(1).max(100).optional(),
  /** The connector the provisioned people sign in with (their accounts are linked at the first sign-in). */
  connector: z.string().min(1).max(63),
  enabled: z.boolean().default(true),
});
export type ScimConnectionConfig = z.infer<typeof scimConnectionSchema>;

interface LegacySnapshot {
  [key: string]: unknown;
  taken_at: string;
  /** Connection id → its upstream when the snapshot was taken. */
  upstreams: Record<string, string>;
}

interface StoredConnection {
  [key: string]: unknown;
  config: Record<string, unknown>;
  secrets: Record<string, SealedSecret>;
  /** SCIM connections: the SHA-256 (hex) of the bearer token. */
  token_sha256?: string | undefined;
  created_at: string;
  updated_at: string;
}

export interface ConnectionView {
  [key: string]: unknown;
  id: string;
  type: string;
  origin: 'config' | 'api';
  /** Write-only secrets: which are set, never their values. */
  secrets_set: string[];
}

interface ConnectionSetDeps {
  store: Store;
  logger: Logger;
  /** For the configuration file's connectors: the operator wrote them, their requests go anywhere. */
  connectorDeps: ConnectorDeps;
  /**
   * For stored connections: an admin chose where they point, so their requests (and LDAP sockets) go
   * through the outbound address policy (src/net). Defaults to `connectorDeps` (tests of other things).
   */
  connectionDeps?: ConnectorDeps | undefined;
  ldapDirectory?: LdapDirectory | undefined;
  /** LOGTRACE_SECRET_KEY's box; without it no connection with a secret can be stored. */
  secrets: SecretBox | undefined;
  /** Connectors from the configuration file (read-only here). */
  configured: ConnectorConfig[];
}

function view(config: ConnectorConfig | Record<string, unknown>, origin: 'config' | 'api', secretsSet: string[]): ConnectionView {
  const out = withoutSecrets(config);
  return { ...out, id: String(config.id), type: String(config.type), origin, secrets_set: secretsSet } as ConnectionView;
}

/**
 * GET a JSON document with the connection's own fetch: a connection made at run time goes through the
 * outbound address policy (a loopback or private issuer is refused before any request), one from the
 * configuration file does not. Redirects are never followed.
 */
async function fetchJson(logger: Logger, fetchImpl: typeof fetch, url: string): Promise<{ ok: true; body: Record<string, unknown> } | { ok: false; detail: string }> {
  try {
    const response = await fetchImpl(url, { signal: AbortSignal.timeout(8000), redirect: 'manual', headers: { accept: 'application/json' } });
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel().catch(() => {});
      const location = response.headers.get('location');
      return { ok: false, detail: `${url} answered with a redirect (HTTP ${response.status}${location ? ` to ${location}` : ''}), which is not followed: configure the final URL` };
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => {});
      return { ok: false, detail: `${url} answered HTTP ${response.status}` };
    }
    return { ok: true, body: (await response.json()) as Record<string, unknown> };
  } catch (err) {
    logger.debug({ url, err: String(err) }, 'connection test fetch failed');
    if (err instanceof BlockedAddressError) return { ok: false, detail: `${url} was not fetched: ${err.message}` };
    const cause = (err as Error).cause;
    const reason = (err as Error).name === 'TimeoutError' ? 'timed out' : cause instanceof Error ? cause.message : (err as Error).message;
    return { ok: false, detail: `${url} is unreachable (${reason})` };
  }
}

/** The live connector set: configuration connectors plus stored connections, rebuilt when the version moves. */
export class ConnectionSet {
  readonly connectors = new Map<string, Connector>();
  /** The validated configuration behind each running connector (options the connector itself ignores). */
  readonly configs = new Map<string, ConnectorConfig>();
  /** Why an enabled stored connection is not running (its creation failed), for the admin to read. */
  readonly failures = new Map<string, string>();
  /** The SCIM connections (enabled or not), by id; kept current like the connectors. */
  readonly scim = new Map<string, ScimConnectionConfig>();
  private version = -1;
  private timer: NodeJS.Timeout | undefined;
  private readonly deps: ConnectionSetDeps;
  private legacy: LegacySnapshot | undefined;

  constructor(deps: ConnectionSetDeps) {
    this.deps = deps;
  }

  /** The deps a connection is built with: guarded for stored connections, plain for the configuration's. */
  private get storedDeps(): ConnectorDeps {
    return this.deps.connectionDeps ?? this.deps.connectorDeps;
  }

  /** The fetch for requests about a connection (its test): guarded unless it comes from the configuration file. */
  fetchFor(origin: 'config' | 'api'): typeof fetch {
    return origin === 'config' ? this.deps.connectorDeps.fetch : this.storedDeps.fetch;
  }

  /** The stored connections that can be read; why the others cannot goes into `failures`. */
  private async storedConfigs(failures: Map<string, string>, scim?: Map<string, ScimConnectionConfig>): Promise<Array<{ config: ConnectorConfig; record: StoredConnection }>> {
    const { store, secrets, logger } = this.deps;
    const ids = await store.smembers(ALL);
    const out: Array<{ config: ConnectorConfig; record: StoredConnection }> = [];
    for (const id of ids.sort()) {
      const record = await store.get<StoredConnection>(recordKey(id));
      if (!record) continue;
      if (record.config.type === 'scim') {
        const parsed = scimConnectionSchema.safeParse(record.config);
        if (parsed.success) scim?.set(id, parsed.data);
        else failures.set(id, `its stored settings are no longer valid: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
        continue;
      }
      const raw: Record<string, unknown> = { ...record.config };
      try {
        for (const [field, sealed] of Object.entries(record.secrets)) {
          if (!secrets) throw new Error('LOGTRACE_SECRET_KEY is not set');
          setPath(raw, field, await secrets.open(sealed, `connection:${id}:${field}`));
        }
      } catch (err) {
        logger.error({ connection: id, err: (err as Error).message }, 'connection secret cannot be opened; connection disabled');
        failures.set(id, `its stored secret cannot be decrypted (${(err as Error).message}): was LOGTRACE_SECRET_KEY changed? Enter the secret again`);
        continue;
      }
      const parsed = parseConnectorConfig(raw);
      if (!parsed.ok) {
        logger.error({ connection: id, issues: parsed.issues }, 'stored connection is invalid; disabled');
        failures.set(id, `its stored settings are no longer valid: ${parsed.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
        continue;
      }
      out.push({ config: parsed.config, record });
    }
    return out;
  }

  /** The legacy-links snapshot, taken now if no node has taken it yet (see LEGACY_SNAPSHOT). */
  private async legacySnapshot(): Promise<LegacySnapshot> {
    if (this.legacy) return this.legacy;
    const { store, ldapDirectory } = this.deps;
    let found = await store.get<LegacySnapshot>(LEGACY_SNAPSHOT);
    if (!found) {
      const upstreams: Record<string, string> = {};
      for (const config of this.deps.configured) upstreams[config.id] = upstreamOf(config, { ldapDirectory });
      for (const id of await store.smembers(ALL)) {
        const record = await store.get<StoredConnection>(recordKey(id));
        if (!record || upstreams[id] !== undefined) continue;
        // The upstream needs no secret: stand-ins let the stored settings parse even when they cannot be opened.
        const raw: Record<string, unknown> = { ...record.config };
        for (const field of Object.keys(record.secrets)) setPath(raw, field, 'sealed');
        const parsed = parseConnectorConfig(raw);
        if (parsed.ok) upstreams[id] = upstreamOf(parsed.config, { ldapDirectory });
      }
      await store.putIfAbsent(LEGACY_SNAPSHOT, { taken_at: new Date().toISOString(), upstreams });
      found = await store.get<LegacySnapshot>(LEGACY_SNAPSHOT);
      if (!found) throw new Error('the legacy identity-link snapshot could not be stored');
    }
    this.legacy = found;
    return found;
  }

  /** The upstream (ConnectorFactory.upstream) a running connector's settings point at; '' when not running. */
  upstreamOf(connectorId: string): string {
    const config = this.configs.get(connectorId);
    return config ? upstreamOf(config, { ldapDirectory: this.deps.ldapDirectory }) : '';
  }

  /**
   * Whether links this connector made before issuers were recorded may be followed for an identity vouched
   * for by `issuer`: only while the connector points at the upstream it pointed at when the snapshot was
   * taken, and the identity comes from that upstream (not from the one it pointed at a moment ago).
   */
  async legacyLinksTrusted(connectorId: string, issuer: string): Promise<boolean> {
    const snapshot = await this.legacySnapshot();
    // Both maps are replaced together by reload(): read them in one synchronous step.
    const connector = this.connectors.get(connectorId);
    const config = this.configs.get(connectorId);
    if (!connector || !config || !connector.trustsIssuer(issuer)) return false;
    const then = snapshot.upstreams[connectorId];
    return then !== undefined && then !== '' && then === upstreamOf(config, { ldapDirectory: this.deps.ldapDirectory });
  }

  /** Rebuilds the set (configuration first, then stored connections in id order). */
  async reload(): Promise<void> {
    const { store, connectorDeps, ldapDirectory, logger } = this.deps;
    await this.legacySnapshot();
    const storedDeps = this.storedDeps;
    const version = (await store.counters([VERSION]))[0] ?? 0;
    const next = new Map<string, Connector>();
    const configs = new Map<string, ConnectorConfig>();
    const failures = new Map<string, string>();
    const scim = new Map<string, ScimConnectionConfig>();
    for (const config of this.deps.configured.filter((c) => c.enabled)) {
      next.set(config.id, await createConnector(config, connectorDeps, { ldapDirectory }));
      configs.set(config.id, config);
    }
    for (const { config } of await this.storedConfigs(failures, scim)) {
      if (!config.enabled || next.has(config.id)) continue;
      try {
        next.set(config.id, await createConnector(config, storedDeps, { ldapDirectory }));
        configs.set(config.id, config);
      } catch (err) {
        logger.error({ connection: config.id, err: (err as Error).message }, 'connection could not be started; disabled');
        failures.set(config.id, (err as Error).message.replace(new RegExp(`^connector ${config.id}: `), ''));
      }
    }
    this.connectors.clear();
    for (const [id, connector] of next) this.connectors.set(id, connector);
    this.configs.clear();
    for (const [id, config] of configs) this.configs.set(id, config);
    this.failures.clear();
    for (const [id, reason] of failures) this.failures.set(id, reason);
    this.scim.clear();
    for (const [id, config] of scim) this.scim.set(id, config);
    this.version = version;
  }

  watch(intervalMs: number): void {
    this.timer = setInterval(() => {
      this.deps.store
        .counters([VERSION])
        .then(async ([version]) => {
          if ((version ?? 0) !== this.version) await this.reload();
        })
        .catch((err: unknown) => this.deps.logger.warn({ err: String(err) }, 'could not check connections for changes'));
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Why a connection is not running, for the admin: the recorded failure, or where to look. */
  whyNotRunning(id: string): string {
    return this.failures.get(id) ?? 'see the server log';
  }

  /**
   * The group source of a connector's groups: `ldap` for an LDAP connector over the shared `ldap:` block
   * (and for that block itself), the connector id for every other connector, LDAP ones with a directory of
   * their own included — so a directory an admin adds cannot take over the mappings made for another.
   */
  sourceOf(connectorId: string): string {
    const connector = this.connectors.get(connectorId);
    return hasDirectory(connector) && connector.directory() === this.deps.ldapDirectory ? 'ldap' : connectorId;
  }

  /** The directory behind a running DirectoryConnector (the dashboard's "Try a sign-in"). */
  directoryOf(connectorId: string): LdapDirectory | undefined {
    const connector = this.connectors.get(connectorId);
    return hasDirectory(connector) ? connector.directory() : undefined;
  }

  /**
   * Every directory in use with its group source — the shared block's (`ldap`) and each LDAP connector's
   * own — and the connectors whose sign-ins link people to its entries (its roles go only to those links).
   */
  directories(): Array<{ source: string; directory: LdapDirectory; connectors: string[] }> {
    const out: Array<{ source: string; directory: LdapDirectory; connectors: string[] }> = [];
    const shared = this.deps.ldapDirectory;
    if (shared) {
      const over = [...this.connectors.values()].filter((c) => hasDirectory(c) && c.directory() === shared).map((c) => c.id);
      out.push({ source: 'ldap', directory: shared, connectors: over });
    }
    for (const connector of this.connectors.values()) {
      const directory = hasDirectory(connector) ? connector.directory() : undefined;
      if (directory && directory !== shared) out.push({ source: connector.id, directory, connectors: [connector.id] });
    }
    return out;
  }

  /**
   * What POST /v1/connections/{id}/test checks (also the dashboard's "Test connection"): the type's checks
   * of the settings (discovery, issuer, signing keys), then the running connector's own (TestableConnector:
   * an LDAP server reached, the service account bound, people and groups found; SAML metadata loaded), or
   * why it is not running. A SCIM connection reaches nothing: what can be wrong is its connector. Changes nothing.
   */
  async test(connection: ConnectionView): Promise<ConnectionCheck[]> {
    if (connection.enabled === false) return [{ check: 'disabled', ok: false, detail: 'the connection is disabled: enable it to test it and to offer it at sign-in' }];
    if (connection.type === 'scim') {
      const tied = String(connection.connector);
      return this.connectors.has(tied)
        ? [{ check: 'connector', ok: true, detail: `provisioned people sign in with connector ${tied}, which is running` }]
        : [{ check: 'connector', ok: false, detail: `connector ${tied} is not running (missing, disabled or failing): provisioned people cannot sign in` }];
    }
    const type = connectorType(connection.type);
    const fetchImpl = this.fetchFor(connection.origin);
    const checks = type?.testSettings ? await type.testSettings(connection, { fetchJson: (url) => fetchJson(this.deps.logger, fetchImpl, url) }) : [];
    const connector = this.connectors.get(connection.id);
    if (!connector) {
      const reason = this.whyNotRunning(connection.id);
      return [...checks, type?.notStarted?.(reason) ?? { check: 'configuration', ok: false, detail: `the connector could not be started: ${reason}` }];
    }
    if (isTestable(connector)) return [...checks, ...(await connector.selfTest())];
    // Yandex ID and VK ID publish no discovery: the configuration is all that can be checked here.
    if (checks.length === 0) checks.push({ check: 'configuration', ok: true, detail: 'the connector is running; its endpoints are first used at sign-in' });
    return checks;
  }

  async list(): Promise<ConnectionView[]> {
    const configured = this.deps.configured.map((c) => view(c, 'config', secretPaths().filter((f) => getPath(c, f) !== undefined)));
    const stored = (await this.deps.store.smembers(ALL)).sort();
    const views: ConnectionView[] = [...configured];
    for (const id of stored) {
      const record = await this.deps.store.get<StoredConnection>(recordKey(id));
      if (record) views.push({ ...view(record.config, 'api', Object.keys(record.secrets)), created_at: record.created_at, updated_at: record.updated_at });
    }
    return views;
  }

  async get(id: string): Promise<ConnectionView | undefined> {
    return (await this.list()).find((c) => c.id === id);
  }

  /** Validates like the configuration file does; returns the parsed config or throws DomainError. */
  private validate(raw: Record<string, unknown>): ConnectorConfig {
    for (const field of allServerFileFields()) {
      if (getPath(raw, field) !== undefined) throw new DomainError('invalid', `${field}: names a file on the server, which only the configuration file may do; send the value itself`, field);
    }
    const problem = connectorType(String(raw.type))?.precheck?.(raw, { ldapDirectory: this.deps.ldapDirectory });
    if (problem) throw new DomainError('invalid', problem.message, problem.field);
    const parsed = parseConnectorConfig(raw);
    if (!parsed.ok) {
      const issue = parsed.issues[0]!;
      throw new DomainError('invalid', `${issue.path.join('.') || '(root)'}: ${issue.message}`, issue.path.join('.') || undefined);
    }
    return parsed.config;
  }

  /** Builds the connector once to catch what only creation finds (unreachable metadata, missing tenants…). */
  async probe(raw: Record<string, unknown>): Promise<Connector> {
    return createConnector(this.validate(raw), this.storedDeps, { ldapDirectory: this.deps.ldapDirectory });
  }

  async save(raw: Record<string, unknown>, mode: 'create' | 'update'): Promise<ConnectionView & { token?: string }> {
    const id = String(raw.id ?? '');
    if (this.deps.configured.some((c) => c.id === id)) throw new DomainError('conflict', `connector ${id} comes from the configuration file; change it there`, 'id');
    const existing = await this.deps.store.get<StoredConnection>(recordKey(id));
    if (mode === 'create' && existing) throw new DomainError('conflict', `a connection with id ${id} exists`, 'id');
    if (mode === 'update' && !existing) throw new DomainError('not_found', `no connection ${id}`, 'id');
    if (raw.type === 'scim') return this.saveScim(raw, existing);
    // Secrets are write-only: an update without one keeps the stored one.
    const full: Record<string, unknown> = { ...raw };
    const secrets: Record<string, SealedSecret> = { ...(existing?.secrets ?? {}) };
    for (const { path: field, destinations } of secretFields()) {
      const given = getPath(raw, field);
      if (typeof given === 'string' && given) {
        if (!this.deps.secrets) throw new DomainError('conflict', `${field}: this server cannot store connection secrets until LOGTRACE_SECRET_KEY is set (32 bytes, base64 or hex)`, field);
        secrets[field] = await this.deps.secrets.seal(given, `connection:${id}:${field}`);
      } else if (existing?.secrets[field] && this.deps.secrets) {
        if (!hasPlace(raw, field)) continue; // its block is gone: dropped below
        const moved = destinations.find((dest) => JSON.stringify(getPath(raw, dest)) !== JSON.stringify(getPath(existing.config, dest)));
        if (moved) throw new DomainError('invalid', `${field}: ${moved} changed, and a stored secret is only sent where it was set for; send ${field} again`, field);
        setPath(full, field, await this.deps.secrets.open(existing.secrets[field], `connection:${id}:${field}`));
      }
    }
    // A secret whose place is gone (the ldap block removed) is not kept.
    for (const field of Object.keys(secrets)) {
      if (!hasPlace(raw, field)) delete secrets[field];
    }
    this.validate(full);
    const config = withoutSecrets(raw);
    const now = new Date().toISOString();
    const record: StoredConnection = { config, secrets, created_at: existing?.created_at ?? now, updated_at: now };
    // Index first (readers skip an id without a record), then the record: never a connection no list shows.
    await this.deps.store.sadd(ALL, [id]);
    await this.deps.store.put(recordKey(id), record);
    await this.deps.store.incr(VERSION);
    await this.reload();
    return { ...view(config, 'api', Object.keys(secrets)), created_at: record.created_at, updated_at: record.updated_at };
  }

  /**
   * A SCIM connection: validated, tied to an existing connector (not another SCIM connection). Creating one
   * issues its bearer token, returned here once; an update keeps the token.
   */
  private async saveScim(raw: Record<string, unknown>, existing: StoredConnection | undefined): Promise<ConnectionView & { token?: string }> {
    const parsed = scimConnectionSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const message = issue.code === 'unrecognized_keys' ? `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')} (a SCIM connection has id, type, name, connector, enabled)` : issue.message;
      throw new DomainError('invalid', `${issue.path.join('.') || '(root)'}: ${message}`, issue.path.join('.') || undefined);
    }
    const config = parsed.data;
    const tied = config.connector === config.id ? undefined : await this.get(config.connector);
    if (!tied || tied.type === 'scim') {
      throw new DomainError('invalid', `connector: no connector ${config.connector}; a SCIM connection is tied to the connector its people sign in with (one of ${[...new Set([...this.deps.configured.map((c) => c.id), ...(await this.list()).filter((c) => c.type !== 'scim').map((c) => c.id)])].join(', ') || 'none yet'})`, 'connector');
    }
    const stored = { ...raw, enabled: config.enabled };
    const now = new Date().toISOString();
    const token = existing ? undefined : `${SCIM_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const hash = token ? sha256(token).toString('hex') : existing?.token_sha256;
    const record: StoredConnection = { config: stored, secrets: {}, token_sha256: hash, created_at: existing?.created_at ?? now, updated_at: now };
    await writeInOrder(this.deps.store, [
      { op: 'sadd', key: ALL, members: [config.id] },
      { op: 'put', key: recordKey(config.id), value: record },
      ...(token && hash ? [{ op: 'put' as const, key: scimTokenKey(hash), value: { id: config.id } }] : []),
    ]);
    await this.deps.store.incr(VERSION);
    await this.reload();
    return { ...view(stored, 'api', []), created_at: record.created_at, updated_at: record.updated_at, ...(token ? { token } : {}) };
  }

  /** A new bearer token for a SCIM connection; the old one stops working at once, on every node. */
  async rotateScimToken(id: string): Promise<string> {
    const existing = await this.deps.store.get<StoredConnection>(recordKey(id));
    if (!existing) throw new DomainError('not_found', `connection ${id} does not exist`, 'id');
    if (existing.config.type !== 'scim') throw new DomainError('invalid', `connection ${id} is not a SCIM connection: only SCIM connections have a token`, 'id');
    const token = `${SCIM_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const hash = sha256(token).toString('hex');
    await writeInOrder(this.deps.store, [
      { op: 'put', key: recordKey(id), value: { ...existing, token_sha256: hash, updated_at: new Date().toISOString() } },
      { op: 'put', key: scimTokenKey(hash), value: { id } },
      ...(existing.token_sha256 ? [{ op: 'delete' as const, key: scimTokenKey(existing.token_sha256) }] : []),
    ]);
    return token;
  }

  /**
   * The SCIM connection a bearer token belongs to, read from the store on every call (a rotation or a
   * deletion takes effect at once on every node); `disabled` when the connection is switched off.
   */
  async scimConnectionForToken(token: string): Promise<{ ok: true; config: ScimConnectionConfig } | { ok: false; reason: 'unknown' | 'disabled' }> {
    if (!token.startsWith(SCIM_TOKEN_PREFIX) || token.length > 200) return { ok: false, reason: 'unknown' };
    const hash = sha256(token);
    const ref = await this.deps.store.get<{ id: string }>(scimTokenKey(hash.toString('hex')));
    const record = ref ? await this.deps.store.get<StoredConnection>(recordKey(ref.id)) : undefined;
    // The index found it by hash; the record's own hash is compared in constant time, so a stale index
    // entry (a rotation that half failed) never lets an old token in.
    if (!record?.token_sha256 || !timingSafeEqual(Buffer.from(record.token_sha256, 'hex'), hash)) return { ok: false, reason: 'unknown' };
    const parsed = scimConnectionSchema.safeParse(record.config);
    if (!parsed.success) return { ok: false, reason: 'unknown' };
    if (!parsed.data.enabled) return { ok: false, reason: 'disabled' };
    return { ok: true, config: parsed.data };
  }

  /** The stored form of a connection (secrets removed), for merging a PATCH. */
  async storedConfig(id: string): Promise<Record<string, unknown> | undefined> {
    return (await this.deps.store.get<StoredConnection>(recordKey(id)))?.config;
  }

  async delete(id: string): Promise<boolean> {
    if (this.deps.configured.some((c) => c.id === id)) throw new DomainError('conflict', `connector ${id} comes from the configuration file; remove it there`, 'id');
    const existing = await this.deps.store.get<StoredConnection>(recordKey(id));
    if (!existing) return false;
    // The record first: once it is gone the connection is gone, whatever happens to the index entry; then
    // its SCIM token stops at once (each write its own key: one hash slot per write on Redis Cluster).
    await this.deps.store.delete(recordKey(id));
    if (existing.token_sha256) await this.deps.store.delete(scimTokenKey(existing.token_sha256));
    await this.deps.store.srem(ALL, [id]);
    await this.deps.store.incr(VERSION);
    await this.reload();
    return true;
  }
}
