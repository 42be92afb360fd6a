import { createHash, randomBytes } from 'node:crypto';
import * as xmllint from '@authenio/samlify-node-xmllint';
import { Constants, Extractor, IdentityProvider, SamlLib, ServiceProvider, setSchemaValidator } from 'samlify';
import type { IdentityProviderInstance, ServiceProviderInstance } from 'samlify';
import { z } from 'zod';
import { ConnectorError } from './types.ts';
import { resolveEmailVerified } from './oidc.ts';
import type { ConnectorCommon, ConnectorDeps, ConnectorType, Identity, SamlConnector, TestableConnector } from './types.ts';

/**
 * SAML 2.0 service provider (Web Browser SSO profile: AuthnRequest by HTTP-Redirect, Response by HTTP-POST)
 * on samlify. samlify verifies the XML signature against the IdP metadata certificate (with its
 * signature-wrapping defences), the schema, the status, the assertion Issuer and the Conditions window.
 * It does not check Audience, Destination/Recipient, InResponseTo nor replays: `complete` does, reading every
 * security-relevant value from the assertion samlify returned as verified, never from the raw document.
 */

/**
 * Every inbound document is schema-checked before anything else (module-global in samlify), with
 * @authenio/samlify-node-xmllint. Its engine, node-xmllint, re-runs an emscripten build of xmllint on each
 * call, and each run, synchronously:
 *  - adds a process 'uncaughtException' listener (one leaked per sign-in, holding the run's heap);
 *  - adds `process.stdout.once('drain', () => process.exit(status))`: the next stdout drain would exit us;
 *  - console.log(" ") and, on invalid input, console.error of xmllint's messages (which can quote values).
 * All of it happens inside the call, so we remove what it added and mute the console for that moment only.
 */
function validateSamlSchema(xml: string): Promise<unknown> {
  const uncaughtBefore = new Set(process.listeners('uncaughtException'));
  const drainBefore = new Set(process.stdout.listeners('drain'));
  const { log, error } = console;
  // eslint-disable-next-line no-console -- muting node-xmllint's console.log(" ") for this synchronous call only
  console.log = () => undefined;
  console.error = () => undefined;
  try {
    return xmllint.validate(xml);
  } finally {
    // eslint-disable-next-line no-console -- restoring what we muted above
    console.log = log;
    console.error = error;
    for (const listener of process.listeners('uncaughtException')) {
      if (!uncaughtBefore.has(listener)) process.off('uncaughtException', listener);
    }
    for (const listener of process.stdout.listeners('drain')) {
      if (!drainBefore.has(listener)) process.stdout.off('drain', listener as (...args: unknown[]) => void);
    }
  }
}
setSchemaValidator({ validate: validateSamlSchema });

const DEFAULT_MFA_AUTHN_CONTEXTS = [
  'http://schemas.microsoft.com/claims/multipleauthn',
  'urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken',
  'urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract',
  'https://refeds.org/profile/mfa',
];

const PASSWORD_AUTHN_CONTEXTS = new Set([
  'urn:oasis:names:tc:SAML:2.0:ac:classes:Password',
  'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport',
]);

