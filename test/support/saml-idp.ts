import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { Constants, Extractor, IdentityProvider, SamlLib } from 'samlify';
import type { SamlConnector } from '../../src/connectors/types.ts';
import { freePort } from './ports.ts';

/**
 * A real SAML 2.0 IdP for tests, over HTTP on a free port: samlify in IdP mode publishes the metadata, the
 * responses are built here and signed with samlify's XML-DSig (RSA-SHA256, exclusive c14n) by a self-signed
 * certificate made with `openssl req -x509` at start. It takes our AuthnRequest at /sso (HTTP-Redirect) and
 * answers with the usual auto-submitting HTML form POSTing SAMLResponse (+ RelayState) to the request's ACS.
 *
 * Test controls: `user` (NameID, attributes, AuthnContextClassRef), `signing`, and `mode` for the evil cases.
 */

export interface SamlTestUser {
  nameId: string;
  nameIdFormat: string;
  /** Attribute Name → value(s); an array becomes several AttributeValue elements. */
  attributes: Record<string, string | string[]>;
  authnContextClassRef: string | undefined;
}

export type SamlIdpMode =
  | 'normal'
  | 'unsigned'
  | 'expired'
  | 'wrong_audience'
  | 'wrong_destination'
  | 'wrong_in_response_to'
  | 'status_failure';

export type SamlIdpSigning = 'assertion' | 'response' | 'both';

export interface ReceivedAuthnRequest {
  id: string;
  issuer: string;
  acsUrl: string;
  relayState: string | undefined;
  requestedAuthnContexts: string[];
  comparison: string | undefined;
}

export interface TestSamlIdp {
  entityId: string;
  baseUrl: string;
  metadataUrl: string;
  ssoUrl: string;
  metadata: string;
  /** PEM of the IdP signing certificate. */
  certificate: string;
  user: SamlTestUser;
  mode: SamlIdpMode;
  signing: SamlIdpSigning;
  /** For mode 'status_failure'. */
  status: { top: string; second: string | undefined };
  lastAuthnRequest: ReceivedAuthnRequest | undefined;
  /** A base64 SAMLResponse as the IdP would POST it (IdP-initiated when inResponseTo is undefined). */
  buildResponse(input: { acsUrl: string; audience: string; inResponseTo: string | undefined }): string;
  close(): Promise<void>;
}

export const NAMEID_PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
export const NAMEID_TRANSIENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient';
export const PASSWORD_PROTECTED_TRANSPORT = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';

export function defaultSamlUser(): SamlTestUser {
  return {
    nameId: 'u-1f9a7c',
    nameIdFormat: NAMEID_PERSISTENT,
    attributes: {
      mail: 'ada@example.com',
      displayName: 'Ada Lovelace',
      'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups': ['logs-admins', 'logs-readers'],
    },
    authnContextClassRef: PASSWORD_PROTECTED_TRANSPORT,
  };
}

function makeCertificate(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'saml-idp-'));
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2', '-subj', '/CN=LogTrace test SAML IdP',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function esc(value: string): string {
  return value.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}

const newId = (): string => `_${randomBytes(16).toString('hex')}`;
const SIG_ALG = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';

/**
 * `ssoHost` names the host browsers are sent to for /sso (the server still listens on 127.0.0.1): `localhost`
 * puts the IdP on another site than a server at 127.0.0.1, so its POST to our ACS is cross-site, as in production.
 */
