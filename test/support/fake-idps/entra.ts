/**
 * A fake Microsoft Entra ID (v2.0 endpoints) plus the one Microsoft Graph call the connector makes.
 *
 * - `GET /{tenant}/v2.0/.well-known/openid-configuration`: a GUID tenant names its own issuer;
 *   `organizations`/`common` name the template `{base}/{tenantid}/v2.0`, `consumers` the MSA tenant.
 * - `GET /{tenant}/discovery/v2.0/keys`: the JWKS.
 * - `GET /{tenant}/oauth2/v2.0/authorize`: auto-approves as the user chosen for the next sign-in and redirects
 *   with `code`, `state`, `session_state` (or `error=access_denied`). Honours an essential `acrs` claims request
 *   when the user satisfies that authentication context.
 * - `POST /{tenant}/oauth2/v2.0/token`: checks client secret (body or Basic), code, redirect_uri and the PKCE
 *   verifier, answering AADSTS-style OAuth errors; returns id_token (RS256) + an opaque Graph access token.
 * - `POST /v1.0/me/getMemberObjects` (bearer = that access token) with `{"securityEnabledOnly": true}`,
 *   paged with `@odata.nextLink` (GET) when `graphPageSize` is set.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JWTPayload } from 'jose';
import { clientCredentials, json, listen, nowSeconds, randomId, readBody, readForm, redirect, s256, signingKey, withParams } from './http.ts';

export const CONSUMERS_TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';

export interface EntraUser {
  tid: string;
  oid: string;
  name?: string;
  preferred_username?: string;
  email?: string;
  /** In the token as `groups`, unless `overage` (then `_claim_names`/`_claim_sources` and Graph answers them). */
  groups?: string[];
  overage?: boolean;
  xms_edov?: boolean;
  /** Authentication contexts (c1…) this sign-in satisfies; put into `acrs` when requested as essential. */
  authContexts?: string[];
}

export interface FakeEntraOptions {
  clientId?: string;
  clientSecret?: string;
  /** Members per Graph page (default: all in one page). */
  graphPageSize?: number;
}

export interface FakeEntra {
  /** The authority (and Graph base) URL. */
  url: string;
  clientId: string;
  clientSecret: string;
  nextSignIn(user: EntraUser): void;
  denyNext(): void;
  tamperNextIdToken(change: (claims: JWTPayload) => JWTPayload): void;
  /** Authorization requests seen, newest last (their query parameters). */
  authorizeRequests: URLSearchParams[];
  graphCalls(): number;
  close(): Promise<void>;
}

interface PendingCode {
  clientId: string;
  redirectUri: string;
  challenge: string;
  method: string;
  nonce: string | null;
  scope: string;
  user: EntraUser;
  acrs: string[];
}

const aadError = (res: ServerResponse, status: number, error: string, code: number, description: string): void =>
  json(res, status, {
    error,
    error_description: `AADSTS${code}: ${description} Trace ID: ${randomId(8)} Correlation ID: ${randomId(8)} Timestamp: ${new Date().toISOString()}`,
    error_codes: [code],
    timestamp: new Date().toISOString(),
  });

