import { z } from 'zod';
import type { ApiRoutes } from './api-routes.ts';
import { callerOf } from '../http/caller.ts';
import { CLIENT_GRANT_TYPES, CLIENT_TYPES, type ClientService } from '../clients/index.ts';

/** /v1/clients: OAuth clients registered at run time, a thin door over ClientService (src/clients). */

const uris = (what: string) => z.array(z.string().max(2000)).max(20).describe(what);
const ACTOR = z.strictObject({ type: z.enum(['api_key', 'user', 'client', 'system']), id: z.string().nullable() });

const CLIENT_VIEW = z.strictObject({
  client_id: z.string(),
  origin: z.enum(['registered', 'config']).describe('`config`: a client of the configuration file, read-only'),
  project_id: z.string().nullable().describe('null for a client of the configuration file'),
  name: z.string(),
  type: z.enum(CLIENT_TYPES),
  grant_types: z.array(z.string()),
  redirect_uris: z.array(z.string()),
  post_logout_redirect_uris: z.array(z.string()),
  scopes: z.array(z.string()),
  first_party: z.boolean(),
  created_at: z.iso.datetime().nullable(),
  created_by: ACTOR.nullable(),
  secret_ttl_days: z.number().int().nullable(),
  secret_expires_at: z.iso.datetime().optional().describe('When the current secret stops authenticating (absent: never)'),
  previous_secret_expires_at: z.iso.datetime().optional().describe('A rotated-out secret authenticates until then'),
  last_token_at: z.iso.datetime().nullable().describe('The last time the client got a token (written at most once a minute)'),
});

const CREATED = CLIENT_VIEW.extend({
  client_secret: z.string().optional().describe('Confidential clients only; shown in this answer only'),
});

const CREATE_BODY = z.strictObject({
  project_id: z.string().min(1).max(128),
  name: z.string().min(1).max(100),
  type: z.enum(CLIENT_TYPES),
  grant_types: z.array(z.enum(CLIENT_GRANT_TYPES)).min(1),
  redirect_uris: uris('Authorization code clients: https, or http on a loopback address; no fragment').optional(),
  post_logout_redirect_uris: uris('Where RP-initiated logout may return to (same rules)').optional(),
  scopes: z.array(z.string().max(64)).max(20).describe('Log API scopes within the creator\'s on the project; code clients may add openid, email, profile, offline_access'),
  first_party: z.boolean().optional().describe('No consent screen; only an owner of the project may set it'),
  secret_ttl_days: z.number().int().min(1).optional().describe('The secret stops authenticating after this many days (at most api_keys.max_ttl_days)'),
});

const UPDATE_BODY = z.strictObject({
  name: z.string().min(1).max(100).optional(),
  redirect_uris: uris('Replaces the redirect URIs').optional(),
  post_logout_redirect_uris: uris('Replaces the post-logout redirect URIs').optional(),
  scopes: z.array(z.string().max(64)).max(20).optional(),
  first_party: z.boolean().optional().describe('Only an owner of the project may change it'),
});

const ROTATE_BODY = z.strictObject({
  grace_seconds: z.number().int().min(0).max(30 * 86_400).optional().describe('How long the old secret keeps authenticating (default 86400; 0 = at once)'),
});

const ID_PARAMS = z.object({ client_id: z.string().max(256) });

export function clientRoutes(api: ApiRoutes, services: { clients: ClientService }): void {
  const { clients } = services;
  api.add(
    {
      method: 'post',
      path: '/v1/clients',
      operationId: 'createClient',
      summary: 'Register an OAuth client in a project; the secret is shown once',
      tag: 'Clients',
      body: CREATE_BODY,
      responses: { 201: { description: 'The client, with its secret (confidential clients)', schema: CREATED } },
      problems: [400, 404],
    },
    async (ctx, { body }) => {
      const { client, client_secret } = await clients.create(callerOf(ctx), body);
      return client_secret ? { ...client, client_secret } : client;
    },
  );
  api.add(
    {
      method: 'get',
      path: '/v1/clients',
      operationId: 'listClients',
      summary: 'The clients of a project (or of every project the caller administers, and the configuration file\'s)',
      tag: 'Clients',
      query: z.object({ project_id: z.string().max(128).optional().describe('Only this project\'s clients') }),
      responses: { 200: { description: 'Clients, never their secrets', schema: z.object({ clients: z.array(CLIENT_VIEW) }) } },
      problems: [404],
    },
    async (ctx, { query }) => ({ clients: await clients.list(callerOf(ctx), { project_id: query.project_id }) }),
  );
  api.add(
    {
      method: 'get',
      path: '/v1/clients/:client_id',
      operationId: 'getClient',
      summary: 'One client (never its secret)',
      tag: 'Clients',
      params: ID_PARAMS,
      responses: { 200: { description: 'The client', schema: CLIENT_VIEW } },
      problems: [404],
    },
    async (ctx, { params }) => clients.get(callerOf(ctx), params.client_id),
  );
  api.add(
    {
      method: 'patch',
      path: '/v1/clients/:client_id',
      operationId: 'updateClient',
      summary: 'Change a client\'s name, redirect URIs, scopes (within the caller\'s) or first_party (owners)',
      tag: 'Clients',
      params: ID_PARAMS,
      body: UPDATE_BODY,
      responses: { 200: { description: 'The client as changed', schema: CLIENT_VIEW } },
      problems: [400, 404, 409],
    },
    async (ctx, { params, body }) => clients.update(callerOf(ctx), params.client_id, body),
  );
  api.add(
    {
      method: 'delete',
      path: '/v1/clients/:client_id',
      operationId: 'deleteClient',
      summary: 'Delete a client: it stops authenticating at once on every node; its grants and refresh tokens are revoked',
      tag: 'Clients',
      params: ID_PARAMS,
      responses: { 200: { description: 'The deleted client', schema: CLIENT_VIEW } },
      problems: [404, 409],
    },
    async (ctx, { params }) => clients.delete(callerOf(ctx), params.client_id),
  );
  api.add(
    {
      method: 'post',
      path: '/v1/clients/:client_id/secret/rotate',
      operationId: 'rotateClientSecret',
      summary: 'A new client secret (shown once); the old one authenticates until the grace ends',
      tag: 'Clients',
      params: ID_PARAMS,
      body: ROTATE_BODY,
      responses: {
        201: {
          description: 'The new secret',
          schema: z.strictObject({ client_secret: z.string(), secret_expires_at: z.iso.datetime().optional(), client: CLIENT_VIEW }),
        },
      },
      problems: [400, 404, 409],
    },
    async (ctx, { params, body }) => clients.rotateSecret(callerOf(ctx), params.client_id, body),
  );
}
