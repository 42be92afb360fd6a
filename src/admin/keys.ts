import type { Logger } from 'pino';
import { z } from 'zod';
import type { Config } from '../config/index.ts';
import { KEY_SCOPES, VERIFY_OUTCOMES, type KeyService } from '../keys/index.ts';
import type { ApiRoutes } from './api-routes.ts';
import { callerOf } from '../http/caller.ts';
import { keyStreamRoute } from './key-stream.ts';

const TAG = 'API keys';

const CREATE_KEY = z.strictObject({
  project_id: z.string().min(1).describe('The project the key belongs to (it reaches the project and its subtree)'),
  name: z.string().trim().min(1).max(200),
  scopes: z.array(z.string()).min(1).describe(`Scopes the key holds, each one the caller holds too: ${KEY_SCOPES.join(', ')}`),
  environment: z.enum(['live', 'test']),
  ttl_days: z.number().int().describe('Days until the key expires (default api_keys.default_ttl_days, at most api_keys.max_ttl_days)').optional(),
  ip_allowlist: z.array(z.string()).max(100).describe('CIDR ranges the key is accepted from (empty: anywhere)').optional(),
  auto_rotate: z.boolean().describe('Announce key.expiring before the key expires').optional(),
});
const ROTATE_KEY = z.strictObject({
  id: z.string().min(1),
  grace_seconds: z.number().int().describe('How long the old key keeps verifying (default api_keys.rotation_grace_seconds, at most 30 days)').optional(),
});
const USAGE_REPORTS = z.strictObject({
  reports: z
    .array(
      z.strictObject({
        key_id: z.string().regex(/^key_[\w-]{1,64}$/, 'not an API key id'),
        outcome: z.enum(VERIFY_OUTCOMES),
        count: z.number().int().min(1).max(1_000_000_000),
        last_used_at: z.iso.datetime().optional(),
        last_used_ip: z.union([z.ipv4(), z.ipv6()]).optional(),
      }),
    )
    .min(1)
    .max(1000),
});

const ACTOR = z.strictObject({ type: z.enum(['api_key', 'user', 'client', 'system']), id: z.string().nullable() });
const time = z.iso.datetime();
const API_KEY = z.strictObject({
  id: z.string(),
  prefix: z.string().describe('The first characters of the key, to recognise it'),
  project_id: z.string(),
  name: z.string(),
  scopes: z.array(z.enum(KEY_SCOPES)),
  environment: z.enum(['live', 'test']),
  status: z.enum(['active', 'rotating', 'expired', 'revoked']),
  created_at: time,
  expires_at: time,
  ip_allowlist: z.array(z.string()),
  auto_rotate: z.boolean(),
  created_by: ACTOR,
  last_used_at: time.nullable(),
  last_used_ip: z.string().nullable(),
  revoked_at: time.nullable(),
  rotated_at: time.nullable(),
  grace_until: time.nullable().describe('Set on the old key of a rotation: it verifies until then'),
  replaced_by: z.string().nullable(),
  rotated_from: z.string().nullable(),
});
const SECRET = z.string().describe('The key itself: shown in this answer only, never again');
const CREATED_KEY = z.strictObject({ ...API_KEY.shape, key: SECRET });
const ROTATED_KEY = z.strictObject({ ...API_KEY.shape, key: SECRET, previous: API_KEY });
const KEY_USAGE = z.strictObject({
  key_id: z.string(),
  days: z.array(z.strictObject({ date: z.iso.date(), counts: z.record(z.enum(VERIFY_OUTCOMES), z.number().int()), total: z.number().int() })),
  last_used_at: time.nullable(),
  last_used_ip: z.string().nullable(),
});

const KEY_ID = z.object({ id: z.string().describe('The key id (key_…)') });
const DAYS = 'a whole number from 1 to 400';

