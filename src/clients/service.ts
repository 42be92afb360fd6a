import type { AccessPolicy } from '../access/index.ts';
import type { AuditLog } from '../audit/index.ts';
import { DomainError, type Actor, type Caller } from '../domain/index.ts';
import { CLIENT_GRANT_TYPES, CLIENT_TYPES, type ClientGrantType, type ClientRecord, type ClientRepository, type ClientType, type StoredSecret } from './repository.ts';
import { CLIENT_ID_PREFIX, generateClientId, generateClientSecret, hashSecret, secretEnd } from './secrets.ts';

/** The log API scopes a client may hold (the same as an API key's). */
export const CLIENT_API_SCOPES = ['read:logs', 'write:alerts', 'admin:projects'] as const;
/** OpenID scopes an authorization-code client may also ask for. */
export const CLIENT_OPENID_SCOPES = ['openid', 'email', 'profile', 'offline_access'] as const;
const ADMIN = 'admin:projects';
const MAX_URIS = 20;
const MAX_GRACE_SECONDS = 30 * 86_400;
const DAY = 86_400_000;
/** A node writes a client's "last token" time at most this often (the token endpoint's hot path). */
const LAST_TOKEN_WRITE_MS = 60_000;

/** A client of the configuration file, as it is listed (read-only). */
interface ConfiguredClient {
  client_id: string;
  client_name?: string | undefined;
  grant_types: string[];
  redirect_uris?: string[] | undefined;
  post_logout_redirect_uris?: string[] | undefined;
  scope?: string | undefined;
  first_party: boolean;
  token_endpoint_auth_method?: string | undefined;
  client_secret?: string | undefined;
}

export interface ClientView {
  client_id: string;
  origin: 'registered' | 'config';
  project_id: string | null;
  name: string;
  type: ClientType;
  grant_types: string[];
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  scopes: string[];
  first_party: boolean;
  created_at: string | null;
  created_by: Actor | null;
  secret_ttl_days: number | null;
  /** When the current secret stops authenticating; absent when it never expires. */
  secret_expires_at?: string;
  /** A rotated-out secret that still authenticates until then. */
  previous_secret_expires_at?: string;
  last_token_at: string | null;
}

export interface CreateClientInput {
  project_id: string;
  name: string;
  type: ClientType;
  grant_types: string[];
  redirect_uris?: string[] | undefined;
  post_logout_redirect_uris?: string[] | undefined;
  scopes: string[];
  first_party?: boolean | undefined;
  secret_ttl_days?: number | undefined;
}

interface UpdateClientInput {
  name?: string | undefined;
  redirect_uris?: string[] | undefined;
  post_logout_redirect_uris?: string[] | undefined;
  scopes?: string[] | undefined;
  first_party?: boolean | undefined;
}

/** What the service needs of the webhooks module. */
interface ClientEventSink {
  emit(event: { type: string; project_id: string; data: Record<string, unknown> }): Promise<number>;
  emitOnce(dedupeKey: string, event: { type: string; project_id: string; data: Record<string, unknown> }): Promise<number>;
}

interface ClientServiceDeps {
  clients: ClientRepository;
  access: AccessPolicy;
  audit: AuditLog;
  webhooks: ClientEventSink;
  /** Where a failed background write is reported (pino in the server). */
  logger: { warn(obj: object, msg: string): void };
  /** api_keys.max_ttl_days: the longest secret_ttl_days. */
  maxTtlDays: number;
  /** How long a rotated-out secret keeps authenticating when the rotation names no grace (24 h). */
  defaultGraceSeconds: number;
  /** Days before a secret's expiry that `client.secret_expiring` fires. */
  noticeDays: number;
  /** The configuration file's clients (listed read-only). */
  configured: readonly ConfiguredClient[];
  /** Ends an oidc-provider grant and every token issued under it (src/oidc/adapter.ts). */
  revokeGrant(grantId: string): Promise<void>;
}

/** RFC 8252 §7.3 loopback hosts: the only ones plain http is accepted for. */
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Redirect URIs as oidc-provider checks a web client's: an absolute https URL, or http on a loopback host
 * (a developer's machine, a native app's RFC 8252 redirect); never a fragment (RFC 6749 §3.1.2), never
 * another scheme (`javascript:`, `data:`).
 */
