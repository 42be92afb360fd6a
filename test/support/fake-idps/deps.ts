/** ConnectorDeps for connector tests: real fetch, silent logger, and a store that fails loudly if touched. */
import { pino } from 'pino';
import type { Connector, ConnectorDeps, RedirectConnector } from '../../../src/connectors/types.ts';
import type { Store } from '../../../src/store/index.ts';

export const OUR_ISSUER = 'http://127.0.0.1:9';

export function connectorDeps(): ConnectorDeps {
  // The redirect connectors keep no state of their own: the caller stores the transaction.
  const store = new Proxy({} as Store, {
    get(_target, property) {
      throw new Error(`redirect connectors must not use the store (touched ${String(property)})`);
    },
  });
  return { issuer: OUR_ISSUER, store, logger: pino({ level: 'silent' }), fetch: globalThis.fetch };
}

export function callbackUri(connectorId: string): string {
  return `${OUR_ISSUER}/federation/${connectorId}/callback`;
}

export function asRedirect(connector: Connector): RedirectConnector {
  if (connector.kind !== 'redirect') throw new Error(`expected a redirect connector, got ${connector.kind}`);
  return connector;
}

/** The common keys the registry validates, for tests that build connectors straight from a factory. */
export function common(id: string, type: string, overrides: { require_mfa?: boolean; trust_email?: boolean } = {}): {
  id: string;
  type: string;
  name: string;
  email_domains: string[];
  require_mfa: boolean;
  trust_email: boolean | undefined;
} {
  return { id, type, name: id, email_domains: [], require_mfa: overrides.require_mfa ?? false, trust_email: overrides.trust_email };
}

/** The transaction with a PKCE verifier that differs from the real one in its last character. */
export function withTamperedVerifier(transaction: Record<string, string>): Record<string, string> {
  const verifier = transaction.code_verifier ?? '';
  return { ...transaction, code_verifier: `${verifier.slice(0, -1)}${verifier.endsWith('A') ? 'B' : 'A'}` };
}
