/**
 * Microsoft Entra ID (v2.0 endpoints) connector.
 *
 * What sets it apart from generic OIDC:
 * - Multi-tenant (`organizations`, `common`) discovery names the issuer as a template
 *   `{authority}/{tenantid}/v2.0`: the token's `tid` (a GUID) is substituted and `iss` must match exactly,
 *   then the tenant allow-list applies. Issuer validation is never skipped.
 * - People are `tid` + `oid` (`sub` is pairwise per app); `email` is mutable and only counts as verified for a
 *   single-tenant connector or with the `xms_edov` optional claim.
 * - Group overage: above 200 groups the token carries `_claim_names.groups` instead of `groups`; the ids come
 *   from Microsoft Graph `POST /v1.0/me/getMemberObjects`.
 * - v2.0 id_tokens carry no `amr`/`acr`: MFA is proven by a Conditional Access authentication context
 *   requested as an essential `acrs` claim and found in the token's `acrs`.
 * App roles (`roles` claim) are not mapped to groups.
 */
import { z } from 'zod';
import {
  CALLBACK_URLS,
  CLIENT_FIELDS,
  discoveryChecks,
  clientIdSchema,
  checkCallback,
  commonFields,
  createOidcCore,
  expectReply,
  httpUrl,
  parseClaims,
  pkcePair,
  randomToken,
  resolveEmailVerified,
  sendUpstream,
  stringListSchema,
  tokenResponseSchema,
  transactionValue,
} from './oidc.ts';
import { ConnectorError, type ConnectionCheck, type SettingsProbe, type ConnectorCommon, type ConnectorDeps, type ConnectorType, type Identity, type RedirectConnector } from './types.ts';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MULTI_TENANT = new Set(['organizations', 'common']);
/** The tenant of personal Microsoft accounts: the fixed issuer of the `consumers` endpoint. */
const CONSUMERS_TENANT_ID = '9188040d-6c67-4c5b-b112-36a304b66dad';
const EMAIL_LIKE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const GRAPH_MAX_PAGES = 50;

const guid = z.string().regex(GUID, 'not a tenant id (GUID)').transform((value) => value.toLowerCase());

export const entraConfig = z.object({
  tenant: z.union([guid, z.enum(['organizations', 'common', 'consumers'])]),
  client_id: clientIdSchema,
  client_secret: z.string().min(1),
  authority: httpUrl.default('https://login.microsoftonline.com').transform((value) => value.replace(/\/+$/, '')),
  /** Tenants whose people may sign in; required for `organizations`/`common` unless allow_all_tenants. */
  allowed_tenants: z.array(guid).default([]),
  allow_all_tenants: z.boolean().default(false),
  graph_url: httpUrl.default('https://graph.microsoft.com').transform((value) => value.replace(/\/+$/, '')),
  /** Conditional Access authentication context (c1…c99) that enforces MFA; needed for require_mfa. */
  mfa_auth_context: z.string().regex(/^c[1-9][0-9]?$/, 'an authentication context id, c1 to c99').optional(),
  scopes: z
    .array(z.string().min(1))
    .refine((scopes) => scopes.includes('openid'), 'scopes must include openid')
    .default(['openid', 'profile', 'email']),
});
type EntraConfig = z.output<typeof entraConfig>;

export const entraConnector: ConnectorType<typeof entraConfig> = {
  type: 'entra',
  names: { en: 'Microsoft Entra ID', ru: 'Microsoft Entra ID' },
  logo: '⊞',
  configSchema: entraConfig,
  canProveMfa: true,
  secretFields: [{ path: 'client_secret', destinations: ['authority'] }],
  form: {
    urls: CALLBACK_URLS,
    sections: [{
      fields: [
        ...CLIENT_FIELDS,
        { name: 'tenant', path: 'tenant', kind: 'text', label: 'dash.sso.field.tenant', hint: 'dash.sso.field.tenant_hint' },
        { name: 'allowed_tenants', path: 'allowed_tenants', kind: 'list', label: 'dash.sso.field.allowed_tenants', hint: 'dash.sso.field.allowed_tenants_hint' },
        { name: 'mfa_auth_context', path: 'mfa_auth_context', kind: 'optional', id: 'sso-mfa-context', label: 'dash.sso.field.mfa_context', hint: 'dash.sso.field.mfa_context_hint' },
      ],
    }],
    emailDomains: true,
  },
  testSettings(settings: Record<string, unknown>, probe: SettingsProbe): Promise<ConnectionCheck[]> {
    const authority = String(settings.authority ?? 'https://login.microsoftonline.com').replace(/\/$/, '');
    const tenant = String(settings.tenant);
    return discoveryChecks(probe, `${authority}/${tenant}/v2.0/.well-known/openid-configuration`, (found) => {
      const expected = /^[0-9a-f-]{36}$/i.test(tenant) ? `${authority}/${tenant}/v2.0` : `${authority}/{tenantid}/v2.0`;
      return found === expected ? null : `issuer mismatch: discovery says ${found || '(none)'}, expected ${expected}`;
    });
  },
  upstream: (config) => `${config.authority}/${config.tenant}/v2.0`,
  create(config, deps): RedirectConnector {
    return createEntraConnector(config, deps);
  },
};

