import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entraConfig, entraConnector } from '../../src/connectors/entra.ts';
import { ConnectorError, type Identity, type RedirectConnector } from '../../src/connectors/types.ts';
import { asRedirect, callbackUri, common, connectorDeps, withTamperedVerifier } from '../support/fake-idps/deps.ts';
import { startFakeEntra, type EntraUser, type FakeEntra } from '../support/fake-idps/entra.ts';
import { followRedirects } from '../support/fake-idps/follow-redirects.ts';

const REDIRECT_URI = callbackUri('entra');
const HOME = randomUUID(); // our own tenant
const PARTNER = randomUUID(); // an allowed partner tenant
const STRANGER = randomUUID(); // a tenant nobody allowed

const alice: EntraUser = {
  tid: HOME,
  oid: randomUUID(),
  name: 'Alice Contoso',
  preferred_username: 'alice@contoso.example',
  email: 'alice@contoso.example',
  groups: ['0b3f3a0e-0000-4000-8000-000000000001', '0b3f3a0e-0000-4000-8000-000000000002'],
};
const partnerPat: EntraUser = { tid: PARTNER, oid: randomUUID(), name: 'Pat Partner', preferred_username: 'pat@partner.example' };

let entra: FakeEntra;
beforeAll(async () => {
  entra = await startFakeEntra({ graphPageSize: 2 });
});
afterAll(async () => {
  await entra?.close();
});

type Options = Record<string, unknown> & { require_mfa?: boolean; trust_email?: boolean };

async function connector(options: Options = {}): Promise<RedirectConnector> {
  const { require_mfa, trust_email, ...own } = options;
  const config = entraConfig.parse({
    tenant: HOME,
    client_id: entra.clientId,
    client_secret: entra.clientSecret,
    authority: entra.url,
    graph_url: entra.url,
    ...own,
  });
  return asRedirect(await entraConnector.create({ ...config, ...common('entra', 'entra', { require_mfa, trust_email }) }, connectorDeps()));
}
const multiTenant = (extra: Options = {}): Promise<RedirectConnector> => connector({ tenant: 'organizations', allowed_tenants: [HOME, PARTNER], ...extra });

const newState = (): string => randomBytes(16).toString('base64url');

async function signIn(c: RedirectConnector, who: EntraUser): Promise<{ query: URLSearchParams; transaction: Record<string, string> }> {
  entra.nextSignIn(who);
  const { url, transaction } = await c.begin({ redirectUri: REDIRECT_URI, state: newState() });
  return { query: (await followRedirects(url, REDIRECT_URI)).searchParams, transaction };
}

async function fullSignIn(c: RedirectConnector, who: EntraUser): Promise<Identity> {
  const { query, transaction } = await signIn(c, who);
  return c.complete({ redirectUri: REDIRECT_URI, query, transaction });
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ConnectorError) return error.code;
    throw error;
  }
  throw new Error('expected a ConnectorError');
}

