import { z } from 'zod';
import { parseConnectorConfig, type ConnectorConfig } from '../connectors/index.ts';
import { ldapConfigSchema } from '../directory/ldap.ts';
import { ROLES } from '../verifier/roles.ts';
import { parseCidr } from '../keys/ip.ts';
import { parseAllowEntry } from '../net/index.ts';

/**
 * The configuration file's schema. One zod schema, parsed once at start-up: every error is reported
 * together with its key path (`tokens.access_token_ttl: expected a number`).
 */

const positiveSeconds = z.number().int().positive();

/** An IPv4/IPv6 address or CIDR, in its canonical form (`10.0.0.0/8`, `2001:db8::/32`, `::1/128`). */
const cidr = z.string().transform((text, ctx) => {
  const parsed = parseCidr(text);
  if (!parsed.ok) {
    ctx.addIssue({ code: 'custom', message: parsed.reason });
    return z.NEVER;
  }
  return parsed.cidr;
});

const redisUrl = z.string().regex(/^rediss?:\/\//, 'expected a redis:// or rediss:// URL');
/** `host:port` of a Sentinel (`[v6]:port` for IPv6). */
const sentinelAddress = z.string().regex(/^(\[[0-9A-Fa-f:.]+\]|[^\s:/@[\]]+):(\d{1,5})$/, 'expected host:port, e.g. 10.0.0.1:26379');

const redisStoreSchema = z
  .strictObject({
    driver: z.literal('redis'),
    /** Standalone Redis. */
    url: redisUrl.optional(),
    /** Redis Cluster: seed nodes (any reachable one is enough; the rest are discovered). */
    cluster: z.array(redisUrl).min(1, 'name at least one seed node').optional(),
    /** Redis under Sentinel: the master's name and the sentinels to ask for it. */
    sentinel: z
      .strictObject({
        name: z.string().min(1),
        nodes: z.array(sentinelAddress).min(1, 'name at least one sentinel'),
        /** Sentinel's own credentials (`requirepass` / ACL user on the sentinels). */
        username: z.string().min(1).optional(),
        password: z.string().min(1).optional(),
        /** Talk TLS to the sentinels. */
        tls: z.boolean().default(false),
      })
      .optional(),
    prefix: z.string().default('lt:'),
    /** The data nodes' credentials (instead of, or over, a URL's `user:password@`). */
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    /**
     * TLS to the data nodes: on with `rediss://` URLs, or with this block for Sentinel. `ca_file` trusts a
     * private CA (PEM) instead of the system's.
     */
    tls: z.strictObject({ ca_file: z.string().min(1).optional() }).optional(),
    /**
     * Acknowledge a write only once this many replicas hold it (Redis WAIT): with 1, a master killed
     * right after a write does not lose it on failover. 0 (default) = as soon as the master has it.
     */
    wait_for_replicas: z.number().int().min(0).max(5).default(0),
  })
  .superRefine((store, ctx) => {
    const given = (['url', 'cluster', 'sentinel'] as const).filter((key) => store[key] !== undefined);
    if (given.length === 0) ctx.addIssue({ code: 'custom', path: ['url'], message: 'set one of url (standalone), cluster (Redis Cluster seed nodes) or sentinel ({ name, nodes })' });
    for (const extra of given.slice(1)) ctx.addIssue({ code: 'custom', path: [extra], message: `set only one of url, cluster, sentinel (${given.join(' and ')} are both set)` });
    const urls = store.url !== undefined ? [store.url] : (store.cluster ?? []);
    const schemes = new Set(urls.map((u) => u.slice(0, u.indexOf(':'))));
    if (schemes.size > 1) ctx.addIssue({ code: 'custom', path: ['cluster'], message: 'mix of redis:// and rediss://: use one scheme for every node' });
    if (store.tls && urls.length > 0 && !schemes.has('rediss')) ctx.addIssue({ code: 'custom', path: ['tls'], message: 'TLS is chosen by the URL scheme: use rediss://' });
  });

const storeSchema = z.discriminatedUnion('driver', [
  z.strictObject({
    driver: z.literal('embedded'),
    /** Directory of the lmdb database; relative paths are resolved against the working directory. */
    path: z.string().min(1).default('./data'),
    prefix: z.string().default('lt:'),
  }),
  redisStoreSchema,
]);

/**
 * A static client: oidc-provider client metadata (RFC 7591 names), passed through to the provider,
 * plus `first_party` (default true: no consent screen).
 */
const clientSchema = z
  .looseObject({
    client_id: z.string().min(1),
    client_secret: z.string().min(32, 'a client secret must be at least 32 characters').optional(),
    client_name: z.string().optional(),
    grant_types: z
      .array(z.enum(['authorization_code', 'refresh_token', 'client_credentials', 'urn:ietf:params:oauth:grant-type:token-exchange']))
      .min(1)
      .default(['authorization_code']),
    redirect_uris: z.array(z.url()).optional(),
    post_logout_redirect_uris: z.array(z.url()).optional(),
    response_types: z.array(z.string()).optional(),
    token_endpoint_auth_method: z
      .enum(['none', 'client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt'])
      .optional(),
    scope: z.string().optional(),
    first_party: z.boolean().default(true),
  })
  .superRefine((client, ctx) => {
    const method = client.token_endpoint_auth_method ?? (client.client_secret ? 'client_secret_basic' : 'none');
    if (method !== 'none' && method !== 'private_key_jwt' && !client.client_secret) {
      ctx.addIssue({ code: 'custom', path: ['client_secret'], message: `required for token_endpoint_auth_method ${method}` });
    }
    if (method === 'none' && client.grant_types.includes('client_credentials')) {
      ctx.addIssue({ code: 'custom', path: ['grant_types'], message: 'client_credentials needs an authenticated client (a client_secret)' });
    }
    if (client.grant_types.includes('authorization_code') && !(client.redirect_uris?.length)) {
      ctx.addIssue({ code: 'custom', path: ['redirect_uris'], message: 'an authorization_code client needs at least one redirect URI' });
    }
  });

const passwordHash = z
  .string()
  .regex(/^(\$argon2id\$|\$2[aby]\$)/, 'expected an argon2id ($argon2id$…) or bcrypt ($2b$…) PHC string');

const userSchema = z.strictObject({
  email: z.email().transform((e) => e.toLowerCase()),
  name: z.string().min(1).optional(),
  password_hash: passwordHash,
  email_verified: z.boolean().default(true),
});

/** `host:port`, `[v6]:port` or `:port` (all interfaces). */
const listenAddress = z
  .string()
  .regex(/^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]]*):(\d{1,5})$/, 'expected host:port, e.g. 127.0.0.1:9464')
  .refine((a) => Number(a.slice(a.lastIndexOf(':') + 1)) <= 65535, 'port must be at most 65535');

