import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { samlConnector } from '../../src/connectors/saml.ts';
import { ConnectorError } from '../../src/connectors/types.ts';
import type { ConnectorCommon, ConnectorDeps, SamlConnector } from '../../src/connectors/types.ts';
import { openStore } from '../../src/store/index.ts';
import type { Store } from '../../src/store/index.ts';
import { NAMEID_TRANSIENT, defaultSamlUser, runSamlLogin, startSamlIdp } from '../support/saml-idp.ts';
import type { TestSamlIdp } from '../support/saml-idp.ts';

const ISSUER = 'https://auth.logtrace.test';
const ID = 'corp-saml';
const SP_ENTITY_ID = `${ISSUER}/federation/${ID}/metadata`;
const ACS = `${ISSUER}/federation/${ID}/acs`;
const MFA = 'http://schemas.microsoft.com/claims/multipleauthn';

let idp: TestSamlIdp;
let store: Store;
let dir: string;
let deps: ConnectorDeps;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'saml-connector-'));
  store = await openStore({ driver: 'embedded', path: join(dir, 'store') });
  idp = await startSamlIdp();
  deps = { issuer: ISSUER, store, logger: pino({ level: 'silent' }), fetch };
});

afterAll(async () => {
  await idp?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  idp.user = defaultSamlUser();
  idp.mode = 'normal';
  idp.signing = 'assertion';
});

async function connector(overrides: Record<string, unknown> = {}, common: Partial<ConnectorCommon> = {}): Promise<SamlConnector> {
  const own = samlConnector.configSchema.parse({ idp_metadata_url: idp.metadataUrl, ...overrides });
  const created = await samlConnector.create(
    { ...own, id: ID, type: 'saml', name: 'Corp SSO', email_domains: ['example.com'], require_mfa: false, trust_email: undefined, ...common },
    deps,
  );
  if (created.kind !== 'saml') throw new Error('not a SAML connector');
  return created;
}

/** The ConnectorError code; with `reason`, also checks the (log) message, so a refusal is for the right cause. */
async function refusal(promise: Promise<unknown>, reason?: RegExp): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ConnectorError) {
      if (reason !== undefined) expect(error.message).toMatch(reason);
      return error.code;
    }
    throw error;
  }
  throw new Error('expected a ConnectorError');
}

