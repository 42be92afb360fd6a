import type { Logger } from 'pino';
import type { z } from 'zod';
import type { Store } from '../store/index.ts';
import type { SocketFactories } from '../net/index.ts';

/**
 * Upstream identity providers behind small capability interfaces (Dex's connector model):
 * RedirectConnector (OAuth/OIDC: Yandex ID, VK ID, Entra ID, generic OIDC), SamlConnector (SAML 2.0 SP),
 * PasswordConnector (LDAP), optional RefreshConnector. Every one produces an `Identity`.
 * Connectors take plain inputs and return plain results: no Koa, no oidc-provider.
 */

/** A person as an upstream identity provider vouches for them. */
export interface Identity {
  /** Our connector id (config `id`). */
  connector_id: string;
  /** The upstream's stable subject for this person (Entra: `<tid>:<oid>`; Yandex: `id`; VK: `user_id`). */
  subject: string;
  /**
   * Who vouched for `subject`: the upstream the connector verified this identity against — the OIDC `iss`
   * (Entra: the token's tenant issuer), the SAML IdP entity id with where its metadata came from, the LDAP
   * directory (`url/base_dn?id_attr`), the Yandex / VK user-info endpoint. Identity links remember it, so
   * a connection pointed at another upstream never inherits the links made through the previous one.
   */
  issuer: string;
  email: string | null;
  /**
   * Whether the email counts as verified: the upstream's own word after the connector's rules, lowered by
   * `trust_email: false`; `trust_email: true` counts only emails the upstream has no way to vouch for
   * (VK), never one it reports unverified (see `resolveEmailVerified`).
   */
  email_verified: boolean;
  name: string | null;
  /** Group names from the upstream (OIDC `groups` claim, SAML attribute, Entra groups incl. overage, LDAP). */
  groups: string[];
  /** RFC 8176 authentication methods the upstream asserted (possibly mapped), e.g. ['pwd', 'mfa']. */
  amr: string[];
  acr: string | null;
  /** Upstream tokens to keep (encrypted by the caller) for RefreshConnector; never logged. */
  upstream?: { refresh_token?: string | undefined; access_token_expires_at?: number | undefined } | undefined;
}

/** Options every connector has (config keys). */
export interface ConnectorCommon {
  id: string;
  type: string;
  name: string;
  /** Email domains whose people this connector serves (home-realm discovery on the sign-in page). */
  email_domains: string[];
  /** Ask the upstream for MFA and refuse a sign-in without proof of it. */
  require_mfa: boolean;
  /**
   * `true`: link an existing account by an email this upstream reports verified (and count emails of an
   * upstream that cannot verify them, VK, as verified); never overrides an upstream's `email_verified: false`.
   * `false`: no email of this upstream counts as verified.
   */
  trust_email: boolean | undefined;
}

/** Why a federated sign-in failed. `code` is stable (audit, tests); `message` is for the log, not the person. */
export type ConnectorErrorCode =
  | 'invalid_state' // missing/unknown/expired state, or a state for another connector
  | 'access_denied' // the person or the upstream refused (error=access_denied)
  | 'upstream_error' // the upstream answered with an error, or unreachable, or a malformed reply
  | 'invalid_token' // id_token/assertion failed verification (signature, issuer, audience, expiry, nonce)
  | 'mfa_required' // MFA demanded but not proven
  | 'replay' // a SAML assertion or response seen before
  | 'tenant_not_allowed' // Entra tenant outside the allow-list
  | 'invalid_credentials'; // PasswordConnector: wrong username or password

export class ConnectorError extends Error {
  override readonly name = 'ConnectorError';
  readonly code: ConnectorErrorCode;
  constructor(code: ConnectorErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** What every connector object has besides its common options. */
export interface ConnectorBase extends ConnectorCommon {
  /**
   * Whether an identity naming `issuer` is one this connector, as configured now, produces. An identity made
   * through the connection before it was pointed elsewhere (or back) is not taken for one made after.
   */
  trustsIssuer(issuer: string): boolean;
}

export interface RedirectConnector extends ConnectorBase {
  kind: 'redirect';
  /**
   * The upstream authorization URL for a new sign-in. `state` is ours (random, single use); the returned
   * `transaction` (nonce, PKCE verifier, …) is kept server-side by the caller under that state and handed
   * back to `complete`.
   */
  begin(input: { redirectUri: string; state: string; loginHint?: string | undefined }): Promise<{ url: string; transaction: Record<string, string> }>;
  /** Exchanges the callback's query (code, state, device_id…) for a verified Identity, or throws ConnectorError. */
  complete(input: { redirectUri: string; query: URLSearchParams; transaction: Record<string, string> }): Promise<Identity>;
}

export interface SamlConnector extends ConnectorBase {
  kind: 'saml';
  /** Our SP metadata XML (entity id `{issuer}/federation/{id}/metadata`, ACS `{issuer}/federation/{id}/acs`). */
  metadata(): Promise<string>;
  /** An AuthnRequest by HTTP-Redirect binding; `transaction.request_id` is checked against InResponseTo. */
  begin(input: { relayState: string }): Promise<{ url: string; transaction: Record<string, string> }>;
  /** Verifies a posted SAMLResponse (signature, audience, destination, validity, InResponseTo, replay). */
  complete(input: { samlResponse: string; transaction: Record<string, string> | undefined }): Promise<Identity>;
}

export interface PasswordConnector extends ConnectorBase {
  kind: 'password';
  /** Verifies a username (email) and password; throws ConnectorError('invalid_credentials') when wrong. */
  login(input: { username: string; password: string }): Promise<Identity>;
}

export interface RefreshConnector {
  /** Re-checks with the upstream that the account still exists; returns the fresh Identity. */
  refresh(input: { identity: Identity; refreshToken: string }): Promise<Identity>;
}

export type Connector = RedirectConnector | SamlConnector | PasswordConnector;

export function canRefresh(connector: Connector): connector is Connector & RefreshConnector {
  return typeof (connector as Partial<RefreshConnector>).refresh === 'function';
}

/** What a connector may use; built once by the container. */
export interface ConnectorDeps {
  /** Our issuer: redirect URI `{issuer}/federation/{id}/callback`, SAML ACS `{issuer}/federation/{id}/acs`. */
  issuer: string;
  store: Store;
  logger: Logger;
  /** Every HTTP request to the upstream (discovery, JWKS, token, userinfo, metadata, Graph). */
  fetch: typeof fetch;
  /**
   * How clients that open their own sockets (LDAP) connect; absent: directly. Connections made at run time
   * get factories that refuse addresses outside `webhooks.block_private_addresses` (src/net).
   */
  sockets?: SocketFactories | undefined;
}

/** One entry of the typed registry: a connector `type` → its config schema and factory. */
export interface ConnectorFactory<S extends z.ZodType = z.ZodType> {
  type: string;
  /** Validates the connector's own keys (the common ones are validated by the registry). */
  configSchema: S;
  /** False for providers that cannot prove MFA (Yandex, VK): `require_mfa: true` is then a config error. */
  canProveMfa: boolean;
  /**
   * The settings that decide which upstream vouches for this connector's people, as one string (the OIDC
   * issuer, the Entra authority and tenant, the SAML metadata source, the LDAP directory, the Yandex / VK
   * user-info endpoint): links made before issuers were recorded are followed only while it is unchanged.
   */
  upstream(config: z.infer<S> & ConnectorCommon): string;
  create(config: z.infer<S> & ConnectorCommon, deps: ConnectorDeps): Promise<Connector> | Connector;
}
