/**
 * Generic OpenID Connect connector (Keycloak, Auth0, Okta, another oidc-provider…), plus the small OAuth
 * helpers the other redirect connectors (entra.ts, yandex.ts, vk.ts) share: PKCE, back-channel requests with
 * a timeout, zod-parsed replies, callback checks.
 *
 * Flow: discovery (lazy, cached) → authorization code + PKCE S256 + nonce → code exchange → id_token
 * verified with jose against the upstream JWKS → userinfo when the id_token lacks email or groups.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createRemoteJWKSet, customFetch, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import {
  ConnectorError,
  type ConnectorCommon,
  type ConnectorDeps,
  type ConnectionCheck,
  type ConnectorType,
  type FormField,
  type Identity,
  type SettingsProbe,
  type RedirectConnector,
  type RefreshConnector,
} from './types.ts';

// ---------------------------------------------------------------------------------------------------------
// Shared helpers (used by entra.ts, yandex.ts, vk.ts)
// ---------------------------------------------------------------------------------------------------------

/** Every back-channel call to an upstream gives up after this long. */
const UPSTREAM_TIMEOUT_MS = 10_000;
/** Allowed clock skew when checking `exp`/`iat`/`nbf` of upstream id_tokens. */
const CLOCK_TOLERANCE_S = 30;
/** id_tokens must be signed with an asymmetric key from the upstream JWKS (never HS*, never `none`). */
const ASYMMETRIC_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

export const httpUrl = z.url({ protocol: /^https?$/ });
/** Client ids: YAML turns all-digit ids (VK app ids) into numbers; accept both. */
export const clientIdSchema = z.union([z.string().min(1), z.number().int().nonnegative().transform(String)]);

/** 32 random bytes, base64url (43 chars of [A-Za-z0-9_-]: also a valid PKCE verifier, RFC 7636 §4.1). */
export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

