import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import {
  BusyError,
  Client,
  FilterParser,
  InappropriateAuthError,
  InvalidCredentialsError,
  NoSuchObjectError,
  ResultCodeError,
  SizeLimitExceededError,
  UnavailableError,
  Filter,
  type Entry,
} from 'ldapts';
import type { Logger } from 'pino';
import { z } from 'zod';
import { ConnectorError } from '../domain/index.ts';
import type { SocketFactories } from '../net/index.ts';

/**
 * An LDAP directory (OpenLDAP, Active Directory) on ldapts: find a person by email with a service
 * account, verify their password by binding as them, read their groups (nested too), list everyone for
 * the periodic group sync.
 *
 * Every operation opens its own connection and closes it: a directory restart or an idle-timeout on the
 * server side never leaves us with a dead or silently unauthenticated connection. Failing to reach the
 * server is an `LdapUnavailableError`, never an empty answer: a sync must not read "no groups" into an
 * outage and strip everyone's roles.
 */

const filterTemplate = (placeholder: string) =>
  z
    .string()
    .min(1)
    .refine((value) => value.includes(placeholder), `the filter must contain ${placeholder}`)
    .refine((value) => parsesAsFilter(value.replaceAll(placeholder, 'x')), 'not a valid LDAP filter (RFC 4515)');

