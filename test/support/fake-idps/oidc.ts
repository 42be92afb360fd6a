/**
 * A real OpenID Provider as upstream: a second `oidc-provider` instance on a free port, with one confidential
 * client for us and an interaction that signs in without UI as whoever the test chose for the next sign-in
 * (claims, amr, acr), grants consent, or refuses (access_denied).
 *
 * Tests can also re-sign the next id_token with changed claims (another audience, expired, other issuer…)
 * with the provider's own key, and revoke refresh tokens through the real revocation endpoint.
 */
import { createServer } from 'node:http';
import { decodeJwt, type JWTPayload } from 'jose';
import Provider, { type Configuration, type InteractionResults } from 'oidc-provider';
import { freePort } from '../ports.ts';
import { randomId, signingKey } from './http.ts';

export interface FakeOidcSignIn {
  accountId: string;
  /** Claims findAccount returns (filtered by oidc-provider per scope: email, email_verified, name, groups…). */
  claims: Record<string, unknown>;
  amr?: string[];
  acr?: string;
}

export interface FakeOidcOptions {
  redirectUris: string[];
  clientId?: string;
  clientSecret?: string;
  tokenEndpointAuthMethod?: 'client_secret_basic' | 'client_secret_post';
  /** oidc-provider's default (true) keeps scope claims out of the id_token of a code flow: we must use userinfo. */
  conformIdTokenClaims?: boolean;
  acrValues?: string[];
}

export interface FakeOidc {
  /** The issuer (also the base URL). */
  url: string;
  clientId: string;
  clientSecret: string;
  /** Who the next sign-in (interaction) is. */
  nextSignIn(signIn: FakeOidcSignIn): void;
  /** The next interaction ends with error=access_denied. */
  denyNext(): void;
  /** The next id_token from /token is re-signed (same key) with `change(claims)`. */
  tamperNextIdToken(change: (claims: JWTPayload) => JWTPayload): void;
  /** Revokes a refresh token at the revocation endpoint (RFC 7009) as our client. */
  revoke(token: string): Promise<void>;
  /** Deletes the account upstream (an employee who left): its refresh tokens stop working. */
  forget(accountId: string): void;
  /** How many requests reached `path` (e.g. '/me' for userinfo). */
  hits(path: string): number;
  close(): Promise<void>;
}

export async function startFakeOidc(options: FakeOidcOptions): Promise<FakeOidc> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const clientId = options.clientId ?? 'logtrace';
  const clientSecret = options.clientSecret ?? `secret-${randomId()}`;
  const key = await signingKey();

  const accounts = new Map<string, FakeOidcSignIn>();
  let next: FakeOidcSignIn | undefined;
  let deny = false;
  let tamper: ((claims: JWTPayload) => JWTPayload) | undefined;
  const counts = new Map<string, number>();

  const configuration: Configuration = {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: options.redirectUris,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: options.tokenEndpointAuthMethod ?? 'client_secret_basic',
      },
    ],
    jwks: { keys: [key.privateJwk] },
    cookies: { keys: [randomId()] },
    claims: {
      // Like Keycloak, always put the session's acr/amr into id_tokens (oidc-provider's default only does
      // so when the client asks for them in the claims parameter).
      openid: ['sub', 'acr', 'amr'],
      auth_time: null,
      sid: null,
      iss: null,
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name'],
      groups: ['groups'],
    },
    scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
    acrValues: options.acrValues ?? [],
    conformIdTokenClaims: options.conformIdTokenClaims ?? true,
    pkce: { required: () => true },
    ttl: { AccessToken: 3600, AuthorizationCode: 60, IdToken: 3600, RefreshToken: 86_400, Interaction: 600, Session: 3600, Grant: 86_400 },
    features: {
      devInteractions: { enabled: false },
      claimsParameter: { enabled: true },
      // Our client may revoke only its own tokens.
      revocation: { enabled: true, allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId },
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount(_ctx, sub) {
      const account = accounts.get(sub);
      if (!account) return undefined;
      return { accountId: sub, claims: () => ({ ...account.claims, sub }) };
    },
    renderError(ctx, out) {
      ctx.type = 'json';
      ctx.body = out;
    },
  };
  const provider = new Provider(url, configuration);

  provider.use(async (ctx, nextMiddleware) => {
    counts.set(ctx.path, (counts.get(ctx.path) ?? 0) + 1);
    const interaction = /^\/interaction\/[^/]+$/.exec(ctx.path);
    if (interaction && ctx.method === 'GET') {
      const details = await provider.interactionDetails(ctx.req, ctx.res);
      let result: InteractionResults;
      let merge = true;
      if (deny) {
        deny = false;
        result = { error: 'access_denied', error_description: 'End-User aborted interaction' };
        merge = false;
      } else if (details.prompt.name === 'login') {
        if (!next) throw new Error('fake oidc: nextSignIn() was not called');
        const signIn = next;
        accounts.set(signIn.accountId, signIn);
        result = { login: { accountId: signIn.accountId, amr: signIn.amr, acr: signIn.acr, remember: false } };
        merge = false;
      } else {
        const accountId = details.session?.accountId;
        const clientOfInteraction = details.params.client_id;
        if (typeof accountId !== 'string' || typeof clientOfInteraction !== 'string') throw new Error('fake oidc: consent without session');
        const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId, clientId: clientOfInteraction });
        if (!grant) throw new Error('fake oidc: grant not found');
        const missing = details.prompt.details;
        if (Array.isArray(missing.missingOIDCScope)) grant.addOIDCScope(missing.missingOIDCScope.filter((s): s is string => typeof s === 'string'));
        if (Array.isArray(missing.missingOIDCClaims)) grant.addOIDCClaims(missing.missingOIDCClaims.filter((c): c is string => typeof c === 'string'));
        result = { consent: { grantId: await grant.save() } };
      }
      ctx.redirect(await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge }));
      return;
    }
    await nextMiddleware();
    const body: unknown = ctx.body;
    if (ctx.path === '/token' && ctx.status === 200 && tamper && typeof body === 'object' && body !== null && 'id_token' in body && typeof body.id_token === 'string') {
      const change = tamper;
      tamper = undefined;
      ctx.body = { ...body, id_token: await key.sign(change(decodeJwt(body.id_token))) };
    }
  });

  const server = createServer(provider.callback());
  // Longer than any client's idle keep-alive: otherwise the server may close an idle socket just as fetch
  // reuses it, and the request fails with ECONNRESET (a race that shows on a loaded machine).
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));

  return {
    url,
    clientId,
    clientSecret,
    forget(accountId) {
      accounts.delete(accountId);
    },
    nextSignIn(signIn) {
      next = signIn;
    },
    denyNext() {
      deny = true;
    },
    tamperNextIdToken(change) {
      tamper = change;
    },
    async revoke(token) {
      const response = await fetch(`${url}/token/revocation`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`,
        },
        body: new URLSearchParams({ token, token_type_hint: 'refresh_token' }).toString(),
      });
      if (response.status !== 200) throw new Error(`fake oidc: revocation answered ${response.status}`);
    },
    hits(path) {
      return counts.get(path) ?? 0;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
