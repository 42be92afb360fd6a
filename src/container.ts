import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import { secretKeyFromEnv, type Config } from './config/index.ts';
import { openStore, type Store, SecretBox } from './store/index.ts';
import { GroupRoles, PasswordHasher, ProvisioningRules, UpstreamSessions, IdentityRepository, MembershipRepository, ProjectRepository, UserRepository, resolveProjectRef, type PasswordHasherObserver, type RoleMapping, type SignInDeps } from './directory/index.ts';
import { UpstreamSessionCheck } from './connectors/upstream-check.ts';
import { tokenRoles } from './directory/token-roles.ts';
import { LdapDirectory } from './directory/ldap.ts';
import { InvitationRepository } from './directory/invitations.ts';
import { bootstrapDevelopmentOrganisation } from './directory/development-organisation.ts';
import type { Connector } from './connectors/index.ts';
import { ConnectionSet } from './connectors/connections.ts';
import { ConnectionService } from './connectors/service.ts';
import { guardedFetch, guardedSockets, OutboundPolicy } from './net/index.ts';
import { ExpiryWatcher, KeyEventFeed, KeyRepository, KeyService, KEY_SCOPES } from './keys/index.ts';
import { keyExchange } from './keys/exchange.ts';
import { WebhookRepository, WebhookService } from './webhooks/index.ts';
import { AuditLog, AuditService } from './audit/index.ts';
import { AccessPolicy } from './access/index.ts';
import { buildProvider, ensureKeySet, ProviderHolder, type KeySet } from './oidc/index.ts';
import { revokeGrant } from './oidc/adapter.ts';
import { ClientRepository, ClientService } from './clients/index.ts';
import { PeriodicJob } from './domain/index.ts';
import { Metrics, instrumentStore } from './http/metrics.ts';
import { StoreHealth } from './http/koa-store-gate.ts';
import { FailureLimiter } from './http/rate-limit.ts';
import { oidcViews } from './interactions/views.ts';
import { ScimService } from './scim/index.ts';
import { AccountService } from './accounts/index.ts';
import { MembershipService, ProjectService } from './projects/index.ts';
import { InvitationService } from './invitations/index.ts';
import { ProvisioningRuleService, RoleMappingService, groupSources } from './provisioning/index.ts';

/**
 * Everything a route or job needs, built once at start-up and passed explicitly. One word per concept:
 * a domain service (access policy, audit, DomainError; what the doors call) goes by its capability's plain
 * noun; a store-level object goes by what it is (`…Repository`, `connectionSet`, `auditLog`).
 */
export interface Services {
  /** The validated configuration file (src/config). */
  config: Config;
  logger: Logger;
  /** The key-value store, instrumented for /metrics; only repositories know its key strings (src/store). */
  store: Store;

  // Domain services: what /v1, the dashboard and the CLI call.
  /** The one access policy every door and service asks (src/access). */
  access: AccessPolicy;
  /** People's accounts: list, read, rename, disable (src/accounts). */
  accounts: AccountService;
  /** Projects: create, list, read (src/projects). */
  projects: ProjectService;
  /** Project members and manual roles (src/projects). */
  members: MembershipService;
  /** Invitations, from making one to accepting it (src/invitations). */
  invitations: InvitationService;
  /** Provisioning rules: who gets an account on first federated sign-in (src/provisioning). */
  provisioningRules: ProvisioningRuleService;
  /** Group → role mappings and their previews (src/provisioning). */
  roleMappings: RoleMappingService;
  /** Connections (SSO, LDAP, SCIM) as admins manage them (src/connectors/service.ts). */
  connections: ConnectionService;
  /** API keys: create, rotate, revoke, verify (src/keys). */
  keys: KeyService;
  /** Webhook subscriptions and their deliveries (src/webhooks). */
  webhooks: WebhookService;
  /** OAuth clients registered at run time (src/clients). */
  clients: ClientService;
  /** Reading the audit log: the events a caller may see (src/audit/service.ts). */
  audit: AuditService;
  /** SCIM 2.0 provisioning: the accounts and groups SCIM connections push (src/scim). */
  scim: ScimService;