export function redirectUriProblem(value: string): string | undefined {
  if (value.length > 2000) return 'is longer than 2000 characters';
  if (value.includes('#')) return 'must not contain a fragment (#)';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'is not an absolute URL';
  }
  if (url.protocol === 'https:') return url.hostname ? undefined : 'has no host';
  if (url.protocol === 'http:') return LOOPBACK.has(url.hostname) ? undefined : 'must use https (http only on a loopback address: localhost, 127.0.0.1, [::1])';
  return `uses ${url.protocol} — only https (or http on a loopback address) is accepted`;
}

function checkUris(values: readonly string[] | undefined, field: string): string[] {
  const uris = [...new Set(values ?? [])];
  if (uris.length > MAX_URIS) throw new DomainError('invalid', `at most ${MAX_URIS} URIs`, field);
  (values ?? []).forEach((uri, i) => {
    if (typeof uri !== 'string') throw new DomainError('invalid', 'expected a URL', `${field}.${i}`);
    const problem = redirectUriProblem(uri);
    if (problem) throw new DomainError('invalid', `${field}.${i}: ${JSON.stringify(uri.slice(0, 100))} ${problem}`, `${field}.${i}`);
  });
  return uris;
}

function checkName(name: unknown): string {
  const trimmed = typeof name === 'string' ? name.trim() : '';
  if (!trimmed || trimmed.length > 100) throw new DomainError('invalid', 'name: 1 to 100 characters', 'name');
  return trimmed;
}

/**
 * OAuth clients registered at run time, scoped to a project: register, list, change, delete, rotate the
 * secret. Managing them needs admin:projects on the project (the access policy's one rule, as for keys);
 * a client's log API scopes are within its creator's there (the key rule). Plain input, DomainError out.
 */
export class ClientService {
  private readonly deps: ClientServiceDeps;
  private readonly lastTokenWrites = new Map<string, number>();

  constructor(deps: ClientServiceDeps) {
    this.deps = deps;
  }

  // ---- reads for the token endpoint and /v1 authentication (no caller: the client itself) ----

  /** The client record, for oidc-provider's lookup (every request: a delete shows at once on every node). */
  async find(clientId: string): Promise<ClientRecord | undefined> {
    if (!clientId.startsWith(CLIENT_ID_PREFIX)) return undefined;
    return this.deps.clients.get(clientId);
  }

  /** Records a grant made for a registered client, so deleting the client revokes it. */
  async grantSaved(clientId: string, grantId: string): Promise<void> {
    if (clientId.startsWith(CLIENT_ID_PREFIX)) await this.deps.clients.addGrant(clientId, grantId);
  }

  /** The client got a token: remembered, written at most once a minute per client and node. */
  noteToken(clientId: string, now = Date.now()): void {
    if (!clientId.startsWith(CLIENT_ID_PREFIX)) return;
    const last = this.lastTokenWrites.get(clientId);
    if (last !== undefined && now - last < LAST_TOKEN_WRITE_MS) return;
    this.lastTokenWrites.set(clientId, now);
    if (this.lastTokenWrites.size > 10_000) this.lastTokenWrites.clear();
    this.deps.clients.setLastToken(clientId, new Date(now).toISOString()).catch((err: unknown) => this.deps.logger.warn({ err: String(err), client_id: clientId }, 'could not record the last token time'));
  }

  // ---- management ----

