import type { Context } from 'koa';
import { createLocalJWKSet, jwtVerify, type JWTPayload } from 'jose';
import type { Services } from '../container.ts';
import type { Principal } from '../domain/index.ts';
import { sessionEnded } from '../directory/index.ts';

/**
 * Who is calling with a bearer credential: an API key (`Authorization: Bearer lt_…` or `X-Logs-Api-Key`)
 * or a JWT access token of this server (`Authorization: Bearer eyJ…`). Rights are scopes per project; a
 * right on a project holds on its subtree. Shared by the doors that take such credentials (/v1, and the
 * log API's verify calls); each door renders a refusal its own way.
 */
export function credentialFrom(ctx: Pick<Context, 'get'>): string | undefined {
  const header = ctx.get('authorization');
  const bearer = /^Bearer\s+(\S+)$/i.exec(header);
  if (bearer) return bearer[1];
  return ctx.get('x-logs-api-key') || undefined;
}

/** What authenticating a credential needs: the key check, the signing keys, accounts and registered clients. */
export type BearerDeps = Pick<Services, 'keys' | 'providers' | 'config' | 'userRepository' | 'clients' | 'access'>;

/**
 * A credential's principal, or why it has none. `invalidToken`: the answer carries
 * `WWW-Authenticate: Bearer … error="invalid_token"` (RFC 6750 §3.1).
 */
type BearerResult = { ok: true; principal: Principal } | { ok: false; detail: string; invalidToken: boolean };

const refused = (detail: string, invalidToken = true): BearerResult => ({ ok: false, detail, invalidToken });

/** The principal behind one credential (an API key or an access token of this server). */
export async function authenticateBearer(credential: string, ip: string, deps: BearerDeps): Promise<BearerResult> {
  if (credential.startsWith('lt_')) {
    const result = await deps.keys.verify(credential, { ip });
    if (!result.valid) return refused(`the API key is not valid (${result.code})`);
    return { ok: true, principal: { kind: 'api_key', actor: { type: 'api_key', id: result.key_id }, project_id: result.project_id, scopes: result.scopes } };
  }
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(credential, createLocalJWKSet(deps.providers.publicJwks()), {
      issuer: deps.config.issuer,
      audience: deps.config.resource.audience,
      typ: 'at+jwt',
    }));
  } catch {
    return refused('the access token is not valid for this API (signature, issuer, audience or expiry)');
  }
  if (payload.sub !== payload.client_id && typeof payload.sub === 'string') {
    // A person's token: a disabled account loses the admin API at once, whatever its token says.
    const user = await deps.userRepository.findById(payload.sub);
    if (!user || user.disabled) return refused('the account behind this access token is disabled or gone', false);
    // Issued before the account's sessions were ended (it was disabled since): void even once enabled again.
    if (typeof payload.iat !== 'number' || sessionEnded(user, payload.iat)) return refused("this access token was issued before the account's sessions were ended; sign in again", false);
  }
  const roles = typeof payload.project_roles === 'object' && payload.project_roles !== null ? (payload.project_roles as Record<string, string>) : {};
  if (typeof payload.client_id === 'string' && typeof payload.project_id === 'string' && !payload.api_key_id) {
    return registeredClientPrincipal(deps, payload.client_id, payload, roles);
  }
  const isClient = payload.sub === payload.client_id;
  return {
    ok: true,
    principal: {
      kind: 'token',
      actor: { type: isClient ? 'client' : 'user', id: typeof payload.sub === 'string' ? payload.sub : null },
      scopes: typeof payload.scope === 'string' ? payload.scope.split(' ') : [],
      project_roles: roles,
    },
  };
}

/**
 * A token of a client registered in a project (src/clients) reaches that project's subtree only, as an API
 * key does — never another project's (another organisation's), never an owner's right:
 * - the client's own token (client credentials): its token's scopes there;
 * - a person's token through the client: what the person's roles give there, within the token's scopes.
 * A deleted client's tokens lose /v1 at once, whatever their expiry says.
 */
async function registeredClientPrincipal(deps: BearerDeps, clientId: string, payload: JWTPayload, roles: Record<string, string>): Promise<BearerResult> {
  const client = await deps.clients.find(clientId);
  if (!client || client.project_id !== payload.project_id) return refused('the client behind this access token was deleted');
  const tokenScopes = typeof payload.scope === 'string' ? payload.scope.split(' ').filter((s) => client.scopes.includes(s)) : [];
  if (payload.sub === payload.client_id) return { ok: true, principal: { kind: 'api_key', actor: { type: 'client', id: clientId }, project_id: client.project_id, scopes: tokenScopes } };
  const person: Principal = { kind: 'token', actor: { type: 'user', id: typeof payload.sub === 'string' ? payload.sub : null }, scopes: tokenScopes, project_roles: roles };
  const held = await deps.access.scopesOn(person, client.project_id);
  return { ok: true, principal: { kind: 'api_key', actor: person.actor, project_id: client.project_id, scopes: held } };
}
