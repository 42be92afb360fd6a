/**
 * Yandex ID connector: plain OAuth 2.0 (no id_token, no discovery), PKCE S256, HTTP Basic client
 * authentication, user info from `login.yandex.ru/info` with the `Authorization: OAuth <token>` scheme.
 * Yandex asserts no authentication methods, so it cannot prove MFA.
 */
import { z } from 'zod';
import {
  CALLBACK_URLS,
  CLIENT_FIELDS,
  basicAuthorization,
  checkCallback,
  clientIdSchema,
  commonFields,
  expectReply,
  expiresInSchema,
  httpUrl,
  pkcePair,
  postForm,
  resolveEmailVerified,
  sendUpstream,
  transactionValue,
} from './oidc.ts';
import type { ConnectorCommon, ConnectorDeps, ConnectorType, Identity, RedirectConnector } from './types.ts';

export const yandexConfig = z.object({
  client_id: clientIdSchema,
  client_secret: z.string().min(1),
  scopes: z.array(z.string().min(1)).default(['login:info', 'login:email']),
  endpoints: z
    .object({
      authorization: httpUrl.default('https://oauth.yandex.ru/authorize'),
      token: httpUrl.default('https://oauth.yandex.ru/token'),
      userinfo: httpUrl.default('https://login.yandex.ru/info'),
    })
    .prefault({}),
  /** Ask the person to confirm access even when they granted it before. */
  force_confirm: z.boolean().optional(),
});
type YandexConfig = z.output<typeof yandexConfig>;

export const yandexConnector: ConnectorType<typeof yandexConfig> = {
  type: 'yandex',
  names: { en: 'Яндекс ID', ru: 'Яндекс ID' },
  logo: 'Я',
  configSchema: yandexConfig,
  canProveMfa: false,
  secretFields: [{ path: 'client_secret', destinations: ['endpoints'] }],
  form: { urls: CALLBACK_URLS, sections: [{ fields: CLIENT_FIELDS }], emailDomains: true },
  upstream: (config) => config.endpoints.userinfo,
  create(config, deps): RedirectConnector {
    return createYandexConnector(config, deps);
  },
};

const tokenSchema = z.object({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  expires_in: expiresInSchema.optional(),
  refresh_token: z.string().optional(),
});

const nonEmpty = z.string().min(1).optional().catch(undefined);
const userInfoSchema = z.object({
  /** Stable subject; a string in Yandex's replies (accept a number too). */
  id: z.union([z.string().min(1), z.number().int().transform(String)]),
  login: nonEmpty,
  default_email: nonEmpty,
  emails: z.array(z.string()).optional().catch(undefined),
  display_name: nonEmpty,
  real_name: nonEmpty,
});

function createYandexConnector(config: YandexConfig & ConnectorCommon, deps: ConnectorDeps): RedirectConnector {
  const label = `yandex connector "${config.id}"`;
  return {
    ...commonFields(config),
    kind: 'redirect',
    trustsIssuer: (issuer) => issuer === config.endpoints.userinfo,

    async begin({ redirectUri, state, loginHint }) {
      const pkce = pkcePair();
      const url = new URL(config.endpoints.authorization);
      const params: Record<string, string | undefined> = {
        response_type: 'code',
        client_id: config.client_id,
        redirect_uri: redirectUri,
        scope: config.scopes.join(' '),
        state,
        code_challenge: pkce.challenge,
        code_challenge_method: 'S256',
        login_hint: loginHint,
        force_confirm: config.force_confirm ? 'yes' : undefined,
      };
      for (const [key, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(key, value);
      return { url: url.toString(), transaction: { state, code_verifier: pkce.verifier } };
    },

    async complete({ query, transaction }): Promise<Identity> {
      const code = checkCallback(label, query, transaction);
      const codeVerifier = transactionValue(label, transaction, 'code_verifier');

      const tokenWhat = `${label}: token`;
      const tokenReply = await postForm(
        deps.fetch,
        tokenWhat,
        config.endpoints.token,
        { grant_type: 'authorization_code', code, code_verifier: codeVerifier },
        { authorization: basicAuthorization(config.client_id, config.client_secret) },
      );
      const tokens = expectReply(tokenWhat, tokenReply, tokenSchema);

      const infoWhat = `${label}: user info`;
      const infoUrl = new URL(config.endpoints.userinfo);
      infoUrl.searchParams.set('format', 'json');
      // Yandex's own scheme: `OAuth <token>`, not `Bearer`.
      const infoReply = await sendUpstream(deps.fetch, infoWhat, infoUrl, { headers: { authorization: `OAuth ${tokens.access_token}`, accept: 'application/json' } });
      const info = expectReply(infoWhat, infoReply, userInfoSchema);

      // default_email is the account's own address (commonly treated as verified); other addresses are not vouched for.
      const fallbackEmail = info.emails?.find((address) => address !== '');
      const email = info.default_email ?? fallbackEmail ?? null;
      return {
        connector_id: config.id,
        subject: info.id,
        // The endpoint that told us who this is (the token endpoint only hands out the access token).
        issuer: config.endpoints.userinfo,
        email,
        email_verified: resolveEmailVerified(email, info.default_email !== undefined, config.trust_email),
        name: info.display_name ?? info.real_name ?? info.login ?? null,
        groups: [],
        amr: [],
        acr: null,
      };
    },
  };
}
