import { z } from 'zod';
import type { ConnectorCommon, ConnectorDeps, ConnectorFactory, Connector } from './types.ts';
import { oidcConnector } from './oidc.ts';
import { entraConnector } from './entra.ts';
import { yandexConnector } from './yandex.ts';
import { vkConnector } from './vk.ts';
import { samlConnector } from './saml.ts';
import { ldapConnector, createLdapConnector, ldapDirectoryOf } from './ldap.ts';
import type { LdapDirectory } from '../directory/ldap.ts';

export * from './types.ts';
export { createLdapConnector, ldapDirectoryOf };

/** The typed registry: connector `type` → its schema and factory. It knows no connector internals. */
export const CONNECTOR_FACTORIES: ReadonlyArray<ConnectorFactory> = [
  oidcConnector,
  entraConnector,
  yandexConnector,
  vkConnector,
  samlConnector,
  ldapConnector,
] as ReadonlyArray<ConnectorFactory>;

const byType = new Map(CONNECTOR_FACTORIES.map((f) => [f.type, f]));

const DISPLAY_NAMES: Record<string, string> = {
  oidc: 'OpenID Connect',
  entra: 'Microsoft Entra ID',
  yandex: 'Яндекс ID',
  vk: 'VK ID',
  saml: 'SAML 2.0',
  ldap: 'Corporate account',
};

/** Keys every connector has; the connector's own keys are validated by its factory's schema. */
export const commonConnectorSchema = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lower-case letters, digits, "-" and "_", at most 63 characters'),
  type: z.string(),
  name: z.string().min(1).max(100).optional(),
  email_domains: z.array(z.string().toLowerCase().regex(/^[a-z0-9.-]+\.[a-z]{2,}$/, 'not a domain name')).default([]),
  require_mfa: z.boolean().default(false),
  trust_email: z.boolean().optional(),
  enabled: z.boolean().default(true),
  /** At each of our refreshes, ask the upstream (with its refresh token) whether the account still exists. */
  check_upstream_on_refresh: z.boolean().default(false),
});

export type ConnectorConfig = ConnectorCommon & { enabled: boolean; check_upstream_on_refresh: boolean } & Record<string, unknown>;

/**
 * Validates one connector entry: common keys, then the type's own keys, then the cross-checks
 * (a provider that cannot prove MFA with require_mfa is a configuration error). Issues carry key paths
 * relative to the entry.
 */
export function parseConnectorConfig(raw: unknown): { ok: true; config: ConnectorConfig } | { ok: false; issues: Array<{ path: PropertyKey[]; message: string }> } {
  const common = commonConnectorSchema.safeParse(raw);
  if (!common.success) return { ok: false, issues: common.error.issues.map((i) => ({ path: i.path, message: i.message })) };
  const factory = byType.get(common.data.type);
  if (!factory) return { ok: false, issues: [{ path: ['type'], message: `unknown connector type "${common.data.type}"; one of ${[...byType.keys()].join(', ')}` }] };
  const commonKeys = new Set(Object.keys(commonConnectorSchema.shape));
  const own = Object.fromEntries(Object.entries(raw as Record<string, unknown>).filter(([k]) => !commonKeys.has(k)));
  const specific = (factory.configSchema as z.ZodType).safeParse(own);
  if (!specific.success) return { ok: false, issues: specific.error.issues.map((i) => ({ path: i.path, message: i.message })) };
  if (common.data.check_upstream_on_refresh && !['oidc'].includes(factory.type)) {
    return { ok: false, issues: [{ path: ['check_upstream_on_refresh'], message: `${DISPLAY_NAMES[factory.type] ?? factory.type} connectors cannot refresh upstream sessions` }] };
  }
  if (common.data.require_mfa && !factory.canProveMfa) {
    return { ok: false, issues: [{ path: ['require_mfa'], message: `${DISPLAY_NAMES[factory.type] ?? factory.type} cannot prove MFA, so require_mfa cannot be enforced` }] };
  }
  const config = {
    ...(specific.data as Record<string, unknown>),
    ...common.data,
    name: common.data.name ?? DISPLAY_NAMES[factory.type] ?? common.data.id,
  } as ConnectorConfig;
  return { ok: true, config };
}

/**
 * What decides the upstream of a validated entry (ConnectorFactory.upstream); an LDAP connector without its
 * own `ldap` settings is the shared directory's.
 */
export function upstreamOf(config: ConnectorConfig, shared: { ldapDirectory?: LdapDirectory | undefined } = {}): string {
  const factory = byType.get(config.type);
  if (!factory) throw new Error(`unknown connector type ${config.type}`);
  if (config.type === 'ldap' && !config.ldap) return shared.ldapDirectory?.issuer ?? '';
  return factory.upstream(config);
}

/** Builds a connector from a validated entry. LDAP connectors without their own `ldap` use the shared directory. */
export async function createConnector(config: ConnectorConfig, deps: ConnectorDeps, shared: { ldapDirectory?: LdapDirectory | undefined } = {}): Promise<Connector> {
  const factory = byType.get(config.type);
  if (!factory) throw new Error(`unknown connector type ${config.type}`);
  if (config.type === 'ldap' && !config.ldap) {
    if (!shared.ldapDirectory) throw new Error(`connector ${config.id}: type ldap needs the top-level ldap: block (or its own ldap: settings)`);
    return createLdapConnector(config, shared.ldapDirectory, deps);
  }
  return factory.create(config, deps);
}