  async create(caller: Caller, input: CreateClientInput): Promise<{ client: ClientView; client_secret?: string }> {
    const { access } = this.deps;
    const principal = caller.principal;
    if (typeof input.project_id !== 'string' || !input.project_id) throw new DomainError('invalid', 'project_id is required', 'project_id');
    await access.require(principal, input.project_id, ADMIN);
    const name = checkName(input.name);
    if (!(CLIENT_TYPES as readonly string[]).includes(input.type)) throw new DomainError('invalid', `type must be one of: ${CLIENT_TYPES.join(', ')}`, 'type');
    const grantTypes = this.checkGrantTypes(input.type, input.grant_types);
    const codeFlow = grantTypes.includes('authorization_code');
    const redirectUris = checkUris(input.redirect_uris, 'redirect_uris');
    const logoutUris = checkUris(input.post_logout_redirect_uris, 'post_logout_redirect_uris');
    if (codeFlow && redirectUris.length === 0) throw new DomainError('invalid', 'an authorization_code client needs at least one redirect URI', 'redirect_uris');
    if (!codeFlow && (redirectUris.length || logoutUris.length)) throw new DomainError('invalid', 'redirect URIs are for authorization_code clients only', redirectUris.length ? 'redirect_uris' : 'post_logout_redirect_uris');
    const scopes = this.checkScopes(input.scopes, codeFlow);
    await access.requireClientScopes(principal, input.project_id, scopes);
    const firstParty = input.first_party === true;
    if (firstParty && !(await access.isOwner(principal, input.project_id))) throw new DomainError('forbidden', 'only an owner of the project may register a first-party client (no consent screen)', 'first_party');
    const ttlDays = this.checkTtl(input.type, input.secret_ttl_days);

    const now = new Date();
    const secret = input.type === 'confidential' ? generateClientSecret() : undefined;
    const record: ClientRecord = {
      client_id: generateClientId(),
      project_id: input.project_id,
      name,
      type: input.type,
      grant_types: grantTypes,
      redirect_uris: redirectUris,
      post_logout_redirect_uris: logoutUris,
      scopes,
      first_party: firstParty,
      created_at: now.toISOString(),
      created_by: principal.actor,
      updated_at: now.toISOString(),
      secret_ttl_days: ttlDays,
      secrets: secret ? [this.newSecret(secret, ttlDays, now)] : [],
    };
    if (!(await this.deps.clients.create(record))) throw new DomainError('conflict', 'a client with this id exists; try again');
    const view = this.view(record, null);
    await this.record(caller, 'client.created', record, { name, type: record.type, grant_types: grantTypes, scopes, first_party: firstParty });
    await this.deps.webhooks.emit({ type: 'client.created', project_id: record.project_id, data: { client: view } });
    return secret ? { client: view, client_secret: secret } : { client: view };
  }

  /**
   * The clients of a project the caller administers; without a project, those of every project it
   * administers, and (for an admin of every organisation) the configuration file's, read-only.
   */
  async list(caller: Caller, input: { project_id?: string | undefined }): Promise<ClientView[]> {
    const { access, clients } = this.deps;
    const principal = caller.principal;
    const projects = input.project_id ? (await access.require(principal, input.project_id, ADMIN), [input.project_id]) : [...(await access.visibleProjects(principal, ADMIN))];
    const records = (await Promise.all(projects.map((p) => clients.listByProject(p)))).flat();
    const views = await Promise.all(records.map(async (r) => this.view(r, await clients.lastToken(r.client_id))));
    if (!input.project_id && (await access.administersEverything(principal))) views.push(...this.deps.configured.map(configuredView));
    return views;
  }

  async get(caller: Caller, clientId: string): Promise<ClientView> {
    const configured = this.deps.configured.find((c) => c.client_id === clientId);
    if (configured) {
      if (!(await this.deps.access.administersEverything(caller.principal))) throw notFound(clientId);
      return configuredView(configured);
    }
    const record = await this.managed(caller, clientId);
    return this.view(record, await this.deps.clients.lastToken(clientId));
  }

  async update(caller: Caller, clientId: string, input: UpdateClientInput): Promise<ClientView> {
    return this.exclusive(clientId, () => this.updateLocked(caller, clientId, input));
  }

