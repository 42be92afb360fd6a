import type { Middleware, Context } from 'koa';
import { createLocalJWKSet, jwtVerify, type JWTPayload } from 'jose';
import type { Services } from '../container.ts';
import { ROLE_SCOPES, isRole } from '../directory/index.ts';
import type { Actor } from '../keys/index.ts';
import { AppError } from './problem.ts';

/**
 * Who is calling /v1: an API key (`Authorization: Bearer lt_…` or `X-Logs-Api-Key`) or a JWT access token
 * of this server (`Authorization: Bearer eyJ…`). Rights are scopes per project; a right on a project
 * holds on its subtree.
 */
export type Principal =
  | { kind: 'api_key'; actor: Actor; project_id: string; scopes: string[] }
  | { kind: 'token'; actor: Actor; scopes: string[]; project_roles: Record<string, string> };

export function credentialFrom(ctx: Context): string | undefined {
  const header = ctx.get('authorization');
  const bearer = /^Bearer\s+(\S+)$/i.exec(header);
  if (bearer) return bearer[1];
  return ctx.get('x-logs-api-key') || undefined;
}

export async function authenticate(ctx: Context, services: Services): Promise<Principal> {
  const credential = credentialFrom(ctx);
  if (!credential) {
    ctx.set('WWW-Authenticate', 'Bearer realm="logtrace"');
    throw new AppError('unauthorized', 'send an API key (Authorization: Bearer lt_… or X-Logs-Api-Key) or an access token');
  }
  return authenticateCredential(ctx, credential, services);
}

/** The principal behind one credential (an API key or an access token of this server), or 401. */
export async function authenticateCredential(ctx: Context, credential: string, services: Services): Promise<Principal> {
  if (credential.startsWith('lt_')) {
    const result = await services.keys.verify(credential, { ip: ctx.ip });
    if (!result.valid) {
      ctx.set('WWW-Authenticate', 'Bearer realm="logtrace", error="invalid_token"');
      throw new AppError('unauthorized', `the API key is not valid (${result.code})`);
    }
    return { kind: 'api_key', actor: { type: 'api_key', id: result.key_id }, project_id: result.project_id, scopes: result.scopes };
  }
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(credential, createLocalJWKSet(services.providers.publicJwks()), {
      issuer: services.config.issuer,
      audience: services.config.resource.audience,
      typ: 'at+jwt',
    }));
  } catch {
    ctx.set('WWW-Authenticate', 'Bearer realm="logtrace", error="invalid_token"');
    throw new AppError('unauthorized', 'the access token is not valid for this API (signature, issuer, audience or expiry)');
  }
  if (payload.sub !== payload.client_id && typeof payload.sub === 'string') {
    // A person's token: a disabled account loses the admin API at once, whatever its token says.
    const user = await services.users.findById(payload.sub);
    if (!user || user.disabled) throw new AppError('unauthorized', 'the account behind this access token is disabled or gone');
  }
  const roles = typeof payload.project_roles === 'object' && payload.project_roles !== null ? (payload.project_roles as Record<string, string>) : {};
  const isClient = payload.sub === payload.client_id;
  return {
    kind: 'token',
    actor: { type: isClient ? 'client' : 'user', id: typeof payload.sub === 'string' ? payload.sub : null },
    scopes: typeof payload.scope === 'string' ? payload.scope.split(' ') : [],
    project_roles: roles,
  };
}

/** The scopes a principal holds on a project (empty when it has no right there). */
export async function scopesOn(principal: Principal, projectId: string, services: Services): Promise<string[]> {
  const path = await services.projects.pathOf(projectId);
  if (!path) return [];
  if (principal.kind === 'api_key') return path.includes(principal.project_id) ? principal.scopes : [];
  const granted = new Set<string>();
  for (const [project, role] of Object.entries(principal.project_roles)) {
    if (path.includes(project) && isRole(role)) for (const scope of ROLE_SCOPES[role]) granted.add(scope);
  }
  return principal.scopes.filter((s) => granted.has(s));
}

/** Throws 403 (or 404 for a project that does not exist) unless the principal holds `scope` on the project. */
export async function requireScope(principal: Principal, projectId: string, scope: string, services: Services, field = 'project_id'): Promise<string[]> {
  if (!(await services.projects.get(projectId))) throw new AppError('not_found', `project ${projectId} does not exist`, { field });
  const scopes = await scopesOn(principal, projectId, services);
  if (!scopes.includes(scope)) throw new AppError('forbidden', `this credential does not hold ${scope} on project ${projectId}`);
  return scopes;
}

/**
 * Organisation-wide settings (connections, provisioning rules) change how everyone signs in: they need
 * admin:projects on an organisation (a root project). Returns that root's id; otherwise 403.
 */
export async function requireOrgAdmin(principal: Principal, services: Services, what: string): Promise<string> {
  for (const root of await services.projects.roots()) {
    if ((await scopesOn(principal, root.id, services)).includes('admin:projects')) return root.id;
  }
  throw new AppError('forbidden', `${what} needs admin:projects on the organisation (root project)`);
}

export function authMiddleware(services: Services): Middleware {
  return async (ctx, next) => {
    ctx.state.principal = await authenticate(ctx, services);
    await next();
  };
}