/** /v1/keys: a door over KeyService (src/keys/service.ts); every rule is there. */
export function keyRoutes(api: ApiRoutes, deps: { keys: KeyService; logger: Logger; settings: Config['api_keys'] }): void {
  const { keys } = deps;

  api.add(
    {
      method: 'post',
      path: '/v1/keys',
      operationId: 'createApiKey',
      summary: 'Creates an API key (the secret is in this answer only)',
      description: 'Needs admin:projects on the project and every scope given to the key.',
      tag: TAG,
      body: CREATE_KEY,
      responses: { 201: { description: 'The key, with its secret', schema: CREATED_KEY } },
      problems: [404],
    },
    async (ctx, { body }) => {
      const created = await keys.create(callerOf(ctx), body);
      return { ...created.view, key: created.key };
    },
  );

  api.add(
    {
      method: 'get',
      path: '/v1/keys',
      operationId: 'listApiKeys',
      summary: "A project's keys, newest first (never their secrets)",
      tag: TAG,
      query: z.object({ project_id: z.string().min(1).describe('The project (admin:projects needed)') }),
      responses: { 200: { description: 'The keys', schema: z.strictObject({ keys: z.array(API_KEY) }) } },
      problems: [404],
    },
    async (ctx, { query }) => ({ keys: await keys.list(callerOf(ctx), { project_id: query.project_id }) }),
  );

  api.add(
    {
      method: 'post',
      path: '/v1/keys/rotate',
      operationId: 'rotateApiKey',
      summary: 'Replaces a key by a new one with the same project, scopes and allowlist; the old one verifies until the grace ends',
      description: 'Needs admin:projects on the key\'s project and every scope of the key.',
      tag: TAG,
      body: ROTATE_KEY,
      responses: { 201: { description: 'The new key with its secret, and the old one (`previous`)', schema: ROTATED_KEY } },
      problems: [404, 409],
    },
    async (ctx, { body }) => {
      const rotated = await keys.rotate(callerOf(ctx), { id: body.id, grace_seconds: body.grace_seconds });
      return { ...rotated.view, key: rotated.key, previous: rotated.old };
    },
  );

  /**
   * Verifications a resource server decided from its cache, in batches. The caller administers every
   * key's project; a refused key refuses the whole batch, nothing counted.
   */
  api.add(
    {
      method: 'post',
      path: '/v1/keys/usage',
      operationId: 'reportApiKeyUsage',
      summary: 'Reports verifications a resource server decided from its cache (the verifier library)',
      tag: TAG,
      body: USAGE_REPORTS,
      bodyLimit: 256 * 1024,
      responses: { 202: { description: 'Counted', schema: z.strictObject({ accepted: z.number().int() }) } },
      problems: [404],
    },
    async (ctx, { body }) => keys.reportUsage(callerOf(ctx), body),
  );

  // Before /v1/keys/:id, which would take "events" for an id.
  keyStreamRoute(api, deps);

  api.add(
    {
      method: 'get',
      path: '/v1/keys/:id',
      operationId: 'getApiKey',
      summary: 'One key (never its secret)',
      tag: TAG,
      params: KEY_ID,
      responses: { 200: { description: 'The key', schema: API_KEY } },
      problems: [404],
    },
    async (ctx, { params }) => keys.get(callerOf(ctx), { id: params.id }),
  );

  api.add(
    {
      method: 'get',
      path: '/v1/keys/:id/usage',
      operationId: 'getApiKeyUsage',
      summary: 'Verifications per day (UTC) by outcome, oldest first',
      tag: TAG,
      params: KEY_ID,
      query: z.object({ days: z.coerce.number().int(DAYS).min(1, DAYS).max(400, DAYS).default(30).describe('Days back (1–400, default 30)') }),
      responses: { 200: { description: 'The counts', schema: KEY_USAGE } },
      problems: [404],
    },
    async (ctx, { params, query }) => keys.usage(callerOf(ctx), { id: params.id, days: query.days }),
  );

  api.add(
    {
      method: 'delete',
      path: '/v1/keys/:id',
      operationId: 'revokeApiKey',
      summary: 'Revokes a key (a key may always revoke itself)',
      tag: TAG,
      params: KEY_ID,
      responses: { 200: { description: 'The revoked key', schema: API_KEY } },
      problems: [404],
    },
    async (ctx, { params }) => keys.revoke(callerOf(ctx), { id: params.id }),
  );
}
