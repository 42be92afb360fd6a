import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { Services } from '../container.ts';
import { DomainError, type DomainErrorCode, type Principal } from '../domain/index.ts';
import { BodyError, readJson } from '../http/json-body.ts';
import { clip } from '../http/caller.ts';
import { credentialFrom } from '../http/bearer.ts';
import { StoreInputError, StoreUnavailableError } from '../store/index.ts';
import { attributesOf, parseFilter, ScimFilterError, type Filter } from './filter.ts';
import { groupFromJson, patchOperations, SCHEMA_GROUP, SCHEMA_USER, ScimInputError, userFromJson } from './resources.ts';
import { groupResource, userResource, type ScimGroupView, type ScimRequestMeta, type ScimUserRecord } from './service.ts';
import { MAX_BODY_BYTES, MAX_RESULTS, resourceTypes, schemas, SCHEMA_ERROR, SCHEMA_LIST, serviceProviderConfig } from './discovery.ts';

/**
 * /scim/v2: the SCIM 2.0 door (RFC 7644) for directories that push people and groups (Entra ID, Okta).
 * It parses, asks the ScimService (which asks the access policy), and renders SCIM JSON; every error is a
 * SCIM error body (§3.12) with `scimType` where one applies. Authentication is the SCIM connection's bearer
 * token; the discovery documents are static and public.
 */
const SCIM_BASE = '/scim/v2';

/** Attributes a filter may name (RFC 7644 §3.4.2.2 lets a provider refuse others with invalidFilter). */
const FILTERABLE: Record<'User' | 'Group', Set<string>> = {
  User: new Set(['id', 'username', 'externalid', 'displayname', 'active', 'emails', 'emails.value', 'emails.type', 'emails.primary', 'name.givenname', 'name.familyname', 'name.formatted']),
  Group: new Set(['id', 'displayname', 'externalid', 'members', 'members.value']),
};

class ScimHttpError extends Error {
  readonly status: number;
  readonly scimType: string | undefined;
  constructor(status: number, detail: string, scimType?: string) {
    super(detail);
    this.status = status;
    this.scimType = scimType;
  }
}

function send(ctx: Context, status: number, body: unknown): void {
  ctx.status = status;
  ctx.type = 'application/scim+json; charset=utf-8';
  ctx.body = body;
}

/** Drops null and undefined members: Entra ID asks that absent values not be sent as null. */
function compact<T extends Record<string, unknown>>(obj: T): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== null && v !== undefined));
}

function renderUser(base: string, record: ScimUserRecord): Record<string, unknown> {
  const resource = userResource(record);
  return {
    schemas: [SCHEMA_USER],
    ...compact({ ...resource, name: record.name ? compact({ ...record.name }) : null }),
    meta: { resourceType: 'User', created: record.created_at, lastModified: record.updated_at, location: `${base}/Users/${record.id}` },
  };
}

function renderGroup(base: string, group: ScimGroupView, withMembers: boolean): Record<string, unknown> {
  const resource = groupResource(group);
  return {
    schemas: [SCHEMA_GROUP],
    ...compact({ ...resource, members: withMembers ? group.members.map((value) => ({ value, $ref: `${base}/Users/${value}` })) : null }),
    meta: { resourceType: 'Group', created: group.created_at, lastModified: group.updated_at, location: `${base}/Groups/${group.id}` },
  };
}

/** `attributes` / `excludedAttributes` (RFC 7644 §3.9), on top-level attributes; id, schemas and meta always stay. */
function project(resource: Record<string, unknown>, ctx: Context): Record<string, unknown> {
  const list = (name: string) => String(ctx.query[name] ?? '').split(',').map((a) => a.trim().replace(/^urn:.*:/i, '').split('.')[0]!.toLowerCase()).filter(Boolean);
  const only = list('attributes');
  const excluded = list('excludedAttributes');
  const always = new Set(['id', 'schemas', 'meta']);
  return Object.fromEntries(Object.entries(resource).filter(([k]) => always.has(k) || ((only.length === 0 || only.includes(k.toLowerCase())) && !excluded.includes(k.toLowerCase()))));
}

