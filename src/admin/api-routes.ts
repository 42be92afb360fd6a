import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { z } from 'zod';
import { AppError, parseBody } from './problem.ts';
import { readJson } from '../http/json-body.ts';

/**
 * Every /v1 route is declared here with the zod schemas it validates with; the same declarations generate
 * the OpenAPI 3.1 document served at /v1/openapi.json. A route cannot be described one way and validate
 * another, and a route registered around this (plain `router.get`) is found by `undescribedRoutes`.
 *
 * With LOGTRACE_CHECK_RESPONSES=1 (the test suite sets it) every JSON answer is checked against its declared
 * response schema, and a mismatch is a 500: the integration tests then prove the document true.
 */
type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

interface ResponseSpec {
  description: string;
  /** The JSON body; omitted for answers without one (204) or not JSON (`contentType`). */
  schema?: z.ZodType;
  /** For answers that are not application/json (text/event-stream). */
  contentType?: string;
}

/** Who may call a route: a bearer credential (the default), or anyone (the document itself). */
type RouteAuth = 'bearer' | 'none';

export interface RouteSpec<B extends z.ZodType | undefined, Q extends z.ZodType | undefined, P extends z.ZodType | undefined> {
  method: Method;
  /** Koa style: `/v1/keys/:id`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  auth?: RouteAuth;
  body?: B;
  query?: Q;
  params?: P;
  /** Success answers by status. A handler's return value is sent with the first one unless it `reply()`s another. */
  responses: Record<number, ResponseSpec>;
  /** Problem statuses this route answers with besides 401/403/503 (400, 404, 409, …). */
  problems?: number[];
  /** The largest body accepted (default 64 KiB); a larger one is a 413. */
  bodyLimit?: number;
}

type Infer<T> = T extends z.ZodType ? z.output<T> : undefined;
interface RouteInput<B, Q, P> {
  body: Infer<B>;
  query: Infer<Q>;
  params: Infer<P>;
}

/** An answer with a status other than the route's first declared one (a 200 where 201 is usual). */
class Reply {
  readonly status: number;
  readonly body: unknown;
  constructor(status: number, body: unknown) {
    this.status = status;
    this.body = body;
  }
}
export function reply(status: number, body: unknown): Reply {
  return new Reply(status, body);
}

/** A handler returns the JSON body, a `reply(status, body)`, or undefined when it answered itself (a stream). */
type RouteHandler<B, Q, P> = (ctx: Context, input: RouteInput<B, Q, P>) => Promise<unknown>;

interface Described {
  spec: RouteSpec<z.ZodType | undefined, z.ZodType | undefined, z.ZodType | undefined>;
}

/** Query strings arrive as `string | string[]`: each parameter may be given once. */
function singleValued(query: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined) continue;
    if (typeof value !== 'string') throw new AppError('invalid_request', `${name} may be given once`, { field: name });
    out[name] = value;
  }
  return out;
}

function parseWith<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  return parseBody(schema, value) as z.output<T>;
}

/** The /v1 routes of one server, declared and described. */
export class ApiRoutes {
  readonly router: Router;
  private readonly auth: Middleware;
  private readonly routes: Described[] = [];
  /** LOGTRACE_CHECK_RESPONSES=1, read once when the routes are built (the test suite sets it). */
  private readonly checkResponses = process.env.LOGTRACE_CHECK_RESPONSES === '1';

  constructor(router: Router, auth: Middleware) {
    this.router = router;
    this.auth = auth;
  }

  add<B extends z.ZodType | undefined = undefined, Q extends z.ZodType | undefined = undefined, P extends z.ZodType | undefined = undefined>(
    spec: RouteSpec<B, Q, P>,
    handler: RouteHandler<B, Q, P>,
  ): void {
    this.routes.push({ spec: spec as Described['spec'] });
    const statuses = Object.keys(spec.responses).map(Number);
    const defaultStatus = statuses[0] ?? 200;
    const run: Middleware = async (ctx) => {
      const params = spec.params ? parseWith(spec.params, ctx.params ?? {}) : undefined;
      const query = spec.query ? parseWith(spec.query, singleValued(ctx.query)) : undefined;
      const body = spec.body ? parseWith(spec.body, await readJson(ctx, spec.bodyLimit)) : undefined;
      const result = await handler(ctx, { body, query, params } as RouteInput<B, Q, P>);
      if (result === undefined) return;
      const status = result instanceof Reply ? result.status : defaultStatus;
      const payload = result instanceof Reply ? result.body : result;
      if (this.checkResponses) {
        const declared = spec.responses[status];
        if (!declared) throw new Error(`${spec.method.toUpperCase()} ${spec.path} answered ${status}, which it does not declare`);
        if (declared.schema) {
          const checked = declared.schema.safeParse(payload);
          if (!checked.success) {
            throw new Error(`${spec.method.toUpperCase()} ${spec.path} ${status}: the answer does not match its schema: ${JSON.stringify(checked.error.issues.slice(0, 3))}`);
          }
        }
      }
      ctx.status = status;
      ctx.body = payload;
    };
    const chain: Middleware[] = spec.auth === 'none' ? [run] : [this.auth, run];
    // @koa/router's middleware types want its own context; Koa's is what it receives at run time.
    (this.router[spec.method] as (path: string, ...middleware: Middleware[]) => Router).call(this.router, spec.path, ...chain);
  }

