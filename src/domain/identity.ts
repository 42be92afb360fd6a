/**
 * What a connector (src/connectors) hands the directory (src/directory): a person as an upstream vouches for
 * them, or why it would not. Shared vocabulary below both, so neither imports the other for it.
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

/** Why a federated sign-in failed. `code` is stable (audit, tests); `message` is for the log, not the person. */
type ConnectorErrorCode =
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
