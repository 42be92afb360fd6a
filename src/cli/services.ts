import { userInfo } from 'node:os';
import pino from 'pino';
import type { Config } from '../config/index.ts';
import { openStore, type Store } from '../store/index.ts';
import { ProjectRepository, type Project } from '../directory/index.ts';
import { KeyService, type Actor } from '../keys/index.ts';
import { AuditLog } from '../audit/index.ts';
import { AccessPolicy, type Principal } from '../access/index.ts';
import { WebhookService } from '../webhooks/index.ts';
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
  access: AccessPolicy;
  close(): Promise<void>;
}

export async function openCliServices(config: Config): Promise<CliServices> {
  const logger = pino({ level: 'warn' }, pino.destination(2));
  const store = await openStore(config.store);
  const projects = new ProjectRepository(store);
  const keys = new KeyService(store, projects, { defaultTtlDays: config.api_keys.default_ttl_days, maxTtlDays: config.api_keys.max_ttl_days, logger });
  // Events are queued in the store; the running servers deliver them. This process never starts the worker.
  const webhooks = new WebhookService(store, {
    logger,
    blockPrivateAddresses: config.webhooks.block_private_addresses,
    allowPrivate: config.outbound.allow_private,
    ancestorsOf: async (projectId: string) => (await projects.pathOf(projectId)) ?? [projectId],
    ...secretKeyFromEnv(),
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
    audit: new AuditLog(store),
    webhooks,
    operator: { type: 'system', id: `cli:${user}` },
    principal: { kind: 'operator', actor: { type: 'system', id: `cli:${user}` } },
    access: new AccessPolicy(projects),
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
