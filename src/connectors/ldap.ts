import { z } from 'zod';
import { LdapDirectory, LdapUnavailableError, ldapConfigSchema, ldapIssuer } from '../directory/ldap.ts';
import { resolveEmailVerified } from './oidc.ts';
import { ConnectorError, type ConnectorCommon, type ConnectorDeps, type ConnectorFactory, type Identity, type PasswordConnector } from './types.ts';

/**
 * LDAP as a PasswordConnector: the person types their email and directory password on our sign-in
 * page; we find them with the service account and bind as them (src/directory/ldap.ts).
 * LDAP proves a password only, so it cannot satisfy `require_mfa`.
 */

const configSchema = z.object({
  /** The directory to use; when absent the container passes the top-level `ldap:` block's directory. */
  ldap: ldapConfigSchema.optional(),
});

/** The directory behind each LDAP connector (for the group sync and the connection test). */
const directories = new WeakMap<object, LdapDirectory>();

export function ldapDirectoryOf(connector: object | undefined): LdapDirectory | undefined {
  return connector ? directories.get(connector) : undefined;
}

/** A connector over an existing directory (the one the group sync uses, built once by the container). */
export function createLdapConnector(config: ConnectorCommon, directory: LdapDirectory, deps: Pick<ConnectorDeps, 'logger'>): PasswordConnector {
  // Only the common keys: `config` may carry more (an `ldap` block with a bind password) that must not
  // end up on the connector object, where it could be serialised or logged.
  const common: ConnectorCommon = {
    id: config.id,
    type: config.type,
    name: config.name,
    email_domains: config.email_domains,
    require_mfa: config.require_mfa,
    trust_email: config.trust_email,
  };
  const logger = deps.logger.child({ connector: common.id });
  const connector: PasswordConnector = {
    ...common,
    kind: 'password',
    trustsIssuer: (issuer) => issuer === directory.issuer,
    async login({ username, password }): Promise<Identity> {
      try {
        const user = await directory.authenticate(username, password);
        return {
          connector_id: common.id,
          subject: user.id,
          issuer: directory.issuer,
          email: user.email,
          // The directory is the organisation's own record of its people's addresses.
          email_verified: resolveEmailVerified(user.email, true, common.trust_email),
          name: user.name,
          groups: user.groups,
          amr: ['pwd'],
          acr: null,
        };
      } catch (error) {
        if (error instanceof ConnectorError) throw error;
        if (error instanceof LdapUnavailableError) {
          logger.warn({ reason: error.reason }, 'ldap connector: directory unavailable');
        } else {
          // A directory answer we did not expect (no such base DN, insufficient access…): a config problem.
          logger.error({ err: error instanceof Error ? error.message : String(error) }, 'ldap connector: directory error');
        }
        throw new ConnectorError('upstream_error', error instanceof Error ? error.message : 'LDAP error', { cause: error });
      }
    },
  };
  directories.set(connector, directory);
  return connector;
}

export const ldapConnector: ConnectorFactory<typeof configSchema> = {
  type: 'ldap',
  configSchema,
  canProveMfa: false,
  upstream: (config) => (config.ldap ? ldapIssuer(config.ldap) : ''),
  create(config, deps) {
    if (!config.ldap) {
      throw new Error(`connector ${config.id}: no ldap settings (set connectors[].ldap, or the container passes the top-level ldap: block)`);
    }
    return createLdapConnector(config, new LdapDirectory(config.ldap, { logger: deps.logger, sockets: deps.sockets }), deps);
  },
};