  private async updateLocked(caller: Caller, clientId: string, input: UpdateClientInput): Promise<ClientView> {
    const record = await this.managed(caller, clientId, 'change');
    const { access } = this.deps;
    const principal = caller.principal;
    const next: ClientRecord = { ...record };
    const codeFlow = record.grant_types.includes('authorization_code');
    const changed: string[] = [];
    if (input.name !== undefined) {
      next.name = checkName(input.name);
      changed.push('name');
    }
    if (input.redirect_uris !== undefined) {
      next.redirect_uris = checkUris(input.redirect_uris, 'redirect_uris');
      if (!codeFlow && next.redirect_uris.length) throw new DomainError('invalid', 'redirect URIs are for authorization_code clients only', 'redirect_uris');
      if (codeFlow && next.redirect_uris.length === 0) throw new DomainError('invalid', 'an authorization_code client needs at least one redirect URI', 'redirect_uris');
      changed.push('redirect_uris');
    }
    if (input.post_logout_redirect_uris !== undefined) {
      next.post_logout_redirect_uris = checkUris(input.post_logout_redirect_uris, 'post_logout_redirect_uris');
      if (!codeFlow && next.post_logout_redirect_uris.length) throw new DomainError('invalid', 'redirect URIs are for authorization_code clients only', 'post_logout_redirect_uris');
      changed.push('post_logout_redirect_uris');
    }
    if (input.scopes !== undefined) {
      next.scopes = this.checkScopes(input.scopes, codeFlow);
      await access.requireClientScopes(principal, record.project_id, next.scopes, `client ${clientId}`);
      changed.push('scopes');
    }
    if (input.first_party !== undefined) {
      if (typeof input.first_party !== 'boolean') throw new DomainError('invalid', 'first_party must be true or false', 'first_party');
      if (!(await access.isOwner(principal, record.project_id))) throw new DomainError('forbidden', 'only an owner of the project may change first_party (whether people are asked for consent)', 'first_party');
      next.first_party = input.first_party;
      changed.push('first_party');
    }
    if (changed.length === 0) return this.view(record, await this.deps.clients.lastToken(clientId));
    next.updated_at = new Date().toISOString();
    await this.deps.clients.save(next);
    await this.record(caller, 'client.updated', next, { fields: changed });
    return this.view(next, await this.deps.clients.lastToken(clientId));
  }

  /** Deletes the client: it stops authenticating at once on every node; its grants and refresh tokens end. */
  async delete(caller: Caller, clientId: string): Promise<ClientView> {
    return this.exclusive(clientId, () => this.deleteLocked(caller, clientId));
  }

  private async deleteLocked(caller: Caller, clientId: string): Promise<ClientView> {
    const record = await this.managed(caller, clientId, 'delete');
    const { clients } = this.deps;
    const view = this.view(record, await clients.lastToken(clientId));
    await clients.delete(record);
    const grants = await clients.grants(clientId);
    for (const grantId of grants) await this.deps.revokeGrant(grantId);
    await clients.forgetGrants(clientId);
    await this.record(caller, 'client.deleted', record, { grants_revoked: grants.length });
    await this.deps.webhooks.emit({ type: 'client.deleted', project_id: record.project_id, data: { client: view } });
    return view;
  }

  /**
   * A new secret, shown once. The previous one keeps authenticating for `grace_seconds` (default 24 h,
   * 0 = at once) so a service can roll without downtime; one older than that is dropped.
   */
  async rotateSecret(caller: Caller, clientId: string, input: { grace_seconds?: number | undefined }): Promise<{ client_secret: string; secret_expires_at?: string; client: ClientView }> {
    return this.exclusive(clientId, () => this.rotateLocked(caller, clientId, input));
  }

  private async rotateLocked(caller: Caller, clientId: string, input: { grace_seconds?: number | undefined }): Promise<{ client_secret: string; secret_expires_at?: string; client: ClientView }> {
    const record = await this.managed(caller, clientId, 'rotate the secret of');
    if (record.type !== 'confidential') throw new DomainError('conflict', `client ${clientId} is a public client: it has no secret to rotate`);
    const grace = input.grace_seconds ?? this.deps.defaultGraceSeconds;
    if (!Number.isInteger(grace) || grace < 0 || grace > MAX_GRACE_SECONDS) throw new DomainError('invalid', `grace_seconds: a whole number from 0 to ${MAX_GRACE_SECONDS}`, 'grace_seconds');
    const now = new Date();
    const secret = generateClientSecret();
    const fresh = this.newSecret(secret, record.secret_ttl_days, now);
    const [current] = record.secrets;
    const kept: StoredSecret[] = [];
    if (current && grace > 0) {
      const graceUntil = new Date(now.getTime() + grace * 1000).toISOString();
      const end = secretEnd({ expires_at: current.expires_at, grace_until: graceUntil });
      if (end !== null && end > now.getTime()) kept.push({ ...current, grace_until: graceUntil });
    }
    const next: ClientRecord = { ...record, secrets: [fresh, ...kept], updated_at: now.toISOString() };
    await this.deps.clients.save(next);
    const view = this.view(next, await this.deps.clients.lastToken(clientId));
    await this.record(caller, 'client.secret_rotated', next, { grace_seconds: grace, ...(kept[0] ? { previous_valid_until: kept[0].grace_until } : {}) });
    await this.deps.webhooks.emit({ type: 'client.secret_rotated', project_id: record.project_id, data: { client: view } });
    return { client_secret: secret, ...(fresh.expires_at ? { secret_expires_at: fresh.expires_at } : {}), client: view };
  }