function excludes(ctx: Context, attribute: string): boolean {
  const excluded = String(ctx.query.excludedAttributes ?? '').toLowerCase().split(',').map((a) => a.trim());
  const only = String(ctx.query.attributes ?? '').toLowerCase().split(',').map((a) => a.trim()).filter(Boolean);
  return excluded.includes(attribute) || (only.length > 0 && !only.includes(attribute));
}

function filterOf(ctx: Context, type: 'User' | 'Group'): Filter | null {
  const raw = ctx.query.filter;
  if (raw === undefined) return null;
  if (typeof raw !== 'string') throw new ScimHttpError(400, 'give filter once', 'invalidFilter');
  try {
    const filter = parseFilter(raw);
    const unknown = attributesOf(filter).filter((a) => !FILTERABLE[type].has(a.toLowerCase()));
    if (unknown.length) throw new ScimHttpError(400, `cannot filter ${type}s on ${unknown.join(', ')}; filterable: ${[...FILTERABLE[type]].join(', ')}`, 'invalidFilter');
    return filter;
  } catch (err) {
    if (err instanceof ScimFilterError) throw new ScimHttpError(400, `filter: ${err.message}`, 'invalidFilter');
    throw err;
  }
}

/** startIndex (1-based) and count (RFC 7644 §3.4.2.4): out-of-range values are clamped, non-integers refused. */
function paging(ctx: Context): { start: number; count: number } {
  const int = (name: string, fallback: number) => {
    const raw = ctx.query[name];
    if (raw === undefined) return fallback;
    if (typeof raw !== 'string' || !/^-?\d{1,9}$/.test(raw)) throw new ScimHttpError(400, `${name} must be an integer`, 'invalidValue');
    return Number(raw);
  };
  return { start: Math.max(1, int('startIndex', 1)), count: Math.min(MAX_RESULTS, Math.max(0, int('count', 100))) };
}

function listResponse(ctx: Context, resources: Array<Record<string, unknown>>): void {
  const { start, count } = paging(ctx);
  const page = resources.slice(start - 1, start - 1 + count);
  send(ctx, 200, { schemas: [SCHEMA_LIST], totalResults: resources.length, startIndex: start, itemsPerPage: page.length, Resources: page });
}

async function body(ctx: Context): Promise<unknown> {
  if (!ctx.is('application/scim+json', 'application/json')) throw new ScimHttpError(415, 'send the body as application/scim+json or application/json');
  return readJson(ctx, MAX_BODY_BYTES, false);
}

function meta(ctx: Context): ScimRequestMeta {
  return { ip: ctx.ip, user_agent: clip(ctx.get('user-agent'), 512) || null };
}

/** Koa-router's context is Koa's at run time; the principal set by `authenticate`. */
const principalOf = (ctx: Context) => ctx.state.scimPrincipal as Principal;

/** What the SCIM door uses: its service, the connection tokens, the issuer, and the audit of refused calls. */
type ScimDoorDeps = Pick<Services, 'scim' | 'connectionSet' | 'config' | 'auditLog' | 'logger'>;

