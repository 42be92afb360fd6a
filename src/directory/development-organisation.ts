import type { Logger } from 'pino';
import type { Store } from '../store/index.ts';
import type { AuditLog } from '../audit/index.ts';
import type { MembershipRepository } from './memberships.ts';
import type { Project, ProjectRepository } from './projects.ts';
import type { UserRepository } from './users.ts';

/**
 * `development.bootstrap_organisation` (config/default.yaml only): on the first start against a store
 * with no organisation, make one, owned by an account of the configuration's `users`, so that a trial's
 * first visit to /dashboard lands on a working dashboard instead of "no access".
 *
 * Once per store, whatever happens later: `development:bootstrap-organisation:{done}` records that it
 * ran, so an organisation renamed or an owner removed by a person is never made again. Several nodes
 * starting together on one store take turns through a claim (putIfAbsent); the organisation itself is
 * made by name (`ensureRoot`, also safe when several race), so they make exactly one. A node that dies
 * holding the claim leaves the work to the next start after CLAIM_SECONDS.
 */
export const DONE_KEY = 'development:bootstrap-organisation:{done}';
const CLAIM_KEY = 'development:bootstrap-organisation:{claim}';
const CLAIM_SECONDS = 60;
const ACTOR = { type: 'system' as const, id: 'development.bootstrap_organisation' };

export interface DevelopmentOrganisationDeps {
  store: Store;
  projects: ProjectRepository;
  users: UserRepository;
  memberships: MembershipRepository;
  audit: AuditLog;
  logger: Logger;
}

type DevelopmentOrganisationResult =
  | { result: 'made'; project: Project; owner: { id: string; email: string } }
  /** Made earlier (by this node or another), or left to the node that holds the claim. */
  | { result: 'done' | 'busy' }
  /** The store already had an organisation: not a first start. */
  | { result: 'skipped' };

export async function bootstrapDevelopmentOrganisation(deps: DevelopmentOrganisationDeps, setting: { name: string; owner: string }): Promise<DevelopmentOrganisationResult> {
  const { store, projects, users, memberships, audit, logger } = deps;
  if (await store.get(DONE_KEY)) return { result: 'done' };
  if (!(await store.putIfAbsent(CLAIM_KEY, { pid: process.pid, at: new Date().toISOString() }, CLAIM_SECONDS))) return { result: 'busy' };
  try {
    // Another node may have finished between the first look and the claim.
    if (await store.get(DONE_KEY)) return { result: 'done' };
    if ((await projects.roots()).length > 0) {
      await store.put(DONE_KEY, { at: new Date().toISOString(), skipped: 'an organisation existed already' });
      logger.info('development.bootstrap_organisation: the store already has an organisation; none made');
      return { result: 'skipped' };
    }
    // The configuration's accounts are written before this runs; the schema checked the owner is one.
    const owner = await users.findByEmail(setting.owner);
    if (!owner) throw new Error(`development.bootstrap_organisation.owner: no account ${setting.owner}`);
    const { project, created } = await projects.ensureRoot(setting.name);
    if (created) {
      await audit.record({ actor: ACTOR, action: 'project.created', target: { type: 'project', id: project.id }, project_id: project.id, ip: null, outcome: 'success', detail: { name: project.name, via: 'development.bootstrap_organisation' } });
    }
    const change = await memberships.setManual(owner.id, project.id, 'owner');
    await audit.record({ actor: ACTOR, action: 'member.role_changed', target: { type: 'user', id: owner.id }, project_id: project.id, ip: null, outcome: 'success', detail: { cause: 'manual', from: change?.from ?? null, to: 'owner', via: 'development.bootstrap_organisation' } });
    await store.put(DONE_KEY, { at: new Date().toISOString(), project_id: project.id, owner_id: owner.id });
    logger.warn({ project_id: project.id, owner: owner.email }, `development.bootstrap_organisation: made organisation "${project.name}" owned by ${owner.email} (a development default: remove the setting in production)`);
    return { result: 'made', project, owner: { id: owner.id, email: owner.email } };
  } finally {
    await store.delete(CLAIM_KEY);
  }
}