  /**
   * One pass of the secret expiry watch: `client.secret_expiring` once per secret, `noticeDays` before it
   * expires (sent once across nodes by the webhook dedupe key). Called by a lock-holding periodic job.
   */
  async watchExpiry(now = Date.now()): Promise<void> {
    const { clients, webhooks, noticeDays } = this.deps;
    for (const id of await clients.watched()) {
      const record = await clients.get(id);
      const current = record?.secrets[0];
      if (!record || !current?.expires_at || Date.parse(current.expires_at) <= now) {
        await clients.unwatch(id);
        continue;
      }
      if (Date.parse(current.expires_at) - now <= noticeDays * DAY) {
        await webhooks.emitOnce(`client.secret_expiring:${id}:${current.sha256.slice(0, 16)}`, { type: 'client.secret_expiring', project_id: record.project_id, data: { client: this.view(record, null) } });
      }
    }
  }

  // ---- helpers ----

  /** Runs one change of a client while holding its lock (every node); a concurrent change is a 409. */
  private async exclusive<T>(clientId: string, change: () => Promise<T>): Promise<T> {
    if (clientId.length > 128 || !(await this.deps.clients.lockChange(clientId))) {
      if (clientId.length > 128) throw notFound(clientId);
      throw new DomainError('conflict', `another change of client ${clientId} is in progress; try again`);
    }
    try {
      return await change();
    } finally {
      await this.deps.clients.unlockChange(clientId);
    }
  }

  /** A registered client the caller administers: 404 for a client it may not know of, 409 for a configured one. */
  private async managed(caller: Caller, clientId: string, action?: string): Promise<ClientRecord> {
    if (action && this.deps.configured.some((c) => c.client_id === clientId)) {
      if (!(await this.deps.access.administersEverything(caller.principal))) throw notFound(clientId);
      throw new DomainError('conflict', `client ${clientId} is defined in the configuration file (origin "config"): ${action} it there`);
    }
    const record = await this.find(clientId);
    if (!record) throw notFound(clientId);
    try {
      await this.deps.access.require(caller.principal, record.project_id, ADMIN, 'client_id', `client ${clientId}`);
    } catch (err) {
      // Another organisation's client does not exist for this caller.
      if (err instanceof DomainError && err.code === 'forbidden' && !(await this.deps.access.scopesOn(caller.principal, record.project_id)).length) throw notFound(clientId);
      throw err;
    }
    return record;
  }

  private checkGrantTypes(type: ClientType, grantTypes: unknown): ClientGrantType[] {
    if (!Array.isArray(grantTypes) || grantTypes.length === 0) throw new DomainError('invalid', `grant_types: a non-empty list of ${CLIENT_GRANT_TYPES.join(', ')}`, 'grant_types');
    grantTypes.forEach((g, i) => {
      if (!(CLIENT_GRANT_TYPES as readonly unknown[]).includes(g)) throw new DomainError('invalid', `grant_types.${i}: unknown grant type ${JSON.stringify(String(g).slice(0, 60))}; known: ${CLIENT_GRANT_TYPES.join(', ')}`, `grant_types.${i}`);
    });
    const unique = [...new Set(grantTypes as ClientGrantType[])];
    if (type === 'public' && unique.includes('client_credentials')) {
      throw new DomainError('invalid', 'a public client (no secret) cannot use client_credentials: it gets the authorization code flow with PKCE only', 'grant_types');
    }
    if (unique.includes('refresh_token') && !unique.includes('authorization_code')) throw new DomainError('invalid', 'refresh_token needs authorization_code (refresh tokens come from the code flow)', 'grant_types');
    return unique;
  }