/** A PKCE pair: `code_challenge = BASE64URL(SHA256(code_verifier))` (RFC 7636 §4.2, S256). */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomToken();
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** `Authorization: Basic` per RFC 6749 §2.3.1: id and secret are form-urlencoded before base64. */
export function basicAuthorization(clientId: string, clientSecret: string): string {
  const encode = (value: string): string => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`;
}

/** The common connector options, picked one by one so secrets never end up on the connector object. */
export function commonFields(config: ConnectorCommon): ConnectorCommon {
  return {
    id: config.id,
    type: config.type,
    name: config.name,
    email_domains: config.email_domains,
    require_mfa: config.require_mfa,
    trust_email: config.trust_email,
  };
}

/** something@domain.tld, no spaces: an address that could have been verified at all. */
const EMAIL_ADDRESS = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * Whether an upstream's email counts as verified. `reported` is the upstream's own word after the
 * connector's rule: `true` vouched for, `false` not (said so, or the rule says no: an Entra email of another
 * tenant, a Yandex address other than the default one), `undefined` the upstream has no way to say (VK; an
 * OIDC provider that sends no `email_verified`). `trust_email: false` counts none; `trust_email: true` counts
 * only what the upstream cannot say, and never turns a reported `false` into `true`: that would let anyone
 * who registers a victim's address upstream be linked to the victim's account. An absent or malformed
 * address is never verified.
 */
export function resolveEmailVerified(email: string | null, reported: boolean | undefined, trustEmail: boolean | undefined): boolean {
  if (email === null || email.length > 320 || !EMAIL_ADDRESS.test(email)) return false;
  if (trustEmail === false) return false;
  return reported ?? trustEmail === true;
}

/**
 * The first checks of every callback: our `state` must come back unchanged (the caller already looked the
 * transaction up by it; this guards against mis-wiring), then an OAuth error response (RFC 6749 §4.1.2.1)
 * becomes a ConnectorError, then a `code` must be present.
 */
export function checkCallback(label: string, query: URLSearchParams, transaction: Record<string, string>): string {
  const state = query.get('state');
  if (!transaction.state || state === null || state !== transaction.state) {
    throw new ConnectorError('invalid_state', `${label}: callback state does not match the transaction`);
  }
  const error = query.get('error');
  if (error !== null) {
    const description = query.get('error_description');
    const detail = `${label}: upstream returned error=${truncate(error)}${description ? ` (${truncate(description)})` : ''}`;
    throw new ConnectorError(error === 'access_denied' ? 'access_denied' : 'upstream_error', detail);
  }
  const code = query.get('code');
  if (!code) throw new ConnectorError('upstream_error', `${label}: callback without code`);
  return code;
}

/** Reads a transaction value `begin` stored; its absence means the transaction is not ours. */
export function transactionValue(label: string, transaction: Record<string, string>, key: string): string {
  const value = transaction[key];
  if (!value) throw new ConnectorError('invalid_state', `${label}: transaction has no ${key}`);
  return value;
}

interface UpstreamReply {
  status: number;
  /** Parsed JSON, or undefined when the body is empty or not JSON. */
  body: unknown;
}

/** One back-channel HTTP call: timeout, no redirects followed, JSON body parsed if there is one. */
export async function sendUpstream(fetchImpl: typeof fetch, what: string, url: string | URL, init: RequestInit = {}): Promise<UpstreamReply> {
  let response: Response;
  let text: string;
  try {
    response = await fetchImpl(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS) });
    text = await response.text();
  } catch (error) {
    throw new ConnectorError('upstream_error', `${what}: request failed (${errorName(error)})`, { cause: error });
  }
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, body };
}

/** POST application/x-www-form-urlencoded, asking for JSON. */
export function postForm(fetchImpl: typeof fetch, what: string, url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<UpstreamReply> {
  return sendUpstream(fetchImpl, what, url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers },
    body: new URLSearchParams(form).toString(),
  });
}

const oauthErrorBody = z.object({ error: z.string(), error_description: z.string().optional() });
const graphErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string().optional() }) });

/** The OAuth `error` code of a reply (RFC 6749 §5.2), if it has one. */
function oauthErrorCode(reply: UpstreamReply): string | undefined {
  const parsed = oauthErrorBody.safeParse(reply.body);
  return parsed.success ? parsed.data.error : undefined;
}

/**
 * A successful reply parsed with `schema`; anything else (HTTP error, an `error` member even with 200 as some
 * providers send, a malformed body) is ConnectorError('upstream_error') with the upstream's error code.
 */
export function expectReply<S extends z.ZodType>(what: string, reply: UpstreamReply, schema: S): z.output<S> {
  const oauthError = oauthErrorBody.safeParse(reply.body);
  if (reply.status >= 300 && reply.status < 400) {
    // sendUpstream never follows redirects: each request goes only where it was checked to go.
    throw new ConnectorError('upstream_error', `${what}: HTTP ${reply.status}, a redirect, which is not followed (configure the final URL)`);
  }
  if (reply.status < 200 || reply.status > 299 || oauthError.success) {
    let detail = 'no error body';
    if (oauthError.success) {
      const description = oauthError.data.error_description;
      detail = `${truncate(oauthError.data.error)}${description ? `: ${truncate(description)}` : ''}`;
    } else {
      const graphError = graphErrorBody.safeParse(reply.body);
      if (graphError.success) detail = truncate(graphError.data.error.code);
    }
    throw new ConnectorError('upstream_error', `${what}: HTTP ${reply.status} (${detail})`);
  }
  const parsed = schema.safeParse(reply.body);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
    throw new ConnectorError('upstream_error', `${what}: unexpected reply (${truncate(issues)})`);
  }
  return parsed.data;
}

/** `expires_in` as a number of seconds; a few providers send it as a string. */
export const expiresInSchema = z.union([z.number().nonnegative(), z.string().regex(/^\d+$/).transform(Number)]);

/** Epoch seconds at which an access token with `expires_in` seconds left expires. */
export function expiresAt(expiresIn: number | undefined): number | undefined {
  return expiresIn === undefined ? undefined : Math.floor(Date.now() / 1000) + expiresIn;
}

/** The SSO wizard's client id and secret inputs, shared by the redirect connectors. */
export const CLIENT_FIELDS: FormField[] = [
  { name: 'client_id', path: 'client_id', kind: 'text', label: 'dash.sso.field.client_id', autocomplete: 'off' },
  { name: 'client_secret', path: 'client_secret', kind: 'secret', label: 'dash.sso.field.client_secret' },
];

/** The address a redirect connector's provider sends people back to. */
export const CALLBACK_URLS = [{ id: 'sso-redirect', label: 'dash.sso.redirect_uri', suffix: 'callback' }];

/**
 * The connection test of an OpenID provider from its settings: discovery reachable, issuer as expected
 * (`expectIssuer` returns what is wrong, or null), signing keys published.
 */
export async function discoveryChecks(probe: SettingsProbe, discoveryUrl: string, expectIssuer: (issuer: string) => string | null): Promise<ConnectionCheck[]> {
  const checks: ConnectionCheck[] = [];
  const discovery = await probe.fetchJson(discoveryUrl);
  if (!discovery.ok) return [{ check: 'discovery', ok: false, detail: discovery.detail }];
  checks.push({ check: 'discovery', ok: true, detail: `fetched ${discoveryUrl}` });
  const issuer = String(discovery.body.issuer ?? '');
  const mismatch = expectIssuer(issuer);
  checks.push({ check: 'issuer', ok: !mismatch, detail: mismatch ?? `issuer ${issuer}` });
  const jwksUri = typeof discovery.body.jwks_uri === 'string' ? discovery.body.jwks_uri : '';
  if (!jwksUri) return [...checks, { check: 'signing_keys', ok: false, detail: 'discovery has no jwks_uri' }];
  const jwks = await probe.fetchJson(jwksUri);
  const keys = jwks.ok && Array.isArray(jwks.body.keys) ? jwks.body.keys.length : 0;
  checks.push({ check: 'signing_keys', ok: keys > 0, detail: jwks.ok ? `${keys} signing key(s) at ${jwksUri}` : jwks.detail });
  return checks;
}

function truncate(value: string, max = 200): string {
  return value.length > max ? `${value.slice(0, max)}…` : value;
}

function errorName(error: unknown): string {
  if (error instanceof Error && error.name === 'BlockedAddressError') return error.message;
  if (error instanceof Error) return error.name === 'TimeoutError' ? 'timeout' : `${error.name}: ${truncate(error.message, 120)}`;
  return 'unknown error';
}

// ---------------------------------------------------------------------------------------------------------
// OIDC relying-party core (used by this connector and by entra.ts)
// ---------------------------------------------------------------------------------------------------------

const discoverySchema = z.object({
  issuer: z.string().min(1),
  authorization_endpoint: httpUrl,
  token_endpoint: httpUrl,
  jwks_uri: httpUrl,
  userinfo_endpoint: httpUrl.optional(),
});
type Discovery = z.output<typeof discoverySchema>;

export const tokenResponseSchema = z.object({
  access_token: z.string().min(1),
  token_type: z.string().min(1),
  id_token: z.string().min(1).optional(),
  refresh_token: z.string().min(1).optional(),
  expires_in: expiresInSchema.optional(),
  scope: z.string().optional(),
});
type TokenResponse = z.output<typeof tokenResponseSchema>;

const userinfoSchema = z.looseObject({ sub: z.string().min(1) });

interface OidcCoreOptions {
  /** For messages, e.g. `oidc connector "corp"`. */
  label: string;
  discoveryUrl: string;
  /** Throws when the discovered document is not the one configured (issuer mismatch). */
  checkDiscovery(discovery: Discovery): void;
  clientId: string;
  clientSecret: string;
  authMethod: 'client_secret_basic' | 'client_secret_post';
  fetch: typeof fetch;
}

interface OidcCore {
  discovery(): Promise<Discovery>;
  /** Authorization endpoint URL with `params` added (undefined values left out). */
  authorizationUrl(params: Record<string, string | undefined>): Promise<string>;
  /** A token request (`grant_type` and the grant's parameters) with client authentication. */
  token(what: string, params: Record<string, string>): Promise<UpstreamReply>;
  /**
   * Verifies signature (upstream JWKS), `aud` = client_id, `exp`/`iat`, `iss` when given, `azp` (required
   * with several audiences, else must be ours when present) and `nonce` when given.
   */
  verifyIdToken(idToken: string, expected: { issuer: string | undefined; nonce: string | undefined }): Promise<JWTPayload>;
  userinfo(accessToken: string): Promise<Record<string, unknown> & { sub: string }>;
}

const DISCOVERY_MAX_AGE_MS = 24 * 60 * 60 * 1000;

export function createOidcCore(options: OidcCoreOptions): OidcCore {
  const { label, clientId } = options;
  let cached: { at: number; loading: Promise<{ discovery: Discovery; jwks: JWTVerifyGetKey }> } | undefined;

  async function load(): Promise<{ discovery: Discovery; jwks: JWTVerifyGetKey }> {
    const what = `${label}: discovery`;
    const reply = await sendUpstream(options.fetch, what, options.discoveryUrl, { headers: { accept: 'application/json' } });
    const discovery = expectReply(what, reply, discoverySchema);
    options.checkDiscovery(discovery);
    const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri), {
      timeoutDuration: UPSTREAM_TIMEOUT_MS,
      [customFetch]: (url, init) => options.fetch(url, init),
    });
    return { discovery, jwks };
  }

  /** Discovery is fetched on first use and kept for a day; a failed fetch is retried on the next use. */
  function loaded(): Promise<{ discovery: Discovery; jwks: JWTVerifyGetKey }> {
    if (!cached || Date.now() - cached.at > DISCOVERY_MAX_AGE_MS) {
      const entry = { at: Date.now(), loading: load() };
      cached = entry;
      entry.loading.catch(() => {
        if (cached === entry) cached = undefined;
      });
    }
    return cached.loading;
  }

  return {
    async discovery() {
      return (await loaded()).discovery;
    },

    async authorizationUrl(params) {
      const url = new URL((await loaded()).discovery.authorization_endpoint);
      for (const [key, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(key, value);
      return url.toString();
    },

    async token(what, params) {
      const { discovery } = await loaded();
      if (options.authMethod === 'client_secret_post') {
        return postForm(options.fetch, what, discovery.token_endpoint, { ...params, client_id: clientId, client_secret: options.clientSecret });
      }
      return postForm(options.fetch, what, discovery.token_endpoint, params, { authorization: basicAuthorization(clientId, options.clientSecret) });
    },

    async verifyIdToken(idToken, expected) {
      const { jwks } = await loaded();
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(idToken, jwks, {
          issuer: expected.issuer,
          audience: clientId,
          clockTolerance: CLOCK_TOLERANCE_S,
          algorithms: ASYMMETRIC_ALGS,
          requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'],
        }));
      } catch (error) {
        throw verificationError(label, error);
      }
      // OIDC Core §3.1.3.7 (8): with several audiences the token must name us as its authorized party.
      if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp === undefined) {
        throw new ConnectorError('invalid_token', `${label}: id_token has several audiences and no azp`);
      }
      if (payload.azp !== undefined && payload.azp !== clientId) {
        throw new ConnectorError('invalid_token', `${label}: id_token azp is another client`);
      }
      if (expected.nonce !== undefined && payload.nonce !== expected.nonce) {
        throw new ConnectorError('invalid_token', `${label}: id_token nonce does not match the transaction`);
      }
      return payload;
    },

    async userinfo(accessToken) {
      const { discovery } = await loaded();
      const what = `${label}: userinfo`;
      if (!discovery.userinfo_endpoint) throw new ConnectorError('upstream_error', `${what}: the upstream has no userinfo endpoint`);
      const reply = await sendUpstream(options.fetch, what, discovery.userinfo_endpoint, {
        headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
      });
      return expectReply(what, reply, userinfoSchema);
    },
  };
}

/** jose failures: claim/signature problems are the token's fault; JWKS fetch problems are the upstream's. */
function verificationError(label: string, error: unknown): ConnectorError {
  const upstreamFault =
    !(error instanceof joseErrors.JOSEError) ||
    error instanceof joseErrors.JWKSTimeout ||
    error instanceof joseErrors.JWKSInvalid ||
    error.code === 'ERR_JOSE_GENERIC';
  if (upstreamFault) return new ConnectorError('upstream_error', `${label}: could not load the upstream JWKS (${errorName(error)})`, { cause: error });
  return new ConnectorError('invalid_token', `${label}: id_token rejected (${error.code}: ${truncate(error.message, 120)})`, { cause: error });
}

// ---------------------------------------------------------------------------------------------------------
// Claim readers: lenient on optional claims (a malformed optional claim counts as absent)
// ---------------------------------------------------------------------------------------------------------

const optionalString = z.string().min(1).optional().catch(undefined);
/** `email_verified` is a boolean per OIDC Core §5.1; a few providers send "true"/"false". */
const optionalBoolean = z
  .union([z.boolean(), z.enum(['true', 'false']).transform((value) => value === 'true')])
  .optional()
  .catch(undefined);
/** An array of strings (non-strings dropped), or a single string as a one-element list. */
export const stringListSchema = z
  .union([z.string().min(1).transform((value) => [value]), z.array(z.unknown()).transform((values) => values.filter((value): value is string => typeof value === 'string' && value !== ''))])
  .optional()
  .catch(undefined);

const standardClaimsSchema = z.object({
  sub: z.string().min(1),
  email: optionalString,
  email_verified: optionalBoolean,
  name: optionalString,
  given_name: optionalString,
  family_name: optionalString,
  preferred_username: optionalString,
  amr: stringListSchema,
  acr: optionalString,
});

export function parseClaims<S extends z.ZodType>(label: string, source: string, claims: unknown, schema: S): z.output<S> {
  const parsed = schema.safeParse(claims);
  if (!parsed.success) throw new ConnectorError('upstream_error', `${label}: ${source} lacks required claims`);
  return parsed.data;
}

// ---------------------------------------------------------------------------------------------------------
// The generic OIDC connector
// ---------------------------------------------------------------------------------------------------------

export const oidcConfig = z.object({
  /** Discovery at `{issuer}/.well-known/openid-configuration`; the discovered `issuer` must equal this exactly. */
  issuer: httpUrl,
  client_id: clientIdSchema,
  client_secret: z.string().min(1),
  token_endpoint_auth_method: z.enum(['client_secret_basic', 'client_secret_post']).default('client_secret_basic'),
  scopes: z
    .array(z.string().min(1))
    .refine((scopes) => scopes.includes('openid'), 'scopes must include openid')
    .default(['openid', 'email', 'profile']),
  groups_claim: z.string().min(1).default('groups'),
  /** ACR values that count as MFA; requested (as essential) when require_mfa is on. */
  acr_values: z.array(z.string().min(1)).default([]),
  /** RFC 8176 `amr` values that count as MFA. */
  mfa_amr: z.array(z.string().min(1)).default(['mfa', 'otp', 'hwk', 'swk', 'sms', 'fpt']),
  prompt: z.string().min(1).optional(),
});
type OidcConfig = z.output<typeof oidcConfig>;

/** The form and connection test of a generic OIDC provider (also for providers built on this connector). */
export const OIDC_FORM_FIELDS: FormField[] = [
  ...CLIENT_FIELDS,
  { name: 'issuer', path: 'issuer', kind: 'text', label: 'dash.sso.field.issuer', hint: 'dash.sso.field.issuer_hint', example: 'https://idp.example.com', inputmode: 'url' },
  { name: 'scopes', path: 'scopes', kind: 'words', label: 'dash.sso.field.scopes', hint: 'dash.sso.field.scopes_hint', default: 'openid email profile' },
  { name: 'groups_claim', path: 'groups_claim', kind: 'optional', label: 'dash.sso.field.groups_claim', hint: 'dash.sso.field.groups_claim_hint', default: 'groups' },
];

function oidcSettingsTest(settings: Record<string, unknown>, probe: SettingsProbe): Promise<ConnectionCheck[]> {
  const issuer = String(settings.issuer).replace(/\/$/, '');
  return discoveryChecks(probe, `${issuer}/.well-known/openid-configuration`, (found) => (found === settings.issuer ? null : `issuer mismatch: discovery says ${found || '(none)'}, configured ${String(settings.issuer)}`));
}

export const oidcConnector: ConnectorType<typeof oidcConfig> = {
  type: 'oidc',
  names: { en: 'OpenID Connect (OIDC)', ru: 'OpenID Connect (OIDC)' },
  logo: '◎',
  configSchema: oidcConfig,
  canProveMfa: true,
  refreshes: true,
  secretFields: [{ path: 'client_secret', destinations: ['issuer'] }],
  form: { urls: CALLBACK_URLS, sections: [{ fields: OIDC_FORM_FIELDS }], emailDomains: true },
  upstream: (config) => config.issuer,
  create(config, deps): RedirectConnector & RefreshConnector {
    return createOidcConnector(config, deps);
  },
  testSettings: oidcSettingsTest,
};

function createOidcConnector(config: OidcConfig & ConnectorCommon, deps: ConnectorDeps): RedirectConnector & RefreshConnector {
  const label = `oidc connector "${config.id}"`;
  const core = createOidcCore({
    label,
    discoveryUrl: `${config.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`,
    checkDiscovery(discovery) {
      // OIDC Discovery §4.3: the issuer in the document must be identical to the one used to find it.
      if (discovery.issuer !== config.issuer) {
        throw new ConnectorError('upstream_error', `${label}: discovered issuer ${JSON.stringify(discovery.issuer)} is not the configured one`);
      }
    },
    clientId: config.client_id,
    clientSecret: config.client_secret,
    authMethod: config.token_endpoint_auth_method,
    fetch: deps.fetch,
  });

  /** Builds the Identity from a token response: verified id_token, userinfo for what it lacks, MFA check. */
  async function identityFrom(
    tokens: TokenResponse,
    expected: { nonce: string | undefined; previous: Identity | undefined; refreshToken: string | undefined },
  ): Promise<Identity> {
    let sub: string;
    let email: string | undefined;
    let emailVerifiedClaim: boolean | undefined;
    let name: string | undefined;
    let groups: string[] | undefined;
    let amr: string[] | undefined;
    let acr: string | undefined;
    let needUserinfo: boolean;

    if (tokens.id_token !== undefined) {
      const payload = await core.verifyIdToken(tokens.id_token, { issuer: config.issuer, nonce: expected.nonce });
      const claims = parseClaims(label, 'id_token', payload, standardClaimsSchema);
      sub = claims.sub;
      if (expected.previous !== undefined && sub !== expected.previous.subject) {
        // OIDC Core §12.2: a refreshed id_token must be about the same person.
        throw new ConnectorError('invalid_token', `${label}: refreshed id_token is for another subject`);
      }
      ({ email, email_verified: emailVerifiedClaim, amr, acr } = claims);
      name = claims.name ?? joinName(claims.given_name, claims.family_name);
      groups = stringListSchema.parse(payload[config.groups_claim]);
      needUserinfo = email === undefined || groups === undefined;
    } else if (expected.previous !== undefined) {
      // Refresh without a new id_token: userinfo must answer for the same subject; without userinfo the
      // successful refresh is all the upstream tells us, so the identity stays as it was.
      if (!(await core.discovery()).userinfo_endpoint) return withUpstream(expected.previous, tokens, expected.refreshToken);
      sub = expected.previous.subject;
      needUserinfo = true;
    } else {
      throw new ConnectorError('upstream_error', `${label}: token response has no id_token`);
    }

    const discovery = await core.discovery();
    if (needUserinfo && discovery.userinfo_endpoint) {
      const info = await core.userinfo(tokens.access_token);
      // OIDC Core §5.3.2: the userinfo `sub` must match the id_token's.
      if (info.sub !== sub) throw new ConnectorError('invalid_token', `${label}: userinfo is for another subject`);
      const claims = parseClaims(label, 'userinfo', info, standardClaimsSchema);
      if (email === undefined) {
        email = claims.email;
        emailVerifiedClaim = claims.email_verified;
      } else if (emailVerifiedClaim === undefined && claims.email === email) {
        emailVerifiedClaim = claims.email_verified;
      }
      name ??= claims.name ?? joinName(claims.given_name, claims.family_name);
      groups ??= stringListSchema.parse(info[config.groups_claim]);
    }

    // A refreshed id_token may leave out amr/acr; the authentication event they describe has not changed.
    amr ??= expected.previous?.amr;
    acr ??= expected.previous?.acr ?? undefined;
    const provenMfa = (amr ?? []).some((method) => config.mfa_amr.includes(method)) || (acr !== undefined && config.acr_values.includes(acr));
    if (config.require_mfa && !provenMfa) {
      throw new ConnectorError('mfa_required', `${label}: the upstream asserted no MFA (amr/acr)`);
    }

    const emailOrNull = email ?? null;
    return withUpstream({
      connector_id: config.id,
      subject: sub,
      // The id_token's `iss`, checked to be exactly the configured issuer (whose discovery we fetched).
      issuer: config.issuer,
      email: emailOrNull,
      email_verified: resolveEmailVerified(emailOrNull, emailVerifiedClaim, config.trust_email),
      name: name ?? null,
      groups: groups ?? [],
      amr: amr ?? [],
      acr: acr ?? null,
    }, tokens, expected.refreshToken);
  }

  return {
    ...commonFields(config),
    kind: 'redirect',
    trustsIssuer: (issuer) => issuer === config.issuer,

    async begin({ redirectUri, state, loginHint }) {
      const nonce = randomToken();
      const pkce = pkcePair();
      const askForAcr = config.require_mfa && config.acr_values.length > 0;
      const url = await core.authorizationUrl({
        response_type: 'code',
        client_id: config.client_id,
        redirect_uri: redirectUri,
        scope: config.scopes.join(' '),
        state,
        nonce,
        // Always S256: harmless for an upstream without PKCE support (RFC 7636 §5), binding for the rest.
        code_challenge: pkce.challenge,
        code_challenge_method: 'S256',
        login_hint: loginHint,
        prompt: config.prompt,
        // acr_values alone is a voluntary request (OIDC Core §3.1.2.1); an essential acr claim is binding (§5.5.1.1).
        acr_values: askForAcr ? config.acr_values.join(' ') : undefined,
        claims: askForAcr ? JSON.stringify({ id_token: { acr: { essential: true, values: config.acr_values } } }) : undefined,
      });
      return { url, transaction: { state, nonce, code_verifier: pkce.verifier } };
    },

    async complete({ redirectUri, query, transaction }) {
      const code = checkCallback(label, query, transaction);
      const nonce = transactionValue(label, transaction, 'nonce');
      const codeVerifier = transactionValue(label, transaction, 'code_verifier');
      // RFC 9207: when the upstream names itself in the response, it must be the issuer we sent the person to.
      const responseIssuer = query.get('iss');
      if (responseIssuer !== null && responseIssuer !== (await core.discovery()).issuer) {
        throw new ConnectorError('invalid_state', `${label}: authorization response from another issuer`);
      }
      const what = `${label}: token (authorization_code)`;
      const reply = await core.token(what, { grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: codeVerifier });
      const tokens = expectReply(what, reply, tokenResponseSchema);
      return identityFrom(tokens, { nonce, previous: undefined, refreshToken: undefined });
    },

    async refresh({ identity, refreshToken }) {
      const what = `${label}: token (refresh_token)`;
      // A refresh token of another upstream (the connection was pointed elsewhere since the sign-in) is
      // neither sent to this one nor answered for: the session it belongs to is over.
      if (identity.issuer !== config.issuer) {
        throw new ConnectorError('access_denied', `${what}: the session was made through another issuer`);
      }
      const reply = await core.token(what, { grant_type: 'refresh_token', refresh_token: refreshToken });
      if (oauthErrorCode(reply) === 'invalid_grant') {
        // Revoked, expired or the account is gone upstream (RFC 6749 §5.2).
        throw new ConnectorError('access_denied', `${what}: the upstream refused the refresh token (invalid_grant)`);
      }
      const tokens = expectReply(what, reply, tokenResponseSchema);
      return identityFrom(tokens, { nonce: undefined, previous: identity, refreshToken });
    },
  };
}

function withUpstream(identity: Identity, tokens: TokenResponse, previousRefreshToken: string | undefined): Identity {
  const { upstream: _previous, ...rest } = identity;
  const refreshToken = tokens.refresh_token ?? previousRefreshToken;
  if (refreshToken === undefined) return rest;
  return { ...rest, upstream: { refresh_token: refreshToken, access_token_expires_at: expiresAt(tokens.expires_in) } };
}

function joinName(given: string | undefined, family: string | undefined): string | undefined {
  const joined = [given, family].filter((part) => part !== undefined).join(' ');
  return joined === '' ? undefined : joined;
}
