import Provider, { errors, interactionPolicy, type AdapterPayload, type Configuration, type ClientMetadata, type KoaContextWithOIDC } from 'oidc-provider';
import type { Config, ClientConfig } from '../config/index.ts';
import type { Store } from '../store/index.ts';
import { sessionEnded, type UserRepository } from '../directory/index.ts';
import { createAdapterFactory } from './adapter.ts';
import { providerJwks, type KeySet, type SigningAlg } from './keys.ts';
import { installHashedSecretCheck, projectOfClient, registeredClientMetadata, REGISTERED_CLIENT_PROPERTIES } from './registered-clients.ts';
import type { ClientRecord } from '../clients/index.ts';
import { API_KEY_CLIENT_ID, TOKEN_EXCHANGE, exchangedKeyOf, registerTokenExchange, type ExchangeDeps } from './token-exchange.ts';

export interface ProviderDeps {
  config: Config;
  store: Store;
  users: UserRepository;
  keySet: KeySet;
  /** Renders oidc-provider's HTML error page in our views (language, styles). */
  renderError: NonNullable<Configuration['renderError']>;
  logoutSource: NonNullable<NonNullable<NonNullable<Configuration['features']>['rpInitiatedLogout']>['logoutSource']>;
  postLogoutSuccessSource: NonNullable<NonNullable<NonNullable<Configuration['features']>['rpInitiatedLogout']>['postLogoutSuccessSource']>;
  /**
   * A person's effective project roles (`{ projectId: role }`) and the scopes those roles allow: carried
   * in access tokens and /me as `project_roles`; a token's scope is what was asked for ∩ what they allow.
   */
  access?: {
    rolesOf(accountId: string): Promise<Record<string, string>>;
    scopesOf(roles: Record<string, string>): Set<string>;
    /**
     * The scopes a person's roles give on one project (roles on it or above it). A token through a client
     * registered in a project (src/clients) carries that project as `project_id`, and resource servers read
     * its scope as rights on that project alone: it holds only what the person holds there.
     */
    scopesOnProject?(accountId: string, projectId: string): Promise<Set<string>>;
  };
  /**
   * At our refresh_token grant: ask the upstream identity provider whether the account still exists
   * (connectors with check_upstream_on_refresh). 'gone' refuses the refresh; 'unavailable' answers 503.
   */
  checkUpstream?(accountId: string): Promise<'ok' | 'gone' | 'unavailable'>;
  /**
   * OAuth clients registered at run time (src/clients): looked up on every request (a deleted one stops
   * at once on every node); each grant made for one is recorded so deleting it revokes its tokens.
   */
  registeredClients?: {
    find(clientId: string): Promise<ClientRecord | undefined>;
    grantSaved(clientId: string, grantId: string): Promise<void>;
  };
  /** API key checks for the RFC 8693 exchange; without it the exchange grant is not offered. */
  apiKeys?: Pick<ExchangeDeps, 'verifyApiKey' | 'onExchange' | 'exchangeScopes'>;
}

/** Standard OIDC claims we hold for a person, by scope. */
const CLAIMS = {
  // Claims not bound to a scope: authentication context (RFC 8176 amr), session, issuer.
  acr: null,
  amr: null,
  auth_time: null,
  sid: null,
  iss: null,
  // Every ID token says how the person authenticated, so relying parties can require MFA; and which
  // projects they hold which role on.
  openid: ['sub', 'acr', 'amr', 'project_roles'],
  email: ['email', 'email_verified'],
  profile: ['name', 'updated_at'],
} as const;

/** Static clients from the config file, in oidc-provider's metadata form. */
/** The `acr` of a sign-in with a password alone. */
export const PASSWORD_ACR = 'urn:logtrace:acr:password';

function clientMetadata(client: ClientConfig): ClientMetadata {
  const { first_party, ...metadata } = client;
  const usesRedirects = client.grant_types.includes('authorization_code');
  return {
    ...metadata,
    first_party,
    token_endpoint_auth_method: client.token_endpoint_auth_method ?? (client.client_secret ? 'client_secret_basic' : 'none'),
    redirect_uris: usesRedirects ? client.redirect_uris ?? [] : [],
    response_types: usesRedirects ? client.response_types ?? ['code'] : [],
  } as ClientMetadata;
}

/** The person a token request is about, whichever artifact carries them. */
function accountOf(ctx: KoaContextWithOIDC): string | undefined {
  const { entities } = ctx.oidc;
  return entities.AuthorizationCode?.accountId ?? entities.RefreshToken?.accountId ?? entities.Account?.accountId ?? ctx.oidc.session?.accountId;
}

