import type { JWTPayload } from 'jose';
import { ApiKeyVerifier, type KeyOutcome } from './api-keys.ts';
import { VerifierError, type VerifierErrorCode } from './errors.ts';
import type { FetchLike } from './http.ts';
import { JwtVerifier } from './jwt.ts';
import { scopesOnPath, type ScopeHolder } from './scopes.ts';
import { ProjectTree } from './tree.ts';

export interface VerifierOptions {
  /** The LogTrace Auth issuer URL (as in its discovery document); its /v1 API is at the same address. */
  issuer: string;
  /** The log API's audience (`resource.audience` of the server). */
  audience: string;
  /**
   * Local API-key verification. `credential`: an API key (or access token) holding admin:projects on the
   * organisation; it subscribes to key events, reads keys' details and the project tree, and reports usage.
   * Without `apiKeys`, every API key is verified by the server on every request.
   */
  apiKeys?: {
    credential: string;
    /** Longest time a verified key is kept, however live the event stream (default 60 s). */
    cacheTtlMs?: number;
    /** With the event stream down, a cached positive is used at most this long (default 5 s). */
    failSafeMs?: number;
    /** Most keys kept (default 10 000; the oldest goes first). */
    maxEntries?: number;
    /** How often usage of cached verifications is reported (default 1 s). */
    usageFlushMs?: number;
  };
  /** Clock tolerance for `exp` and `nbf` (default 5 s). */
  clockToleranceSeconds?: number;
  /** At most one JWKS refetch per this interval for tokens with an unknown `kid` (default 30 s). */
  unknownKidCooldownMs?: number;
  /** Bounds on how long discovery and the JWKS are cached, whatever their Cache-Control says. */
  minCacheMs?: number;
  maxCacheMs?: number;
  /** Per request to the server (default 5 s). */
  timeoutMs?: number;
  /** `realm` of WWW-Authenticate (default "logtrace"). */
  realm?: string;
  fetch?: FetchLike;
  /** Background failures (event stream, usage reports); default: console.warn. */
  onError?: (message: string, err?: unknown) => void;
}

export interface Principal {
  kind: 'jwt' | 'api_key';
  /** The token's `sub` (a person's or client's id; an exchanged key's id), or the API key's id. */
  subject: string;
  client_id?: string;
  /** The API key: itself, or the one an access token was exchanged for. */
  key_id?: string;
  /** The API key's project (its rights hold on the project's subtree). */
  project_id?: string;
  scopes: string[];
  /** A person's roles by project id (a role holds on the project's subtree). */
  project_roles?: Record<string, string>;
  /** The verified claims of a JWT. */
  claims?: JWTPayload;
}

export interface VerifyInput {
  /** The `Authorization` header value: `Bearer <JWT or API key>`. */
  authorization?: string | null | undefined;
  /** The `X-Logs-Api-Key` header value. */
  apiKey?: string | null | undefined;
  /** The end client's address: checked against an API key's allowlist. */
  ip?: string | null | undefined;
  /** Also require this scope (space-separated: all of them)… */
  scope?: string | undefined;
  /** …on this project (as `can`); refusals are 403. */
  project_id?: string | undefined;
}

/** Counters for monitoring (and tests): what was fetched, verified remotely, served from memory. */
export interface VerifierStats {
  discoveryFetches: number;
  jwksFetches: number;
  unknownKidRefetches: number;
  serverVerifications: number;
  cacheHits: number;
  keyEvents: number;
  evictions: number;
  streamConnections: number;
  usageReports: number;
  /** The key event stream is connected and was heard from within failSafeMs. */
  streamLive: boolean;
}

export interface Verifier {
  verify(input: VerifyInput): Promise<Principal>;
  can(principal: Principal, scope: string, projectId: string): Promise<boolean>;
  /** Resolves once discovery, the JWKS and (with apiKeys) the event stream are ready, or after timeoutMs. */
  ready(timeoutMs?: number): Promise<boolean>;
  stats(): VerifierStats;
  close(): Promise<void>;
}

