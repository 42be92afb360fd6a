import type Router from '@koa/router';
import { z } from 'zod';
import type { Services } from '../container.ts';
import { ProjectError, type Project } from '../directory/index.ts';
import { AppError, parseBody, readJson } from './problem.ts';
import { authMiddleware, requireScope, scopesOn } from './koa-auth.ts';
import { auditAction, principalOf } from './context.ts';

const createProject = z.strictObject({ name: z.string().trim().min(1).max(200), parent_id: z.string().optional().nullable() });

function projectView(p: Project) {
  return { id: p.id, name: p.name, parent_id: p.parent_id, path: p.path, created_at: p.created_at };
}

export function projectRoutes(router: Router, services: Services): void {
  const auth = authMiddleware(services);

  router.post('/v1/projects', auth, async (ctx) => {
    const input = parseBody(createProject, await readJson(ctx));
    const principal = principalOf(ctx);
    if (input.parent_id) {
      await requireScope(principal, input.parent_id, 'admin:projects', services, 'parent_id');
    } else {
      // A new organisation: only someone administering an existing organisation (the operator) may.
      const roots = await services.projects.roots();
      const allowed = await Promise.all(roots.map(async (r) => (await scopesOn(principal, r.id, services)).includes('admin:projects')));
      if (!allowed.some(Boolean)) throw new AppError('forbidden', 'creating an organization (no parent_id) needs admin:projects on an existing organization', { field: 'parent_id' });
    }
    let project: Project;
    try {
      project = await services.projects.create(input);
    } catch (err) {
      if (err instanceof ProjectError) throw new AppError(err.code === 'invalid' ? 'invalid_request' : err.code, err.message, { field: err.field });
      throw err;
    }
    await auditAction(ctx, services, { action: 'project.created', target: { type: 'project', id: project.id }, project_id: project.id, outcome: 'success', detail: { name: project.name, parent_id: project.parent_id } });
    ctx.status = 201;
    ctx.body = projectView(project);
  });

  router.get('/v1/projects', auth, async (ctx) => {
    const principal = principalOf(ctx);
    const visible = new Map<string, Project>();
    for (const root of await services.projects.roots()) {
      for (const project of await services.projects.subtree(root.id)) {
        if ((await scopesOn(principal, project.id, services)).length) visible.set(project.id, project);
      }
    }
    ctx.body = { projects: [...visible.values()].map(projectView) };
  });

  router.get('/v1/projects/:id', auth, async (ctx) => {
    const project = await services.projects.get(ctx.params.id!);
    if (!project || (await scopesOn(principalOf(ctx), project.id, services)).length === 0) {
      throw new AppError('not_found', `project ${ctx.params.id} does not exist or is not visible to this credential`);
    }
    ctx.body = projectView(project);
  });
}

/** Every project id the principal holds any right on (for filtering listings). */
export async function visibleProjectIds(services: Services, principal: Parameters<typeof scopesOn>[0], scope?: string): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const root of await services.projects.roots()) {
    for (const project of await services.projects.subtree(root.id)) {
      const scopes = await scopesOn(principal, project.id, services);
      if (scope ? scopes.includes(scope) : scopes.length) ids.add(project.id);
    }
  }
  return ids;
}