describe('SAML connector', () => {
  it('signs in: Identity from the verified assertion, groups multi-valued, RelayState round-trips', async () => {
    const saml = await connector();
    const login = await runSamlLogin(saml, 'relay-123');
    expect(login.action).toBe(ACS);
    expect(login.relayState).toBe('relay-123');
    expect(login.transaction).toEqual({ request_id: idp.lastAuthnRequest?.id, relay_state: 'relay-123' });
    expect(idp.lastAuthnRequest?.issuer).toBe(SP_ENTITY_ID);
    expect(idp.lastAuthnRequest?.requestedAuthnContexts).toEqual([]);

    const identity = await saml.complete({ samlResponse: login.samlResponse, transaction: login.transaction });
    expect(identity).toEqual({
      connector_id: ID,
      subject: 'u-1f9a7c',
      issuer: `${idp.entityId} (metadata ${idp.metadataUrl})`,
      email: 'ada@example.com',
      email_verified: true,
      name: 'Ada Lovelace',
      groups: ['logs-admins', 'logs-readers'],
      amr: ['pwd'],
      acr: 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport',
    });
  });

  it('accepts a signed Response (assertion unsigned) and configured attribute names; trust_email false', async () => {
    idp.signing = 'response';
    idp.user.attributes = { email: 'grace@example.com', fullName: 'Grace Hopper', roles: 'only-one', mail: 'ignored@example.com' };
    const saml = await connector({ attributes: { email: 'email', name: 'fullName', groups: 'roles' } }, { trust_email: false });
    const login = await runSamlLogin(saml);
    const identity = await saml.complete({ samlResponse: login.samlResponse, transaction: login.transaction });
    expect(identity).toMatchObject({ email: 'grace@example.com', email_verified: false, name: 'Grace Hopper', groups: ['only-one'] });
  });

  it('uses the email as subject for a transient NameID', async () => {
    idp.user.nameIdFormat = NAMEID_TRANSIENT;
    idp.user.nameId = '_transient-abc';
    idp.user.attributes = { mail: 'Ada@Example.com' };
    const saml = await connector();
    const login = await runSamlLogin(saml);
    const identity = await saml.complete({ samlResponse: login.samlResponse, transaction: login.transaction });
    expect(identity).toMatchObject({ subject: 'ada@example.com', email: 'Ada@Example.com', groups: [] });
  });

  it('metadata() names our entity id and the HTTP-POST ACS', async () => {
    const saml = await connector();
    const xml = await saml.metadata();
    expect(xml).toContain(`entityID="${SP_ENTITY_ID}"`);
    expect(xml).toContain(`Location="${ACS}"`);
    expect(xml).toContain('urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST');
    expect(xml).toContain('WantAssertionsSigned="true"');
  });

  it('refuses IdP metadata without a signing certificate, and want_assertions_signed: false', async () => {
    const noCert = idp.metadata.replace(/<(\w+:)?KeyDescriptor[\s\S]*?<\/(\w+:)?KeyDescriptor>/g, '');
    expect(noCert).not.toContain('X509Certificate');
    expect(await refusal(connector({ idp_metadata_url: undefined, idp_metadata: noCert }))).toBe('upstream_error');
    expect(samlConnector.configSchema.safeParse({ idp_metadata: idp.metadata, want_assertions_signed: false }).success).toBe(false);
  });

  it('refuses a replayed response', async () => {
    const saml = await connector();
    const login = await runSamlLogin(saml);
    await saml.complete({ samlResponse: login.samlResponse, transaction: login.transaction });
    expect(await refusal(saml.complete({ samlResponse: login.samlResponse, transaction: login.transaction }))).toBe('replay');
  });

  it('refuses an unsigned response', async () => {
    idp.mode = 'unsigned';
    const saml = await connector();
    const login = await runSamlLogin(saml);
    expect(await refusal(saml.complete({ samlResponse: login.samlResponse, transaction: login.transaction }), /FAILED_TO_VERIFY_SIGNATURE/)).toBe('invalid_token');
  });

  it('refuses an expired assertion', async () => {
    idp.mode = 'expired';
    const saml = await connector();
    const login = await runSamlLogin(saml);
    expect(await refusal(saml.complete({ samlResponse: login.samlResponse, transaction: login.transaction }), /ERR_SUBJECT_UNCONFIRMED/)).toBe('invalid_token');
  });

  it('refuses an assertion for another audience', async () => {
    idp.mode = 'wrong_audience';
    const saml = await connector();
    const login = await runSamlLogin(saml);
    expect(await refusal(saml.complete({ samlResponse: login.samlResponse, transaction: login.transaction }), /Audience/)).toBe('invalid_token');
  });

  it('refuses a response for another Destination', async () => {
    idp.mode = 'wrong_destination';
    const saml = await connector();
    const login = await runSamlLogin(saml);
    expect(await refusal(saml.complete({ samlResponse: login.samlResponse, transaction: login.transaction }), /Destination/)).toBe('invalid_token');
  });

  it('refuses a response to another AuthnRequest (InResponseTo) with invalid_state', async () => {
    idp.mode = 'wrong_in_response_to';
    const saml = await connector();
    const login = await runSamlLogin(saml);
    expect(await refusal(saml.complete({ samlResponse: login.samlResponse, transaction: login.transaction }), /InResponseTo/)).toBe('invalid_state');
  });

  it('maps a failure status: AuthnFailed → access_denied, other → upstream_error', async () => {
    idp.mode = 'status_failure';
    const saml = await connector();
    let login = await runSamlLogin(saml);
    expect(await refusal(saml.complete({ samlResponse: login.samlResponse, transaction: login.transaction }))).toBe('access_denied');
    idp.status = { top: 'urn:oasis:names:tc:SAML:2.0:status:Responder', second: undefined };
    login = await runSamlLogin(saml);
    expect(await refusal(saml.complete({ samlResponse: login.samlResponse, transaction: login.transaction }))).toBe('upstream_error');
  });

  it('refuses an unsolicited response by default and accepts it with allow_unsolicited', async () => {
    const strict = await connector();
    const unsolicited = idp.buildResponse({ acsUrl: ACS, audience: SP_ENTITY_ID, inResponseTo: undefined });
    expect(await refusal(strict.complete({ samlResponse: unsolicited, transaction: undefined }))).toBe('invalid_state');

    const lenient = await connector({ allow_unsolicited: true });
    const identity = await lenient.complete({ samlResponse: unsolicited, transaction: undefined });
    expect(identity.subject).toBe('u-1f9a7c');
    // Still single use, and a solicited response (carrying InResponseTo) is not accepted as unsolicited.
    expect(await refusal(lenient.complete({ samlResponse: unsolicited, transaction: undefined }))).toBe('replay');
    const solicited = await runSamlLogin(lenient);
    expect(await refusal(lenient.complete({ samlResponse: solicited.samlResponse, transaction: undefined }))).toBe('invalid_state');
  });

  it('require_mfa: asks for MFA contexts, refuses without proof, accepts an MFA context or the Entra amr attribute', async () => {
    const saml = await connector({}, { require_mfa: true });
    let login = await runSamlLogin(saml);
    expect(idp.lastAuthnRequest?.comparison).toBe('minimum');
    expect(idp.lastAuthnRequest?.requestedAuthnContexts).toContain(MFA);
    expect(idp.lastAuthnRequest?.requestedAuthnContexts).toContain('https://refeds.org/profile/mfa');
    expect(await refusal(saml.complete({ samlResponse: login.samlResponse, transaction: login.transaction }))).toBe('mfa_required');

    idp.user.authnContextClassRef = 'https://refeds.org/profile/mfa';
    login = await runSamlLogin(saml);
    const identity = await saml.complete({ samlResponse: login.samlResponse, transaction: login.transaction });
    expect(identity).toMatchObject({ amr: ['mfa'], acr: 'https://refeds.org/profile/mfa' });

    idp.user.authnContextClassRef = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';
    idp.user.attributes['http://schemas.microsoft.com/claims/authnmethodsreferences'] = [
      'http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password',
      MFA,
    ];
    login = await runSamlLogin(saml);
    expect((await saml.complete({ samlResponse: login.samlResponse, transaction: login.transaction })).amr).toEqual(['mfa']);
  });

  it('refuses a tampered response (attribute changed, re-encoded)', async () => {
    for (const signing of ['assertion', 'response', 'both'] as const) {
      idp.signing = signing;
      const saml = await connector();
      const login = await runSamlLogin(saml);
      const xml = Buffer.from(login.samlResponse, 'base64').toString('utf8');
      const tampered = xml.replace('logs-readers', 'logs-owners');
      expect(tampered).not.toBe(xml);
      const samlResponse = Buffer.from(tampered, 'utf8').toString('base64');
      expect(await refusal(saml.complete({ samlResponse, transaction: login.transaction }), /FAILED_TO_VERIFY_SIGNATURE/), signing).toBe('invalid_token');
    }
  });
});
