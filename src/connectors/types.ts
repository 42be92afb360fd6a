import type { Logger } from 'pino';
import type { z } from 'zod';
import type { Store } from '../store/index.ts';
import type { SocketFactories } from '../net/index.ts';
import type { LdapDirectory } from '../directory/ldap.ts';

/**
 * Upstream identity providers behind small capability interfaces (Dex's connector model):
 * RedirectConnector (OAuth/OIDC: Yandex ID, VK ID, Entra ID, generic OIDC), SamlConnector (SAML 2.0 SP),
 * PasswordConnector (LDAP), optional RefreshConnector. Every one produces an `Identity`.
 * Connectors take plain inputs and return plain results: no Koa, no oidc-provider.
 */

export { ConnectorError, type Identity } from '../domain/identity.ts';
import type { Identity } from '../domain/identity.ts';

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


/** What every connector object has besides its common options. */
interface ConnectorBase extends ConnectorCommon {
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

/**
 * A connector backed by a directory it can read on its own (LDAP): the group sync reads it, the
 * dashboard's "Try a sign-in" asks it, and its groups are recorded under its own group source. A method,
 * not a property: the directory holds the bind password, which must never be serialised with the connector.
 */
export interface DirectoryConnector {
  directory(): LdapDirectory;
}

/** One line of a connection test: what was checked, whether it is fine, in plain words why. */
export interface ConnectionCheck {
  check: string;
  ok: boolean;
  detail: string;
}

/** A running connector that can check its own upstream (the connection test's checks after start-up). */
export interface TestableConnector {
  selfTest(): Promise<ConnectionCheck[]>;
}

export type Connector = RedirectConnector | SamlConnector | PasswordConnector;

export function canRefresh(connector: Connector): connector is Connector & RefreshConnector {
  return typeof (connector as Partial<RefreshConnector>).refresh === 'function';
}

export function hasDirectory(connector: Connector | undefined): connector is Connector & DirectoryConnector {
  return typeof (connector as Partial<DirectoryConnector> | undefined)?.directory === 'function';
}

export function isTestable(connector: Connector | undefined): connector is Connector & TestableConnector {
  return typeof (connector as Partial<TestableConnector> | undefined)?.selfTest === 'function';
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

/** What every connector of a server shares: the top-level `ldap:` directory, when configured. */
export interface SharedResources {
  ldapDirectory?: LdapDirectory | undefined;
}

/**
 * A write-only setting (dotted path: `ldap.bind_password` is the bind_password inside the ldap block) and the
 * settings that say where it is sent: a stored secret is reused by an update only while those stay as they
 * were, so an admin cannot point the connection at a server of theirs and have us hand it the secret.
 */
interface SecretField {
  path: string;
  destinations: string[];
}

/**
 * One input of the SSO wizard. Labels, hints and messages are keys of the dashboard's messages (views/dashboard
 * i18n); a string that is no key is shown as it is.
 */
export interface FormField {
  /** The posted name (`issuer`, `attr_email`, `ldap_url`). */
  name: string;
  /** Where the value lives in the connection's settings, dotted (`attributes.email`, `ldap.user_search.base_dn`). */
  path: string;
  /**
   * How the input reads and writes: `text` as typed; `optional` as typed, emptied = back to the connector's
   * default; `words` a space-separated list (emptied = default); `list` a comma- or space-separated list;
   * `flag` a checkbox; `number` a whole number; `secret` write-only, sent only when typed.
   */
  kind: 'text' | 'optional' | 'words' | 'list' | 'flag' | 'number' | 'secret';
  label: string;
  hint?: string | undefined;
  /** The HTML id; default `sso-<name with dashes>`. */
  id?: string | undefined;
  /** What an empty form shows, and what an absent setting shows. */
  default?: string | undefined;
  /** Filled into the hint's `{<name>}` when the field is empty. */
  example?: string | undefined;
  inputmode?: 'url' | 'numeric' | undefined;
  autocomplete?: 'off' | undefined;
  /** Checked before saving, with all other such fields at once: the message (a key; `{field}` = the label). */
  required?: string | undefined;
  /** `number` fields: the message when it is not a whole number ≥ 1. */
  invalid?: string | undefined;
  /** Other settings paths whose validation errors are shown at this field (`ldap` → the server URL). */
  aliases?: string[] | undefined;
  /** Shown instead of the validator's words when its error lands here. */
  error?: string | undefined;
}

/** A group of inputs; `fields` entries that are arrays sit side by side. */
interface FormSection {
  legend?: string | undefined;
  hint?: string | undefined;
  fields: Array<FormField | FormField[]>;
}

/** How the SSO wizard shows and reads a connector type (Logto's `formItems`). */
export interface ConnectorForm {
  /** Shown above the form (what the type does). */
  intro?: string | undefined;
  /** The addresses to give the provider: `{issuer}/federation/{id}/<suffix>`. */
  urls: Array<{ id: string; label: string; suffix: string }>;
  sections: FormSection[];
  /**
   * Settings kept in one block (`ldap`) that may be absent: a connection stored without it uses the
   * server's shared one, and the form shows `sharedHint` instead of the block's inputs.
   */
  block?: { path: string; sharedHint: string } | undefined;
  /** Whether the connection serves email domains (home-realm discovery); a password connector does not. */
  emailDomains: boolean;
}

/**
 * A connector type describes itself (Logto's `ConnectorMetadata`): its names, logo, abilities, settings
 * schema, secrets and form. Everything that shows or checks connectors of any type (the registry and
 * config validation, the sign-in page, the SSO wizard, the connection test, the group sources) reads this;
 * nothing outside connectors/ branches on a type name.
 */
export interface ConnectorType<S extends z.ZodType = z.ZodType> {
  type: string;
  /** How people call this kind of provider, per language; the English one names unnamed connectors. */
  names: { en: string; ru: string };
  /** The sign-in button's badge: a short text (no external images: a strict CSP, works offline). */
  logo: string;
  /** Validates the connector's own keys (the common ones are validated by the registry). */
  configSchema: S;
  /** False for providers that cannot prove MFA (Yandex, VK, LDAP): `require_mfa: true` is then a config error. */
  canProveMfa: boolean;
  /** Its connectors are RefreshConnectors: `check_upstream_on_refresh` may be set. */
  refreshes?: boolean | undefined;
  /** Its connectors are DirectoryConnectors (people sign in with a directory password; "Try a sign-in"). */
  directory?: boolean | undefined;
  secretFields: SecretField[];
  /** Settings naming files on the server: fine in the configuration file, refused through /v1/connections. */
  serverFileFields?: string[] | undefined;
  form: ConnectorForm;
  /**
   * The settings that decide which upstream vouches for this connector's people, as one string (the OIDC
   * issuer, the Entra authority and tenant, the SAML metadata source, the LDAP directory, the Yandex / VK
   * user-info endpoint): links made before issuers were recorded are followed only while it is unchanged.
   */
  upstream(config: z.infer<S> & ConnectorCommon, shared?: SharedResources): string;
  /** A problem with a connection's raw settings that only the server's shared resources tell (before parsing). */
  precheck?(raw: Record<string, unknown>, shared: SharedResources): { field: string; message: string } | undefined;
  create(config: z.infer<S> & ConnectorCommon, deps: ConnectorDeps, shared?: SharedResources): Promise<Connector> | Connector;
  /**
   * The connection test's checks from the settings alone (discovery, issuer, keys), run whether or not
   * the connector started; the running connector adds its own (TestableConnector).
   */
  testSettings?(settings: Record<string, unknown>, probe: SettingsProbe): Promise<ConnectionCheck[]>;
  /** The check reported when the connector could not be started; default `configuration`. */
  notStarted?(reason: string): ConnectionCheck;
}

/** What a settings test may use: the connection's own fetch (guarded for stored connections) and JSON reader. */
export interface SettingsProbe {
  fetchJson(url: string): Promise<{ ok: true; body: Record<string, unknown> } | { ok: false; detail: string }>;
}