/** The `ldap:` block of the configuration file. */
export const ldapConfigSchema = z
  .strictObject({
    /** `ldap://host:389` or `ldaps://host:636`. */
    url: z.string().regex(/^ldaps?:\/\/[^/?#\s]+\/?$/i, 'expected ldap://host[:port] or ldaps://host[:port]'),
    /** Upgrade an ldap:// connection with StartTLS (RFC 4511 §4.14) before binding. */
    start_tls: z.boolean().default(false),
    /** PEM file of the CA(s) that sign the server certificate (ldaps:// or start_tls); default: Node's CAs. */
    ca_file: z.string().min(1).optional(),
    /** The service account that searches the directory. */
    bind_dn: z.string().min(1),
    bind_password: z.string().min(1).optional(),
    /** A file holding the service account password (a mounted secret); one trailing newline is ignored. */
    bind_password_file: z.string().min(1).optional(),
    /** TCP connect timeout and per-operation timeout. */
    timeout_ms: z.number().int().positive().default(5000),
    /** Simple paged results (RFC 2696) page size for user and group searches. */
    page_size: z.number().int().positive().default(500),
    /** Active Directory: nested groups by the LDAP_MATCHING_RULE_IN_CHAIN filter, one search. */
    active_directory: z.boolean().default(false),
    user_search: z.strictObject({
      base_dn: z.string().min(1),
      /** `{email}` is replaced by the escaped email (RFC 4515 §3). */
      filter: filterTemplate('{email}').default('(mail={email})'),
      /** The stable id (Identity.subject): `uid` on OpenLDAP, e.g. `sAMAccountName` on AD. */
      id_attr: z.string().min(1).default('uid'),
      email_attr: z.string().min(1).default('mail'),
      name_attr: z.string().min(1).default('cn'),
      /**
       * Entries this filter matches are people the directory has disabled: they cannot sign in, and the sync
       * deprovisions their accounts. Default: none on OpenLDAP (e.g. `(pwdAccountLockedTime=*)` with
       * ppolicy, or `(employeeType=disabled)`); on Active Directory the ACCOUNTDISABLE bit (0x2) of
       * `userAccountControl`.
       */
      disabled_filter: z
        .string()
        .min(1)
        .refine((value) => isOneFilter(value) && parsesAsFilter(value), 'not a valid LDAP filter (RFC 4515), e.g. (employeeType=disabled)')
        .optional(),
    }),
    group_search: z.strictObject({
      base_dn: z.string().min(1),
      /** `{dn}` is replaced by the escaped DN of the member (a person or, when nested, a group). */
      filter: filterTemplate('{dn}').default('(member={dn})'),
      name_attr: z.string().min(1).default('cn'),
      /** Follow groups that are members of groups. */
      nested: z.boolean().default(false),
    }),
    sync_interval_seconds: z.number().int().positive().default(300),
  })
  .superRefine((config, ctx) => {
    if ((config.bind_password === undefined) === (config.bind_password_file === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['bind_password'], message: 'set exactly one of bind_password, bind_password_file' });
    }
    if (config.start_tls && /^ldaps:/i.test(config.url)) {
      ctx.addIssue({ code: 'custom', path: ['start_tls'], message: 'start_tls is for ldap:// URLs; ldaps:// is TLS already' });
    }
  });

export type LdapConfig = z.output<typeof ldapConfigSchema>;

interface LdapUser {
  dn: string;
  /** The `id_attr` value: the stable subject. */
  id: string;
  email: string;
  name: string | null;
}

/** One line of a directory check, as the connection test shows it. */
interface LdapCheck {
  check: 'connect' | 'service_bind' | 'user_search' | 'group_search';
  ok: boolean;
  detail: string;
}

export interface LdapUserWithGroups extends LdapUser {
  /** Group names (`group_search.name_attr`), nested ones included when `nested`; sorted, unique. */
  groups: string[];
}

/** A person as the sync lists them: with whether the directory has disabled them (`disabledFilter`). */
export interface LdapListedUser extends LdapUserWithGroups {
  disabled: boolean;
}

/**
 * The directory could not be used: unreachable, timed out, TLS failed, busy/unavailable, or the
 * service account was refused. Callers must fail closed (refuse the sign-in, skip the sync), never treat
 * it as "no user" or "no groups".
 */
export class LdapUnavailableError extends Error {
  override readonly name = 'LdapUnavailableError';
  readonly reason: 'unreachable' | 'service_bind_rejected';
  constructor(reason: 'unreachable' | 'service_bind_rejected', message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}

/** The directory as identity links remember it (see `LdapDirectory.issuer`). */
export function ldapIssuer(config: Pick<LdapConfig, 'url' | 'user_search'>): string {
  return `${config.url.replace(/\/+$/, '').toLowerCase()}/${config.user_search.base_dn}?${config.user_search.id_attr}`;
}

/** Matching rule LDAP_MATCHING_RULE_IN_CHAIN: AD walks the membership chain server-side. */
const IN_CHAIN = '1.2.840.113556.1.4.1941';

/**
 * Active Directory's disabled accounts: `userAccountControl` with ACCOUNTDISABLE (0x2) set, by the
 * LDAP_MATCHING_RULE_BIT_AND matching rule (OID 1.2.840.113556.1.4.803).
 */
export const AD_DISABLED_FILTER = '(userAccountControl:1.2.840.113556.1.4.803:=2)';

/** The filter of disabled people in effect: the configured one, else AD's ACCOUNTDISABLE bit on AD, else none. */
export function disabledFilter(config: Pick<LdapConfig, 'active_directory' | 'user_search'>): string | undefined {
  return config.user_search.disabled_filter ?? (config.active_directory ? AD_DISABLED_FILTER : undefined);
}

/**
 * One parenthesised filter, parentheses balanced: it is pasted into `(&…)` as it is. (A value's own
 * parentheses are escaped as \28 and \29 in a filter, so every raw one is structure.)
 */
function isOneFilter(value: string): boolean {
  const trimmed = value.trim();
  let depth = 0;
  for (let i = 0; i < trimmed.length; i++) {
    if (trimmed[i] === '(') depth++;
    else if (trimmed[i] === ')') depth--;
    if (depth < 0 || (depth === 0 && i < trimmed.length - 1)) return false;
  }
  return trimmed.startsWith('(') && depth === 0;
}

function parsesAsFilter(value: string): boolean {
  try {
    FilterParser.parseString(value);
    return true;
  } catch {
    return false;
  }
}

/** Substitutes `{name}` placeholders with RFC 4515-escaped values: user input never becomes filter syntax. */
export function fillFilter(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => {
    const value = values[key];
    return value === undefined ? whole : Filter.escape(value);
  });
}

/** `(member={dn})` → `(member:1.2.840.113556.1.4.1941:={dn})` for every equality on `{dn}`. */
export function inChainFilter(template: string): string {
  return template.replace(/\(([A-Za-z][\w-]*)=\{dn\}\)/g, `($1:${IN_CHAIN}:={dn})`);
}

function firstValue(entry: Entry, attribute: string): string | undefined {
  // ldapts keys entries by the attribute name as the server spells it; compare case-insensitively.
  const lower = attribute.toLowerCase();
  const key = Object.keys(entry).find((k) => k.toLowerCase() === lower && k !== 'dn');
  if (key === undefined) return undefined;
  const value = entry[key];
  const first = Array.isArray(value) ? value[0] : value;
  if (first === undefined) return undefined;
  return typeof first === 'string' ? first : first.toString('utf8');
}

/** The value of a DN's first RDN (`cn=Ops\, Night,ou=…` → `Ops, Night`): a group name fallback. */
function firstRdnValue(dn: string): string {
  const match = /^[^=]+=((?:\\.|[^,+\\])*)/s.exec(dn);
  const raw = match?.[1] ?? dn;
  return raw.replace(/\\([0-9A-Fa-f]{2}|.)/gs, (_, e: string) => (e.length === 2 ? String.fromCharCode(Number.parseInt(e, 16)) : e)).trim();
}

function isUnavailable(error: unknown): boolean {
  if (error instanceof BusyError || error instanceof UnavailableError) return true;
  if (error instanceof ResultCodeError || error instanceof ConnectorError || error instanceof LdapUnavailableError) return false;
  // ECONNREFUSED, "Connection timeout", "Operation timed out", TLS errors, "Connection closed before…"
  return true;
}

export class LdapDirectory {
  /** The settings, without `bind_password` (read `sync_interval_seconds` here). */
  readonly config: LdapConfig;
  /**
   * Where this directory's subjects come from, as an RFC 4516 LDAP URL: `ldap://host:port/<people base
   * DN>?<id attribute>`. Identity links remember it: the same `uid` on another server, under another base
   * DN or read from another attribute is somebody else.
   */
  readonly issuer: string;
  private readonly logger: Logger;
  // A #private field: invisible to JSON.stringify, util.inspect and loggers that serialise objects.
  readonly #bindPassword: string;
  private readonly tlsOptions: ConnectionOptions;

  /** Socket factories checking the server's address (a directory an admin added at run time); absent: direct. */
  private readonly sockets: SocketFactories | undefined;

  constructor(config: LdapConfig, { logger, sockets }: { logger: Logger; sockets?: SocketFactories | undefined }) {
    this.config = { ...config, bind_password: undefined };
    this.issuer = ldapIssuer(config);
    this.sockets = sockets;
    this.logger = logger.child({ component: 'ldap', url: config.url });
    this.#bindPassword =
      config.bind_password ?? readFileSync(config.bind_password_file!, 'utf8').replace(/\r?\n$/, '');
    const { hostname } = new URL(config.url);
    const host = hostname.replace(/^\[|\]$/g, '');
    this.tlsOptions = {
      host,
      ...(isIP(host) ? {} : { servername: host }),
      ...(config.ca_file ? { ca: readFileSync(config.ca_file, 'utf8') } : {}),
    };
  }

  /** The person with this email, found with the service account; undefined when none (or ambiguous). */
  async findUser(email: string): Promise<LdapUser | undefined> {
    if (email.trim() === '') return undefined;
    return this.withService((client) => this.searchUser(client, email));
  }

  /**
   * Verifies an email and password: finds the person with the service account, then binds as them on a
   * separate connection, then reads their groups. Wrong email or password → ConnectorError
   * 'invalid_credentials' (the same for both); directory trouble → LdapUnavailableError.
   */
  async authenticate(email: string, password: string): Promise<LdapUserWithGroups> {
    // An empty password makes a simple bind "unauthenticated" (RFC 4513 §5.1.2): servers answer success.
    if (password === '') throw new ConnectorError('invalid_credentials', 'empty password refused');
    if (email.trim() === '') throw new ConnectorError('invalid_credentials', 'empty username refused');
    return this.withService(async (client) => {
      const user = await this.searchUser(client, email);
      if (!user) throw new ConnectorError('invalid_credentials', 'no such user in the directory');
      await this.bindAs(user.dn, password);
      const groups = await this.resolveGroups(client, user.dn, new Map());
      return { ...user, groups };
    });
  }

  /** Group names of a person (or group) DN; nested groups included when `group_search.nested`. */
  async groupsOf(dn: string): Promise<string[]> {
    return this.withService((client) => this.resolveGroups(client, dn, new Map()));
  }

  /**
   * Everyone under `user_search.base_dn` matching the user filter, with their groups (paged searches) and
   * whether the directory has disabled them (one more paged search, of the disabled filter).
   */
  async listUsers(): Promise<LdapListedUser[]> {
    const { user_search } = this.config;
    // The login filter with the email as a presence test: `(mail={email})` → `(mail=*)`.
    const filter = user_search.filter.replaceAll('{email}', '*');
    const disabled = disabledFilter(this.config);
    return this.withService(async (client) => {
      const entries = await this.pagedSearch(client, user_search.base_dn, filter, this.userAttributes());
      const disabledDns = disabled
        ? new Set((await this.pagedSearch(client, user_search.base_dn, `(&${filter}${disabled})`, ['1.1'])).map((e) => e.dn.toLowerCase()))
        : new Set<string>();
      const parents = new Map<string, GroupRef[]>();
      const users: LdapListedUser[] = [];
      for (const entry of entries) {
        const user = this.toUser(entry);
        if (!user) continue;
        users.push({ ...user, groups: await this.resolveGroups(client, user.dn, parents), disabled: disabledDns.has(user.dn.toLowerCase()) });
      }
      return users.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    });
  }

  /**
   * What "Test connection" shows for a directory, in plain words, changing nothing: the server is reached,
   * the service account binds, the user search finds people (and their entries carry the id and email
   * attributes), and the group search finds the groups of one of them.
   */
  async check(): Promise<LdapCheck[]> {
    const { url, bind_dn, user_search, group_search, start_tls } = this.config;
    const checks: LdapCheck[] = [];
    const client = this.newClient();
    try {
      try {
        await this.connect(client);
        await client.bind(bind_dn, this.#bindPassword);
      } catch (error) {
        if (error instanceof InvalidCredentialsError || error instanceof InappropriateAuthError) {
          checks.push({ check: 'connect', ok: true, detail: `reached ${url}` });
          checks.push({ check: 'service_bind', ok: false, detail: `the directory refused the service account ${bind_dn}: check the bind DN and its password` });
        } else {
          checks.push({ check: 'connect', ok: false, detail: `${url} is unreachable${start_tls ? ' or refused StartTLS' : ''} (${error instanceof Error ? error.message : String(error)})` });
        }
        return checks;
      }
      checks.push({ check: 'connect', ok: true, detail: `reached ${url}${start_tls ? ' (StartTLS)' : ''}` });
      checks.push({ check: 'service_bind', ok: true, detail: `signed in as ${bind_dn}` });
      const filter = user_search.filter.replaceAll('{email}', '*');
      let sample: LdapUser | undefined;
      try {
        let entries: Entry[];
        let more = false;
        try {
          entries = (await client.search(user_search.base_dn, { scope: 'sub', filter, attributes: this.userAttributes(), sizeLimit: 20 })).searchEntries;
        } catch (error) {
          if (!(error instanceof SizeLimitExceededError)) throw error;
          // ldapts drops the entries it had when the limit is hit; one more look for a sample.
          entries = (await client.search(user_search.base_dn, { scope: 'sub', filter, attributes: this.userAttributes(), sizeLimit: 1 }).catch(() => ({ searchEntries: [] as Entry[] }))).searchEntries;
          more = true;
        }
        const people = entries.map((e) => this.toUser(e)).filter((u): u is LdapUser => !!u);
        sample = people[0];
        if (entries.length === 0 && !more) {
          checks.push({ check: 'user_search', ok: false, detail: `nobody under ${user_search.base_dn} matches ${filter}: check the base DN and the filter` });
        } else if (!sample) {
          checks.push({ check: 'user_search', ok: false, detail: `entries under ${user_search.base_dn} lack ${user_search.id_attr} or ${user_search.email_attr}: check the ID and email attributes` });
        } else {
          checks.push({ check: 'user_search', ok: true, detail: `${more ? 'more than 20' : people.length} ${people.length === 1 && !more ? 'person' : 'people'} found, e.g. ${sample.email} (${user_search.id_attr}=${sample.id})` });
        }
      } catch (error) {
        checks.push({ check: 'user_search', ok: false, detail: error instanceof NoSuchObjectError ? `the base DN ${user_search.base_dn} does not exist` : `the user search failed: ${error instanceof Error ? error.message : String(error)}` });
      }
      try {
        if (sample) {
          const groups = await this.resolveGroups(client, sample.dn, new Map());
          checks.push({ check: 'group_search', ok: true, detail: groups.length ? `${sample.email} is in ${groups.length} group(s): ${groups.slice(0, 10).join(', ')}` : `${sample.email} is in no group under ${group_search.base_dn} (filter ${group_search.filter})` });
        } else {
          await client.search(group_search.base_dn, { scope: 'base', filter: '(objectClass=*)', attributes: ['dn'] });
          checks.push({ check: 'group_search', ok: true, detail: `${group_search.base_dn} exists` });
        }
      } catch (error) {
        checks.push({ check: 'group_search', ok: false, detail: error instanceof NoSuchObjectError ? `the base DN ${group_search.base_dn} does not exist` : `the group search failed: ${error instanceof Error ? error.message : String(error)}` });
      }
      return checks;
    } finally {
      await client.unbind().catch(() => {});
    }
  }

  /** Nothing is held open between operations; kept so callers can treat the directory as a resource. */
  async close(): Promise<void> {}

  // — internals —

  private newClient(): Client {
    return new Client({
      url: this.config.url,
      connectTimeout: this.config.timeout_ms,
      timeout: this.config.timeout_ms,
      // ldapts connects with TLS whenever tlsOptions are given: pass them for ldaps:// only.
      ...(/^ldaps:/i.test(this.config.url) ? { tlsOptions: this.tlsOptions } : {}),
      ...(this.sockets ?? {}),
    });
  }

  private async connect(client: Client): Promise<void> {
    if (this.config.start_tls) await client.startTLS({ ...this.tlsOptions });
  }

  /** Runs `work` on a fresh connection bound as the service account, then closes it. */
  private async withService<T>(work: (client: Client) => Promise<T>): Promise<T> {
    const client = this.newClient();
    try {
      try {
        await this.connect(client);
        await client.bind(this.config.bind_dn, this.#bindPassword);
      } catch (error) {
        if (error instanceof InvalidCredentialsError || error instanceof InappropriateAuthError) {
          this.logger.error({ bind_dn: this.config.bind_dn }, 'ldap: the service account bind was rejected');
          throw new LdapUnavailableError('service_bind_rejected', 'LDAP service account bind rejected', { cause: error });
        }
        throw error;
      }
      return await work(client);
    } catch (error) {
      throw this.translate(error);
    } finally {
      await client.unbind().catch(() => {});
    }
  }

  /** Verifies a password by a simple bind as the person on a connection of its own. */
  private async bindAs(dn: string, password: string): Promise<void> {
    const client = this.newClient();
    try {
      await this.connect(client);
      await client.bind(dn, password);
    } catch (error) {
      if (error instanceof InvalidCredentialsError || error instanceof InappropriateAuthError) {
        throw new ConnectorError('invalid_credentials', 'the directory refused the password');
      }
      throw this.translate(error);
    } finally {
      await client.unbind().catch(() => {});
    }
  }

  private translate(error: unknown): unknown {
    if (!isUnavailable(error)) return error;
    const message = error instanceof Error ? error.message : String(error);
    this.logger.warn({ err: message }, 'ldap: directory unavailable');
    return new LdapUnavailableError('unreachable', `LDAP directory ${this.config.url} unavailable: ${message}`, { cause: error });
  }

  private userAttributes(): string[] {
    const { id_attr, email_attr, name_attr } = this.config.user_search;
    return [...new Set([id_attr, email_attr, name_attr])];
  }

  private async searchUser(client: Client, email: string): Promise<LdapUser | undefined> {
    const { user_search } = this.config;
    const disabled = disabledFilter(this.config);
    // A person the directory has disabled is nobody to sign in (AD refuses their bind anyway; OpenLDAP
    // marks them only by the configured filter).
    const filter = disabled ? `(&${fillFilter(user_search.filter, { email })}(!${disabled}))` : fillFilter(user_search.filter, { email });
    const { searchEntries } = await client.search(user_search.base_dn, {
      scope: 'sub',
      filter,
      attributes: this.userAttributes(),
      sizeLimit: 2,
    });
    if (searchEntries.length > 1) {
      this.logger.warn({ filter, count: searchEntries.length }, 'ldap: the user filter matches several entries; refusing');
      return undefined;
    }
    const [entry] = searchEntries;
    return entry ? this.toUser(entry, email) : undefined;
  }

  private toUser(entry: Entry, fallbackEmail?: string): LdapUser | undefined {
    const { id_attr, email_attr, name_attr } = this.config.user_search;
    const id = firstValue(entry, id_attr);
    const email = firstValue(entry, email_attr) ?? fallbackEmail;
    if (!id || !email) {
      this.logger.warn({ dn: entry.dn, missing: !id ? id_attr : email_attr }, 'ldap: user entry lacks an attribute; skipped');
      return undefined;
    }
    return { dn: entry.dn, id, email, name: firstValue(entry, name_attr) ?? null };
  }

  private async pagedSearch(client: Client, base: string, filter: string, attributes: string[]): Promise<Entry[]> {
    const { searchEntries } = await client.search(base, {
      scope: 'sub',
      filter,
      attributes,
      paged: { pageSize: this.config.page_size },
    });
    return searchEntries;
  }

  /** Groups whose filter matches `memberDn` directly. */
  private async directGroups(client: Client, memberDn: string, template: string): Promise<GroupRef[]> {
    const { group_search } = this.config;
    const entries = await this.pagedSearch(client, group_search.base_dn, fillFilter(template, { dn: memberDn }), [group_search.name_attr]);
    return entries.map((entry) => ({ dn: entry.dn, name: firstValue(entry, group_search.name_attr) ?? firstRdnValue(entry.dn) }));
  }

  /**
   * Group names of `dn`. Nested on OpenLDAP: breadth-first over "groups that have this group as a
   * member", with a visited set so cycles (A ∋ B ∋ A) end; `parents` caches a group's parents across
   * the people of one sync. Nested on AD: one in-chain search.
   */
  private async resolveGroups(client: Client, dn: string, parents: Map<string, GroupRef[]>): Promise<string[]> {
    const { group_search, active_directory } = this.config;
    const found = new Map<string, string>(); // lower-cased group DN → name
    if (!group_search.nested || active_directory) {
      const template = group_search.nested ? inChainFilter(group_search.filter) : group_search.filter;
      for (const group of await this.directGroups(client, dn, template)) found.set(group.dn.toLowerCase(), group.name);
    } else {
      const visited = new Set<string>([dn.toLowerCase()]);
      let frontier = await this.directGroups(client, dn, group_search.filter);
      while (frontier.length > 0) {
        const next: GroupRef[] = [];
        for (const group of frontier) {
          const key = group.dn.toLowerCase();
          if (visited.has(key)) continue;
          visited.add(key);
          found.set(key, group.name);
          let up = parents.get(key);
          if (!up) {
            up = await this.directGroups(client, group.dn, group_search.filter);
            parents.set(key, up);
          }
          next.push(...up);
        }
        frontier = next;
      }
    }
    return [...new Set(found.values())].sort();
  }
}

interface GroupRef {
  dn: string;
  name: string;
}