const DEFAULT_EMAIL_ATTRIBUTES = ['mail', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress'];
const DEFAULT_NAME_ATTRIBUTES = ['displayName', 'cn', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name'];
const DEFAULT_GROUP_ATTRIBUTES = ['http://schemas.microsoft.com/ws/2008/06/identity/claims/groups', 'groups', 'memberOf'];
/** Entra ID lists the methods used in this attribute; `multipleauthn` there means MFA was performed. */
const ENTRA_AMR_ATTRIBUTE = 'http://schemas.microsoft.com/claims/authnmethodsreferences';
const ENTRA_MFA = 'http://schemas.microsoft.com/claims/multipleauthn';
const ENTRA_PASSWORD = 'http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password';

const NAMEID_TRANSIENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient';
const NAMEID_EMAIL = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
const NAMEID_PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';

const METADATA_TIMEOUT_MS = 10_000;
const MAX_METADATA_BYTES = 1_000_000;
const MAX_SAML_RESPONSE_CHARS = 512_000;

const samlConfig = z.object({
  /** IdP metadata by URL (fetched at start-up) … */
  idp_metadata_url: z.url({ protocol: /^https?$/ }).optional(),
  /** … or inline XML. Exactly one of the two (checked in `create`, so the schema stays extendable). */
  idp_metadata: z.string().min(1).optional(),
  /** Attribute names (the `Name` of `<saml:Attribute>`); defaults cover Entra, AD FS, Okta, Keycloak, Shibboleth. */
  attributes: z
    .object({ email: z.string().min(1).optional(), name: z.string().min(1).optional(), groups: z.string().min(1).optional() })
    .default({}),
  /** PEM key and certificate for signing AuthnRequests (used when the IdP metadata says WantAuthnRequestsSigned). */
  sp_private_key: z.string().min(1).optional(),
  sp_certificate: z.string().min(1).optional(),
  /**
   * Advertised in our metadata. A valid IdP signature over the Assertion (its own, or the enclosing Response's)
   * is always required; `false` is refused rather than silently accepting unsigned responses.
   */
  want_assertions_signed: z
    .boolean()
    .default(true)
    .refine((value) => value, { message: 'unsigned SAML responses are never accepted; remove want_assertions_signed: false' }),
  /** IdP-initiated sign-in (no AuthnRequest of ours); then InResponseTo must be absent. */
  allow_unsolicited: z.boolean().default(false),
  clock_skew_seconds: z.number().int().min(0).max(600).default(120),
  /** AuthnContextClassRef values that prove MFA; also sent as RequestedAuthnContext when require_mfa. */
  mfa_authn_contexts: z.array(z.string().min(1)).min(1).default(DEFAULT_MFA_AUTHN_CONTEXTS),
});

type SamlConfig = z.infer<typeof samlConfig> & ConnectorCommon;

const attribute = (name: 'email' | 'name' | 'groups') => ({ name: `attr_${name}`, path: `attributes.${name}`, kind: 'optional' as const, label: `dash.sso.field.attr_${name}` });

export const samlConnector: ConnectorType<typeof samlConfig> = {
  type: 'saml',
  names: { en: 'SAML 2.0', ru: 'SAML 2.0' },
  logo: '⛨',
  configSchema: samlConfig,
  canProveMfa: true,
  secretFields: [{ path: 'sp_private_key', destinations: [] }],
  form: {
    urls: [{ id: 'sso-acs', label: 'dash.sso.acs', suffix: 'acs' }, { id: 'sso-sp-metadata', label: 'dash.sso.sp_metadata', suffix: 'metadata' }],
    sections: [
      { fields: [{ name: 'idp_metadata_url', path: 'idp_metadata_url', kind: 'text', id: 'sso-metadata-url', label: 'dash.sso.field.metadata_url', inputmode: 'url' }] },
      { legend: 'dash.sso.field.attributes', hint: 'dash.sso.field.attributes_hint', fields: [attribute('email'), attribute('name'), attribute('groups')] },
    ],
    emailDomains: true,
  },
  notStarted: (reason) => ({ check: 'metadata', ok: false, detail: `the IdP metadata could not be loaded or used: ${reason}` }),
  upstream: (config) => config.idp_metadata_url ?? `inline metadata sha256:${createHash('sha256').update(config.idp_metadata ?? '').digest('hex')}`,
  create: createSamlConnector,
};

/** Builds the SP for one configured IdP: loads and checks the IdP metadata (throws ConnectorError 'upstream_error'). */
async function createSamlConnector(config: SamlConfig, deps: ConnectorDeps): Promise<SamlConnector & TestableConnector> {
  const log = deps.logger.child({ connector: config.id, connector_type: 'saml' });
  const issuer = deps.issuer.replace(/\/+$/, '');
  const spEntityId = `${issuer}/federation/${encodeURIComponent(config.id)}/metadata`;
  const acsUrl = `${issuer}/federation/${encodeURIComponent(config.id)}/acs`;
  const skewMs = config.clock_skew_seconds * 1000;

  if ((config.idp_metadata === undefined) === (config.idp_metadata_url === undefined)) {
    throw new Error(`connector ${config.id}: set exactly one of idp_metadata_url and idp_metadata`);
  }
  if (config.idp_metadata_url !== undefined) {
    // The metadata carries the certificate we trust: fetch it over TLS (plain HTTP only on loopback, for tests).
    const { protocol, hostname } = new URL(config.idp_metadata_url);
    if (protocol !== 'https:' && !['localhost', '127.0.0.1', '[::1]'].includes(hostname)) {
      throw new Error(`connector ${config.id}: idp_metadata_url must use https`);
    }
  }
  if ((config.sp_private_key === undefined) !== (config.sp_certificate === undefined)) {
    throw new Error(`connector ${config.id}: sp_private_key and sp_certificate go together`);
  }

  const metadataXml = config.idp_metadata ?? (await fetchMetadata(config.idp_metadata_url ?? '', deps.fetch));
  const idp = loadIdp(config.id, metadataXml);
  const idpEntityId = idp.entityMeta.getEntityID();
  // What identity links remember: the entity id alone is a name any metadata can claim, so it goes with the
  // trust anchor it came with — the metadata URL, or the signing certificates of inline metadata.
  const upstreamIssuer = config.idp_metadata_url !== undefined
    ? `${idpEntityId} (metadata ${config.idp_metadata_url})`
    : `${idpEntityId} (certificates sha256:${certificatesDigest(idp)})`;
  const ssoUrl = idp.entityMeta.getSingleSignOnService('redirect');
  if (typeof ssoUrl !== 'string') {
    throw new ConnectorError('upstream_error', `connector ${config.id}: IdP metadata has no HTTP-Redirect SingleSignOnService`);
  }
  // samlify refuses to build a request when SP AuthnRequestsSigned and IdP WantAuthnRequestsSigned differ,
  // so we sign exactly when the IdP asks for it.
  const ssoLocation: string = ssoUrl;
  const signRequests = idp.entityMeta.isWantAuthnRequestsSigned();
  if (signRequests && config.sp_private_key === undefined) {
    throw new ConnectorError('upstream_error', `connector ${config.id}: the IdP wants signed AuthnRequests: set sp_private_key and sp_certificate`);
  }

  const sp: ServiceProviderInstance = ServiceProvider({
    entityID: spEntityId,
    authnRequestsSigned: signRequests,
    wantAssertionsSigned: config.want_assertions_signed,
    wantMessageSigned: false,
    ...(config.sp_private_key !== undefined && config.sp_certificate !== undefined
      ? { privateKey: config.sp_private_key, signingCert: config.sp_certificate }
      : {}),
    requestSignatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    nameIDFormat: [NAMEID_PERSISTENT, NAMEID_EMAIL],
    assertionConsumerService: [{ Binding: Constants.namespace.binding.post, Location: acsUrl }],
    clockDrifts: [-skewMs, skewMs],
  });

  log.info({ idp_entity_id: idpEntityId, sign_requests: signRequests }, 'saml connector ready');

  function buildAuthnRequest(id: string): string {
    // samlify's default template has no RequestedAuthnContext: we render our own (saml-core §3.3.2.2.1).
    // `replaceTagsByValue` XML-escapes the tag values; the class refs are escaped here.
    const requested = config.require_mfa
      ? `<samlp:RequestedAuthnContext Comparison="minimum">${config.mfa_authn_contexts
          .map((ref) => `<saml:AuthnContextClassRef>${escapeXml(ref)}</saml:AuthnContextClassRef>`)
          .join('')}</samlp:RequestedAuthnContext>`
      : '';
    const template =
      '<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"' +
      ' ID="{ID}" Version="2.0" IssueInstant="{IssueInstant}" Destination="{Destination}"' +
      ' ProtocolBinding="{ProtocolBinding}" AssertionConsumerServiceURL="{AssertionConsumerServiceURL}">' +
      '<saml:Issuer>{Issuer}</saml:Issuer><samlp:NameIDPolicy AllowCreate="true"/>' +
      requested.replace(/[{}]/g, (c) => (c === '{' ? '&#123;' : '&#125;')) +
      '</samlp:AuthnRequest>';
    return SamlLib.replaceTagsByValue(template, {
      ID: id,
      IssueInstant: new Date().toISOString(),
      Destination: ssoLocation,
      ProtocolBinding: Constants.namespace.binding.post,
      AssertionConsumerServiceURL: acsUrl,
      Issuer: spEntityId,
    });
  }

  async function complete(input: { samlResponse: string; transaction: Record<string, string> | undefined }): Promise<Identity> {
    const { samlResponse, transaction } = input;
    const requestId = transaction?.request_id;
    if (transaction !== undefined && (typeof requestId !== 'string' || requestId === '')) {
      throw new ConnectorError('invalid_state', 'transaction without request_id');
    }
    if (transaction === undefined && !config.allow_unsolicited) {
      throw new ConnectorError('invalid_state', 'unsolicited SAML response (no transaction) and allow_unsolicited is off');
    }
    if (typeof samlResponse !== 'string' || samlResponse.length === 0 || samlResponse.length > MAX_SAML_RESPONSE_CHARS) {
      throw new ConnectorError('upstream_error', 'missing or oversized SAMLResponse');
    }
    const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
    if (!xml.trimStart().startsWith('<')) {
      throw new ConnectorError('upstream_error', 'SAMLResponse is not base64-encoded XML');
    }

    // 1–2. Schema, status, signature (IdP metadata cert), assertion Issuer, Conditions window: samlify.
    //      samlify reads the status before the signature: error responses are usually unsigned and carry no
    //      assertion, and acting on an unauthenticated status can only make the sign-in fail.
    try {
      await sp.parseLoginResponse(idp, 'post', { body: { SAMLResponse: samlResponse } });
    } catch (error) {
      throw mapSamlifyError(error, xml);
    }
    // The assertion covered by a valid IdP signature (its own or the Response's); everything below reads it.
    let verified: [boolean, string | null];
    try {
      verified = SamlLib.verifySignature(xml, {
        metadata: idp.entityMeta,
        ...(idp.entitySetting.requestSignatureAlgorithm ? { signatureAlgorithm: idp.entitySetting.requestSignatureAlgorithm } : {}),
      });
    } catch (error) {
      throw new ConnectorError('invalid_token', 'SAML signature verification failed', { cause: error });
    }
    const [signatureOk, assertionXml] = verified;
    if (!signatureOk || assertionXml === null) {
      throw new ConnectorError('invalid_token', 'no assertion covered by a valid IdP signature');
    }
    const assertion = readAssertion(assertionXml);
    if (assertion === undefined) {
      throw new ConnectorError('invalid_token', 'signed content is not a plain Assertion (encrypted assertions are not supported)');
    }
    const envelope = readEnvelope(xml);

    // 3. Destination (Response, when present) and Recipient (bearer SubjectConfirmationData): our ACS.
    if (envelope.destination !== undefined && envelope.destination !== acsUrl) {
      throw new ConnectorError('invalid_token', 'Response Destination is not our ACS');
    }
    // 4. Audience: every AudienceRestriction must name us (saml-core §2.5.1.4), and there must be one (profiles §4.1.4.2).
    if (assertion.audienceRestrictions.length === 0 || !assertion.audienceRestrictions.every((list) => list.includes(spEntityId))) {
      throw new ConnectorError('invalid_token', 'assertion Audience does not include our SP entity id');
    }
    // 5. Issuer of the assertion (samlify checked it too) and of the Response when present.
    if (assertion.issuer !== idpEntityId || (envelope.issuer !== undefined && envelope.issuer !== idpEntityId)) {
      throw new ConnectorError('invalid_token', 'Issuer is not the IdP entity id');
    }
    // 6. Validity windows with clock skew: Conditions and a bearer SubjectConfirmationData for our ACS.
    const now = Date.now();
    const conditionsNotBefore = parseInstant(assertion.conditions.notBefore);
    const conditionsNotOnOrAfter = parseInstant(assertion.conditions.notOnOrAfter);
    if (conditionsNotBefore !== undefined && now + skewMs < conditionsNotBefore) {
      throw new ConnectorError('invalid_token', 'assertion not yet valid (Conditions NotBefore)');
    }
    if (conditionsNotOnOrAfter !== undefined && now - skewMs >= conditionsNotOnOrAfter) {
      throw new ConnectorError('invalid_token', 'assertion expired (Conditions NotOnOrAfter)');
    }
    const confirmation = pickBearerConfirmation(assertion.confirmations, acsUrl, now, skewMs);
    // 7. InResponseTo: the signed one (SubjectConfirmationData) and the Response's when present.
    if (requestId !== undefined) {
      if (confirmation.inResponseTo !== requestId || (envelope.inResponseTo !== undefined && envelope.inResponseTo !== requestId)) {
        throw new ConnectorError('invalid_state', 'InResponseTo does not match our AuthnRequest');
      }
    } else if (confirmation.inResponseTo !== undefined || envelope.inResponseTo !== undefined) {
      // Unsolicited, yet answering some request: a response stolen from another flow.
      throw new ConnectorError('invalid_state', 'unsolicited response carries InResponseTo');
    }
    // 8. Replay: remember the Assertion ID (and Response ID) until the assertion can no longer be accepted.
    const expiresAt = Math.max(conditionsNotOnOrAfter ?? 0, confirmation.notOnOrAfter) + skewMs;
    const ttlSeconds = Math.max(1, Math.ceil((expiresAt - now) / 1000));
    if (assertion.id === undefined) {
      throw new ConnectorError('invalid_token', 'assertion without ID');
    }
    const seen = { at: now };
    if (!(await deps.store.putIfAbsent(`saml:assertion:{${config.id}:${assertion.id}}`, seen, ttlSeconds))) {
      throw new ConnectorError('replay', 'SAML assertion seen before');
    }
    if (envelope.id !== undefined && !(await deps.store.putIfAbsent(`saml:response:{${config.id}:${envelope.id}}`, seen, ttlSeconds))) {
      throw new ConnectorError('replay', 'SAML response seen before');
    }

    const identity = toIdentity(config, upstreamIssuer, assertion);
    if (config.require_mfa && !identity.amr.includes('mfa')) {
      throw new ConnectorError('mfa_required', 'the IdP did not assert a multi-factor authentication context');
    }
    log.debug({ acr: identity.acr, amr: identity.amr }, 'saml sign-in verified');
    return identity;
  }

  return {
    kind: 'saml',
    id: config.id,
    type: config.type,
    name: config.name,
    email_domains: config.email_domains,
    require_mfa: config.require_mfa,
    trust_email: config.trust_email,
    trustsIssuer: (issuer) => issuer === upstreamIssuer,
    // Running means the IdP metadata was loaded and checked at creation.
    selfTest: () => Promise.resolve([{ check: 'metadata', ok: true, detail: 'IdP metadata loaded, signing certificate present' }]),
    metadata: () => Promise.resolve(sp.getMetadata()),
    begin: ({ relayState }) => {
      const id = `_${randomBytes(20).toString('hex')}`;
      const xml = buildAuthnRequest(id);
      const request = sp.createLoginRequest(idp, 'redirect', {
        relayState,
        customTagReplacement: () => ({ id, context: xml }),
      });
      return Promise.resolve({ url: request.context, transaction: { request_id: id, relay_state: relayState } });
    },
    complete,
  };
}

async function fetchMetadata(url: string, fetchImpl: typeof fetch): Promise<string> {
  let response: Response;
  try {
    // A connection made at run time never follows a redirect (src/net); the configuration file's may.
    response = await fetchImpl(url, { signal: AbortSignal.timeout(METADATA_TIMEOUT_MS), headers: { accept: 'application/samlmetadata+xml, application/xml, text/xml' } });
  } catch (error) {
    const reason = error instanceof Error && error.name === 'BlockedAddressError' ? ` (${error.message})` : '';
    throw new ConnectorError('upstream_error', `IdP metadata unreachable: ${url}${reason}`, { cause: error });
  }
  if (response.status >= 300 && response.status < 400) {
    throw new ConnectorError('upstream_error', `IdP metadata answered with a redirect (HTTP ${response.status}), which is not followed: configure the final URL instead of ${url}`);
  }
  if (!response.ok) {
    throw new ConnectorError('upstream_error', `IdP metadata answered HTTP ${response.status}: ${url}`);
  }
  const text = await response.text();
  if (text.length > MAX_METADATA_BYTES) {
    throw new ConnectorError('upstream_error', `IdP metadata too large: ${url}`);
  }
  return text;
}

function loadIdp(connectorId: string, metadataXml: string): IdentityProviderInstance {
  let idp: IdentityProviderInstance;
  try {
    idp = IdentityProvider({ metadata: metadataXml });
  } catch (error) {
    throw new ConnectorError('upstream_error', `connector ${connectorId}: IdP metadata is not usable`, { cause: error });
  }
  const entityId: unknown = idp.entityMeta.getEntityID();
  if (typeof entityId !== 'string' || entityId === '') {
    throw new ConnectorError('upstream_error', `connector ${connectorId}: IdP metadata has no EntityDescriptor entityID`);
  }
  const signing: unknown = idp.entityMeta.getX509Certificate('signing');
  const certs = flattenStrings(signing).filter((c) => c.trim() !== '');
  if (certs.length === 0) {
    throw new ConnectorError('upstream_error', `connector ${connectorId}: IdP metadata has no signing certificate`);
  }
  return idp;
}

/** samlify rejects with Error messages (and, for the schema validator, a bare string). */
function mapSamlifyError(error: unknown, xml: string): ConnectorError {
  const message = error instanceof Error ? error.message : String(error);
  if (message.startsWith('ERR_FAILED_STATUS')) {
    const status = Extractor.extract(xml, Extractor.loginResponseStatusFields) as { top?: unknown; second?: unknown };
    const second = typeof status.second === 'string' ? status.second : '';
    const top = typeof status.top === 'string' ? status.top : '';
    const detail = `SAML status ${top}${second ? ` / ${second}` : ''}`;
    if (second === 'urn:oasis:names:tc:SAML:2.0:status:AuthnFailed' || second === 'urn:oasis:names:tc:SAML:2.0:status:RequestDenied') {
      return new ConnectorError('access_denied', detail);
    }
    if (second === 'urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext') {
      // The IdP cannot satisfy our RequestedAuthnContext (the MFA classes).
      return new ConnectorError('mfa_required', detail);
    }
    return new ConnectorError('upstream_error', detail);
  }
  if (message === 'ERR_UNDEFINED_STATUS') {
    return new ConnectorError('upstream_error', 'SAML response without status');
  }
  return new ConnectorError('invalid_token', `SAML response refused: ${message.slice(0, 120)}`, { cause: error });
}

interface Confirmation {
  method: string | undefined;
  notBefore: string | undefined;
  notOnOrAfter: string | undefined;
  recipient: string | undefined;
  inResponseTo: string | undefined;
}

interface VerifiedAssertion {
  id: string | undefined;
  issuer: string | undefined;
  nameId: string | undefined;
  nameIdFormat: string | undefined;
  conditions: { notBefore?: string | undefined; notOnOrAfter?: string | undefined };
  audienceRestrictions: string[][];
  confirmations: Confirmation[];
  authnContextClassRefs: string[];
  attributes: Record<string, string[]>;
}

function readAssertion(assertionXml: string): VerifiedAssertion | undefined {
  const fields = (key: string, localPath: string[], attributes: string[], extra: { context?: boolean } = {}) => ({
    key,
    localPath,
    attributes,
    shortcut: assertionXml,
    ...extra,
  });
  const root = Extractor.extract(assertionXml, [fields('root', ['Assertion'], [], { context: true })]);
  if (typeof root['root'] !== 'string') return undefined;
  const r = Extractor.extract(assertionXml, [
    fields('id', ['Assertion'], ['ID']),
    fields('issuer', ['Assertion', 'Issuer'], []),
    fields('nameId', ['Assertion', 'Subject', 'NameID'], []),
    fields('nameIdFormat', ['Assertion', 'Subject', 'NameID'], ['Format']),
    fields('notBefore', ['Assertion', 'Conditions'], ['NotBefore']),
    fields('notOnOrAfter', ['Assertion', 'Conditions'], ['NotOnOrAfter']),
    fields('audienceRestrictions', ['Assertion', 'Conditions', 'AudienceRestriction'], [], { context: true }),
    fields('confirmations', ['Assertion', 'Subject', 'SubjectConfirmation'], [], { context: true }),
    fields('classRefs', ['Assertion', 'AuthnStatement', 'AuthnContext', 'AuthnContextClassRef'], []),
    {
      key: 'attributes',
      localPath: ['Assertion', 'AttributeStatement', 'Attribute'],
      index: ['Name'],
      attributePath: ['AttributeValue'],
      attributes: [],
      shortcut: assertionXml,
    },
  ]);

  const audienceRestrictions = asStrings(r['audienceRestrictions']).map((restriction) =>
    asStrings(Extractor.extract(restriction, [{ key: 'a', localPath: ['AudienceRestriction', 'Audience'], attributes: [] }])['a']).map((a) => a.trim()),
  );
  const confirmations = asStrings(r['confirmations']).map((confirmation): Confirmation => {
    const c = Extractor.extract(confirmation, [
      { key: 'method', localPath: ['SubjectConfirmation'], attributes: ['Method'] },
      { key: 'notBefore', localPath: ['SubjectConfirmation', 'SubjectConfirmationData'], attributes: ['NotBefore'] },
      { key: 'notOnOrAfter', localPath: ['SubjectConfirmation', 'SubjectConfirmationData'], attributes: ['NotOnOrAfter'] },
      { key: 'recipient', localPath: ['SubjectConfirmation', 'SubjectConfirmationData'], attributes: ['Recipient'] },
      { key: 'inResponseTo', localPath: ['SubjectConfirmation', 'SubjectConfirmationData'], attributes: ['InResponseTo'] },
    ]);
    return {
      method: asString(c['method']),
      notBefore: asString(c['notBefore']),
      notOnOrAfter: asString(c['notOnOrAfter']),
      recipient: asString(c['recipient']),
      inResponseTo: asString(c['inResponseTo']),
    };
  });
  const attributes: Record<string, string[]> = {};
  const rawAttributes = r['attributes'];
  if (rawAttributes !== null && typeof rawAttributes === 'object' && !Array.isArray(rawAttributes)) {
    for (const [name, value] of Object.entries(rawAttributes as Record<string, unknown>)) {
      const values = asStrings(value).map((v) => v.trim()).filter((v) => v !== '');
      attributes[name] = [...(attributes[name] ?? []), ...values];
    }
  }
  return {
    id: asString(r['id']),
    issuer: asString(r['issuer'])?.trim(),
    nameId: asString(r['nameId'])?.trim(),
    nameIdFormat: asString(r['nameIdFormat']),
    conditions: { notBefore: asString(r['notBefore']), notOnOrAfter: asString(r['notOnOrAfter']) },
    audienceRestrictions,
    confirmations,
    authnContextClassRefs: asStrings(r['classRefs']).map((v) => v.trim()),
    attributes,
  };
}

/** Response-level values: outside the signature when only the Assertion is signed, so only ever compared. */
function readEnvelope(xml: string): { id?: string | undefined; destination?: string | undefined; inResponseTo?: string | undefined; issuer?: string | undefined } {
  const r = Extractor.extract(xml, [
    { key: 'id', localPath: ['Response'], attributes: ['ID'] },
    { key: 'destination', localPath: ['Response'], attributes: ['Destination'] },
    { key: 'inResponseTo', localPath: ['Response'], attributes: ['InResponseTo'] },
    { key: 'issuer', localPath: ['Response', 'Issuer'], attributes: [] },
  ]);
  return {
    id: asString(r['id']),
    destination: asString(r['destination']),
    inResponseTo: asString(r['inResponseTo']),
    issuer: asString(r['issuer'])?.trim(),
  };
}

/** Web SSO profile §4.1.4.2: a bearer SubjectConfirmation for our ACS, within its NotOnOrAfter. */
function pickBearerConfirmation(confirmations: Confirmation[], acsUrl: string, now: number, skewMs: number): Omit<Confirmation, 'notOnOrAfter'> & { notOnOrAfter: number } {
  const bearers = confirmations.filter((c) => c.method === BEARER);
  if (bearers.length === 0) {
    throw new ConnectorError('invalid_token', 'no bearer SubjectConfirmation');
  }
  let reason = 'bearer SubjectConfirmationData invalid';
  for (const c of bearers) {
    const notOnOrAfter = parseInstant(c.notOnOrAfter);
    const notBefore = parseInstant(c.notBefore);
    if (notOnOrAfter === undefined) {
      reason = 'SubjectConfirmationData without NotOnOrAfter';
    } else if (now - skewMs >= notOnOrAfter) {
      reason = 'assertion expired (SubjectConfirmationData NotOnOrAfter)';
    } else if (notBefore !== undefined && now + skewMs < notBefore) {
      reason = 'assertion not yet valid (SubjectConfirmationData NotBefore)';
    } else if (c.recipient !== undefined && c.recipient !== acsUrl) {
      reason = 'SubjectConfirmationData Recipient is not our ACS';
    } else {
      return { ...c, notOnOrAfter };
    }
  }
  throw new ConnectorError('invalid_token', reason);
}

/** SHA-256 (hex) of the IdP's signing certificates (base64 DER, whitespace removed, sorted). */
function certificatesDigest(idp: IdentityProviderInstance): string {
  const certs = flattenStrings(idp.entityMeta.getX509Certificate('signing') as unknown).map((c) => c.replace(/\s+/g, '')).filter((c) => c !== '').sort();
  return createHash('sha256').update(certs.join('\n')).digest('hex');
}

function toIdentity(config: SamlConfig, issuer: string, assertion: VerifiedAssertion): Identity {
  const attr = (names: string[]): string[] => {
    for (const name of names) {
      const values = assertion.attributes[name];
      if (values !== undefined && values.length > 0) return values;
    }
    return [];
  };
  const nameIdIsEmail = assertion.nameId !== undefined && (assertion.nameIdFormat === NAMEID_EMAIL || looksLikeEmail(assertion.nameId));
  const email =
    attr(config.attributes.email !== undefined ? [config.attributes.email] : DEFAULT_EMAIL_ATTRIBUTES)[0] ??
    (nameIdIsEmail ? assertion.nameId : undefined) ??
    null;
  const name = attr(config.attributes.name !== undefined ? [config.attributes.name] : DEFAULT_NAME_ATTRIBUTES)[0] ?? null;
  const groups = [...new Set(attr(config.attributes.groups !== undefined ? [config.attributes.groups] : DEFAULT_GROUP_ATTRIBUTES))];

  // A transient NameID changes at every sign-in: it cannot identify the person again. We then use the email
  // (lower-cased) as the subject, and refuse when there is none.
  let subject: string;
  if (assertion.nameId !== undefined && assertion.nameId !== '' && assertion.nameIdFormat !== NAMEID_TRANSIENT) {
    subject = assertion.nameId;
  } else if (email !== null) {
    subject = email.toLowerCase();
  } else {
    throw new ConnectorError('upstream_error', 'no stable subject: NameID missing or transient, and no email attribute');
  }

  const acr = assertion.authnContextClassRefs[0] ?? null;
  const entraMethods = assertion.attributes[ENTRA_AMR_ATTRIBUTE] ?? [];
  const mfa = assertion.authnContextClassRefs.some((ref) => config.mfa_authn_contexts.includes(ref)) || entraMethods.includes(ENTRA_MFA);
  const pwd = assertion.authnContextClassRefs.some((ref) => PASSWORD_AUTHN_CONTEXTS.has(ref)) || entraMethods.includes(ENTRA_PASSWORD);

  return {
    connector_id: config.id,
    subject,
    issuer,
    email,
    // The organisation's IdP signed the assertion: its address counts unless trust_email: false.
    email_verified: resolveEmailVerified(email, true, config.trust_email),
    name,
    groups,
    amr: mfa ? ['mfa'] : pwd ? ['pwd'] : [],
    acr,
  };
}

function asString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return undefined;
}

function asStrings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

function flattenStrings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap((v: unknown) => flattenStrings(v));
  return [];
}

function parseInstant(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new ConnectorError('invalid_token', 'malformed SAML time instant');
  return ms;
}

function looksLikeEmail(value: string): boolean {
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value);
}

function escapeXml(value: string): string {
  return value.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}
