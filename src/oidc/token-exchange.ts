import type Provider from 'oidc-provider';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';

/**
 * RFC 8693 token exchange of an API key for a short JWT access token, so the log API can stay offline.
 * Only the built-in public client `logtrace-api-key` may use it; it exists for nothing else.
 */
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const API_KEY_TOKEN_TYPE = 'urn:logtrace:params:oauth:token-type:api-key';
export const API_KEY_CLIENT_ID = 'logtrace-api-key';

type ApiKeyCheck =
  | { valid: true; key_id: string; project_id: string; scopes: string[]; environment: string; expires_at: string }
  | { valid: false; code: string };

export interface ExchangeDeps {
  audience: string;
  resourceScopes: string[];
  accessTokenTtl: number;
  signingAlg: string;
  verifyApiKey(key: string, ip: string): Promise<ApiKeyCheck>;
  /** The access policy's rule: the token's scopes are the key's, narrowed to those asked for. */
  exchangeScopes(keyScopes: readonly string[], requested: readonly string[] | undefined): { scopes: string[]; refused: string[] };
  onExchange(event: { ok: boolean; key_id: string | null; project_id: string | null; client_ip: string; code?: string }): Promise<void>;
}

/** What an exchanged token carries beyond RFC 9068's claims; read by extraTokenClaims and the JWT customizer. */
interface ExchangedKey {
  key_id: string;
  project_id: string;
  environment: string;
  expires_at: string;
}

const exchanged = new WeakMap<object, ExchangedKey>();

export function exchangedKeyOf(token: object): ExchangedKey | undefined {
  return exchanged.get(token);
}

export function registerTokenExchange(provider: Provider, deps: ExchangeDeps): void {
  const parameters = ['subject_token', 'subject_token_type', 'scope', 'resource', 'audience', 'requested_token_type'];
  provider.registerGrantType(
    TOKEN_EXCHANGE,
    async function tokenExchange(ctx: KoaContextWithOIDC) {
      const client = ctx.oidc.client!;
      if (client.clientId !== API_KEY_CLIENT_ID) throw new errors.UnauthorizedClient(`token exchange is offered only to the ${API_KEY_CLIENT_ID} client`);
      const params = ctx.oidc.params as Record<string, string | undefined>;
      if (!params.subject_token) throw new errors.InvalidRequest('missing required parameter subject_token');
      if (params.subject_token_type !== API_KEY_TOKEN_TYPE) throw new errors.InvalidRequest(`subject_token_type must be ${API_KEY_TOKEN_TYPE}`);
      if (params.requested_token_type && params.requested_token_type !== 'urn:ietf:params:oauth:token-type:access_token') {
        throw new errors.InvalidRequest('only access tokens can be requested');
      }
      if (params.resource && params.resource !== deps.audience) throw new errors.InvalidTarget(`this server issues tokens for ${deps.audience}`);

      const result = await deps.verifyApiKey(params.subject_token, ctx.ip);
      if (!result.valid) {
        await deps.onExchange({ ok: false, key_id: null, project_id: null, client_ip: ctx.ip, code: result.code });
        throw new errors.InvalidGrant(`the API key is not valid (${result.code})`);
      }
      const held = result.scopes.filter((s) => deps.resourceScopes.includes(s));
      const { scopes, refused } = deps.exchangeScopes(held, params.scope ? params.scope.split(' ').filter(Boolean) : undefined);
      if (refused.length) throw new errors.InvalidScope('the API key does not hold the requested scope', refused.join(' '));

      const token = new ctx.oidc.provider.ClientCredentials({ client, scope: scopes.join(' ') || undefined });
      token.resourceServer = new ctx.oidc.provider.ResourceServer(deps.audience, {
        scope: deps.resourceScopes.join(' '),
        audience: deps.audience,
        accessTokenTTL: deps.accessTokenTtl,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: deps.signingAlg as 'ES256' } },
      });
      exchanged.set(token, { key_id: result.key_id, project_id: result.project_id, environment: result.environment, expires_at: result.expires_at });
      ctx.oidc.entity('ClientCredentials', token);
      const value = await token.save();
      await deps.onExchange({ ok: true, key_id: result.key_id, project_id: result.project_id, client_ip: ctx.ip });

      ctx.body = {
        access_token: value,
        issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        token_type: 'Bearer',
        expires_in: token.expiration,
        scope: token.scope,
      };
    },
    parameters,
  );
}
