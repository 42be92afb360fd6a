import { z } from 'zod';
import { LdapDirectory, LdapUnavailableError, ldapConfigSchema, ldapIssuer } from '../directory/ldap.ts';
import { resolveEmailVerified } from './oidc.ts';
import {
  ConnectorError,
  type ConnectorCommon,
  type ConnectorDeps,
  type ConnectorType,
  type DirectoryConnector,
  type FormField,
  type Identity,
  type PasswordConnector,
  type TestableConnector,
} from './types.ts';

/**
 * LDAP as a PasswordConnector: the person types their email and directory password on our sign-in
 * page; we find them with the service account and bind as them (src/directory/ldap.ts).
 * LDAP proves a password only, so it cannot satisfy `require_mfa`.
 */

const configSchema = z.object({
  /** The directory to use; when absent the container passes the top-level `ldap:` block's directory. */
  ldap: ldapConfigSchema.optional(),
});

/** A connector of this type: a password connector over a directory, which it can test. */
type LdapConnector = PasswordConnector & DirectoryConnector & TestableConnector;

/** A connector over an existing directory (the one the group sync uses, built once by the container). */
export function createLdapConnector(config: ConnectorCommon, directory: LdapDirectory, deps: Pick<ConnectorDeps, 'logger'>): LdapConnector {
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
  return {
    ...common,
    kind: 'password',
    trustsIssuer: (issuer) => issuer === directory.issuer,
    directory: () => directory,
    selfTest: () => directory.check(),
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
}

/** The wizard's inputs for the `ldap` block, posted as `ldap_<key>` (ids `ldap-<key>`). */
function ldapField(key: string, path: string, kind: FormField['kind'], label: string, more: Partial<FormField> = {}): FormField {
  return { name: `ldap_${key}`, path: `ldap.${path}`, kind, label, id: `ldap-${key.replaceAll('_', '-')}`, autocomplete: 'off', ...more };
}
const REQUIRED = 'dash.ldap.err_required';

export const ldapConnector: ConnectorType<typeof configSchema> = {
  type: 'ldap',
  names: { en: 'LDAP / Active Directory', ru: 'LDAP / Active Directory' },
  logo: '⌂',
  configSchema,
  canProveMfa: false,
  directory: true,
  secretFields: [{ path: 'ldap.bind_password', destinations: ['ldap.url'] }],
  // Through the API they would let an admin have the server read any file (a bind_password_file is sent to
  // the LDAP server the admin chose).
  serverFileFields: ['ldap.bind_password_file', 'ldap.ca_file'],
  form: {
    intro: 'dash.ldap.intro',
    urls: [],
    block: { path: 'ldap', sharedHint: 'dash.ldap.shared' },
    emailDomains: false,
    sections: [
      {
        legend: 'dash.ldap.server',
        fields: [
          ldapField('url', 'url', 'text', 'dash.ldap.url', { hint: 'dash.ldap.url_hint', inputmode: 'url', required: REQUIRED, aliases: ['ldap'] }),
          ldapField('start_tls', 'start_tls', 'flag', 'dash.ldap.start_tls', { hint: 'dash.ldap.start_tls_hint' }),
          ldapField('bind_dn', 'bind_dn', 'text', 'dash.ldap.bind_dn', { hint: 'dash.ldap.bind_dn_hint', required: REQUIRED }),
          ldapField('bind_password', 'bind_password', 'secret', 'dash.ldap.bind_password', { required: 'dash.ldap.err_password', error: 'dash.ldap.err_password' }),
        ],
      },
      {
        legend: 'dash.ldap.users',
        fields: [
          ldapField('user_base_dn', 'user_search.base_dn', 'text', 'dash.ldap.base_dn', { hint: 'dash.ldap.user_base_hint', required: REQUIRED, aliases: ['ldap.user_search'] }),
          ldapField('user_filter', 'user_search.filter', 'optional', 'dash.ldap.user_filter', { hint: 'dash.ldap.user_filter_hint', default: '(mail={email})' }),
          [
            ldapField('id_attr', 'user_search.id_attr', 'optional', 'dash.ldap.id_attr', { default: 'uid' }),
            ldapField('email_attr', 'user_search.email_attr', 'optional', 'dash.ldap.email_attr', { default: 'mail' }),
            ldapField('name_attr', 'user_search.name_attr', 'optional', 'dash.ldap.name_attr', { default: 'cn' }),
          ],
        ],
      },
      {
        legend: 'dash.ldap.groups',
        fields: [
          ldapField('group_base_dn', 'group_search.base_dn', 'text', 'dash.ldap.group_base_dn', { hint: 'dash.ldap.group_base_hint', required: REQUIRED, aliases: ['ldap.group_search'] }),
          ldapField('group_filter', 'group_search.filter', 'optional', 'dash.ldap.group_filter', { hint: 'dash.ldap.group_filter_hint', default: '(member={dn})' }),
          ldapField('group_name_attr', 'group_search.name_attr', 'optional', 'dash.ldap.group_name_attr', { default: 'cn' }),
          ldapField('nested', 'group_search.nested', 'flag', 'dash.ldap.nested', { hint: 'dash.ldap.nested_hint' }),
          ldapField('active_directory', 'active_directory', 'flag', 'dash.ldap.active_directory', { hint: 'dash.ldap.active_directory_hint' }),
          ldapField('sync_interval_seconds', 'sync_interval_seconds', 'number', 'dash.ldap.sync_interval', { hint: 'dash.ldap.sync_interval_hint', inputmode: 'numeric', default: '300', invalid: 'dash.ldap.err_interval' }),
        ],
      },
    ],
  },
  // Without its own `ldap` settings a connector uses the server's shared directory (the top-level block).
  upstream: (config, shared) => (config.ldap ? ldapIssuer(config.ldap) : (shared?.ldapDirectory?.issuer ?? '')),
  precheck(raw, shared) {
    if (raw.ldap !== undefined || shared.ldapDirectory) return undefined;
    return { field: 'ldap', message: 'ldap: the directory settings (url, bind_dn, bind_password, user_search, group_search) are required: this server has no ldap: block to share' };
  },
  create(config, deps, shared) {
    if (!config.ldap) {
      if (shared?.ldapDirectory) return createLdapConnector(config, shared.ldapDirectory, deps);
      if (shared) throw new Error(`connector ${config.id}: type ldap needs the top-level ldap: block (or its own ldap: settings)`);
      throw new Error(`connector ${config.id}: no ldap settings (set connectors[].ldap, or the container passes the top-level ldap: block)`);
    }
    return createLdapConnector(config, new LdapDirectory(config.ldap, { logger: deps.logger, sockets: deps.sockets }), deps);
  },
};