  // Store-level objects: what the services and the sign-in flows are built on.
  /** Accounts in the store (src/directory). */
  userRepository: UserRepository;
  /** The project tree in the store (src/directory). */
  projectRepository: ProjectRepository;
  /** Who holds which role in which project, manual and mapped (src/directory). */
  membershipRepository: MembershipRepository;
  /** Federated identities linked to accounts (src/directory). */
  identityRepository: IdentityRepository;
  /** Provisioning rules as stored, with the configuration's (src/directory). */
  provisioningRuleRepository: ProvisioningRules;
  /** Appending and querying audit events, unchecked (src/audit). */
  auditLog: AuditLog;
  /** Configured and run-time connections, loaded and kept current, with their failures (src/connectors/connections.ts). */
  connectionSet: ConnectionSet;
  /** The running Connector objects by connection id: configuration first, then connections; the same Map, kept current. */
  connectors: Map<string, Connector>;
  /** Upstream IdP sessions (refresh tokens, sealed) kept for the upstream re-check (src/directory). */
  upstreamSessions: UpstreamSessions;
  /** The upstream re-check at our refresh_token grant (`check_upstream_on_refresh`). */
  upstreamCheck: UpstreamSessionCheck;
  /** What a federated or directory sign-in needs to decide on an identity. */
  signIn: SignInDeps;
  /** The configuration's LDAP directory, if any (src/directory/ldap.ts). */
  ldap: LdapDirectory | undefined;
  /** Human password hashes and checks, under the process's concurrency bound (passwords.*). */
  passwords: PasswordHasher;
  /** Group → role mapping applied at sign-in and by the LDAP sync (src/directory). */
  groupRoles: GroupRoles;
  /** The key event log as GET /v1/keys/events streams it (src/keys/events.ts). */
  keyEvents: KeyEventFeed;

  // The protocol and the process.
  /** The oidc-provider instance, rebuilt when the signing keys change (src/oidc). */
  providers: ProviderHolder;
  /** Prometheus metrics (src/http/metrics.ts). */
  metrics: Metrics;
  /** Whether the store answers; /healthz and the store gate read it (src/http/koa-store-gate.ts). */
  storeHealth: StoreHealth;
  /** Stops background work and closes the store. */
  close(): Promise<void>;
}

/** The services of a one-shot operator process: everything but the protocol (oidc-provider). */
export type OperatorServices = Omit<Services, 'providers'>;

interface BuildOptions {
  /**
   * `server` (the default): everything, with its background work started and the configuration's accounts
   * and development organisation seeded. `cli`: the same services on the same store for one operator
   * command, with no background work (webhook delivery, expiry watcher, LDAP sync, connection reload,
   * store health loop, signing key reload: the running servers do those), no seeding, no connectors made
   * (no sign-in is served: an unreachable IdP must not stop an operator), and no protocol: the signing key
   * set is not read (a sealed one would need LOGTRACE_SECRET_KEY) and no provider is built.
   */
  mode?: 'server' | 'cli';
}

