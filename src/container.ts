import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import type { Config } from './config/index.ts';
import { openStore, type Store } from './store/index.ts';
import { GroupRoles, PasswordHasher, ProvisioningRules, UpstreamSessions, IdentityRepository, MembershipRepository, ProjectRepository, UserRepository, resolveProjectRef, scopesForRoles, isRole, type Role, type RoleMapping, type SignInDeps } from './directory/index.ts';
import { LdapDirectory } from './directory/ldap.ts';
import { InvitationRepository } from './directory/invitations.ts';
import { bootstrapDevelopmentOrganisation } from './directory/development-organisation.ts';
import { canRefresh, ConnectorError, type Connector } from './connectors/index.ts';
import { ConnectionSet } from './connectors/connections.ts';
import { guardedFetch, guardedSockets, OutboundPolicy } from './net/index.ts';
import { SecretBox } from './webhooks/index.ts';
import { ExpiryWatcher, KeyEventFeed, KeyService } from './keys/index.ts';
import { WebhookService } from './webhooks/index.ts';
import { AuditLog } from './audit/index.ts';
import { AccessPolicy } from './access/index.ts';
import { buildProvider, ensureKeySet, ProviderHolder, type KeySet } from './oidc/index.ts';
import { revokeGrant } from './oidc/adapter.ts';
import { ClientRepository, ClientService } from './clients/index.ts';
import { PeriodicJob } from './periodic.ts';
import { Metrics, instrumentStore } from './http/metrics.ts';
import { StoreHealth } from './http/koa-store-gate.ts';
import { oidcViews } from './interactions/views.ts';
import { ScimService } from './scim/index.ts';

/** Everything a route or job needs, built once at start-up and passed explicitly. */
export interface Services {
  config: Config;
  logger: Logger;
  store: Store;
  users: UserRepository;
  projects: ProjectRepository;
  memberships: MembershipRepository;
  identities: IdentityRepository;
  invitations: InvitationRepository;
  /** Enabled connectors by id: configuration first, then connections; the same Map, kept current. */
  connectors: Map<string, Connector>;
  connections: ConnectionSet;
  upstreamSessions: UpstreamSessions;
  /** What a federated or directory sign-in needs to decide on an identity. */
  signIn: SignInDeps;
  ldap: LdapDirectory | undefined;
  /** Human password hashes and checks, under the process's concurrency bound (passwords.*). */
  passwords: PasswordHasher;
  groupRoles: GroupRoles;
  /** SCIM 2.0 provisioning: the accounts and groups SCIM connections push (src/scim). */
  scim: ScimService;
  provisioningRules: ProvisioningRules;
  keys: KeyService;
  /** The key event log as GET /v1/keys/events streams it (src/keys/events.ts). */
  keyEvents: KeyEventFeed;
  /** The one access policy every door asks (src/access). */
  access: AccessPolicy;
  webhooks: WebhookService;
  /** OAuth clients registered at run time (src/clients). */
  clients: ClientService;
  audit: AuditLog;
  metrics: Metrics;
  providers: ProviderHolder;
  storeHealth: StoreHealth;
  close(): Promise<void>;
}

