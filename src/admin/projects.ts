import { z } from 'zod';
import type { Project } from '../directory/index.ts';
import type { ProjectService } from '../projects/index.ts';
import type { ApiRoutes } from './api-routes.ts';
import { callerOf } from '../http/caller.ts';
import { etagOf, ifNoneMatch } from '../http/etag.ts';

const CREATE_PROJECT = z.strictObject({
  name: z.string().trim().min(1).max(200).describe('1–200 characters; an organization (no parent) needs a name no other has'),
  parent_id: z.string().optional().nullable().describe('The parent project; none makes an organization (root)'),
});
const PROJECT_ID = z.strictObject({ id: z.string().describe('A project id (prj_…)') });

const PROJECT = z.strictObject({
  id: z.string(),
  name: z.string(),
  parent_id: z.string().nullable(),
  path: z.array(z.string()).describe('Ids from the organization down to this project, inclusive'),
  created_at: z.iso.datetime(),
});

function projectView(p: Project): z.infer<typeof PROJECT> {
  return { id: p.id, name: p.name, parent_id: p.parent_id, path: p.path, created_at: p.created_at };
}

export function projectRoutes(api: ApiRoutes, { projects }: { projects: ProjectService }): void {

  api.add(
    {
      method: 'post',
      path: '/v1/projects',
      operationId: 'createProject',
      summary: 'Create a project below a parent, or an organization (no parent)',
      tag: 'Projects',
      body: CREATE_PROJECT,
      responses: { 201: { description: 'The project', schema: PROJECT } },
      problems: [404, 409],
    },
    async (ctx, { body }) => projectView(await projects.create(callerOf(ctx), body)),
  );

  api.add(
    {
      method: 'get',
      path: '/v1/projects',
      operationId: 'listProjects',
      summary: 'The projects the caller holds any right on',
      description: 'Answers with an ETag; a request with a matching If-None-Match gets 304 (the verifier library revalidates its project tree this way).',
      tag: 'Projects',
      responses: {
        200: { description: 'The projects, oldest first', schema: z.strictObject({ projects: z.array(PROJECT) }) },
        304: { description: 'Unchanged since the ETag given in If-None-Match' },
      },
    },
    async (ctx) => {
      const body = { projects: (await projects.list(callerOf(ctx))).map(projectView) };
      // An ETag so a resource server (the verifier library's project tree) revalidates without a download.
      const etag = etagOf(JSON.stringify(body));
      ctx.set('ETag', etag);
      ctx.set('Cache-Control', 'private, no-cache');
      if (ifNoneMatch(ctx.get('if-none-match'), etag)) {
        ctx.status = 304;
        return undefined;
      }
      return body;
    },
  );

  api.add(
    {
      method: 'get',
      path: '/v1/projects/:id',
      operationId: 'getProject',
      summary: 'A project the caller holds any right on',
      tag: 'Projects',
      params: PROJECT_ID,
      responses: { 200: { description: 'The project', schema: PROJECT } },
      problems: [404],
    },
    async (ctx, { params }) => projectView(await projects.get(callerOf(ctx), params.id)),
  );
}
