import { z } from 'zod';
import type { ConnectorCommon, ConnectorDeps, Connector, SharedResources } from './types.ts';
import { connectorType, connectorTypes } from './registry.ts';

export * from './types.ts';
export { createLdapConnector } from './ldap.ts';
export { registerConnectorType, unregisterConnectorType, connectorType, connectorTypes } from './registry.ts';

/** Keys every connector has; the connector's own keys are validated by its type's schema. */
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
 * Validates one connector entry: common keys, then the type's own keys, then the cross-checks against the
 * type's abilities (refresh, MFA proof). Issues carry key paths relative to the entry.
 */
export function parseConnectorConfig(raw: unknown): { ok: true; config: ConnectorConfig } | { ok: false; issues: Array<{ path: PropertyKey[]; message: string }> } {
  const common = commonConnectorSchema.safeParse(raw);
  if (!common.success) return { ok: false, issues: common.error.issues.map((i) => ({ path: i.path, message: i.message })) };
  const type = connectorType(common.data.type);
  if (!type) return { ok: false, issues: [{ path: ['type'], message: `unknown connector type "${common.data.type}"; one of ${connectorTypes().map((t) => t.type).join(', ')}` }] };
  const commonKeys = new Set(Object.keys(commonConnectorSchema.shape));
  const own = Object.fromEntries(Object.entries(raw as Record<string, unknown>).filter(([k]) => !commonKeys.has(k)));
  const specific = (type.configSchema as z.ZodType).safeParse(own);
  if (!specific.success) return { ok: false, issues: specific.error.issues.map((i) => ({ path: i.path, message: i.message })) };
  if (common.data.check_upstream_on_refresh && !type.refreshes) {
    return { ok: false, issues: [{ path: ['check_upstream_on_refresh'], message: `${type.names.en} connectors cannot refresh upstream sessions` }] };
  }
  if (common.data.require_mfa && !type.canProveMfa) {
    return { ok: false, issues: [{ path: ['require_mfa'], message: `${type.names.en} cannot prove MFA, so require_mfa cannot be enforced` }] };
  }
  const config = {
    ...(specific.data as Record<string, unknown>),
    ...common.data,
    name: common.data.name ?? type.names.en,
  } as ConnectorConfig;
  return { ok: true, config };
}

function typeOf(config: ConnectorConfig) {
  const type = connectorType(config.type);
  if (!type) throw new Error(`unknown connector type ${config.type}`);
  return type;
}

/** What decides the upstream of a validated entry (ConnectorType.upstream). */
export function upstreamOf(config: ConnectorConfig, shared: SharedResources = {}): string {
  return typeOf(config).upstream(config, shared);
}

/** Builds a connector from a validated entry, with the server's shared resources (the `ldap:` directory). */
export async function createConnector(config: ConnectorConfig, deps: ConnectorDeps, shared: SharedResources = {}): Promise<Connector> {
  return typeOf(config).create(config, deps, shared);
}