  /** Routes on the router that were registered around `add` (each must be described). */
  undescribedRoutes(): string[] {
    const described = new Set(this.routes.map((r) => `${r.spec.method.toUpperCase()} ${r.spec.path}`));
    const out: string[] = [];
    for (const layer of this.router.stack) {
      for (const method of layer.methods) {
        if (method === 'HEAD') continue;
        const key = `${method} ${String(layer.path)}`;
        if (!described.has(key)) out.push(key);
      }
    }
    return out;
  }

  /** The OpenAPI 3.1 document of every declared route. */
  document(info: { version: string; serverUrl: string; extra?: Array<RouteSpec<z.ZodType | undefined, z.ZodType | undefined, z.ZodType | undefined>> }): OpenApiDocument {
    const paths: Record<string, Record<string, unknown>> = {};
    const all = [...this.routes.map((r) => r.spec), ...(info.extra ?? [])];
    for (const spec of all) {
      const path = spec.path.replace(/:([A-Za-z_]+)/g, '{$1}');
      paths[path] ??= {};
      paths[path][spec.method] = operation(spec);
    }
    return {
      openapi: '3.1.0',
      info: {
        title: 'LogTrace Auth admin API',
        version: info.version,
        description: 'Projects, API keys, OAuth applications, people, connections and the audit log. Errors are RFC 9457 application/problem+json.',
      },
      servers: [{ url: info.serverUrl }],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'An API key (lt_live_… / lt_test_…) or an access token of this server' },
          apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-Logs-Api-Key' },
        },
        schemas: { Problem: jsonSchema(PROBLEM, 'output') },
      },
      paths,
    };
  }
}

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  servers: Array<{ url: string }>;
  components: Record<string, unknown>;
  paths: Record<string, Record<string, unknown>>;
}

/** The problem+json body every error answer carries (src/admin/problem.ts). */
const PROBLEM = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  code: z.string(),
  field: z.string().optional(),
  instance: z.string(),
  request_id: z.string().nullable(),
});

const PROBLEM_TITLES: Record<number, string> = {
  400: 'Invalid input (`field` names it)',
  401: 'No valid credential',
  403: 'The credential lacks the right',
  404: 'Not found (or not visible to this credential)',
  409: 'Conflict',
  413: 'Body too large',
  415: 'Not application/json',
  429: 'Rate limited',
  503: 'The store is unreachable',
};

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const out = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Record<string, unknown>;
  delete out.$schema;
  return out;
}

/** Path and query parameters from a zod object's fields. */
function parameters(schema: z.ZodType | undefined, where: 'path' | 'query'): unknown[] {
  if (!schema) return [];
  const json = jsonSchema(schema, 'input') as { properties?: Record<string, Record<string, unknown>>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: where,
      required: where === 'path' || (json.required ?? []).includes(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema: rest,
    };
  });
}

function operation(spec: RouteSpec<z.ZodType | undefined, z.ZodType | undefined, z.ZodType | undefined>): Record<string, unknown> {
  const responses: Record<string, unknown> = {};
  for (const [status, response] of Object.entries(spec.responses)) {
    responses[status] = {
      description: response.description,
      ...(response.schema ? { content: { [response.contentType ?? 'application/json']: { schema: jsonSchema(response.schema, 'output') } } } : {}),
      ...(!response.schema && response.contentType ? { content: { [response.contentType]: {} } } : {}),
    };
  }
  const problems = new Set([...(spec.auth === 'none' ? [] : [401, 403]), ...(spec.body ? [400, 413, 415] : spec.query ? [400] : []), 503, ...(spec.problems ?? [])]);
  for (const status of [...problems].sort()) {
    responses[String(status)] = {
      description: PROBLEM_TITLES[status] ?? 'Problem',
      content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
    };
  }
  return {
    operationId: spec.operationId,
    summary: spec.summary,
    ...(spec.description ? { description: spec.description } : {}),
    tags: [spec.tag],
    ...(spec.auth === 'none' ? { security: [] } : { security: [{ bearer: [] }, { apiKeyHeader: [] }] }),
    parameters: [...parameters(spec.params, 'path'), ...parameters(spec.query, 'query')],
    ...(spec.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(spec.body, 'input') } } } } : {}),
    responses,
  };
}
