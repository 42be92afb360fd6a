/**
 * VK ID connector: OAuth 2.1 at id.vk.com with mandatory PKCE (`code_challenge_method=s256`, lower-case as VK
 * documents). The callback carries `device_id`, which the token call needs; the token reply echoes our
 * `state`. The person is identified over the back channel (`/oauth2/user_info`): VK publishes no JWKS for
 * its id_token. VK asserts nothing about emails or authentication methods: emails are unverified unless
 * `trust_email`, and it cannot prove MFA. The legacy oauth.vk.com flow is not used.
 */
import { z } from 'zod';
import {
  CALLBACK_URLS,
  CLIENT_FIELDS,
  checkCallback,
  clientIdSchema,
  commonFields,
  expectReply,
  expiresAt,
  expiresInSchema,
  httpUrl,
  pkcePair,
  postForm,
  resolveEmailVerified,
  transactionValue,
} from './oidc.ts';
import { ConnectorError, type ConnectorCommon, type ConnectorDeps, type ConnectorType, type Identity, type RedirectConnector } from './types.ts';

export const vkConfig = z.object({
  client_id: clientIdSchema,
  /** VK ID public apps have none; when given it is sent in the token form. */
  client_secret: z.string().min(1).optional(),
  scopes: z.array(z.string().min(1)).default(['email']),
  endpoints: z
    .object({
      authorization: httpUrl.default('https://id.vk.com/authorize'),
      token: httpUrl.default('https://id.vk.com/oauth2/auth'),
      userinfo: httpUrl.default('https://id.vk.com/oauth2/user_info'),
    })
    .prefault({}),
});
type VkConfig = z.output<typeof vkConfig>;

export const vkConnector: ConnectorType<typeof vkConfig> = {
  type: 'vk',
  names: { en: 'VK ID', ru: 'VK ID' },
  logo: 'VK',
  configSchema: vkConfig,
  canProveMfa: false,
  secretFields: [{ path: 'client_secret', destinations: ['endpoints'] }],
  form: { urls: CALLBACK_URLS, sections: [{ fields: CLIENT_FIELDS }], emailDomains: true },
  upstream: (config) => config.endpoints.userinfo,
  create(config, deps): RedirectConnector {
    return createVkConnector(config, deps);
  },
};

const userIdSchema = z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative().transform(String)]);

const tokenSchema = z.object({
  access_token: z.string().min(1),
  refresh_token: z.string().min(1).optional(),
  token_type: z.string().optional(),
  expires_in: expiresInSchema.optional(),
  user_id: userIdSchema.optional(),
  state: z.string().optional(),
  scope: z.string().optional(),
});

const nonEmpty = z.string().min(1).optional().catch(undefined);
const userInfoSchema = z.object({
  user: z.object({
    user_id: userIdSchema,
    first_name: nonEmpty,
    last_name: nonEmpty,
    email: nonEmpty,
  }),
});

function createVkConnector(config: VkConfig & ConnectorCommon, deps: ConnectorDeps): RedirectConnector {
  const label = `vk connector "${config.id}"`;
  return {
    ...commonFields(config),
    kind: 'redirect',
    trustsIssuer: (issuer) => issuer === config.endpoints.userinfo,

    async begin({ redirectUri, state }) {
      const pkce = pkcePair();
      const url = new URL(config.endpoints.authorization);
      url.searchParams.set('response_type', 'code');
      url.searchParams.set('client_id', config.client_id);
      url.searchParams.set('redirect_uri', redirectUri);
      url.searchParams.set('state', state);
      url.searchParams.set('code_challenge', pkce.challenge);
      url.searchParams.set('code_challenge_method', 's256');
      url.searchParams.set('scope', config.scopes.join(' '));
      return { url: url.toString(), transaction: { state, code_verifier: pkce.verifier } };
    },

    async complete({ redirectUri, query, transaction }): Promise<Identity> {
      const code = checkCallback(label, query, transaction);
      const codeVerifier = transactionValue(label, transaction, 'code_verifier');
      const deviceId = query.get('device_id');
      if (!deviceId) throw new ConnectorError('upstream_error', `${label}: callback without device_id`);

      const tokenWhat = `${label}: token`;
      const form: Record<string, string> = {
        grant_type: 'authorization_code',
        code,
        code_verifier: codeVerifier,
        client_id: config.client_id,
        device_id: deviceId,
        redirect_uri: redirectUri,
        state: transaction.state ?? '',
      };
      if (config.client_secret !== undefined) form.client_secret = config.client_secret;
      const tokens = expectReply(tokenWhat, await postForm(deps.fetch, tokenWhat, config.endpoints.token, form), tokenSchema);
      if (tokens.state !== transaction.state) throw new ConnectorError('upstream_error', `${tokenWhat}: the reply does not echo our state`);

      const infoWhat = `${label}: user_info`;
      const infoReply = await postForm(deps.fetch, infoWhat, config.endpoints.userinfo, { client_id: config.client_id, access_token: tokens.access_token });
      const { user } = expectReply(infoWhat, infoReply, userInfoSchema);
      if (tokens.user_id !== undefined && tokens.user_id !== user.user_id) {
        throw new ConnectorError('upstream_error', `${infoWhat}: user_info is for another user than the token`);
      }

      const email = user.email ?? null;
      const name = [user.first_name, user.last_name].filter((part) => part !== undefined).join(' ');
      return {
        connector_id: config.id,
        subject: user.user_id,
        // The endpoint that told us who this is (the token endpoint only hands out the access token).
        issuer: config.endpoints.userinfo,
        email,
        // VK makes no assertion about the email (`verified` is a profile badge, not an email flag): only
        // trust_email counts it, and only a well-formed address.
        email_verified: resolveEmailVerified(email, undefined, config.trust_email),
        name: name === '' ? null : name,
        groups: [],
        amr: [],
        acr: null,
        // A VK refresh also needs device_id (and a state), which Identity.upstream has no place for.
        ...(tokens.refresh_token !== undefined ? { upstream: { refresh_token: tokens.refresh_token, access_token_expires_at: expiresAt(tokens.expires_in) } } : {}),
      };
    },
  };
}
