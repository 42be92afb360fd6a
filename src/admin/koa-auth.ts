import type { Middleware, Context } from 'koa';
import { createLocalJWKSet, jwtVerify, type JWTPayload } from 'jose';
import type { Services } from '../container.ts';
import type { Principal } from '../access/index.ts';
import { AppError } from './problem.ts';
import { sessionEnded } from '../directory/index.ts';

/**
 * Who is calling /v1: an API key (`Authorization: Bearer lt_…` or `X-Logs-Api-Key`) or a JWT access token
 * of this server (`Authorization: Bearer eyJ…`). Rights are scopes per project; a right on a project
 * holds on its subtree.
 */
export type { Principal } from '../access/index.ts';

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
    // Issued before the account's sessions were ended (it was disabled since): void even once enabled again.
    if (typeof payload.iat !== 'number' || sessionEnded(user, payload.iat)) throw new AppError('unauthorized', 'this access token was issued before the account\'s sessions were ended; sign in again');
  }
  const roles = typeof payload.project_roles === 'object' && payload.project_roles !== null ? (payload.project_roles as Record<string, string>) : {};
  if (typeof payload.client_id === 'string' && typeof payload.project_id === 'string' && !payload.api_key_id) {
    return registeredClientPrincipal(ctx, services, payload.client_id, payload, roles);
  }
  const isClient = payload.sub === payload.client_id;
  return {
    kind: 'token',
    actor: { type: isClient ? 'client' : 'user', id: typeof payload.sub === 'string' ? payload.sub : null },
    scopes: typeof payload.scope === 'string' ? payload.scope.split(' ') : [],
    project_roles: roles,
  };
}

/**
 * A token of a client registered in a project (src/clients) reaches that project's subtree only, as an API
 * key does — never another project's (another organisation's), never an owner's right:
 * - the client's own token (client credentials): its token's scopes there;
 * - a person's token through the client: what the person's roles give there, within the token's scopes.
 * A deleted client's tokens lose /v1 at once, whatever their expiry says.
 */
async function registeredClientPrincipal(ctx: Context, services: Services, clientId: string, payload: JWTPayload, roles: Record<string, string>): Promise<Principal> {
  const client = await services.clients.find(clientId);
  if (!client || client.project_id !== payload.project_id) {
    ctx.set('WWW-Authenticate', 'Bearer realm="logtrace", error="invalid_token"');
    throw new AppError('unauthorized', 'the client behind this access token was deleted');
  }
  const tokenScopes = typeof payload.scope === 'string' ? payload.scope.split(' ').filter((s) => client.scopes.includes(s)) : [];
  if (payload.sub === payload.client_id) return { kind: 'api_key', actor: { type: 'client', id: clientId }, project_id: client.project_id, scopes: tokenScopes };
  const person: Principal = { kind: 'token', actor: { type: 'user', id: typeof payload.sub === 'string' ? payload.sub : null }, scopes: tokenScopes, project_roles: roles };
  const held = await services.access.scopesOn(person, client.project_id);
  return { kind: 'api_key', actor: person.actor, project_id: client.project_id, scopes: held };
}

export function authMiddleware(services: Services): Middleware {
  return async (ctx, next) => {
    ctx.state.principal = await authenticate(ctx, services);
    await next();
  };
}