export async function buildServices(config: Config, logger: Logger): Promise<Services> {
  const metrics = new Metrics();
  const secretKey = secretKeyFromEnv().encryptionKey;
  const rawStore = await openStore(config.store, {
    onConnectionError: (error) => logger.error({ err: error.message }, 'store connection failing'),
    onError: (kind) => metrics.storeErrors.inc({ kind }),
    onFailover: (detail) => {
      metrics.storeFailovers.inc();
      logger.warn({ detail }, 'store failover observed');
    },
  });
  // Settings of the backing store that can lose acknowledged writes: said loudly, once, at start-up.
  for (const warning of await rawStore.durabilityWarnings()) logger.warn(`store durability: ${warning}`);
  const store = instrumentStore(rawStore, metrics);
  // Signing and cookie keys are sealed only with LOGTRACE_SECRET_KEY: a data key kept in the same store
  // would protect nothing from someone who can read the store. Read first: a key set this process cannot
  // open stops start-up before any background work begins.
  const keyBox = secretKey ? new SecretBox(store, secretKey) : undefined;
  const keySet = await ensureKeySet(store, config.signing_keys.algorithm, config.signing_keys.additional, keyBox).catch(async (error: unknown) => {
    await rawStore.close();
    throw error;
  });
  const users = new UserRepository(store);
  const audit = new AuditLog(store);
  const projects = new ProjectRepository(store);
  const access = new AccessPolicy(projects);
  const memberships = new MembershipRepository(store);
  const identities = new IdentityRepository(store);
  const invitations = new InvitationRepository(store);
  const ldap = config.ldap ? new LdapDirectory(config.ldap, { logger }) : undefined;
  // Connections made at run time (an admin chose where they point) reach only what the policy allows, on
  // the address connected to; the configuration file's connectors are the operator's and use plain fetch.
  const outbound = new OutboundPolicy({ blockPrivate: config.webhooks.block_private_addresses, allowPrivate: config.outbound.allow_private });
  const connections = new ConnectionSet({
    store,
    logger,
    connectorDeps: { issuer: config.issuer, store, logger, fetch: globalThis.fetch },
    connectionDeps: { issuer: config.issuer, store, logger, fetch: guardedFetch({ policy: outbound }), sockets: guardedSockets(outbound) },
    ldapDirectory: ldap,
    secrets: secretKey ? new SecretBox(store, secretKey) : undefined,
    configured: config.connectors,
  });
  await connections.reload();
  connections.watch(config.connections_reload_ms);
  const connectors: Map<string, Connector> = connections.connectors;
  const upstreamSessions = new UpstreamSessions(store, new SecretBox(store, secretKey));
  const configured: RoleMapping[] = [];
  for (const [i, mapping] of config.role_mappings.entries()) {
    const project = await resolveProjectRef(projects, mapping.project);
    if (project) configured.push({ id: `cfg_${i}`, source: mapping.source, group: mapping.group, project_id: project.id, role: mapping.role });
    else logger.warn({ mapping: i, project: mapping.project }, 'role_mappings: no such project (yet); mapping ignored until restart');
  }
  const legacyLinksTrusted = (connectorId: string, issuer: string) => connections.legacyLinksTrusted(connectorId, issuer);
  const groupRoles = new GroupRoles({ store, memberships, projects, users, identities, legacyLinksTrusted, audit, logger, directories: () => connections.directories(), configured });
  // LDAP connections may be added at run time: the sync runs whether or not a directory is in use yet.
  groupRoles.startLdapSync();
  const scim = new ScimService({ store, users, identities, groupRoles, upstreamSessions, audit, access, logger, scimConnections: () => connections.scim.values() });
  const provisioningRules = new ProvisioningRules(store, config.provisioning.rules);
  const signIn: SignInDeps = {
    users,
    identities,
    memberships,
    projects,
    audit,
    logger,
    rules: () => provisioningRules.active(),
    applyGroups: (userId, identity) => groupRoles.applyIdentity(userId, identity, connections.sourceOf(identity.connector_id)),
    mappedRoles: (identity) => groupRoles.mappedRoles(connections.sourceOf(identity.connector_id), identity.groups),
    invitations,
    legacyLinksTrusted,
    provisionedAccount: (connectorId, email) => scim.accountForSignIn(connectorId, email),
  };
  const keys = new KeyService(store, projects, {
    defaultTtlDays: config.api_keys.default_ttl_days,
    maxTtlDays: config.api_keys.max_ttl_days,
    logger,
  });
  const keyEvents = new KeyEventFeed(store, logger, { pollMs: config.api_keys.events_poll_ms });
  const webhooks = new WebhookService(store, {
    logger,
    blockPrivateAddresses: config.webhooks.block_private_addresses,
    allowPrivate: config.outbound.allow_private,
    ancestorsOf: async (projectId) => (await projects.pathOf(projectId)) ?? [projectId],
    ...secretKeyFromEnv(),
  });
  webhooks.start();
  const expiryWatcher = new ExpiryWatcher({ store, keys, webhooks, audit, logger, noticeDays: config.api_keys.expiring_notice_days });
  expiryWatcher.start(config.api_keys.expiry_check_seconds);
  const clientRepository = new ClientRepository(store);
  const clients = new ClientService({
    clients: clientRepository,
    access,
    audit,
    webhooks,
    logger,
    maxTtlDays: config.api_keys.max_ttl_days,
    defaultGraceSeconds: 86_400,
    noticeDays: config.api_keys.expiring_notice_days,
    configured: config.clients,
    revokeGrant: (grantId) => revokeGrant(store, grantId),
  });
  // client.secret_expiring: one pass at a time across nodes (a store lock), each event once (emitOnce).
  const clientSecretWatch = new PeriodicJob('client secret expiry watch', logger, async () => {
    if (await clientRepository.lockWatcher(config.api_keys.expiry_check_seconds - 1)) await clients.watchExpiry();
  });
  clientSecretWatch.start(config.api_keys.expiry_check_seconds);

  for (const user of config.users) await users.upsertStatic(user);
  if (config.development.bootstrap_organisation) {
    await bootstrapDevelopmentOrganisation({ store, projects, users, memberships, audit, logger }, config.development.bootstrap_organisation);
  }

  const apiKeys = {
    exchangeScopes: (held: readonly string[], asked: readonly string[] | undefined) => access.exchangeScopes(held, asked),
    verifyApiKey: (key: string, ip: string) => keys.verify(key, { ip }),
    async onExchange(event: { ok: boolean; key_id: string | null; project_id: string | null; client_ip: string; code?: string }) {
      await audit.record({
        actor: { type: event.key_id ? 'api_key' : 'anonymous', id: event.key_id },
        action: 'key.exchanged',
        target: { type: 'api_key', id: event.key_id },
        project_id: event.project_id,
        ip: event.client_ip,
        outcome: event.ok ? 'success' : 'failure',
        ...(event.code ? { detail: { code: event.code } } : {}),
      });
    },
  };
  const roleClaims = {
    rolesOf: (accountId: string) => memberships.rolesOf(accountId),
    scopesOf: (roles: Record<string, string>) => scopesForRoles(Object.values(roles).filter(isRole) as Role[]),
    // A token through a client registered in a project: what the person's roles give there (the access policy).
    scopesOnProject: async (accountId: string, projectId: string) =>
      new Set(await access.scopesOn({ kind: 'token', actor: { type: 'user', id: accountId }, scopes: ['read:logs', 'write:alerts', 'admin:projects'], project_roles: await memberships.rolesOf(accountId) }, projectId)),
  };
  async function upstreamGone(userId: string, connector: Connector, reason: string): Promise<'gone'> {
    await upstreamSessions.forget(userId);
    await audit.record({ actor: { type: 'system', id: connector.id }, action: 'session.upstream_revoked', target: { type: 'user', id: userId }, project_id: null, ip: null, outcome: 'failure', detail: { connector: connector.id, reason } });
    return 'gone';
  }
  async function checkUpstream(userId: string): Promise<'ok' | 'gone' | 'unavailable'> {
    const session = await upstreamSessions.load(userId).catch(() => undefined);
    if (!session) return 'ok';
    const connector = connectors.get(session.identity.connector_id);
    if (!connector || !connections.configs.get(connector.id)?.check_upstream_on_refresh || !canRefresh(connector)) return 'ok';
    // A session saved before issuers were recorded was made through the connection as it was then: it is
    // checked with the current upstream only while the connection still points there.
    let known = session.identity;
    if (!known.issuer) {
      // For the connectors that refresh (generic OIDC) the issuer is the configured one.
      const issuer = connections.upstreamOf(connector.id);
      if (!(await connections.legacyLinksTrusted(connector.id, issuer))) return upstreamGone(userId, connector, 'access_denied');
      known = { ...known, issuer };
    }
    try {
      const identity = await connector.refresh({ identity: known, refreshToken: session.refresh_token });
      const rotated = identity.upstream?.refresh_token ?? session.refresh_token;
      await upstreamSessions.save(userId, identity, rotated, config.tokens.refresh_token_ttl);
      await groupRoles.applyIdentity(userId, identity, connections.sourceOf(connector.id));
      return 'ok';
    } catch (error) {
      if (error instanceof ConnectorError && (error.code === 'access_denied' || error.code === 'invalid_token')) {
        return upstreamGone(userId, connector, error.code);
      }
      logger.warn({ connector: connector.id, err: String(error) }, 'upstream refresh check failed');
      return 'unavailable';
    }
  }
  const build = (keySet: KeySet): Provider => buildProvider({ config, store, users, keySet, apiKeys, access: roleClaims, checkUpstream, registeredClients: clients, ...oidcViews });
  const providers = new ProviderHolder(keySet, build, (provider) => {
    observeProvider(provider, metrics, logger);
    // The last time a registered client got a token (shown on its page); buffered in ClientService.
    provider.on('grant.success', (ctx) => {
      const clientId = ctx.oidc.client?.clientId;
      if (clientId) clients.noteToken(clientId);
    });
  });
  providers.watch(store, keyBox, config.signing_keys.reload_interval, logger);
  const storeHealth = new StoreHealth(rawStore, logger);
  storeHealth.start();
  let highWater = 0;
  const passwords = new PasswordHasher({
    maxConcurrent: config.passwords.max_concurrent_hashes,
    maxQueued: config.passwords.max_queued_hashes,
    observer: {
      started(kind, inFlight) {
        if (kind !== 'hash') metrics.passwordChecks.inc({ kind: kind === 'verify' ? 'local' : 'decoy' });
        metrics.passwordHashesInFlight.set(inFlight);
        if (inFlight > highWater) metrics.passwordHashesInFlightMax.set((highWater = inFlight));
      },
      finished: (inFlight) => metrics.passwordHashesInFlight.set(inFlight),
      refused: () => metrics.passwordHashesRefused.inc(),
    },
  });

  return {
    config,
    logger,
    store,
    users,
    projects,
    memberships,
    identities,
    invitations,
    connectors,
    connections,
    upstreamSessions,
    signIn,
    ldap,
    passwords,
    groupRoles,
    scim,
    provisioningRules,
    keys,
    keyEvents,
    access,
    webhooks,
    clients,
    audit,
    metrics,
    providers,
    storeHealth,
    async close() {
      keyEvents.stop();
      providers.stop();
      storeHealth.stop();
      connections.stop();
      await expiryWatcher.stop();
      await clientSecretWatch.stop();
      await webhooks.stop();
      await keys.close();
      await groupRoles.stop();
      await ldap?.close();
      await rawStore.close();
    },
  };
}