const metricsSchema = z
  .strictObject({
    /** Scrapers must send `Authorization: Bearer <token>`. */
    token: z.string().min(16, 'a metrics token must be at least 16 characters').optional(),
    /** A file holding the token (a mounted secret); surrounding whitespace is ignored. */
    token_file: z.string().min(1).optional(),
    /** Serve /metrics only on this separate address; the main port answers 404 there. */
    listen: listenAddress.optional(),
  })
  .refine((m) => !(m.token && m.token_file), { message: 'set token or token_file, not both', path: ['token_file'] });

export const configSchema = z.strictObject({
  issuer: z.url().refine((u) => !u.endsWith('/'), 'must not end with a slash'),
  /**
   * Start even though development defaults (the example account, the example client secret, no
   * LOGTRACE_SECRET_KEY) are in use with an issuer that is not localhost. They are refused otherwise.
   */
  allow_development_defaults: z.boolean().default(false),
  port: z.number().int().min(0).max(65535).default(3000),
  host: z.string().default('0.0.0.0'),
  /** Server processes sharing the port (node:cluster): 1, or "auto" for one per CPU core. */
  workers: z.union([z.number().int().min(1).max(64), z.literal('auto')]).default(1),
  /**
   * Which reverse proxies' X-Forwarded-For/-Proto/-Host to believe (client IP for allowlists, limits and
   * audit; scheme and host behind TLS termination): false, true (= 1), a number of hops, or proxy CIDRs.
   * See src/http/client-address.ts.
   */
  trust_proxy: z
    .union([
      z.boolean(),
      z.number().int().min(0).max(32),
      z.array(cidr).min(1, 'name at least one proxy address or CIDR, or use false'),
    ])
    .default(false),
  log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  store: storeSchema.default({ driver: 'embedded', path: './data', prefix: 'lt:' }),
  resource: z
    .strictObject({
      audience: z.string().min(1),
      scopes: z.array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'not a valid OAuth scope token')).min(1),
    })
    .default({ audience: 'https://api.logtrace.local', scopes: ['read:logs', 'write:alerts', 'admin:projects'] }),
  tokens: z
    .strictObject({
      access_token_ttl: positiveSeconds.default(3600),
      refresh_token_ttl: positiveSeconds.default(2_592_000),
      /** Seconds during which a just-rotated refresh token may be used again (concurrent refreshes). 0 = never. */
      refresh_token_reuse_interval: z.number().int().min(0).max(300).default(0),
      id_token_ttl: positiveSeconds.default(3600),
      authorization_code_ttl: positiveSeconds.max(600).default(60),
      session_ttl: positiveSeconds.default(14 * 24 * 3600),
    })
    .prefault({}),
  signing_keys: z
    .strictObject({
      /** Algorithm of the key that signs tokens by default. */
      algorithm: z.enum(['ES256', 'EdDSA', 'RS256']).default('ES256'),
      /** Further algorithms clients may ask for (id_token_signed_response_alg); a key of each is kept. */
      additional: z.array(z.enum(['ES256', 'EdDSA', 'RS256'])).default(['RS256']),
      /** How often a running server looks for keys rotated by another process (seconds). */
      reload_interval: positiveSeconds.default(30),
      /** `Cache-Control: max-age` of /jwks and the discovery document (seconds): how long resource servers may cache them. */
      jwks_max_age: z.number().int().min(0).max(86_400).default(300),
      /**
       * `signing-keys rotate` publishes the new key in the JWKS this many seconds before it signs anything,
       * so a resource server holding a cached JWKS knows it before the first token it signs arrives. Must
       * exceed jwks_max_age + reload_interval (a node may publish the key that much later than another).
       * `signing-keys rotate --now` skips it (emergency: the old key is withdrawn at once).
       */
      publish_ahead: z.number().int().min(0).max(30 * 86_400).default(600),
    })
    .prefault({})
    .refine((k) => k.publish_ahead > k.jwks_max_age + k.reload_interval, {
      message: 'publish_ahead must exceed jwks_max_age + reload_interval: a resource server must see a new key before it signs',
      path: ['publish_ahead'],
    }),
  login: z
    .strictObject({
      /** Failed password attempts allowed per account and client IP within `window_seconds`. */
      max_failed_attempts: z.number().int().positive().default(5),
      window_seconds: positiveSeconds.default(900),
      /**
       * Failed attempts per account from all addresses together, within `account_window_seconds`, before
       * the account's back-off starts: then one password check per interval, `account_backoff_seconds`
       * doubling with each further failure up to `account_backoff_max_seconds` (never a lock-out).
       */
      account_max_failed_attempts: z.number().int().positive().default(20),
      account_window_seconds: positiveSeconds.default(86_400),
      account_backoff_seconds: positiveSeconds.default(30),
      account_backoff_max_seconds: positiveSeconds.default(900),
    })
    .prefault({})
    .refine((l) => l.account_backoff_seconds <= l.account_backoff_max_seconds, { message: 'account_backoff_seconds must not exceed account_backoff_max_seconds', path: ['account_backoff_seconds'] }),
  passwords: z
    .strictObject({
      /** Password hashes and checks (argon2id: 64 MiB each) running at once, per server process. */
      max_concurrent_hashes: z.number().int().min(1).max(64).default(2),
      /** Sign-ins allowed to wait for a hashing slot; beyond that the page answers 503 "try again". */
      max_queued_hashes: z.number().int().min(0).max(10_000).default(32),
    })
    .prefault({}),
  api_keys: z
    .strictObject({
      default_ttl_days: z.number().int().min(1).max(3650).default(90),
      max_ttl_days: z.number().int().min(1).max(3650).default(365),
      /** How long a rotated key keeps verifying when the rotation names no grace period. */
      rotation_grace_seconds: z.number().int().min(0).max(30 * 86_400).default(86_400),
      /**
       * Failed verifications allowed per minute per caller address (an IPv6 caller per /64), or, for a log
       * API that authenticates its verify calls, per end-client `ip` it names.
       */
      verify_failures_per_minute: z.number().int().positive().default(60),
      /** Failed verifications allowed per minute to one authenticated log API credential, whatever `ip` it names. */
      verify_failures_per_minute_per_credential: z.number().int().positive().default(6000),
      /** Subjects (addresses, credentials, key prefixes) each verify limiter remembers; the least recent go first. */
      verify_limiter_entries: z.number().int().min(1).max(10_000_000).default(100_000),
      /** How often the expiry watcher looks for keys about to expire (key.expiring, key.expired). */
      expiry_check_seconds: positiveSeconds.default(60),
      /** `key.expiring` is sent this many days before expires_at, for keys with auto_rotate. */
      expiring_notice_days: z.number().int().min(1).max(90).default(7),
      /** GET /v1/keys/events: how often each stream reads the key event log (milliseconds). */
      events_poll_ms: z.number().int().min(10).max(5000).default(100),
      /**
       * GET /v1/keys/events: a heartbeat at least this often (milliseconds), sent only after a successful
       * read of the log, so a verifier can tell a live stream from a stalled one (its fail-safe expiry).
       */
      events_heartbeat_ms: z.number().int().min(100).max(60_000).default(1000),
      /**
       * GET /v1/keys/events: a stream ends after this long (seconds) and the subscriber reconnects with
       * Last-Event-ID, authenticating again: a credential revoked or narrowed since stops receiving events.
       */
      events_max_stream_seconds: z.number().int().min(5).max(86_400).default(300),
    })
    .prefault({})
    .refine((k) => k.default_ttl_days <= k.max_ttl_days, { message: 'default_ttl_days must not exceed max_ttl_days', path: ['default_ttl_days'] }),
  webhooks: z
    .strictObject({
      /**
       * Outbound requests an admin can aim (webhooks; discovery, JWKS, token, userinfo, SAML metadata and LDAP
       * of connections made at run time) never reach loopback, private, link-local, unique-local or metadata
       * addresses, checked on the address connected to; webhook URLs must also be https. Exceptions:
       * `outbound.allow_private`. Connectors of this file are trusted and not checked.
       */
      block_private_addresses: z.boolean().default(true),
    })
    .prefault({}),
  outbound: z
    .strictObject({
      /**
       * Internal destinations that webhooks and run-time connections may reach despite
       * `webhooks.block_private_addresses`: host names (`hooks.internal.example`), addresses (`10.1.2.3`),
       * ranges (`10.1.2.0/24`, `fd00::/8`), names and addresses optionally with one port
       * (`hooks.internal.example:8443`, `[fd00::5]:8443`). Named hosts may also take plain-http webhooks.
       */
      allow_private: z
        .array(
          z.string().superRefine((entry, ctx) => {
            const parsed = parseAllowEntry(entry);
            if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
          }),
        )
        .default([]),
    })
    .prefault({}),
  /** Who may read /metrics: everyone on the main port (default), a bearer token, a separate address. */
  metrics: metricsSchema.prefault({}),
  clients: z.array(clientSchema).default([]),
  users: z.array(userSchema).default([]),
  /** Upstream identity providers (src/connectors): each entry validated by its type's schema. */
  connectors: z
    .array(z.unknown())
    .default([])
    .transform((list, ctx) => {
      const out: ConnectorConfig[] = [];
      list.forEach((raw, i) => {
        const parsed = parseConnectorConfig(raw);
        if (parsed.ok) out.push(parsed.config);
        else for (const issue of parsed.issues) ctx.addIssue({ code: 'custom', path: [i, ...issue.path], message: issue.message });
      });
      return out;
    }),
  /** How often each node checks for connections changed through /v1/connections (milliseconds). */
  connections_reload_ms: z.number().int().min(100).max(600_000).default(2000),
  /** Just-in-time accounts: who may get one on first federated sign-in (default deny). */
  provisioning: z
    .strictObject({
      rules: z
        .array(
          z.strictObject({
            email_domain: z.string().toLowerCase().regex(/^[a-z0-9.-]+\.[a-z]{2,}$/, 'not a domain name'),
            connectors: z.array(z.string()).optional(),
            /** A project id, or the name of exactly one project. */
            project: z.string().min(1).optional(),
            role: z.enum(ROLES).optional(),
          }).refine((r) => !r.role || r.project, { message: 'a role needs a project', path: ['project'] }),
        )
        .default([]),
    })
    .prefault({}),
  /** Directory and IdP groups → project roles (also managed at /v1/role-mappings). */
  role_mappings: z
    .array(z.strictObject({ source: z.string().min(1), group: z.string().min(1), project: z.string().min(1), role: z.enum(ROLES) }))
    .default([]),
  /** LDAP / Active Directory: group sync and the `ldap` password connector. */
  ldap: ldapConfigSchema.optional(),
  /**
   * Conveniences for a trial on this machine (config/default.yaml). Each is a development default: warned
   * about at start-up, refused when the issuer is not localhost unless allow_development_defaults: true.
   */
  development: z
    .strictObject({
      /**
       * On the first start against a store with no organisation, make the organisation `name` and make
       * `owner` (the email of an account under `users`) its owner, so /dashboard works at once. Once per
       * store: later starts, and several nodes starting together, make nothing more.
       */
      bootstrap_organisation: z
        .strictObject({
          name: z.string().trim().min(1).max(200),
          owner: z.email().transform((e) => e.toLowerCase()),
        })
        .optional(),
    })
    .prefault({}),
}).superRefine((config, ctx) => {
  const seen = new Set<string>();
  config.clients.forEach((client, i) => {
    if (seen.has(client.client_id)) ctx.addIssue({ code: 'custom', path: ['clients', i, 'client_id'], message: `duplicate client_id ${client.client_id}` });
    seen.add(client.client_id);
  });
  const connectorIds = new Set<string>();
  config.connectors.forEach((connector, i) => {
    if (connectorIds.has(connector.id)) ctx.addIssue({ code: 'custom', path: ['connectors', i, 'id'], message: `duplicate connector id ${connector.id}` });
    connectorIds.add(connector.id);
  });
  // Rules and mappings may name connections created later through /v1/connections: unknown connector
  // ids are warned about at start-up (devWarnings), not refused.
  if (config.clients.some((c) => c.client_id === 'logtrace-api-key')) ctx.addIssue({ code: 'custom', path: ['clients'], message: 'client_id logtrace-api-key is reserved for the built-in API key exchange client' });
  const emails = new Set<string>();
  config.users.forEach((user, i) => {
    if (emails.has(user.email)) ctx.addIssue({ code: 'custom', path: ['users', i, 'email'], message: `duplicate user ${user.email}` });
    emails.add(user.email);
  });
  const bootstrap = config.development.bootstrap_organisation;
  if (bootstrap && !emails.has(bootstrap.owner)) {
    ctx.addIssue({ code: 'custom', path: ['development', 'bootstrap_organisation', 'owner'], message: `no account ${bootstrap.owner} under users: the owner must be one of them` });
  }
});

export type Config = z.infer<typeof configSchema>;
export type ClientConfig = Config['clients'][number];
