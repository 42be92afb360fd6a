import type { Context } from 'koa';
import type { Services } from '../container.ts';
import { AppError, readJson } from './problem.ts';
import { LocalFailureLimiter } from './local-limiter.ts';

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
 * POST /v1/keys/verify — the log API's hot path, served before the general middleware (see http/app.ts):
 * no credential but the key itself, one store read, no store write (usage is buffered), and failed
 * verifications limited per end-client address (`ip`, else the caller's) in this process only: valid
 * verifications never count, so a log API relaying many clients is not throttled by one client's bad keys.
 */
export function verifyHandler(services: Services): (ctx: Context) => Promise<void> {
  const { keys, metrics, config } = services;
  const guesses = new LocalFailureLimiter({ max: config.api_keys.verify_failures_per_minute, windowMs: 60_000 });
  const counted = new Map<string, { inc(): void }>();
  const count = (outcome: string) => {
    let child = counted.get(outcome);
    if (!child) counted.set(outcome, (child = metrics.verifications.labels({ outcome })));
    child.inc();
  };
  return async (ctx) => {
    // Raw header checks rather than Koa's parsed getters: this runs at the log API's full request rate.
    const headers = ctx.req.headers;
    const hasBody = (headers['content-length'] !== undefined && headers['content-length'] !== '0') || headers['transfer-encoding'] !== undefined;
    if (hasBody && !/^application\/json\s*(;|$)/i.test(headers['content-type'] ?? '')) throw new AppError('unsupported_media_type', 'send the body as application/json');
    const input = parseVerifyBody(hasBody ? await readJson(ctx, 8 * 1024, false) : undefined);
    const subject = input.ip ?? ctx.ip;
    const blocked = guesses.blockedFor(subject);
    if (blocked) throw new AppError('rate_limited', 'too many failed verifications for this address', { headers: { 'Retry-After': String(blocked) } });
    const key = input.key ?? ctx.get('x-logs-api-key');
    if (!key) throw new AppError('invalid_request', 'send the key as "key" in the body or in the X-Logs-Api-Key header', { field: 'key' });
    const result = await keys.verify(key, { ip: subject, scope: input.scope ?? null, project_id: input.project_id ?? null });
    count(result.valid ? 'valid' : result.code);
    if (!result.valid) {
      guesses.recordFailure(subject);
      ctx.body = { valid: false, code: result.code };
      return;
    }
    ctx.body = { valid: true, key_id: result.key_id, project_id: result.project_id, scopes: result.scopes, environment: result.environment, expires_at: result.expires_at };
  };
}