const KEY_FAILURES: Record<Exclude<KeyOutcome, 'valid'> | 'unavailable', { status: 401 | 403 | 503; message: string }> = {
  not_found: { status: 401, message: 'the API key is not valid' },
  expired: { status: 401, message: 'the API key has expired' },
  revoked: { status: 401, message: 'the API key has been revoked' },
  rotated: { status: 401, message: 'the API key was rotated and its grace period is over' },
  ip_not_allowed: { status: 403, message: 'the API key may not be used from this address' },
  wrong_project: { status: 403, message: 'the API key does not cover this project' },
  insufficient_scope: { status: 403, message: 'the API key lacks the scope this request needs' },
  unavailable: { status: 503, message: 'API keys cannot be verified right now' },
};

export function createVerifier(options: VerifierOptions): Verifier {
  const issuer = options.issuer.replace(/\/$/, '');
  const realm = options.realm ?? 'logtrace';
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? 5000;
  const onError = options.onError ?? ((message: string, err?: unknown) => console.warn(`logtrace verifier: ${message}`, err instanceof Error ? err.message : (err ?? '')));
  const credential = options.apiKeys?.credential;
  const fail = (status: 401 | 403 | 503, code: VerifierErrorCode, message: string, extra: { error?: 'invalid_token' | 'insufficient_scope' | 'invalid_request'; scope?: string; cause?: unknown } = {}) => new VerifierError(status, code, message, { realm, ...extra });

  const jwt = new JwtVerifier({
    issuer: options.issuer,
    audience: options.audience,
    fetch: fetchImpl,
    clockToleranceSeconds: options.clockToleranceSeconds ?? 5,
    unknownKidCooldownMs: options.unknownKidCooldownMs ?? 30_000,
    cache: { defaultTtlMs: 300_000, minTtlMs: options.minCacheMs ?? 1000, maxTtlMs: options.maxCacheMs ?? 86_400_000 },
    timeoutMs,
  });
  const tree = credential ? new ProjectTree({ baseUrl: issuer, credential, fetch: fetchImpl, cooldownMs: 1000, timeoutMs }) : undefined;
  /** Without a credential the tree is unknown: a right counts only on the very project it names. */
  const pathOf = async (projectId: string): Promise<readonly string[] | undefined> => (tree ? tree.pathOf(projectId) : [projectId]);
  const keys = new ApiKeyVerifier({
    baseUrl: issuer,
    credential,
    fetch: fetchImpl,
    cacheTtlMs: options.apiKeys?.cacheTtlMs ?? 60_000,
    failSafeMs: options.apiKeys?.failSafeMs ?? 5000,
    maxEntries: options.apiKeys?.maxEntries ?? 10_000,
    usageFlushMs: options.apiKeys?.usageFlushMs ?? 1000,
    timeoutMs,
    covers: async (keyProject, projectId) => (await pathOf(projectId))?.includes(keyProject) ?? false,
    onError,
  });
  keys.start();
  const warming = Promise.all([jwt.warm(), tree?.load()]).catch((err: unknown) => onError('could not fetch discovery, the JWKS or the project tree yet; will retry on demand', err));

  const holderOf = (principal: Principal): ScopeHolder => {
    // An API key, or an access token exchanged for one (it carries the key's project): the key's rights.
    if (principal.project_id) return { kind: 'api_key', project_id: principal.project_id, scopes: principal.scopes };
    return { kind: 'token', scopes: principal.scopes, project_roles: principal.project_roles ?? {} };
  };

  async function can(principal: Principal, scope: string, projectId: string): Promise<boolean> {
    if (typeof projectId !== 'string' || !projectId) return false;
    const path = await pathOf(projectId);
    return path ? scopesOnPath(holderOf(principal), path).includes(scope) : false;
  }

  async function verifyKey(key: string, input: VerifyInput): Promise<Principal> {
    const result = await keys.check(key, { ip: input.ip, scope: input.scope, project_id: input.project_id });
    if (!result.ok) {
      const failure = KEY_FAILURES[result.code];
      const error = result.code === 'insufficient_scope' || result.code === 'wrong_project' ? 'insufficient_scope' : result.code === 'unavailable' ? undefined : 'invalid_token';
      throw fail(failure.status, result.code, failure.message, { ...(error ? { error } : {}), ...(result.code === 'insufficient_scope' && input.scope ? { scope: input.scope } : {}), ...('cause' in result ? { cause: result.cause } : {}) });
    }
    return { kind: 'api_key', subject: result.key.key_id, key_id: result.key.key_id, project_id: result.key.project_id, scopes: [...result.key.scopes] };
  }

  async function verifyJwt(token: string, input: VerifyInput): Promise<Principal> {
    const result = await jwt.verify(token);
    if (!result.ok) {
      if (result.failure.code === 'unavailable') throw fail(503, 'unavailable', result.failure.message, { cause: result.failure.cause });
      throw fail(401, result.failure.code, result.failure.message, { error: 'invalid_token' });
    }
    const claims = result.payload;
    if (typeof claims.sub !== 'string' || !claims.sub) throw fail(401, 'invalid_token', 'the access token has no subject', { error: 'invalid_token' });
    const principal: Principal = { kind: 'jwt', subject: claims.sub, scopes: typeof claims.scope === 'string' ? claims.scope.split(' ').filter(Boolean) : [], claims };
    if (typeof claims.client_id === 'string') principal.client_id = claims.client_id;
    if (typeof claims.api_key_id === 'string') principal.key_id = claims.api_key_id;
    if (typeof claims.project_id === 'string') principal.project_id = claims.project_id;
    if (typeof claims.project_roles === 'object' && claims.project_roles !== null && !Array.isArray(claims.project_roles)) {
      principal.project_roles = Object.fromEntries(Object.entries(claims.project_roles as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'));
    }
    await requireAsked(principal, input);
    return principal;
  }

  /** verify()'s optional scope/project: as can(), or just the scope when no project is named. */
  async function requireAsked(principal: Principal, input: VerifyInput): Promise<void> {
    if (!input.scope && !input.project_id) return;
    const scopes = (input.scope ?? '').split(' ').filter(Boolean);
    if (input.project_id) {
      for (const scope of scopes.length ? scopes : ['read:logs']) {
        if (!(await can(principal, scope, input.project_id))) throw fail(403, 'insufficient_scope', `this credential does not hold ${scope} on project ${input.project_id}`, { error: 'insufficient_scope', scope });
      }
    } else if (!scopes.every((s) => principal.scopes.includes(s))) {
      throw fail(403, 'insufficient_scope', `this credential lacks ${input.scope}`, { error: 'insufficient_scope', scope: input.scope! });
    }
  }

  return {
    async verify(input) {
      const authorization = input.authorization ?? undefined;
      const apiKey = input.apiKey ?? undefined;
      if (!authorization && !apiKey) throw fail(401, 'missing_credential', 'send an access token or API key (Authorization: Bearer …, or X-Logs-Api-Key)');
      // RFC 6750 §2: one method per request.
      if (authorization && apiKey) throw fail(401, 'invalid_request', 'send one credential: Authorization or X-Logs-Api-Key, not both', { error: 'invalid_request' });
      if (apiKey) return verifyKey(apiKey, input);
      const bearer = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i.exec(authorization!);
      if (!bearer) throw fail(401, 'invalid_request', 'the Authorization header must be "Bearer <token>"', { error: 'invalid_request' });
      const token = bearer[1]!;
      return token.startsWith('lt_') ? verifyKey(token, input) : verifyJwt(token, input);
    },
    can,
    async ready(timeoutMs = 10_000) {
      await warming;
      return credential ? keys.ready(timeoutMs) : true;
    },
    stats() {
      return { ...jwt.stats, ...keys.stats, streamLive: keys.streamLive() };
    },
    async close() {
      await keys.close();
    },
  };
}