  private checkScopes(scopes: unknown, codeFlow: boolean): string[] {
    if (!Array.isArray(scopes)) throw new DomainError('invalid', 'scopes: a list of scopes', 'scopes');
    const allowed: readonly string[] = codeFlow ? [...CLIENT_API_SCOPES, ...CLIENT_OPENID_SCOPES] : CLIENT_API_SCOPES;
    scopes.forEach((s, i) => {
      if (typeof s !== 'string' || !allowed.includes(s)) {
        const hint = typeof s === 'string' && (CLIENT_OPENID_SCOPES as readonly string[]).includes(s) ? ' (OpenID scopes are for authorization_code clients)' : '';
        throw new DomainError('invalid', `scopes.${i}: unknown scope ${JSON.stringify(String(s).slice(0, 60))}${hint}; allowed: ${allowed.join(', ')}`, `scopes.${i}`);
      }
    });
    const unique = [...new Set(scopes as string[])];
    if (!unique.some((s) => (CLIENT_API_SCOPES as readonly string[]).includes(s)) && !codeFlow) throw new DomainError('invalid', 'scopes: at least one log API scope', 'scopes');
    return unique;
  }

  private checkTtl(type: ClientType, ttlDays: unknown): number | null {
    if (ttlDays === undefined || ttlDays === null) return null;
    if (type !== 'confidential') throw new DomainError('invalid', 'secret_ttl_days is for confidential clients (a public client has no secret)', 'secret_ttl_days');
    if (typeof ttlDays !== 'number' || !Number.isInteger(ttlDays) || ttlDays < 1 || ttlDays > this.deps.maxTtlDays) {
      throw new DomainError('invalid', `secret_ttl_days: a whole number from 1 to ${this.deps.maxTtlDays} (api_keys.max_ttl_days)`, 'secret_ttl_days');
    }
    return ttlDays;
  }

  private newSecret(secret: string, ttlDays: number | null, now: Date): StoredSecret {
    return {
      sha256: hashSecret(secret),
      created_at: now.toISOString(),
      expires_at: ttlDays ? new Date(now.getTime() + ttlDays * DAY).toISOString() : null,
      grace_until: null,
    };
  }

  view(record: ClientRecord, lastTokenAt: string | null): ClientView {
    const [current, previous] = record.secrets;
    const previousEnd = previous ? secretEnd(previous) : null;
    return {
      client_id: record.client_id,
      origin: 'registered',
      project_id: record.project_id,
      name: record.name,
      type: record.type,
      grant_types: record.grant_types,
      redirect_uris: record.redirect_uris,
      post_logout_redirect_uris: record.post_logout_redirect_uris,
      scopes: record.scopes,
      first_party: record.first_party,
      created_at: record.created_at,
      created_by: record.created_by,
      secret_ttl_days: record.secret_ttl_days,
      ...(current?.expires_at ? { secret_expires_at: current.expires_at } : {}),
      ...(previousEnd !== null && previousEnd > Date.now() ? { previous_secret_expires_at: new Date(previousEnd).toISOString() } : {}),
      last_token_at: lastTokenAt,
    };
  }

  private async record(caller: Caller, action: string, record: ClientRecord, detail: Record<string, unknown>): Promise<void> {
    await this.deps.audit.recordBy(caller, {
      action,
      target: { type: 'client', id: record.client_id },
      project_id: record.project_id,
      outcome: 'success',
      detail,
    });
  }
}

function notFound(clientId: string): DomainError {
  return new DomainError('not_found', `client ${clientId.slice(0, 128)} does not exist or is not visible to this credential`, 'client_id');
}

function configuredView(client: ConfiguredClient): ClientView {
  const method = client.token_endpoint_auth_method ?? (client.client_secret ? 'client_secret_basic' : 'none');
  return {
    client_id: client.client_id,
    origin: 'config',
    project_id: null,
    name: client.client_name ?? client.client_id,
    type: method === 'none' ? 'public' : 'confidential',
    grant_types: client.grant_types,
    redirect_uris: client.redirect_uris ?? [],
    post_logout_redirect_uris: client.post_logout_redirect_uris ?? [],
    scopes: (client.scope ?? '').split(' ').filter(Boolean),
    first_party: client.first_party,
    created_at: null,
    created_by: null,
    secret_ttl_days: null,
    last_token_at: null,
  };
}