export function scimApi(services: ScimDoorDeps): Middleware {
  const { scim } = services;
  const router = new Router({ prefix: SCIM_BASE });
  const base = `${services.config.issuer}${SCIM_BASE}`;

  const authenticate: Middleware = async (ctx, next) => {
    const token = credentialFrom(ctx);
    const found = token ? await services.connectionSet.scimConnectionForToken(token) : undefined;
    if (!found?.ok) {
      ctx.set('WWW-Authenticate', 'Bearer realm="logtrace-scim"');
      throw new ScimHttpError(401, !token ? 'send the SCIM connection token as Authorization: Bearer' : found && found.reason === 'disabled' ? 'this SCIM connection is disabled' : 'the token is not a SCIM connection token of this server');
    }
    ctx.state.scimPrincipal = { kind: 'scim', actor: { type: 'system', id: `scim:${found.config.id}` }, connection_id: found.config.id, connector: found.config.connector } satisfies Principal;
    await next();
  };

  router.get('/ServiceProviderConfig', (ctx) => send(ctx, 200, serviceProviderConfig(base)));
  router.get('/ResourceTypes', (ctx) => listResponse(ctx, resourceTypes(base)));
  router.get('/ResourceTypes/:id', (ctx) => {
    const found = resourceTypes(base).find((r) => r.id === ctx.params.id);
    if (!found) throw new ScimHttpError(404, `no resource type ${ctx.params.id}`);
    send(ctx, 200, found);
  });
  router.get('/Schemas', (ctx) => listResponse(ctx, schemas(base)));
  router.get('/Schemas/:id', (ctx) => {
    const found = schemas(base).find((s) => s.id === ctx.params.id);
    if (!found) throw new ScimHttpError(404, `no schema ${ctx.params.id}`);
    send(ctx, 200, found);
  });

  router.get('/Users', authenticate, async (ctx) => {
    const filter = filterOf(ctx, 'User');
    paging(ctx);
    const users = await scim.listUsers(principalOf(ctx), filter);
    listResponse(ctx, users.map((u) => project(renderUser(base, u), ctx)));
  });
  router.post('/Users', authenticate, async (ctx) => {
    const user = await scim.createUser(principalOf(ctx), userFromJson(await body(ctx)), meta(ctx));
    ctx.set('Location', `${base}/Users/${user.id}`);
    send(ctx, 201, renderUser(base, user));
  });
  router.get('/Users/:id', authenticate, async (ctx) => {
    send(ctx, 200, project(renderUser(base, await scim.getUser(principalOf(ctx), ctx.params.id!)), ctx));
  });
  router.put('/Users/:id', authenticate, async (ctx) => {
    const attrs = userFromJson(await body(ctx));
    send(ctx, 200, renderUser(base, await scim.replaceUser(principalOf(ctx), ctx.params.id!, attrs, meta(ctx))));
  });
  router.patch('/Users/:id', authenticate, async (ctx) => {
    const operations = patchOperations(await body(ctx));
    send(ctx, 200, renderUser(base, await scim.patchUser(principalOf(ctx), ctx.params.id!, operations, meta(ctx))));
  });
  router.delete('/Users/:id', authenticate, async (ctx) => {
    await scim.deleteUser(principalOf(ctx), ctx.params.id!, meta(ctx));
    ctx.status = 204;
  });

  router.get('/Groups', authenticate, async (ctx) => {
    const filter = filterOf(ctx, 'Group');
    paging(ctx);
    const groups = await scim.listGroups(principalOf(ctx), filter);
    listResponse(ctx, groups.map((g) => project(renderGroup(base, g, !excludes(ctx, 'members')), ctx)));
  });
  router.post('/Groups', authenticate, async (ctx) => {
    const group = await scim.createGroup(principalOf(ctx), groupFromJson(await body(ctx)), meta(ctx));
    ctx.set('Location', `${base}/Groups/${group.id}`);
    send(ctx, 201, renderGroup(base, group, true));
  });
  router.get('/Groups/:id', authenticate, async (ctx) => {
    send(ctx, 200, project(renderGroup(base, await scim.getGroup(principalOf(ctx), ctx.params.id!), !excludes(ctx, 'members')), ctx));
  });
  router.put('/Groups/:id', authenticate, async (ctx) => {
    const attrs = groupFromJson(await body(ctx));
    send(ctx, 200, renderGroup(base, await scim.replaceGroup(principalOf(ctx), ctx.params.id!, attrs, meta(ctx)), true));
  });
  // Entra ID asks for 204 after a Group PATCH (a body listing every member is costly); Okta takes 200 or 204.
  router.patch('/Groups/:id', authenticate, async (ctx) => {
    const operations = patchOperations(await body(ctx));
    await scim.patchGroup(principalOf(ctx), ctx.params.id!, operations, meta(ctx));
    ctx.status = 204;
  });
  router.delete('/Groups/:id', authenticate, async (ctx) => {
    await scim.deleteGroup(principalOf(ctx), ctx.params.id!, meta(ctx));
    ctx.status = 204;
  });

  const routes = router.routes();
  const methods = router.allowedMethods({ throw: true });
  return async (ctx, next) => {
    if (ctx.path !== SCIM_BASE && !ctx.path.startsWith(`${SCIM_BASE}/`)) return next();
    ctx.set('Cache-Control', 'no-store');
    try {
      await routes(ctx as Parameters<typeof routes>[0], () => methods(ctx as Parameters<typeof methods>[0], async () => undefined));
      if (ctx.status === 404 && ctx.body === undefined) throw new ScimHttpError(404, `no SCIM endpoint ${ctx.method} ${ctx.path}`);
    } catch (err) {
      const error = scimError(err, services, ctx);
      send(ctx, error.status, { schemas: [SCHEMA_ERROR], status: String(error.status), ...(error.scimType ? { scimType: error.scimType } : {}), detail: error.message });
      if (error.status === 401 || error.status === 403) {
        await services.auditLog
          .record({ actor: (ctx.state.scimPrincipal as Principal | undefined)?.actor ?? { type: 'anonymous', id: null }, action: 'scim.request_failed', target: { type: 'route', id: clip(`${ctx.method} ${ctx.path}`, 512) }, project_id: null, ip: ctx.ip, user_agent: clip(ctx.get('user-agent'), 512) || null, outcome: 'failure', detail: { status: error.status, detail: clip(error.message, 1024) } })
          .catch((e: unknown) => services.logger.warn({ err: String(e) }, 'could not audit a failed SCIM call'));
      }
    }
  };
}

