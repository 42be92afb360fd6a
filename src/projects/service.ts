import type { AccessPolicy } from '../access/index.ts';
import type { AuditLog } from '../audit/index.ts';
import { DomainError, type Caller } from '../domain/index.ts';
import { isRole, type MembershipCause, type MembershipRepository, type Project, type ProjectRepository, type Role, type UserRepository } from '../directory/index.ts';

interface ProjectServiceDeps {
  projects: ProjectRepository;
  access: AccessPolicy;
  audit: AuditLog;
}

/**
 * Projects (a tree with organisations at the roots): create, list the visible ones, read one. Whoever may
 * not see a project is told it does not exist, never that it is someone else's.
 */
export class ProjectService {
  private readonly deps: ProjectServiceDeps;
  constructor(deps: ProjectServiceDeps) {
    this.deps = deps;
  }

  /** A project below `parent_id` (admin:projects there), or an organisation (no parent: an admin of every organisation). */
  async create(caller: Caller, input: { name: string; parent_id?: string | null | undefined }): Promise<Project> {
    const name = typeof input.name === 'string' ? input.name.trim() : '';
    if (!name || name.length > 200) throw new DomainError('invalid', 'name must be 1 to 200 characters', 'name');
    await this.deps.access.requireProjectCreation(caller.principal, input.parent_id);
    const project = await this.deps.projects.create({ name, parent_id: input.parent_id ?? null });
    await this.deps.audit.recordBy(caller, { action: 'project.created', target: { type: 'project', id: project.id }, project_id: project.id, outcome: 'success', detail: { name: project.name, parent_id: project.parent_id } });
    return project;
  }

  /** Every project the caller holds any right on, oldest first. */
  async list(caller: Caller): Promise<Project[]> {
    const visible = await this.deps.access.visibleProjects(caller.principal);
    const projects = (await Promise.all([...visible].map((id) => this.deps.projects.get(id)))).filter((p): p is Project => !!p);
    return projects.sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id));
  }

  async get(caller: Caller, id: string): Promise<Project> {
    const project = await this.deps.projects.get(id);
    if (!project || (await this.deps.access.scopesOn(caller.principal, project.id)).length === 0) {
      throw new DomainError('not_found', `project ${id} does not exist or is not visible to this credential`);
    }
    return project;
  }
}

/** A project member: the effective role, and each cause behind it. */
interface Member {
  user_id: string;
  email: string | null;
  name: string | null;
  role: Role;
  causes: Array<{ role: Role; cause: MembershipCause; source: string | null; updated_at: string }>;
  /** The role granted by hand, when one is. */
  manual: Role | null;
}

interface MembershipServiceDeps {
  users: UserRepository;
  memberships: MembershipRepository;
  access: AccessPolicy;
  audit: AuditLog;
}

/**
 * Who holds which role on a project, and the roles given by hand. admin:projects on the project for all of
 * it; only an owner gives, changes or takes away owner — and a person who is an owner there by any cause
 * (directory groups too) is an owner's to change.
 */
export class MembershipService {
  private readonly deps: MembershipServiceDeps;
  constructor(deps: MembershipServiceDeps) {
    this.deps = deps;
  }

  async list(caller: Caller, projectId: string): Promise<Member[]> {
    await this.deps.access.require(caller.principal, projectId, 'admin:projects', 'id');
    const out: Member[] = [];
    for (const m of await this.deps.memberships.membersOf(projectId)) {
      const user = await this.deps.users.findById(m.user_id);
      out.push({
        user_id: m.user_id,
        email: user?.email ?? null,
        name: user?.name ?? null,
        role: m.role,
        causes: m.grants.map((g) => ({ role: g.role, cause: g.cause, source: g.source ?? null, updated_at: g.updated_at })),
        manual: m.grants.find((g) => g.cause === 'manual')?.role ?? null,
      });
    }
    return out;
  }

  /** Gives or changes a person's manual role; returns the effective role there afterwards. */
  async setRole(caller: Caller, input: { project_id: string; user_id: string; role: Role }): Promise<{ user_id: string; email: string; project_id: string; role: Role | null }> {
    const { project_id: projectId } = input;
    await this.deps.access.require(caller.principal, projectId, 'admin:projects', 'id');
    if (!isRole(input.role)) throw new DomainError('invalid', 'role must be owner, admin, member or viewer', 'role');
    const user = await this.deps.users.findById(input.user_id);
    if (!user) throw new DomainError('not_found', `user ${input.user_id} does not exist`, 'user_id');
    const grants = await this.deps.memberships.grantsOf(user.id);
    const current = grants.find((g) => g.project_id === projectId && g.cause === 'manual');
    await this.deps.access.requireMemberChange(caller.principal, projectId, { id: user.id, grants }, input.role);
    const change = await this.deps.memberships.setManual(user.id, projectId, input.role);
    await this.deps.audit.recordBy(caller, { action: 'member.role_changed', target: { type: 'user', id: user.id }, project_id: projectId, outcome: 'success', detail: { cause: 'manual', from: change?.from ?? current?.role ?? null, to: input.role } });
    return { user_id: user.id, email: user.email, project_id: projectId, role: (await this.deps.memberships.rolesOf(user.id))[projectId] ?? null };
  }

  /** Takes away a person's manual role (roles from other causes stay); not_found when there is none. */
  async remove(caller: Caller, input: { project_id: string; user_id: string }): Promise<{ user_id: string; project_id: string; from: Role; role: Role | null }> {
    const { project_id: projectId, user_id: userId } = input;
    await this.deps.access.require(caller.principal, projectId, 'admin:projects', 'id');
    const grants = await this.deps.memberships.grantsOf(userId);
    const current = grants.find((g) => g.project_id === projectId && g.cause === 'manual');
    if (!current) throw new DomainError('not_found', `user ${userId} holds no manually granted role on project ${projectId}`, 'user_id');
    await this.deps.access.requireMemberChange(caller.principal, projectId, { id: userId, grants }, null);
    const change = await this.deps.memberships.setManual(userId, projectId, null);
    await this.deps.audit.recordBy(caller, { action: 'member.role_changed', target: { type: 'user', id: userId }, project_id: projectId, outcome: 'success', detail: { cause: 'manual', from: current.role, to: change?.to ?? null } });
    return { user_id: userId, project_id: projectId, from: current.role, role: (await this.deps.memberships.rolesOf(userId))[projectId] ?? null };
  }
}