export async function startSamlIdp(options: { ssoHost?: string } = {}): Promise<TestSamlIdp> {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const entityId = `${baseUrl}/metadata`;
  const ssoUrl = `http://${options.ssoHost ?? '127.0.0.1'}:${port}/sso`;
  const { key, cert } = makeCertificate();

  const entity = IdentityProvider({
    entityID: entityId,
    signingCert: cert,
    privateKey: key,
    wantAuthnRequestsSigned: false,
    nameIDFormat: [NAMEID_PERSISTENT, 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'],
    singleSignOnService: [{ Binding: Constants.namespace.binding.redirect, Location: ssoUrl }],
  });
  const metadata = entity.getMetadata();
  // samlify's signer wants the certificate body (base64 DER, no PEM armour) for the KeyInfo it embeds.
  const certBody = cert.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');

  function sign(xml: string, what: 'assertion' | 'response'): string {
    return SamlLib.constructSAMLSignature({
      rawSamlMessage: xml,
      privateKey: key,
      signingCert: certBody,
      signatureAlgorithm: SIG_ALG,
      isBase64Output: false,
      ...(what === 'assertion'
        ? {
            referenceTagXPath: "/*[local-name(.)='Response']/*[local-name(.)='Assertion']",
            signatureConfig: {
              prefix: 'ds',
              location: { reference: "/*[local-name(.)='Response']/*[local-name(.)='Assertion']/*[local-name(.)='Issuer']", action: 'after' },
            },
          }
        : {
            isMessageSigned: true,
            signatureConfig: { prefix: 'ds', location: { reference: "/*[local-name(.)='Response']/*[local-name(.)='Issuer']", action: 'after' } },
          }),
    });
  }

  const idp: TestSamlIdp = {
    entityId,
    baseUrl,
    metadataUrl: `${baseUrl}/metadata`,
    ssoUrl,
    metadata,
    certificate: cert,
    user: defaultSamlUser(),
    mode: 'normal',
    signing: 'assertion',
    status: { top: 'urn:oasis:names:tc:SAML:2.0:status:Responder', second: 'urn:oasis:names:tc:SAML:2.0:status:AuthnFailed' },
    lastAuthnRequest: undefined,
    buildResponse({ acsUrl, audience, inResponseTo }) {
      const mode = idp.mode;
      const now = Date.now();
      const issued = mode === 'expired' ? now - 60 * 60_000 : now;
      const notOnOrAfter = new Date(issued + 5 * 60_000).toISOString();
      const notBefore = new Date(issued - 30_000).toISOString();
      const instant = new Date(issued).toISOString();
      const destination = mode === 'wrong_destination' ? 'https://evil.example/acs' : acsUrl;
      const inResponseToValue = mode === 'wrong_in_response_to' ? newId() : inResponseTo;
      const inResponseToAttr = inResponseToValue !== undefined ? ` InResponseTo="${esc(inResponseToValue)}"` : '';
      const audienceValue = mode === 'wrong_audience' ? 'https://other-sp.example/metadata' : audience;
      const responseOpen =
        '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"' +
        ` ID="${newId()}" Version="2.0" IssueInstant="${instant}" Destination="${esc(destination)}"${inResponseToAttr}>` +
        `<saml:Issuer>${esc(entityId)}</saml:Issuer>`;

      if (mode === 'status_failure') {
        const second = idp.status.second !== undefined ? `<samlp:StatusCode Value="${esc(idp.status.second)}"/>` : '';
        const xml = `${responseOpen}<samlp:Status><samlp:StatusCode Value="${esc(idp.status.top)}">${second}</samlp:StatusCode></samlp:Status></samlp:Response>`;
        return Buffer.from(xml, 'utf8').toString('base64');
      }

      const { user } = idp;
      const attributes = Object.entries(user.attributes)
        .map(([name, value]) => {
          const values = (Array.isArray(value) ? value : [value]).map((v) => `<saml:AttributeValue>${esc(v)}</saml:AttributeValue>`).join('');
          return `<saml:Attribute Name="${esc(name)}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri">${values}</saml:Attribute>`;
        })
        .join('');
      const authnContext =
        user.authnContextClassRef !== undefined
          ? `<saml:AuthnContextClassRef>${esc(user.authnContextClassRef)}</saml:AuthnContextClassRef>`
          : '<saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified</saml:AuthnContextClassRef>';
      const assertion =
        `<saml:Assertion ID="${newId()}" Version="2.0" IssueInstant="${instant}">` +
        `<saml:Issuer>${esc(entityId)}</saml:Issuer>` +
        `<saml:Subject><saml:NameID Format="${esc(user.nameIdFormat)}">${esc(user.nameId)}</saml:NameID>` +
        `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="${notOnOrAfter}" Recipient="${esc(destination)}"${inResponseToAttr}/></saml:SubjectConfirmation></saml:Subject>` +
        `<saml:Conditions NotBefore="${notBefore}" NotOnOrAfter="${notOnOrAfter}"><saml:AudienceRestriction><saml:Audience>${esc(audienceValue)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
        `<saml:AuthnStatement AuthnInstant="${instant}" SessionIndex="${newId()}"><saml:AuthnContext>${authnContext}</saml:AuthnContext></saml:AuthnStatement>` +
        (attributes !== '' ? `<saml:AttributeStatement>${attributes}</saml:AttributeStatement>` : '') +
        '</saml:Assertion>';
      let xml = `${responseOpen}<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>${assertion}</samlp:Response>`;
      if (mode !== 'unsigned') {
        if (idp.signing === 'assertion' || idp.signing === 'both') xml = sign(xml, 'assertion');
        if (idp.signing === 'response' || idp.signing === 'both') xml = sign(xml, 'response');
      }
      return Buffer.from(xml, 'utf8').toString('base64');
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };

  function handleSso(url: URL, res: ServerResponse): void {
    const encoded = url.searchParams.get('SAMLRequest');
    if (encoded === null) {
      res.writeHead(400).end('SAMLRequest missing');
      return;
    }
    const xml = inflateRawSync(Buffer.from(encoded, 'base64')).toString('utf8');
    const fields = Extractor.extract(xml, [
      { key: 'id', localPath: ['AuthnRequest'], attributes: ['ID'] },
      { key: 'acs', localPath: ['AuthnRequest'], attributes: ['AssertionConsumerServiceURL'] },
      { key: 'issuer', localPath: ['AuthnRequest', 'Issuer'], attributes: [] },
      { key: 'comparison', localPath: ['AuthnRequest', 'RequestedAuthnContext'], attributes: ['Comparison'] },
      { key: 'classRefs', localPath: ['AuthnRequest', 'RequestedAuthnContext', 'AuthnContextClassRef'], attributes: [] },
    ]);
    const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
    const id = str(fields['id']);
    const acsUrl = str(fields['acs']);
    const issuer = str(fields['issuer']);
    if (id === undefined || acsUrl === undefined || issuer === undefined) {
      res.writeHead(400).end('AuthnRequest without ID, AssertionConsumerServiceURL or Issuer');
      return;
    }
    const classRefs = fields['classRefs'];
    const relayState = url.searchParams.get('RelayState') ?? undefined;
    idp.lastAuthnRequest = {
      id,
      issuer,
      acsUrl,
      relayState,
      requestedAuthnContexts: typeof classRefs === 'string' ? [classRefs] : Array.isArray(classRefs) ? classRefs.filter((c): c is string => typeof c === 'string') : [],
      comparison: str(fields['comparison']),
    };
    const samlResponse = idp.buildResponse({ acsUrl, audience: issuer, inResponseTo: id });
    const relayInput = relayState !== undefined ? `<input type="hidden" name="RelayState" value="${esc(relayState)}">` : '';
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(
      `<!doctype html><html><body onload="document.forms[0].submit()"><form method="post" action="${esc(acsUrl)}">` +
        `<input type="hidden" name="SAMLResponse" value="${samlResponse}">${relayInput}` +
        '<noscript><button type="submit">Continue</button></noscript></form></body></html>',
    );
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', baseUrl);
    if (req.method === 'GET' && url.pathname === '/metadata') {
      res.writeHead(200, { 'content-type': 'application/samlmetadata+xml' }).end(metadata);
    } else if (req.method === 'GET' && url.pathname === '/sso') {
      try {
        handleSso(url, res);
      } catch (error) {
        console.error('test SAML IdP:', error);
        res.writeHead(500).end('test IdP failure');
      }
    } else {
      res.writeHead(404).end();
    }
  });
  // Longer than any client's idle keep-alive: otherwise the server may close an idle socket just as fetch
  // reuses it, and the request fails with ECONNRESET (a race that shows on a loaded machine).
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return idp;
}

function unescapeHtml(value: string): string {
  return value.replace(/&(lt|gt|amp|quot|apos|#39);/g, (_m, e: string) => ({ lt: '<', gt: '>', amp: '&', quot: '"', apos: "'", '#39': "'" })[e] ?? '');
}

export interface SamlLoginResult {
  samlResponse: string;
  relayState: string | undefined;
  /** The form's action: where a browser would POST (our ACS). */
  action: string;
  transaction: Record<string, string>;
}

/** begin() → GET the IdP SSO URL (plain fetch) → the SAMLResponse from the auto-submitting form; no browser. */
export async function runSamlLogin(connector: SamlConnector, relayState = randomBytes(12).toString('base64url')): Promise<SamlLoginResult> {
  const { url, transaction } = await connector.begin({ relayState });
  const response = await fetch(url, { redirect: 'manual' });
  const html = await response.text();
  if (response.status !== 200) throw new Error(`test IdP answered ${response.status}: ${html}`);
  const action = /<form[^>]*action="([^"]*)"/.exec(html)?.[1];
  const samlResponse = /name="SAMLResponse" value="([^"]*)"/.exec(html)?.[1];
  const relay = /name="RelayState" value="([^"]*)"/.exec(html)?.[1];
  if (action === undefined || samlResponse === undefined) throw new Error('no SAMLResponse form in the IdP page');
  return {
    samlResponse: unescapeHtml(samlResponse),
    relayState: relay !== undefined ? unescapeHtml(relay) : undefined,
    action: unescapeHtml(action),
    transaction,
  };
}