/** The one composition root: builds every service, for the server and for the CLI (`mode: 'cli'`). */
export async function buildServices(config: Config, logger: Logger, options?: BuildOptions & { mode?: 'server' }): Promise<Services>;
export async function buildServices(config: Config, logger: Logger, options: BuildOptions & { mode: 'cli' }): Promise<OperatorServices>;
export async function buildServices(config: Config, logger: Logger, options: BuildOptions = {}): Promise<Services | OperatorServices> {
  const server = options.mode !== 'cli';
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
  if (server) for (const warning of await rawStore.durabilityWarnings()) logger.warn(`store durability: ${warning}`);
  const store = instrumentStore(rawStore, metrics);
  // Signing and cookie keys are sealed only with LOGTRACE_SECRET_KEY: a data key kept in the same store
  // would protect nothing from someone who can read the store. Read first: a key set this process cannot
  // open stops start-up before any background work begins.
  const keyBox = secretKey ? new SecretBox(store, secretKey) : undefined;
  const keySet = server
    ? await ensureKeySet(store, config.signing_keys.algorithm, config.signing_keys.additional, keyBox).catch(async (error: unknown) => {
        await rawStore.close();
        throw error;
      })
    : undefined;
  const userRepository = new UserRepository(store);
  const auditLog = new AuditLog(store);
  const projectRepository = new ProjectRepository(store);
  const access = new AccessPolicy(projectRepository);
  const membershipRepository = new MembershipRepository(store);
  const identityRepository = new IdentityRepository(store);
  const invitationRepository = new InvitationRepository(store);
  const ldap = config.ldap ? new LdapDirectory(config.ldap, { logger }) : undefined;
  // Connections made at run time (an admin chose where they point) reach only what the policy allows, on
  // the address connected to; the configuration file's connectors are the operator's and use plain fetch.
  const outbound = new OutboundPolicy({ blockPrivate: config.webhooks.block_private_addresses, allowPrivate: config.outbound.allow_private });
  const connectionSet = new ConnectionSet({
    store,
    logger,
    connectorDeps: { issuer: config.issuer, store, logger, fetch: globalThis.fetch },
    connectionDeps: { issuer: config.issuer, store, logger, fetch: guardedFetch({ policy: outbound }), sockets: guardedSockets(outbound) },
    ldapDirectory: ldap,
    secrets: keyBox,
    configured: config.connectors,
  });
  // Connectors are made (a SAML one fetches its IdP's metadata) only where sign-ins are served.
  if (server) await connectionSet.reload();
  if (server) connectionSet.watch(config.connections_reload_ms);
  const connectors: Map<string, Connector> = connectionSet.connectors;
  const upstreamSessions = new UpstreamSessions(store, new SecretBox(store, secretKey));
  const configured: RoleMapping[] = [];
  for (const [i, mapping] of config.role_mappings.entries()) {
    const project = await resolveProjectRef(projectRepository, mapping.project);
    if (project) configured.push({ id: `cfg_${i}`, source: mapping.source, group: mapping.group, project_id: project.id, role: mapping.role });
    else if (server) logger.warn({ mapping: i, project: mapping.project }, 'role_mappings: no such project (yet); mapping ignored until restart');
  }
  const legacyLinksTrusted = (connectorId: string, issuer: string) => connectionSet.legacyLinksTrusted(connectorId, issuer);
  const groupRoles = new GroupRoles({ store, memberships: membershipRepository, projects: projectRepository, users: userRepository, identities: identityRepository, legacyLinksTrusted, audit: auditLog, logger, directories: () => connectionSet.directories(), configured });
  // LDAP connections may be added at run time: the sync runs whether or not a directory is in use yet.
  if (server) groupRoles.startLdapSync();
  const scim = new ScimService({ store, users: userRepository, identities: identityRepository, groupRoles, upstreamSessions, audit: auditLog, access, logger, scimConnections: () => connectionSet.scim.values() });
  const connections = new ConnectionService({ connections: connectionSet, access, audit: auditLog, scimConnectionDeleted: (id, meta) => scim.connectionDeleted(id, meta),
    // "Try a sign-in" is a password check: as limited as the sign-in page, per person tried.
    signInTries: new FailureLimiter(store, { name: 'ldap-try', max: config.login.max_failed_attempts, windowSeconds: config.login.window_seconds }),
  });
  const provisioningRuleRepository = new ProvisioningRules(store, config.provisioning.rules);
  const passwords = new PasswordHasher({
    maxConcurrent: config.passwords.max_concurrent_hashes,
    maxQueued: config.passwords.max_queued_hashes,
    observer: passwordObserver(metrics),
  });
  const audit = new AuditService({ log: auditLog, access, membersOf: (projectId) => membershipRepository.membersOf(projectId) });
  const accounts = new AccountService({ users: userRepository, memberships: membershipRepository, identities: identityRepository, access, audit: auditLog });
  const projects = new ProjectService({ projects: projectRepository, access, audit: auditLog });
  const members = new MembershipService({ users: userRepository, memberships: membershipRepository, access, audit: auditLog });
  const invitations = new InvitationService({ invitations: invitationRepository, users: userRepository, projects: projectRepository, memberships: membershipRepository, members, access, audit: auditLog, passwords, issuer: config.issuer });
  const provisioningRules = new ProvisioningRuleService({ rules: provisioningRuleRepository, projects: projectRepository, access, audit: auditLog, connectorIds: () => [...connectors.keys()] });
  const roleMappings = new RoleMappingService({ groupRoles, access, audit: auditLog, sources: () => groupSources(connectionSet), isConnector: (id) => connectors.has(id) });
  const signIn: SignInDeps = {
    users: userRepository,
    identities: identityRepository,
    memberships: membershipRepository,
    projects: projectRepository,
    audit: auditLog,
    logger,
    rules: () => provisioningRuleRepository.active(),
    applyGroups: (userId, identity) => groupRoles.applyIdentity(userId, identity, connectionSet.sourceOf(identity.connector_id)),
    mappedRoles: (identity) => groupRoles.mappedRoles(connectionSet.sourceOf(identity.connector_id), identity.groups),
    invitations,
    legacyLinksTrusted,
    provisionedAccount: (connectorId, email) => scim.accountForSignIn(connectorId, email),
  };
  const keyRepository = new KeyRepository(store, projectRepository, { logger });
  const keyEvents = new KeyEventFeed(store, logger, { pollMs: config.api_keys.events_poll_ms });
  const webhookRepository = new WebhookRepository(store, {
    logger,
    blockPrivateAddresses: config.webhooks.block_private_addresses,
    allowPrivate: config.outbound.allow_private,
    ancestorsOf: async (projectId) => (await projectRepository.pathOf(projectId)) ?? [projectId],
    ...(secretKey ? { encryptionKey: secretKey } : {}),
  });
  // The CLI queues events in the store; the running servers deliver them.
  if (server) webhookRepository.start();
  const webhooks = new WebhookService({ webhooks: webhookRepository, access, audit: auditLog });
  const keys = new KeyService({
    keys: keyRepository,
    access,
    audit: auditLog,
    webhooks,
    events: keyEvents,
    defaultTtlDays: config.api_keys.default_ttl_days,
    maxTtlDays: config.api_keys.max_ttl_days,
    rotationGraceSeconds: config.api_keys.rotation_grace_seconds,
  });
  const expiryWatcher = new ExpiryWatcher({ store, keys: keyRepository, webhooks: webhookRepository, audit: auditLog, logger, noticeDays: config.api_keys.expiring_notice_days });
  if (server) expiryWatcher.start(config.api_keys.expiry_check_seconds);
  const clientRepository = new ClientRepository(store);
  const clients = new ClientService({
    clients: clientRepository,
    access,
    audit: auditLog,
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
  if (server) clientSecretWatch.start(config.api_keys.expiry_check_seconds);

  if (server) {
    for (const user of config.users) await userRepository.upsertStatic(user);
    if (config.development.bootstrap_organisation) {
      await bootstrapDevelopmentOrganisation({ store, projects: projectRepository, users: userRepository, memberships: membershipRepository, audit: auditLog, logger }, config.development.bootstrap_organisation);
    }
  }

  const upstreamCheck = new UpstreamSessionCheck({ sessions: upstreamSessions, connections: connectionSet, groupRoles, audit: auditLog, logger, sessionTtlSeconds: config.tokens.refresh_token_ttl });
  const roles = tokenRoles(membershipRepository);
  const build = (keySet: KeySet): Provider =>
    buildProvider({
      config,
      store,
      users: userRepository,
      keySet,
      apiKeys: keyExchange({ keys: keyRepository, access, audit: auditLog }),
      access: {
        ...roles,
        // A token through a client registered in a project: what the person's roles give there (the access policy).
        scopesOnProject: async (accountId: string, projectId: string) =>
          new Set(await access.scopesOn({ kind: 'token', actor: { type: 'user', id: accountId }, scopes: [...KEY_SCOPES], project_roles: await roles.rolesOf(accountId) }, projectId)),
      },
      checkUpstream: (accountId) => upstreamCheck.check(accountId),
      registeredClients: clients,
      ...oidcViews,
    });
  const providers = keySet
    ? new ProviderHolder(keySet, build, (provider) => {
        observeProvider(provider, metrics, logger);
        // The last time a registered client got a token (shown on its page); buffered in ClientService.
        provider.on('grant.success', (ctx) => {
          const clientId = ctx.oidc.client?.clientId;
          if (clientId) clients.noteToken(clientId);
        });
      })
    : undefined;
  providers?.watch(store, keyBox, config.signing_keys.reload_interval, logger);
  const storeHealth = new StoreHealth(rawStore, logger);
  if (server) storeHealth.start();

  return {
    config,
    logger,
    store,
    userRepository,
    projectRepository,
    membershipRepository,
    identityRepository,
    connectors,
    connectionSet,
    connections,
    upstreamSessions,
    upstreamCheck,
    signIn,
    ldap,
    passwords,
    groupRoles,
    scim,
    provisioningRuleRepository,
    accounts,
    projects,
    members,
    invitations,
    provisioningRules,
    roleMappings,
    keys,
    keyEvents,
    access,
    webhooks,
    clients,
    auditLog: auditLog,
    audit,
    metrics,
    ...(providers ? { providers } : {}),
    storeHealth,
    async close() {
      keyEvents.stop();
      providers?.stop();
      storeHealth.stop();
      connectionSet.stop();
      await expiryWatcher.stop();
      await clientSecretWatch.stop();
      await webhookRepository.stop();
      await keys.close();
      await groupRoles.stop();
      await ldap?.close();
      await rawStore.close();
    },
  };
}

/** The password hasher's load, for /metrics. */
function passwordObserver(metrics: Metrics): PasswordHasherObserver {
  let highWater = 0;
  return {
    started(kind, inFlight) {
      if (kind !== 'hash') metrics.passwordChecks.inc({ kind: kind === 'verify' ? 'local' : 'decoy' });
      metrics.passwordHashesInFlight.set(inFlight);
      if (inFlight > highWater) metrics.passwordHashesInFlightMax.set((highWater = inFlight));
    },
    finished: (inFlight) => metrics.passwordHashesInFlight.set(inFlight),
    refused: () => metrics.passwordHashesRefused.inc(),
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
