import net from 'node:net';
import type { Context } from 'koa';
import type { Services } from '../container.ts';
import { AppError } from './problem.ts';
import { readJson } from '../http/json-body.ts';
import { LocalFailureLimiter } from './local-limiter.ts';
import { authenticateCredential } from './koa-auth.ts';
import type { BearerDeps } from '../http/bearer.ts';
import { z } from 'zod';
import { addressBucket, normalizeIp, parseKey, KEY_SCOPES, VERIFY_FAILURES } from '../keys/index.ts';
import type { RouteSpec } from './api-routes.ts';

const FIELDS = new Set(['key', 'ip', 'scope', 'project_id']);

/** `{key?, ip?, scope?, project_id?}`, each a string when present, nothing else (checked by hand: hot path). */
function parseVerifyBody(body: unknown): { key?: string; ip?: string; scope?: string; project_id?: string } {
  if (body === null || body === undefined) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new AppError('invalid_request', 'the body must be a JSON object');
  const input = body as Record<string, unknown>;
  for (const [field, value] of Object.entries(input)) {
    if (!FIELDS.has(field)) throw new AppError('invalid_request', `unknown field ${field}`, { field });
    if (typeof value !== 'string') throw new AppError('invalid_request', `${field}: expected a string`, { field });
  }
  return input as { key?: string; ip?: string; scope?: string; project_id?: string };
}

/**
 * POST /v1/keys/verify — the log API's hot path, served before the general middleware (see src/app.ts):
 * no credential needed but the key itself, one store read, no store write (usage is buffered).
 *
 * Failed verifications are limited in this process's memory (valid ones never count), per who can be held
 * to them, never per a value the caller merely writes:
 * - an anonymous caller: per its own address (`ctx.ip`, from trust_proxy; an IPv6 caller per /64). The
 *   body's `ip` is only the address checked against the key's allowlist: keying the limit on it would let
 *   anyone lock a log API's end client out, or rotate `ip` to guess without limit.
 * - a log API that authenticates its verify calls (`Authorization: Bearer <its API key or client token>`):
 *   per credential and end-client `ip`, so one bad end client does not throttle the others, plus a
 *   ceiling per credential. A failed credential counts against the caller's address.
 * - per key prefix, across callers: once well-formed keys with one display prefix have failed too often,
 *   further unknown keys with that prefix answer 429. A key that exists is never refused by this.
 * Each limiter remembers at most `api_keys.verify_limiter_entries` subjects.
 */