/** Grant outcomes for /metrics and the log; the token endpoint's errors never carry secrets. */
function observeProvider(provider: Provider, metrics: Metrics, logger: Logger): void {
  provider.on('grant.success', (ctx) => {
    metrics.grants.inc({ grant_type: String(ctx.oidc.params?.grant_type ?? 'unknown'), outcome: 'success' });
  });
  provider.on('grant.error', (ctx, err: Error & { error?: string; error_description?: string }) => {
    metrics.grants.inc({ grant_type: String(ctx.oidc.params?.grant_type ?? 'unknown'), outcome: err.error ?? 'server_error' });
    logger.info({ client_id: ctx.oidc.client?.clientId, error: err.error, detail: err.error_description }, 'grant refused');
  });
  provider.on('server_error', (_ctx, err: Error) => {
    logger.error({ err }, 'oidc-provider server error');
  });
}

/** LOGTRACE_SECRET_KEY: 32 bytes (base64 or hex) that encrypt stored secrets such as webhook signing keys. */
export function secretKeyFromEnv(env: NodeJS.ProcessEnv = process.env): { encryptionKey?: Buffer } {
  const raw = env.LOGTRACE_SECRET_KEY;
  if (!raw) return {};
  const key = /^[0-9a-f]{64}$/i.test(raw) ? Buffer.from(raw, 'hex') : Buffer.from(raw, 'base64');
  if (key.length !== 32) throw new Error('LOGTRACE_SECRET_KEY must be 32 bytes, base64 or hex encoded');
  return { encryptionKey: key };
}