describe('Entra ID connector against a fake Entra', () => {
  it('signs in to a single tenant: subject tid:oid, email verified, groups from the token', async () => {
    const c = await connector();
    const identity = await fullSignIn(c, alice);
    expect(identity).toEqual({
      connector_id: 'entra',
      subject: `${HOME}:${alice.oid}`,
      issuer: `${entra.url}/${HOME}/v2.0`,
      email: 'alice@contoso.example',
      email_verified: true,
      name: 'Alice Contoso',
      groups: alice.groups,
      amr: [],
      acr: null,
    });
    const request = entra.authorizeRequests.at(-1);
    expect(request?.get('code_challenge_method')).toBe('S256');
    expect(request?.get('nonce')).toEqual(expect.any(String));
    expect(request?.get('scope')).toBe('openid profile email');
    expect(request?.has('claims')).toBe(false);
    expect(entra.graphCalls()).toBe(0);
  });

  describe('multi-tenant (organizations)', () => {
    it('substitutes tid into the issuer template and admits an allowed tenant; email unverified without xms_edov', async () => {
      const identity = await fullSignIn(await multiTenant(), partnerPat);
      expect(identity).toEqual({
        connector_id: 'entra',
        subject: `${PARTNER}:${partnerPat.oid}`,
        issuer: `${entra.url}/${PARTNER}/v2.0`,
        email: 'pat@partner.example', // from preferred_username: it looks like an email
        email_verified: false,
        name: 'Pat Partner',
        groups: [],
        amr: [],
        acr: null,
      });
    });

    it('counts the email as verified with xms_edov only: trust_email cannot stand in for it', async () => {
      expect((await fullSignIn(await multiTenant(), { ...partnerPat, email: 'pat@partner.example', xms_edov: true })).email_verified).toBe(true);
      // Earlier trust_email: true made any address another tenant's admin typed in "verified".
      expect((await fullSignIn(await multiTenant({ trust_email: true }), partnerPat)).email_verified).toBe(false);
      expect((await fullSignIn(await connector({ trust_email: false }), alice)).email_verified).toBe(false);
      expect((await fullSignIn(await connector({ trust_email: true }), { ...alice, xms_edov: false })).email_verified).toBe(false);
    });

    it('ignores a preferred_username that is not an email', async () => {
      const identity = await fullSignIn(await multiTenant(), { ...partnerPat, preferred_username: 'PARTNER\\pat' });
      expect(identity).toMatchObject({ email: null, email_verified: false });
    });

    it('refuses a tenant outside allowed_tenants', async () => {
      const stranger: EntraUser = { tid: STRANGER, oid: randomUUID(), preferred_username: 'eve@stranger.example' };
      expect(await refusal(fullSignIn(await multiTenant(), stranger))).toBe('tenant_not_allowed');
      // …unless every tenant is allowed on purpose.
      const identity = await fullSignIn(await connector({ tenant: 'organizations', allow_all_tenants: true }), stranger);
      expect(identity.subject).toBe(`${STRANGER}:${stranger.oid}`);
    });

    it('refuses a token whose iss is not the template with its own tid, or whose tid is not a GUID', async () => {
      const c = await multiTenant();
      entra.tamperNextIdToken((claims) => ({ ...claims, iss: `${entra.url}/${HOME}/v2.0` })); // tid is PARTNER
      expect(await refusal(fullSignIn(c, partnerPat))).toBe('invalid_token');

      entra.tamperNextIdToken((claims) => ({ ...claims, tid: 'contoso.example', iss: `${entra.url}/contoso.example/v2.0` }));
      expect(await refusal(fullSignIn(c, partnerPat))).toBe('invalid_token');

      entra.tamperNextIdToken((claims) => ({ ...claims, iss: `https://login.microsoftonline.com/${PARTNER}/v2.0` }));
      expect(await refusal(fullSignIn(c, partnerPat))).toBe('invalid_token');
    });

    it('is a config error without allowed_tenants or allow_all_tenants', async () => {
      await expect(connector({ tenant: 'common' })).rejects.toThrow(/allowed_tenants/);
    });
  });

  it('refuses, on a single-tenant connector, a token from another tenant', async () => {
    const c = await connector();
    entra.tamperNextIdToken((claims) => ({ ...claims, tid: PARTNER, iss: `${entra.url}/${PARTNER}/v2.0` }));
    expect(await refusal(fullSignIn(c, alice))).toBe('invalid_token');
  });

  it('fetches groups from Microsoft Graph on overage, following @odata.nextLink', async () => {
    const many = Array.from({ length: 5 }, () => randomUUID());
    const before = entra.graphCalls();
    const identity = await fullSignIn(await connector(), { ...alice, groups: many, overage: true });
    expect(identity.groups).toEqual(many);
    expect(entra.graphCalls() - before).toBe(3); // POST, then two GET pages of 2
  });

  describe('MFA through an authentication context', () => {
    it('requests acrs as an essential claim and maps a satisfied context to amr mfa', async () => {
      const c = await connector({ require_mfa: true, mfa_auth_context: 'c1' });
      const identity = await fullSignIn(c, { ...alice, authContexts: ['c1'] });
      expect(JSON.parse(entra.authorizeRequests.at(-1)?.get('claims') ?? '')).toEqual({ id_token: { acrs: { essential: true, value: 'c1' } } });
      expect(identity).toMatchObject({ amr: ['mfa'], acr: 'c1' });
    });

    it('refuses a sign-in whose token lacks the context', async () => {
      const c = await connector({ require_mfa: true, mfa_auth_context: 'c1' });
      expect(await refusal(fullSignIn(c, { ...alice, authContexts: [] }))).toBe('mfa_required');
      expect(await refusal(fullSignIn(c, { ...alice, authContexts: ['c2'] }))).toBe('mfa_required');
    });

    it('is a config error to require MFA without a context', async () => {
      await expect(connector({ require_mfa: true })).rejects.toThrow(/mfa_auth_context/);
    });
  });

  describe('refusals', () => {
    it('wrong state → invalid_state', async () => {
      const c = await connector();
      const { query, transaction } = await signIn(c, alice);
      expect(await refusal(c.complete({ redirectUri: REDIRECT_URI, query, transaction: { ...transaction, state: newState() } }))).toBe('invalid_state');
    });

    it('error=access_denied → access_denied', async () => {
      const c = await connector();
      entra.denyNext();
      const { query, transaction } = await signIn(c, alice);
      expect(await refusal(c.complete({ redirectUri: REDIRECT_URI, query, transaction }))).toBe('access_denied');
    });

    it('id_token for another audience → invalid_token', async () => {
      const c = await connector();
      entra.tamperNextIdToken((claims) => ({ ...claims, aud: randomUUID() }));
      expect(await refusal(fullSignIn(c, alice))).toBe('invalid_token');
    });

    it('wrong nonce → invalid_token', async () => {
      const c = await connector();
      const { query, transaction } = await signIn(c, alice);
      expect(await refusal(c.complete({ redirectUri: REDIRECT_URI, query, transaction: { ...transaction, nonce: 'another-nonce' } }))).toBe('invalid_token');
    });

    it('expired id_token → invalid_token', async () => {
      const c = await connector();
      const now = Math.floor(Date.now() / 1000);
      entra.tamperNextIdToken((claims) => ({ ...claims, iat: now - 7200, nbf: now - 7200, exp: now - 3600 }));
      expect(await refusal(fullSignIn(c, alice))).toBe('invalid_token');
    });

    it('tampered PKCE verifier → upstream_error (AADSTS501481 from the token endpoint)', async () => {
      const c = await connector();
      const { query, transaction } = await signIn(c, alice);
      const tampered = withTamperedVerifier(transaction);
      await expect(c.complete({ redirectUri: REDIRECT_URI, query, transaction: tampered })).rejects.toMatchObject({ code: 'upstream_error', message: expect.stringContaining('AADSTS501481') });
    });

    it('wrong client secret → upstream_error', async () => {
      const c = await connector({ client_secret: 'not-the-secret' });
      await expect(fullSignIn(c, alice)).rejects.toMatchObject({ code: 'upstream_error', message: expect.stringContaining('invalid_client') });
    });
  });
});