const entraClaimsSchema = z.object({
  tid: z.string().regex(GUID),
  oid: z.string().min(1),
  email: z.string().min(1).optional().catch(undefined),
  preferred_username: z.string().min(1).optional().catch(undefined),
  name: z.string().min(1).optional().catch(undefined),
  groups: stringListSchema,
  /** Present instead of `groups` on overage (OIDC Core §5.6.2 distributed claims). */
  _claim_names: z.object({ groups: z.string() }).optional().catch(undefined),
  /** The implicit-flow overage signal. */
  hasgroups: z.literal(true).optional().catch(undefined),
  /** Optional claim: the email's domain is verified by the tenant. Booleans or "1"/"true" seen in practice. */
  xms_edov: z.union([z.boolean(), z.literal(1), z.literal(0), z.enum(['1', 'true', '0', 'false'])]).optional().catch(undefined),
  acrs: stringListSchema,
});

const memberObjectsSchema = z.object({
  value: z.array(z.string()),
  '@odata.nextLink': httpUrl.optional(),
});

function createEntraConnector(config: EntraConfig & ConnectorCommon, deps: ConnectorDeps): RedirectConnector {
  const label = `entra connector "${config.id}"`;
  const multiTenant = MULTI_TENANT.has(config.tenant);
  const singleTenant = GUID.test(config.tenant);
  if (config.require_mfa && config.mfa_auth_context === undefined) {
    throw new Error(`connector ${config.id}: require_mfa needs mfa_auth_context (a Conditional Access authentication context id such as c1 that requires MFA)`);
  }
  if (multiTenant && config.allowed_tenants.length === 0 && !config.allow_all_tenants) {
    throw new Error(`connector ${config.id}: tenant "${config.tenant}" admits every Entra tenant; list allowed_tenants or set allow_all_tenants: true`);
  }
  const expectedIssuer = multiTenant
    ? `${config.authority}/{tenantid}/v2.0`
    : `${config.authority}/${config.tenant === 'consumers' ? CONSUMERS_TENANT_ID : config.tenant}/v2.0`;

  const core = createOidcCore({
    label,
    discoveryUrl: `${config.authority}/${config.tenant}/v2.0/.well-known/openid-configuration`,
    checkDiscovery(discovery) {
      if (discovery.issuer !== expectedIssuer) {
        throw new ConnectorError('upstream_error', `${label}: discovered issuer ${JSON.stringify(discovery.issuer)} is not ${expectedIssuer}`);
      }
    },
    clientId: config.client_id,
    clientSecret: config.client_secret,
    authMethod: 'client_secret_post',
    fetch: deps.fetch,
  });

  /** Group ids from Microsoft Graph when the token reports an overage; needs GroupMember.Read.All (or similar). */
  async function memberObjects(accessToken: string): Promise<string[]> {
    const graphOrigin = new URL(config.graph_url).origin;
    const what = `${label}: Microsoft Graph getMemberObjects`;
    const headers = { authorization: `Bearer ${accessToken}`, accept: 'application/json' };
    let reply = await sendUpstream(deps.fetch, what, `${config.graph_url}/v1.0/me/getMemberObjects`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ securityEnabledOnly: true }),
    });
    const ids: string[] = [];
    for (let page = 1; ; page += 1) {
      const parsed = expectReply(what, reply, memberObjectsSchema);
      ids.push(...parsed.value);
      const next = parsed['@odata.nextLink'];
      if (next === undefined) return ids;
      // The bearer token goes to Graph only, never to wherever a reply points.
      if (new URL(next).origin !== graphOrigin) throw new ConnectorError('upstream_error', `${what}: nextLink leaves ${graphOrigin}`);
      if (page >= GRAPH_MAX_PAGES) throw new ConnectorError('upstream_error', `${what}: more than ${GRAPH_MAX_PAGES} pages`);
      reply = await sendUpstream(deps.fetch, what, next, { headers });
    }
  }

  return {
    ...commonFields(config),
    kind: 'redirect',
    trustsIssuer(issuer) {
      if (!multiTenant) return issuer === expectedIssuer;
      const [before, after] = expectedIssuer.split('{tenantid}') as [string, string];
      const tid = issuer.startsWith(before) && issuer.endsWith(after) ? issuer.slice(before.length, issuer.length - after.length) : '';
      return GUID.test(tid);
    },

    async begin({ redirectUri, state, loginHint }) {
      const nonce = randomToken();
      const pkce = pkcePair();
      const url = await core.authorizationUrl({
        response_type: 'code',
        response_mode: 'query',
        client_id: config.client_id,
        redirect_uri: redirectUri,
        scope: config.scopes.join(' '),
        state,
        nonce,
        code_challenge: pkce.challenge,
        code_challenge_method: 'S256',
        login_hint: loginHint,
        claims:
          config.require_mfa && config.mfa_auth_context !== undefined
            ? JSON.stringify({ id_token: { acrs: { essential: true, value: config.mfa_auth_context } } })
            : undefined,
      });
      return { url, transaction: { state, nonce, code_verifier: pkce.verifier } };
    },

    async complete({ redirectUri, query, transaction }): Promise<Identity> {
      const code = checkCallback(label, query, transaction);
      const nonce = transactionValue(label, transaction, 'nonce');
      const codeVerifier = transactionValue(label, transaction, 'code_verifier');
      const what = `${label}: token (authorization_code)`;
      const reply = await core.token(what, {
        grant_type: 'authorization_code',
        code,
        redirect_uri: redirectUri,
        code_verifier: codeVerifier,
        scope: config.scopes.join(' '),
      });
      const tokens = expectReply(what, reply, tokenResponseSchema);
      if (tokens.id_token === undefined) throw new ConnectorError('upstream_error', `${label}: token response has no id_token`);

      // Signature, audience, expiry, azp and nonce first; the issuer depends on the token's tenant.
      const payload = await core.verifyIdToken(tokens.id_token, { issuer: undefined, nonce });
      const tid = typeof payload.tid === 'string' ? payload.tid : '';
      if (!GUID.test(tid)) throw new ConnectorError('invalid_token', `${label}: id_token tid is not a tenant id`);
      const issuer = expectedIssuer.replace('{tenantid}', tid);
      if (payload.iss !== issuer) throw new ConnectorError('invalid_token', `${label}: id_token issuer does not match its tenant`);
      const tenant = tid.toLowerCase();
      if (!multiTenant && `${config.authority}/${tenant}/v2.0` !== expectedIssuer) {
        throw new ConnectorError('invalid_token', `${label}: id_token tid is not the configured tenant`);
      }
      if ((multiTenant || config.allowed_tenants.length > 0) && !config.allow_all_tenants && !config.allowed_tenants.includes(tenant)) {
        throw new ConnectorError('tenant_not_allowed', `${label}: tenant ${tenant} is not in allowed_tenants`);
      }
      const claims = parseClaims(label, 'id_token', payload, entraClaimsSchema);

      const mfaSatisfied = config.mfa_auth_context !== undefined && (claims.acrs ?? []).includes(config.mfa_auth_context);
      if (config.require_mfa && !mfaSatisfied) {
        throw new ConnectorError('mfa_required', `${label}: the id_token lacks authentication context ${config.mfa_auth_context ?? ''} in acrs`);
      }

      let groups = claims.groups;
      if (groups === undefined && (claims._claim_names !== undefined || claims.hasgroups !== undefined)) {
        groups = await memberObjects(tokens.access_token);
      }

      const email = claims.email ?? (claims.preferred_username !== undefined && EMAIL_LIKE.test(claims.preferred_username) ? claims.preferred_username : null);
      const domainVerified = claims.xms_edov === true || claims.xms_edov === 1 || claims.xms_edov === '1' || claims.xms_edov === 'true';
      const domainUnverified = claims.xms_edov === false || claims.xms_edov === 0 || claims.xms_edov === '0' || claims.xms_edov === 'false';
      return {
        connector_id: config.id,
        subject: `${tenant}:${claims.oid}`,
        // The token's issuer, checked above: the configured authority with the token's tenant.
        issuer,
        email,
        // A single-tenant connector trusts its own directory (unless the token says the domain is not
        // verified); across tenants any admin can set any email, so only xms_edov vouches for one, and
        // trust_email cannot stand in for it.
        email_verified: resolveEmailVerified(email, domainVerified || (singleTenant && !domainUnverified), config.trust_email),
        name: claims.name ?? null,
        groups: groups ?? [],
        amr: mfaSatisfied ? ['mfa'] : [],
        acr: mfaSatisfied ? (config.mfa_auth_context ?? null) : null,
      };
    },
  };
}