/** The admin dashboard (src/dashboard): a first-party public client of this server, always present. */
export const DASHBOARD_CLIENT_ID = 'logtrace-dashboard';

function dashboardClient(issuer: string, resourceScopes: readonly string[]): ClientMetadata {
  // Only scopes this server offers (a client asking for an unknown scope is invalid metadata).
  const scopes = ['read:logs', 'write:alerts', 'admin:projects'].filter((s) => resourceScopes.includes(s));
  return {
    client_id: DASHBOARD_CLIENT_ID,
    client_name: 'LogTrace Dashboard',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: [`${issuer}/dashboard/callback`],
    post_logout_redirect_uris: [`${issuer}/dashboard/signed-out`],
    scope: ['openid', 'email', 'profile', ...scopes].join(' '),
  };
}

export function isFirstParty(client: { [key: string]: unknown } | undefined): boolean {
  return client?.first_party !== false;
}

/**
 * oidc-provider's default prompts, plus: a browser session whose account findAccount no longer answers
 * for (disabled, or its sessions ended) asks for a new sign-in, instead of handing out codes that the
 * token endpoint then refuses.
 */
function interactionPolicyWithVoidSessions(): interactionPolicy.Prompt[] {
  const policy = interactionPolicy.base();
  policy.get('login')!.checks.add(new interactionPolicy.Check('account_unavailable', 'End-User authentication is required', (ctx) => {
    const { oidc } = ctx;
    return oidc.session?.accountId && !oidc.account && !oidc.result?.login ? interactionPolicy.Check.REQUEST_PROMPT : interactionPolicy.Check.NO_NEED_TO_PROMPT;
  }));
  return policy;
}