/** Each domain refusal's SCIM status and scimType (RFC 7644 §3.12): the one place a DomainError becomes one. */
const DOMAIN_ERRORS: Record<DomainErrorCode, { status: number; scimType?: string }> = {
  invalid: { status: 400, scimType: 'invalidValue' },
  forbidden: { status: 403 },
  not_found: { status: 404 },
  conflict: { status: 409, scimType: 'uniqueness' },
  unavailable: { status: 503 },
  rate_limited: { status: 429 },
};

/** A domain service's refusal (the access policy's included) as a SCIM error. */
function fromDomainError(err: DomainError): ScimHttpError {
  const { status, scimType } = DOMAIN_ERRORS[err.code];
  return new ScimHttpError(status, err.message, scimType);
}

/** Any error as a SCIM error: status, scimType, and a detail that names no internals. */
function scimError(err: unknown, services: Pick<Services, 'logger'>, ctx: Context): ScimHttpError {
  if (err instanceof ScimHttpError) return err;
  if (err instanceof ScimInputError) return new ScimHttpError(err.status, err.message, err.scimType);
  if (err instanceof ScimFilterError) return new ScimHttpError(400, err.message, 'invalidFilter');
  if (err instanceof DomainError) return fromDomainError(err);
  // readJson's refusals: too large (413), not JSON (400), nested too deep (400).
  if (err instanceof BodyError) return new ScimHttpError(err.status, err.message, err.status === 400 ? 'invalidSyntax' : undefined);
  if (err instanceof StoreUnavailableError) {
    ctx.set('Retry-After', '1');
    return new ScimHttpError(503, 'the store is unreachable; try again shortly');
  }
  if (err instanceof StoreInputError) return new ScimHttpError(400, 'an identifier in this request is longer than any this server issues', 'invalidValue');
  const status = (err as { status?: number }).status;
  if (status === 405 || status === 501) return new ScimHttpError(status === 501 ? 404 : 405, (err as Error).message);
  if (status === 400 || status === 413 || status === 415) return new ScimHttpError(status, (err as Error).message);
  services.logger.error({ req_id: ctx.state.requestId, err }, 'unhandled error in /scim/v2');
  return new ScimHttpError(500, 'internal error; the request id identifies it in the server log');
}
