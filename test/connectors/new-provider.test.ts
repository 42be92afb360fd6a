import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { parseConfig } from '../../src/config/index.ts';
import { startServer, type RunningServer } from '../../src/server.ts';
import { oidcConfig, oidcConnector, OIDC_FORM_FIELDS } from '../../src/connectors/oidc.ts';
import { connectorTypes, parseConnectorConfig, registerConnectorType, unregisterConnectorType, type ConnectorType } from '../../src/connectors/index.ts';
import { startFakeOidc, type FakeOidc } from '../support/fake-idps/oidc.ts';
import { federatedSignIn } from '../support/federated-login.ts';
import { testConfig } from '../support/auth-server.ts';
import { discover } from '../support/http-login.ts';
import { freePort } from '../support/ports.ts';

/**
 * Adding an identity provider is one descriptor (and its translations): this test adds "Acme ID", an
 * OIDC-like provider built on the generic OIDC connector, without touching any file outside connectors/,
 * and signs in through it on a real server (in this process, so the registration reaches it) against the
 * fake OIDC upstream.
 */
const acmeId: ConnectorType<typeof oidcConfig> = {
  type: 'acme-id',
  names: { en: 'Acme ID', ru: 'Акме ID' },
  logo: 'A',
  configSchema: oidcConfig,
  // Acme ID asserts no authentication methods.
  canProveMfa: false,
  secretFields: [{ path: 'client_secret', destinations: ['issuer'] }],
  form: { urls: [{ id: 'sso-redirect', label: 'dash.sso.redirect_uri', suffix: 'callback' }], sections: [{ fields: OIDC_FORM_FIELDS }], emailDomains: true },
  upstream: (config) => config.issuer,
  create: (config, deps) => oidcConnector.create(config, deps),
  testSettings: oidcConnector.testSettings,
};

describe('a new provider is one descriptor: Acme ID through the registry', () => {
  let upstream: FakeOidc;
  let server: RunningServer;
  let dataDir: string;

  beforeAll(async () => {
    registerConnectorType(acmeId as unknown as ConnectorType); // the registry holds types of any settings schema
    const port = await freePort();
    upstream = await startFakeOidc({ redirectUris: [`http://127.0.0.1:${port}/federation/acme/callback`] });
    dataDir = await mkdtemp(path.join(tmpdir(), 'lt-new-provider-'));
    const config = parseConfig(testConfig(port, {
      store: { driver: 'embedded', path: dataDir },
      connectors: [{ id: 'acme', type: 'acme-id', issuer: upstream.url, client_id: upstream.clientId, client_secret: upstream.clientSecret, email_domains: ['acme.example'] }],
      provisioning: { rules: [{ email_domain: 'acme.example', connectors: ['acme'] }] },
    }));
    server = await startServer(config, pino({ level: 'silent' }));
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    await upstream?.close();
    unregisterConnectorType('acme-id');
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('config validation accepts it, names it, and holds it to its abilities', () => {
    const base = { id: 'acme', type: 'acme-id', issuer: upstream.url, client_id: 'c', client_secret: 's' };
    const parsed = parseConnectorConfig(base);
    expect(parsed).toMatchObject({ ok: true, config: { name: 'Acme ID', scopes: ['openid', 'email', 'profile'] } });
    // It cannot prove MFA and does not refresh: both are configuration errors, in its own name.
    expect(parseConnectorConfig({ ...base, require_mfa: true })).toEqual({ ok: false, issues: [{ path: ['require_mfa'], message: 'Acme ID cannot prove MFA, so require_mfa cannot be enforced' }] });
    expect(parseConnectorConfig({ ...base, check_upstream_on_refresh: true })).toMatchObject({ ok: false, issues: [{ path: ['check_upstream_on_refresh'] }] });
    // Its own schema still applies.
    expect(parseConnectorConfig({ ...base, issuer: 'not a url' })).toMatchObject({ ok: false, issues: [{ path: ['issuer'] }] });
    expect(connectorTypes().map((t) => t.type)).toContain('acme-id');
  });

  it('cannot take the place of another type, nor of SCIM connections', () => {
    expect(() => registerConnectorType({ ...acmeId, type: 'oidc' } as unknown as ConnectorType)).toThrow(/registered already/);
    expect(() => registerConnectorType({ ...acmeId, type: 'scim' } as unknown as ConnectorType)).toThrow(/registered already/);
    expect(() => registerConnectorType({ ...acmeId, type: 'Acme ID' } as unknown as ConnectorType)).toThrow(/lower-case/);
    expect(() => unregisterConnectorType('oidc')).toThrow(/built in/);
  });

  it('the sign-in page shows its button with its name and logo, and a sign-in through it works', async () => {
    const client = await discover(server.url, 'dashboard');
    upstream.nextSignIn({ accountId: 'ann', claims: { email: 'ann@acme.example', email_verified: true, name: 'Ann' } });
    const outcome = await federatedSignIn(client, 'acme', 'openid email profile');
    if (!outcome.ok) throw new Error(`sign-in failed: HTTP ${outcome.status} at ${outcome.url}: ${outcome.body.slice(0, 300)}`);
    expect(decodeJwt(outcome.tokens.id_token!)).toMatchObject({ email: 'ann@acme.example' });
    const account = await server.services.userRepository.findByEmail('ann@acme.example');
    expect(account).toMatchObject({ source: 'acme', email_verified: true });

    // The page the walker clicked through: its button, its logo badge.
    const auth = await fetch(`${server.url}/auth?client_id=dashboard&response_type=code&scope=openid&redirect_uri=${encodeURIComponent('http://127.0.0.1:8080/callback')}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256`, { redirect: 'manual' });
    const login = await fetch(new URL(auth.headers.get('location')!, server.url), { headers: { cookie: auth.headers.getSetCookie().map((c) => c.split(';')[0]).join('; '), 'accept-language': 'en' } });
    const page = await login.text();
    expect(page).toMatch(/<a class="button secondary connector connector-acme-id" data-connector="acme" href="[^"]+"><span class="logo-badge" aria-hidden="true">A<\/span> [^<]*Acme ID/);
  });

  it('a refused upstream answer signs nobody in (an unverified email of the domain)', async () => {
    const client = await discover(server.url, 'dashboard');
    upstream.nextSignIn({ accountId: 'eve', claims: { email: 'eve@acme.example', email_verified: false, name: 'Eve' } });
    const outcome = await federatedSignIn(client, 'acme', 'openid email profile');
    expect(outcome.ok).toBe(false);
    expect(await server.services.userRepository.findByEmail('eve@acme.example')).toBeUndefined();
  });

  it('the connection test uses its description (OIDC discovery, issuer, keys)', async () => {
    const view = await server.services.connectionSet.get('acme');
    const checks = await server.services.connectionSet.test(view!);
    expect(checks.map((c) => [c.check, c.ok])).toEqual([['discovery', true], ['issuer', true], ['signing_keys', true]]);
  });
});
