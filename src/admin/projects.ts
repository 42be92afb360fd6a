import type Router from '@koa/router';
import { z } from 'zod';
import type { Services } from '../container.ts';
import { ProjectError, type Project } from '../directory/index.ts';
import { AppError, parseBody, readJson } from './problem.ts';
import { authMiddleware } from './koa-auth.ts';
import { auditAction, principalOf } from './context.ts';
import { etagOf, ifNoneMatch } from '../http/etag.ts';

const createProject = z.strictObject({ name: z.string().trim().min(1).max(200), parent_id: z.string().optional().nullable() });

function projectView(p: Project) {
  return { id: p.id, name: p.name, parent_id: p.parent_id, path: p.path, created_at: p.created_at };
}

export function projectRoutes(router: Router, services: Services): void {
  const auth = authMiddleware(services);

  router.post('/v1/projects', auth, async (ctx) => {
    const input = parseBody(createProject, await readJson(ctx));
    await services.access.requireProjectCreation(principalOf(ctx), input.parent_id);
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
    const visible = await services.access.visibleProjects(principalOf(ctx));
    const projects = (await Promise.all([...visible].map((id) => services.projects.get(id)))).filter((p): p is Project => !!p);
    projects.sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id));
    const body = { projects: projects.map(projectView) };
    // An ETag so a resource server (the verifier library's project tree) revalidates without a download.
    const etag = etagOf(JSON.stringify(body));
    ctx.set('ETag', etag);
    ctx.set('Cache-Control', 'private, no-cache');
    if (ifNoneMatch(ctx.get('if-none-match'), etag)) {
      ctx.status = 304;
      return;
    }
    ctx.body = body;
  });

  router.get('/v1/projects/:id', auth, async (ctx) => {
    const project = await services.projects.get(ctx.params.id!);
    if (!project || (await services.access.scopesOn(principalOf(ctx), project.id)).length === 0) {
      throw new AppError('not_found', `project ${ctx.params.id} does not exist or is not visible to this credential`);
    }
    ctx.body = projectView(project);
  });
}