export function buildProvider(deps: ProviderDeps): Provider {
  const { config, store, users, keySet } = deps;
  const audience = config.resource.audience;
  const resourceScopes = new Set(config.resource.scopes);
  const signingAlg: SigningAlg = config.signing_keys.algorithm;

  const builtInClients: ClientMetadata[] = [dashboardClient(config.issuer, config.resource.scopes)];
  if (deps.apiKeys) {
    builtInClients.push({
      client_id: API_KEY_CLIENT_ID,
      client_name: 'API key exchange',
      token_endpoint_auth_method: 'none',
      grant_types: [TOKEN_EXCHANGE],
      response_types: [],
      redirect_uris: [],
      scope: config.resource.scopes.join(' '),
    });
  }

  const configuration: Configuration = {
    adapter: createAdapterFactory(store, {
      refreshTokenReuseInterval: config.tokens.refresh_token_reuse_interval,
      ...(deps.registeredClients ? { registeredClients: registeredClientAdapter(deps.registeredClients) } : {}),
    }),
    clients: [...config.clients.map(clientMetadata), ...builtInClients],
    jwks: providerJwks(keySet, signingAlg) as Configuration['jwks'],
    cookies: {
      keys: keySet.cookie_keys,
      long: { signed: true, httpOnly: true, sameSite: 'lax' },
      short: { signed: true, httpOnly: true, sameSite: 'lax' },
    },
    claims: { ...CLAIMS },
    acrValues: [PASSWORD_ACR],
    // Authorization code only (RFC 9700 §2.1.2: no implicit flow).
    responseTypes: ['code'],
    scopes: ['openid', 'offline_access', 'email', 'profile', ...config.resource.scopes],
    // ID tokens carry the profile and email claims the scopes grant, also in the code flow.
    conformIdTokenClaims: false,
    clientDefaults: {
      grant_types: ['authorization_code'],
      id_token_signed_response_alg: signingAlg,
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    extraClientMetadata: {
      properties: ['first_party', ...REGISTERED_CLIENT_PROPERTIES],
      validator(_ctx, key, value) {
        if (key === 'first_party' && value !== undefined && typeof value !== 'boolean') {
          throw new errors.InvalidClientMetadata('first_party must be a boolean');
        }
        if (key === 'project_id' && value !== undefined && typeof value !== 'string') throw new errors.InvalidClientMetadata('project_id must be a string');
        if (key === 'secret_hashes' && value !== undefined && !Array.isArray(value)) throw new errors.InvalidClientMetadata('secret_hashes must be a list');
      },
    },
    enabledJWA: {
      idTokenSigningAlgValues: ['ES256', 'EdDSA', 'RS256', 'PS256'],
    },
    pkce: {
      // PKCE with S256 for every authorization-code client, confidential ones too (RFC 9700 §2.1.1).
      required: () => true,
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // RFC 7662 §4: a public client may introspect only its own tokens; an authenticated client of the
        // configuration file (a resource server) any token. A client registered at run time belongs to one
        // project's team: it sees only its own tokens, never another project's.
        allowedPolicy: async (ctx, client, token) => (client.clientAuthMethod !== 'none' && !projectOfClient(client)) || token.clientId === ctx.oidc.client?.clientId,
      },
      revocation: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
      },
      userinfo: { enabled: true },
      rpInitiatedLogout: { enabled: true, logoutSource: deps.logoutSource, postLogoutSuccessSource: deps.postLogoutSuccessSource },
      resourceIndicators: {
        enabled: true,
        async defaultResource(ctx, client, oneOf) {
          if (oneOf) return oneOf;
          const params = ctx.oidc.params as Record<string, unknown>;
          if (ctx.oidc.route === 'token' && params.grant_type === 'client_credentials') {
            // RFC 6749 §3.3: without a scope the server uses a documented default, here every scope the
            // client was given.
            if (!params.scope && client.scope) params.scope = client.scope;
            return audience;
          }
          // An access token is for the log API as soon as any of its scopes is asked for; a request for
          // OpenID scopes alone gets an opaque token for /me.
          const requested = typeof params.scope === 'string' ? params.scope.split(' ') : [];
          return requested.some((s) => resourceScopes.has(s)) ? audience : undefined;
        },
        useGrantedResource: async () => true,
        async getResourceServerInfo(ctx, resource, client) {
          if (resource !== audience) throw new errors.InvalidTarget(`unknown resource; this server issues tokens for ${audience}`);
          const params = ctx.oidc.params as Record<string, unknown>;
          if (ctx.oidc.route === 'token' && params.grant_type === 'client_credentials' && typeof params.scope === 'string') {
            const allowed = new Set((client.scope ?? '').split(' '));
            const refused = params.scope.split(' ').filter((s) => s && (!allowed.has(s) || !resourceScopes.has(s)));
            if (refused.length) throw new errors.InvalidScope('requested scope is not allowed', refused.join(' '));
          }
          // A person's token holds only what their roles allow (viewer: read:logs; member: + write:alerts;
          // admin, owner: + admin:projects), whatever the client asked for. The grant records what was
          // asked (authorization), each token what the roles allow at that moment (token endpoint), so a
          // role change shows in the next refresh, upwards as well as downwards.
          const accountId = accountOf(ctx);
          let scope = config.resource.scopes;
          if (accountId && deps.access && ctx.oidc.route === 'token') {
            const project = projectOfClient(client);
            const allowed = project && deps.access.scopesOnProject ? await deps.access.scopesOnProject(accountId, project) : deps.access.scopesOf(await deps.access.rolesOf(accountId));
            scope = scope.filter((s) => allowed.has(s));
          }
          return {
            scope: scope.join(' '),
            audience,
            accessTokenTTL: config.tokens.access_token_ttl,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: signingAlg } },
          };
        },
      },
    },
    async findAccount(ctx, sub, token) {
      const user = await users.findById(sub);
      if (!user || user.disabled) return undefined;
      // A session or token that began before the account's sessions were ended (it was disabled) stays
      // void once the account is enabled again: refresh tokens and codes by the authentication behind
      // them, the browser session by its login time.
      const session = token ? undefined : ctx?.oidc?.session;
      const began = token ? (('authTime' in token ? token.authTime : undefined) ?? token.iat) : session?.accountId === sub ? session.loginTs : undefined;
      if (began !== undefined && sessionEnded(user, began)) return undefined;
      if (deps.checkUpstream && ctx?.oidc?.route === 'token' && (ctx.oidc.params as Record<string, unknown> | undefined)?.grant_type === 'refresh_token') {
        const upstream = await deps.checkUpstream(user.id);
        if (upstream === 'gone') return undefined;
        if (upstream === 'unavailable') {
          const error = new errors.OIDCProviderError(503, 'temporarily_unavailable');
          error.error_description = 'the upstream identity provider could not confirm the account; try again shortly';
          error.expose = true;
          throw error;
        }
      }
      return {
        accountId: user.id,
        async claims() {
          return {
            sub: user.id,
            email: user.email,
            email_verified: user.email_verified,
            ...(user.name ? { name: user.name } : {}),
            updated_at: Math.floor(Date.parse(user.updated_at) / 1000),
            ...(deps.access ? { project_roles: await deps.access.rolesOf(user.id) } : {}),
          };
        },
      };
    },
    async loadExistingGrant(ctx: KoaContextWithOIDC) {
      const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session?.grantIdFor(ctx.oidc.client!.clientId);
      return grantId ? ctx.oidc.provider.Grant.find(grantId) : undefined;
    },
    async issueRefreshToken(_ctx, client, code) {
      return client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access');
    },
    // RFC 9700 §4.14.2: rotate on every use; a replayed rotated token ends the grant (oidc-provider
    // revokes it); `refresh_token_reuse_interval` is handled in the adapter.
    rotateRefreshToken: true,
    // Claims of an API-key exchange (src/oidc/token-exchange.ts): which key, which project.
    async extraTokenClaims(ctx, token) {
      const key = exchangedKeyOf(token);
      if (key) return { project_id: key.project_id, api_key_id: key.key_id, environment: key.environment };
      // A registered client's tokens say its project, so the log API knows it offline.
      const client = ctx?.oidc?.client;
      const projectId = client && client.clientId === token.clientId ? projectOfClient(client) : undefined;
      const project = projectId ? { project_id: projectId } : {};
      const accountId = 'accountId' in token ? token.accountId : undefined;
      if (typeof accountId !== 'string') return projectId ? project : undefined;
      // How the person authenticated (RFC 8176 amr, acr), so the log API can require MFA too.
      const source = ctx?.oidc?.entities.AuthorizationCode ?? ctx?.oidc?.entities.RefreshToken;
      return {
        ...project,
        ...(deps.access ? { project_roles: await deps.access.rolesOf(accountId) } : {}),
        ...(source?.amr ? { amr: source.amr } : {}),
        ...(source?.acr ? { acr: source.acr } : {}),
      };
    },
    formats: {
      customizers: {
        async jwt(_ctx, token, jwt) {
          const key = exchangedKeyOf(token);
          if (key) jwt.payload.sub = key.key_id;
        },
      },
    },
    ttl: {
      AccessToken: config.tokens.access_token_ttl,
      // An exchanged API key's token never outlives the key.
      ClientCredentials: (_ctx, token) => {
        const key = exchangedKeyOf(token);
        const ttl = config.tokens.access_token_ttl;
        return key ? Math.max(1, Math.min(ttl, Math.floor((Date.parse(key.expires_at) - Date.now()) / 1000))) : ttl;
      },
      AuthorizationCode: config.tokens.authorization_code_ttl,
      IdToken: config.tokens.id_token_ttl,
      RefreshToken: config.tokens.refresh_token_ttl,
      // The grant holds the consent that refresh tokens live on: an absolute ceiling of a year.
      Grant: Math.max(config.tokens.refresh_token_ttl, 365 * 24 * 3600),
      Interaction: 3600,
      Session: config.tokens.session_ttl,
    },
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
      policy: interactionPolicyWithVoidSessions(),
    },
    renderError: deps.renderError,
    routes: {
      authorization: '/auth',
      token: '/token',
      jwks: '/jwks',
      userinfo: '/me',
      introspection: '/token/introspection',
      revocation: '/token/revocation',
      end_session: '/session/end',
      pushed_authorization_request: '/request',
    },
  };

  const provider = new Provider(config.issuer, configuration);
  // The forwarded headers it reads were rewritten to the trusted values by http/koa-client-address.ts.
  provider.proxy = config.trust_proxy !== false && config.trust_proxy !== 0;
  if (deps.registeredClients) installHashedSecretCheck(provider);
  if (deps.apiKeys) {
    registerTokenExchange(provider, {
      audience,
      resourceScopes: config.resource.scopes,
      accessTokenTtl: config.tokens.access_token_ttl,
      signingAlg,
      ...deps.apiKeys,
    });
  }
  return provider;
}

/** The adapter's view of registered clients: records become oidc-provider metadata (secret hashes, no secret). */
function registeredClientAdapter(clients: NonNullable<ProviderDeps['registeredClients']>): NonNullable<Parameters<typeof createAdapterFactory>[1]['registeredClients']> {
  return {
    async find(id) {
      const record = await clients.find(id);
      return record ? (registeredClientMetadata(record) as AdapterPayload) : undefined;
    },
    grantSaved: (clientId, grantId) => clients.grantSaved(clientId, grantId),
  };
}