export async function startFakeEntra(options: FakeEntraOptions = {}): Promise<FakeEntra> {
  const clientId = options.clientId ?? '6731de76-14a6-49ae-97bc-6eba6914391e';
  const clientSecret = options.clientSecret ?? `entra~${randomId()}`;
  const key = await signingKey();
  const codes = new Map<string, PendingCode>();
  const accessTokens = new Map<string, EntraUser>();
  let next: EntraUser | undefined;
  let deny = false;
  let tamper: ((claims: JWTPayload) => JWTPayload) | undefined;
  let graphCalls = 0;
  const authorizeRequests: URLSearchParams[] = [];
  let base = '';

  const issuerFor = (tenant: string): string => {
    if (tenant === 'organizations' || tenant === 'common') return `${base}/{tenantid}/v2.0`;
    if (tenant === 'consumers') return `${base}/${CONSUMERS_TENANT}/v2.0`;
    return `${base}/${tenant}/v2.0`;
  };

  function authorize(res: ServerResponse, url: URL, tenant: string): void {
    const q = url.searchParams;
    authorizeRequests.push(new URLSearchParams(q));
    const redirectUri = q.get('redirect_uri');
    if (q.get('client_id') !== clientId || !redirectUri) {
      json(res, 400, { error: 'invalid_request', error_description: 'AADSTS700016: Application not found in the directory.' });
      return;
    }
    const state = q.get('state') ?? '';
    if (deny) {
      deny = false;
      redirect(res, withParams(redirectUri, { error: 'access_denied', error_description: 'AADSTS65004: User declined to consent to access the app.', state }));
      return;
    }
    const challenge = q.get('code_challenge');
    if (q.get('response_type') !== 'code' || !challenge) {
      redirect(res, withParams(redirectUri, { error: 'invalid_request', error_description: 'AADSTS900144: The request body must contain code_challenge.', state }));
      return;
    }
    if (!next) throw new Error('fake entra: nextSignIn() was not called');
    const user = next;
    if (tenant !== 'organizations' && tenant !== 'common' && tenant !== 'consumers' && tenant !== user.tid) {
      throw new Error(`fake entra: user of tenant ${user.tid} signing in at tenant ${tenant}`);
    }
    let acrs: string[] = [];
    const claimsParam = q.get('claims');
    if (claimsParam) {
      const requested: unknown = JSON.parse(claimsParam);
      const value = (requested as { id_token?: { acrs?: { essential?: boolean; value?: unknown } } }).id_token?.acrs?.value;
      if (typeof value === 'string' && (user.authContexts ?? []).includes(value)) acrs = [value];
    }
    const code = `1.AQ${randomId(32)}`;
    codes.set(code, {
      clientId,
      redirectUri,
      challenge,
      method: q.get('code_challenge_method') ?? 'plain',
      nonce: q.get('nonce'),
      scope: q.get('scope') ?? 'openid',
      user,
      acrs,
    });
    redirect(res, withParams(redirectUri, { code, state, session_state: randomId(12) }));
  }

  async function token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = await readForm(req);
    if (!form) {
      aadError(res, 400, 'invalid_request', 900144, "The request body must contain the following parameter: 'grant_type'.");
      return;
    }
    const client = clientCredentials(req, form);
    if (client.id !== clientId) {
      aadError(res, 400, 'unauthorized_client', 700016, `Application with identifier '${client.id ?? ''}' was not found in the directory.`);
      return;
    }
    if (client.secret !== clientSecret) {
      aadError(res, 401, 'invalid_client', 7000215, 'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.');
      return;
    }
    if (form.get('grant_type') !== 'authorization_code') {
      aadError(res, 400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
      return;
    }
    const code = form.get('code') ?? '';
    const pending = codes.get(code);
    codes.delete(code); // single use
    if (!pending) {
      aadError(res, 400, 'invalid_grant', 54005, 'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.');
      return;
    }
    if (form.get('redirect_uri') !== pending.redirectUri) {
      aadError(res, 400, 'invalid_grant', 500117, 'The reply uri specified in the request does not match the reply uri used in the authorization request.');
      return;
    }
    const verifier = form.get('code_verifier') ?? '';
    const expected = pending.method === 'S256' ? s256(verifier) : verifier;
    if (expected !== pending.challenge) {
      aadError(res, 400, 'invalid_grant', 501481, 'The Code_Verifier does not match the code_challenge supplied in the authorization request.');
      return;
    }
    const { user } = pending;
    const now = nowSeconds();
    let claims: JWTPayload = {
      aud: clientId,
      iss: `${base}/${user.tid}/v2.0`,
      iat: now,
      nbf: now,
      exp: now + 3600,
      ...(pending.nonce !== null ? { nonce: pending.nonce } : {}),
      sub: `pairwise-${user.oid.slice(0, 8)}`,
      oid: user.oid,
      tid: user.tid,
      ver: '2.0',
      ...(user.name !== undefined ? { name: user.name } : {}),
      ...(user.preferred_username !== undefined ? { preferred_username: user.preferred_username } : {}),
      ...(user.email !== undefined ? { email: user.email } : {}),
      ...(user.xms_edov !== undefined ? { xms_edov: user.xms_edov } : {}),
      ...(pending.acrs.length > 0 ? { acrs: pending.acrs } : {}),
    };
    if (user.groups !== undefined) {
      claims = user.overage
        ? { ...claims, _claim_names: { groups: 'src1' }, _claim_sources: { src1: { endpoint: `https://graph.windows.net/${user.tid}/users/${user.oid}/getMemberObjects` } } }
        : { ...claims, groups: user.groups };
    }
    if (tamper) {
      claims = tamper(claims);
      tamper = undefined;
    }
    const accessToken = `eyJ0eXAiOi.${randomId(32)}`;
    accessTokens.set(accessToken, user);
    json(res, 200, {
      token_type: 'Bearer',
      scope: `${pending.scope.split(' ').filter((s) => !['openid', 'profile', 'email', 'offline_access'].includes(s)).join(' ')} openid profile email User.Read`.trim(),
      expires_in: 4236,
      ext_expires_in: 4236,
      access_token: accessToken,
      id_token: await key.sign(claims),
    });
  }

  async function getMemberObjects(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    graphCalls += 1;
    const header = req.headers.authorization ?? '';
    const user = header.startsWith('Bearer ') ? accessTokens.get(header.slice(7)) : undefined;
    if (!user) {
      json(res, 401, { error: { code: 'InvalidAuthenticationToken', message: 'Access token validation failure. Invalid audience.' } });
      return;
    }
    let offset = 0;
    if (req.method === 'POST') {
      const body: unknown = JSON.parse((await readBody(req)) || 'null');
      if (typeof body !== 'object' || body === null || !('securityEnabledOnly' in body) || typeof body.securityEnabledOnly !== 'boolean') {
        json(res, 400, { error: { code: 'Request_BadRequest', message: "Invalid value specified for property 'securityEnabledOnly'." } });
        return;
      }
    } else {
      offset = Number(url.searchParams.get('$skiptoken') ?? 'NaN');
      if (!Number.isInteger(offset)) {
        json(res, 400, { error: { code: 'Request_BadRequest', message: 'Invalid skip token.' } });
        return;
      }
    }
    const all = user.groups ?? [];
    const size = options.graphPageSize ?? all.length;
    const page = all.slice(offset, offset + size);
    const more = offset + size < all.length;
    json(res, 200, {
      '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#Collection(Edm.String)',
      ...(more ? { '@odata.nextLink': `${base}/v1.0/me/getMemberObjects?$skiptoken=${offset + size}` } : {}),
      value: page,
    });
  }

  const server = await listen(async (req, res, url) => {
    if (url.pathname === '/v1.0/me/getMemberObjects' && (req.method === 'POST' || req.method === 'GET')) {
      await getMemberObjects(req, res, url);
      return;
    }
    const match = /^\/([^/]+)\/(v2\.0\/\.well-known\/openid-configuration|discovery\/v2\.0\/keys|oauth2\/v2\.0\/authorize|oauth2\/v2\.0\/token)$/.exec(url.pathname);
    const tenant = match?.[1];
    if (!match || tenant === undefined) {
      json(res, 404, { error: 'not_found' });
      return;
    }
    switch (match[2]) {
      case 'v2.0/.well-known/openid-configuration':
        json(res, 200, {
          token_endpoint: `${base}/${tenant}/oauth2/v2.0/token`,
          token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
          jwks_uri: `${base}/${tenant}/discovery/v2.0/keys`,
          response_modes_supported: ['query', 'fragment', 'form_post'],
          subject_types_supported: ['pairwise'],
          id_token_signing_alg_values_supported: ['RS256'],
          response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
          scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
          issuer: issuerFor(tenant),
          request_uri_parameter_supported: false,
          userinfo_endpoint: `${base}/oidc/userinfo`,
          authorization_endpoint: `${base}/${tenant}/oauth2/v2.0/authorize`,
          http_logout_supported: true,
          frontchannel_logout_supported: true,
          end_session_endpoint: `${base}/${tenant}/oauth2/v2.0/logout`,
          claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'acr', 'nonce', 'preferred_username', 'name', 'tid', 'ver', 'at_hash', 'c_hash', 'email'],
          tenant_region_scope: 'EU',
          cloud_instance_name: 'microsoftonline.com',
        });
        return;
      case 'discovery/v2.0/keys':
        json(res, 200, { keys: [{ ...key.publicJwk, issuer: issuerFor(tenant) }] });
        return;
      case 'oauth2/v2.0/authorize':
        authorize(res, url, tenant);
        return;
      default:
        if (req.method !== 'POST') {
          json(res, 405, { error: 'invalid_request' });
          return;
        }
        await token(req, res);
    }
  });
  base = server.url;

  return {
    url: server.url,
    clientId,
    clientSecret,
    nextSignIn(user) {
      next = user;
    },
    denyNext() {
      deny = true;
    },
    tamperNextIdToken(change) {
      tamper = change;
    },
    authorizeRequests,
    graphCalls: () => graphCalls,
    close: server.close,
  };
}
