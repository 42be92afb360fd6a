import type { ConnectorType } from './types.ts';
import { oidcConnector } from './oidc.ts';
import { entraConnector } from './entra.ts';
import { yandexConnector } from './yandex.ts';
import { vkConnector } from './vk.ts';
import { samlConnector } from './saml.ts';
import { ldapConnector } from './ldap.ts';

/**
 * The typed registry: connector `type` → its self-description (names, logo, abilities, schema, secrets,
 * form, factory). It knows no connector internals; a new provider is one module whose descriptor is
 * listed here (or registered with registerConnectorType) plus its translations.
 */
const BUILT_IN: ReadonlyArray<ConnectorType> = [yandexConnector, vkConnector, entraConnector, oidcConnector, samlConnector, ldapConnector] as ReadonlyArray<ConnectorType>;

const registry = new Map<string, ConnectorType>(BUILT_IN.map((t) => [t.type, t]));

/** Adds a connector type (a provider built on the generic ones, a test's fake); its `type` must be new. */
export function registerConnectorType(descriptor: ConnectorType): void {
  if (!/^[a-z][a-z0-9_-]{0,30}$/.test(descriptor.type)) throw new Error(`connector type "${descriptor.type}": lower-case letters, digits, "-" and "_"`);
  if (registry.has(descriptor.type) || descriptor.type === 'scim') throw new Error(`connector type "${descriptor.type}" is registered already`);
  registry.set(descriptor.type, descriptor);
}

/** Removes a type registered with registerConnectorType (tests); the built-in ones stay. */
export function unregisterConnectorType(type: string): void {
  if (BUILT_IN.some((t) => t.type === type)) throw new Error(`connector type "${type}" is built in`);
  registry.delete(type);
}

export function connectorType(type: string): ConnectorType | undefined {
  return registry.get(type);
}

/** Every type, in the order the SSO wizard offers them. */
export function connectorTypes(): ConnectorType[] {
  return [...registry.values()];
}

/** Every registered type's secret fields (withoutSecrets strips them all, whatever the type). */
export function allSecretFields(): Array<{ path: string; destinations: string[] }> {
  const out = new Map<string, string[]>();
  for (const t of registry.values()) for (const f of t.secretFields) out.set(f.path, [...new Set([...(out.get(f.path) ?? []), ...f.destinations])]);
  return [...out].map(([path, destinations]) => ({ path, destinations }));
}

export function allServerFileFields(): string[] {
  return [...new Set([...registry.values()].flatMap((t) => t.serverFileFields ?? []))];
}