export function verifyHandler(services: BearerDeps & Pick<Services, 'metrics'>): (ctx: Context) => Promise<void> {
  const { keys, metrics, config } = services;
  const settings = config.api_keys;
  const perMinute = (max: number) => new LocalFailureLimiter({ max, windowMs: 60_000, maxEntries: settings.verify_limiter_entries });
  const callers = perMinute(settings.verify_failures_per_minute);
  const credentials = perMinute(settings.verify_failures_per_minute_per_credential);
  const prefixes = perMinute(settings.verify_failures_per_minute);
  metrics.limiterSizes.set('caller', () => callers.size);
  metrics.limiterSizes.set('credential', () => credentials.size);
  metrics.limiterSizes.set('prefix', () => prefixes.size);
  const counted = new Map<string, { inc(): void }>();
  const count = (outcome: string) => {
    let child = counted.get(outcome);
    if (!child) counted.set(outcome, (child = metrics.verifications.labels({ outcome })));
    child.inc();
  };
  const refuseIfBlocked = (limiter: LocalFailureLimiter, subject: string, detail: string) => {
    const blocked = limiter.blockedFor(subject);
    if (blocked) throw new AppError('rate_limited', detail, { headers: { 'Retry-After': String(blocked) } });
  };

  /** The log API's own credential, when it sends one: its failures are the caller's failures. */
  const logApiCredential = async (ctx: Context, caller: string): Promise<string> => {
    const bearer = /^Bearer\s+(\S+)$/i.exec(ctx.req.headers.authorization ?? '');
    if (!bearer) throw new AppError('unauthorized', 'authenticate verify calls with Authorization: Bearer <API key or access token>, or send no Authorization header');
    let principal;
    try {
      principal = await authenticateCredential(ctx, bearer[1]!, services);
    } catch (err) {
      if (err instanceof AppError && err.code === 'unauthorized') callers.recordFailure(caller);
      throw err;
    }
    if (principal.actor.type === 'user') throw new AppError('forbidden', "a log API authenticates verify calls with its own API key or client token, not a person's access token");
    return `credential:${principal.actor.type}:${principal.actor.id ?? ''}`;
  };

  return async (ctx) => {
    // Raw header checks rather than Koa's parsed getters: this runs at the log API's full request rate.
    const headers = ctx.req.headers;
    const hasBody = (headers['content-length'] !== undefined && headers['content-length'] !== '0') || headers['transfer-encoding'] !== undefined;
    if (hasBody && !/^application\/json\s*(;|$)/i.test(headers['content-type'] ?? '')) throw new AppError('unsupported_media_type', 'send the body as application/json');
    const input = parseVerifyBody(hasBody ? await readJson(ctx, 8 * 1024, false) : undefined);
    if (input.ip !== undefined && !net.isIP(normalizeIp(input.ip))) throw new AppError('invalid_request', 'ip: expected an IPv4 or IPv6 address (the end client of the log API)', { field: 'ip' });
    const endClient = input.ip ?? ctx.ip;

    const caller = `address:${addressBucket(ctx.ip)}`;
    refuseIfBlocked(callers, caller, 'too many failed verifications from this address');
    let subject = caller;
    let credential: string | undefined;
    if (headers.authorization !== undefined) {
      credential = await logApiCredential(ctx, caller);
      refuseIfBlocked(credentials, credential, 'too many failed verifications with this credential');
      subject = `${credential}|${addressBucket(endClient)}`;
      refuseIfBlocked(callers, subject, 'too many failed verifications for this end-client address');
    }

    const key = input.key ?? ctx.get('x-logs-api-key');
    if (!key) throw new AppError('invalid_request', 'send the key as "key" in the body or in the X-Logs-Api-Key header', { field: 'key' });
    const result = await keys.verify(key, { ip: endClient, scope: input.scope ?? null, project_id: input.project_id ?? null });
    count(result.valid ? 'valid' : result.code);
    if (!result.valid) {
      callers.recordFailure(subject);
      if (credential) credentials.recordFailure(credential);
      const parsed = result.code === 'not_found' ? parseKey(key) : undefined;
      if (parsed?.ok) {
        refuseIfBlocked(prefixes, parsed.displayPrefix, 'too many failed verifications of keys with this prefix');
        prefixes.recordFailure(parsed.displayPrefix);
      }
      ctx.body = { valid: false, code: result.code };
      return;
    }
    ctx.body = { valid: true, key_id: result.key_id, project_id: result.project_id, scopes: result.scopes, environment: result.environment, expires_at: result.expires_at };
  };
}

/**
 * How POST /v1/keys/verify is described in /v1/openapi.json. The handler above parses by hand (hot path);
 * these schemas say the same, and the verify tests check answers against VERIFY_ANSWER.
 */
export const VERIFY_BODY = z.strictObject({
  key: z.string().describe('The API key; or send it in X-Logs-Api-Key').optional(),
  ip: z.string().describe("The log API's end client: checked against the key's IP allowlist").optional(),
  scope: z.string().describe('A scope the key must hold').optional(),
  project_id: z.string().describe('A project the key must reach (its own or a descendant)').optional(),
});
export const VERIFY_ANSWER = z.discriminatedUnion('valid', [
  z.object({ valid: z.literal(true), key_id: z.string(), project_id: z.string(), scopes: z.array(z.enum(KEY_SCOPES)), environment: z.enum(['live', 'test']), expires_at: z.iso.datetime() }),
  z.object({ valid: z.literal(false), code: z.enum(VERIFY_FAILURES) }),
]);
export const VERIFY_ROUTE: RouteSpec<typeof VERIFY_BODY, undefined, undefined> = {
  method: 'post',
  path: '/v1/keys/verify',
  operationId: 'verifyApiKey',
  summary: "Checks an API key for the log API: project, scopes, environment (one store read; a bad key is 200 {valid:false})",
  description: 'No credential is needed but the key. A log API may authenticate its calls with its own API key or client token (Authorization: Bearer), to be rate-limited per credential and end client.',
  tag: 'API keys',
  auth: 'none',
  body: VERIFY_BODY,
  responses: { 200: { description: 'The verdict', schema: VERIFY_ANSWER } },
  problems: [429],
};
