import { userInfo } from 'node:os';
import pino from 'pino';
import type { Config } from '../config/index.ts';
import { openStore, type Store } from '../store/index.ts';
import { ProjectRepository, type Project } from '../directory/index.ts';
import { KeyEventFeed, KeyRepository, KeyService } from '../keys/index.ts';
import type { Actor, Caller } from '../domain/index.ts';
import { AuditLog } from '../audit/index.ts';
import { AccessPolicy, type Principal } from '../access/index.ts';
import { WebhookRepository, WebhookService } from '../webhooks/index.ts';
import { secretKeyFromEnv } from '../container.ts';

/** The domain services an operator command needs, on the configured store; no HTTP, no background work. */
export interface CliServices {
  config: Config;
  store: Store;
  projects: ProjectRepository;
  keys: KeyService;
  audit: AuditLog;
  webhooks: WebhookService;
  operator: Actor;
  /** The operator as the access policy sees them: whoever holds the configuration and the store holds every right. */
  principal: Principal;
  /** The operator as domain services take them (no address: the CLI runs where the store is). */
  caller: Caller;
  access: AccessPolicy;
  close(): Promise<void>;
}

export async function openCliServices(config: Config): Promise<CliServices> {
  const logger = pino({ level: 'warn' }, pino.destination(2));
  const store = await openStore(config.store);
  const projects = new ProjectRepository(store);
  const access = new AccessPolicy(projects);
  const audit = new AuditLog(store);
  // Events are queued in the store; the running servers deliver them. This process never starts the worker.
  const webhookRepository = new WebhookRepository(store, {
    logger,
    blockPrivateAddresses: config.webhooks.block_private_addresses,
    allowPrivate: config.outbound.allow_private,
    ancestorsOf: async (projectId: string) => (await projects.pathOf(projectId)) ?? [projectId],
    ...secretKeyFromEnv(),
  });
  const webhooks = new WebhookService({ webhooks: webhookRepository, access, audit });
  const keys = new KeyService({
    keys: new KeyRepository(store, projects, { logger }),
    access,
    audit,
    webhooks,
    events: new KeyEventFeed(store, logger, { pollMs: config.api_keys.events_poll_ms }),
    defaultTtlDays: config.api_keys.default_ttl_days,
    maxTtlDays: config.api_keys.max_ttl_days,
    rotationGraceSeconds: config.api_keys.rotation_grace_seconds,
  });
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (containers): keep "unknown"
  }
  return {
    config,
    store,
    projects,
    keys,
    audit,
    webhooks,
    operator: { type: 'system', id: `cli:${user}` },
    principal: { kind: 'operator', actor: { type: 'system', id: `cli:${user}` } },
    caller: { principal: { kind: 'operator', actor: { type: 'system', id: `cli:${user}` } }, ip: null, user_agent: null },
    access,
    async close() {
      await keys.close();
      await store.close();
    },
  };
}

/** A project by id, or a root organisation by name. */
export async function resolveProject(services: CliServices, idOrName: string): Promise<Project | undefined> {
  const byId = await services.projects.get(idOrName);
  if (byId) return byId;
  const roots = await services.projects.roots();
  return roots.find((p) => p.name.toLowerCase() === idOrName.toLowerCase());
}
