import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startAuthServer, type AuthServer } from '../support/auth-server.ts';

/**
 * /v1/openapi.json is generated from the zod schemas the routes validate with (src/admin/api-routes.ts).
 * Every other integration test runs with LOGTRACE_CHECK_RESPONSES=1 (vitest.config.ts), so each answer they
 * get was checked against its declared schema by the server; this file checks the document itself.
 */
interface Operation {
  operationId: string;
  summary: string;
  security?: unknown[];
  parameters: Array<{ name: string; in: string; required: boolean; schema: unknown }>;
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { description: string; content?: Record<string, { schema?: unknown }> }>;
}
type Document = { openapi: string; info: { version: string }; paths: Record<string, Record<string, Operation>> };

let server: AuthServer;
let document: Document;

beforeAll(async () => {
  server = await startAuthServer();
  const response = await fetch(`${server.url}/v1/openapi.json`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  document = (await response.json()) as Document;
});
afterAll(async () => {
  await server?.cleanup();
});

/** `METHOD /v1/path` of every route the README's API tables name, with `{param}` placeholders. */
async function readmeRoutes(): Promise<string[]> {
  const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
  const routes = new Set<string>();
  for (const line of readme.split('\n')) {
    if (!line.startsWith('| `')) continue;
    // `GET /v1/keys?project_id=` · `GET`/`DELETE /v1/webhooks/{id}` · `PUT /v1/projects/{id}/members/{user_id} {role}`
    for (const cell of line.matchAll(/`((?:(?:GET|POST|PUT|PATCH|DELETE)`?\/?`?)+) ?(\/v1\/[^\s`?]*)/g)) {
      const methods = cell[1]!.match(/GET|POST|PUT|PATCH|DELETE/g) ?? [];
      for (const method of methods) routes.add(`${method} ${cell[2]}`);
    }
  }
  return [...routes];
}

describe('GET /v1/openapi.json', () => {
  it('is an OpenAPI 3.1 document, public, of this version', async () => {
    expect(document.openapi).toBe('3.1.0');
    const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(document.info.version).toBe(pkg.version);
  });

  it('describes every route the README lists', async () => {
    const listed = await readmeRoutes();
    expect(listed.length).toBeGreaterThan(10);
    const described = new Set(Object.entries(document.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)));
    const missing = listed.filter((route) => !described.has(route));
    expect(missing).toEqual([]);
  });

  it('has no /v1 route that is served but not described (the server says so at start-up)', () => {
    expect(server.output()).not.toMatch(/routes without a description/);
  });

  it('gives each operation a unique id, its parameters, a request schema for a body, and schemas for its answers', () => {
    const ids = new Set<string>();
    for (const [route, operations] of Object.entries(document.paths)) {
      for (const [method, op] of Object.entries(operations)) {
        expect(op.operationId, `${method} ${route}`).toMatch(/^[a-z][A-Za-z]+$/);
        expect(ids.has(op.operationId), `${op.operationId} twice`).toBe(false);
        ids.add(op.operationId);
        for (const name of route.match(/\{([^}]+)\}/g) ?? []) {
          expect(op.parameters.some((p) => p.in === 'path' && `{${p.name}}` === name), `${method} ${route}: path parameter ${name}`).toBe(true);
        }
        if (method === 'post' || method === 'put' || method === 'patch') {
          // Every write but the ones that take no body has its request schema.
          if (op.requestBody) expect(op.requestBody.content['application/json']?.schema).toBeTruthy();
        }
        const ok = Object.entries(op.responses).filter(([status]) => status.startsWith('2'));
        expect(ok.length, `${method} ${route}: a success answer`).toBeGreaterThan(0);
        for (const [status, response] of ok) {
          if (status === '204') continue;
          expect(response.content, `${method} ${route} ${status}: content`).toBeTruthy();
        }
        if (op.security?.length !== 0) {
          expect(op.responses['401']?.content?.['application/problem+json'], `${method} ${route}: 401 problem`).toBeTruthy();
        }
      }
    }
  });

  it('documents query parameters with their constraints (the audit log as an example)', () => {
    const audit = document.paths['/v1/audit']?.get;
    expect(audit).toBeDefined();
    const limit = audit!.parameters.find((p) => p.name === 'limit');
    expect(limit).toMatchObject({ in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 1000 } });
  });

  it('answers a method it does not serve with a 405 problem', async () => {
    const response = await fetch(`${server.url}/v1/openapi.json`, { method: 'POST' });
    expect(response.status).toBe(405);
    expect(response.headers.get('content-type')).toMatch(/application\/problem\+json/);
  });
});
