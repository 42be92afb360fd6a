import { randomBytes } from 'node:crypto';
import type { Store } from '../store/index.ts';
import { DomainError } from '../domain/index.ts';

/**
 * Projects form a tree: an organisation at the root, projects and sub-projects below. A right held on a
 * project holds on its whole subtree. Projects are never moved, so a project's ancestry (`path`) is fixed
 * at creation and safe to cache.
 *
 * Layout: project:{id} (record), project:children:{id} (set), project:roots:{all} (set of root ids),
 * project:root-name:{name} (root id by name, for idempotent bootstrap), bootstrap:{id} (the CLI's bootstrap
 * key was issued on this organisation).
 */
export interface Project {
  [key: string]: unknown;
  id: string;
  name: string;
  parent_id: string | null;
  /** Ids from the root down to this project, inclusive. */
  path: string[];
  created_at: string;
}

const projectKey = (id: string) => `project:{${id}}`;
const childrenKey = (id: string) => `project:children:{${id}}`;
const ROOTS = 'project:roots:{all}';
const rootNameKey = (name: string) => `project:root-name:{${name.toLowerCase()}}`;

function newProjectId(): string {
  return `prj_${randomBytes(12).toString('base64url')}`;
}

export class ProjectRepository {
  private readonly store: Store;
  private readonly pathCache = new Map<string, string[]>();

  constructor(store: Store) {
    this.store = store;
  }

  async get(id: string): Promise<Project | undefined> {
    if (!/^prj_[\w-]{1,64}$/.test(id)) return undefined;
    return this.store.get<Project>(projectKey(id));
  }

  /** Ancestry of a project (root first, itself last), cached; undefined when it does not exist. */
  async pathOf(id: string): Promise<string[] | undefined> {
    const cached = this.pathCache.get(id);
    if (cached) return cached;
    const project = await this.get(id);
    if (!project) return undefined;
    if (this.pathCache.size > 10_000) this.pathCache.clear();
    this.pathCache.set(id, project.path);
    return project.path;
  }

  /** True when `ancestorId` is `projectId` or above it. */
  async covers(ancestorId: string, projectId: string): Promise<boolean> {
    const path = await this.pathOf(projectId);
    return !!path?.includes(ancestorId);
  }

  async create(input: { name: string; parent_id?: string | null | undefined }): Promise<Project> {
    const name = input.name.trim();
    if (!name || name.length > 200) throw new DomainError('invalid', 'name must be 1 to 200 characters', 'name');
    let path: string[] = [];
    if (input.parent_id) {
      const parent = await this.get(input.parent_id);
      if (!parent) throw new DomainError('not_found', `parent project ${input.parent_id} does not exist`, 'parent_id');
      path = parent.path;
    }
    const id = newProjectId();
    const project: Project = { id, name, parent_id: input.parent_id ?? null, path: [...path, id], created_at: new Date().toISOString() };
    if (!input.parent_id && !(await this.store.putIfAbsent(rootNameKey(name), { id }))) {
      throw new DomainError('conflict', `an organization named "${name}" already exists`, 'name');
    }
    // Index first (load() skips an id without a project), then the project: never a project outside the
    // tree, where subtree() (and so every role on its ancestors) would not reach it.
    await this.store.sadd(input.parent_id ? childrenKey(input.parent_id) : ROOTS, [id]);
    await this.store.put(projectKey(id), project);
    return project;
  }

  /** True the first time only for a project, across processes: `bootstrap` issues its all-scopes key once. */
  async claimBootstrap(projectId: string): Promise<boolean> {
    return this.store.putIfAbsent(`bootstrap:{${projectId}}`, { at: new Date().toISOString() });
  }

  /** The root project with this name, creating it when absent (idempotent; safe when several race). */
  async ensureRoot(name: string): Promise<{ project: Project; created: boolean }> {
    const existing = await this.store.get<{ id: string }>(rootNameKey(name));
    if (existing) {
      const project = await this.get(existing.id);
      if (project) return { project, created: false };
    }
    try {
      return { project: await this.create({ name }), created: true };
    } catch (err) {
      if (!(err instanceof DomainError) || err.code !== 'conflict') throw err;
      const winner = await this.store.get<{ id: string }>(rootNameKey(name));
      const project = winner && (await this.get(winner.id));
      if (!project) throw err;
      return { project, created: false };
    }
  }

  async children(id: string): Promise<Project[]> {
    return this.load(await this.store.smembers(childrenKey(id)));
  }

  async roots(): Promise<Project[]> {
    return this.load(await this.store.smembers(ROOTS));
  }

  /** The project and everything below it, breadth first. */
  async subtree(id: string): Promise<Project[]> {
    const root = await this.get(id);
    if (!root) return [];
    const out: Project[] = [root];
    for (let i = 0; i < out.length; i++) out.push(...(await this.children(out[i]!.id)));
    return out;
  }

  private async load(ids: string[]): Promise<Project[]> {
    const projects = await Promise.all(ids.map((id) => this.get(id)));
    return projects.filter((p): p is Project => !!p).sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id));
  }
}
