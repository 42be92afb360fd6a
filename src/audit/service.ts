import type { AccessPolicy } from '../access/index.ts';
import type { Caller } from '../domain/index.ts';
import type { AuditEvent, AuditFilter, AuditLog } from './index.ts';

interface AuditServiceDeps {
  log: AuditLog;
  access: Pick<AccessPolicy, 'auditView' | 'visibleProjects'>;
  /** The accounts with a role on a project (the membership repository's `membersOf`). */
  membersOf(projectId: string): Promise<Array<{ user_id: string }>>;
}

/** What a reader of the audit log asks for; who may read what is the access policy's `auditView`. */
type AuditQuery = Omit<AuditFilter, 'project_ids' | 'include_unscoped' | 'unscoped_subjects'> & { project_id?: string | undefined };

/** Reading the audit log (GET /v1/audit): the events the caller may see, in pages. The log itself is append-only. */
export class AuditService {
  private readonly deps: AuditServiceDeps;
  constructor(deps: AuditServiceDeps) {
    this.deps = deps;
  }

  async events(caller: Caller, input: AuditQuery): Promise<{ events: Array<AuditEvent & { id: string }>; next: string | null }> {
    const { project_id, ...filter } = input;
    const view = await this.deps.access.auditView(caller.principal, project_id, () => this.visibleUserIds(caller));
    return this.deps.log.query({ ...filter, project_ids: view.project_ids, include_unscoped: view.include_unscoped, unscoped_subjects: view.unscoped_subjects });
  }

  /** The accounts the caller may see (for the events that belong to no project): members of what it administers. */
  private async visibleUserIds(caller: Caller): Promise<Set<string>> {
    const administered = await this.deps.access.visibleProjects(caller.principal, 'admin:projects');
    const ids = new Set<string>();
    for (const project of administered) for (const member of await this.deps.membersOf(project)) ids.add(member.user_id);
    return ids;
  }
}
