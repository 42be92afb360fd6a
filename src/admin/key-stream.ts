import { PassThrough } from 'node:stream';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { Services } from '../container.ts';
import { EVENT_ID } from '../store/index.ts';
import { VERIFY_OUTCOMES, type KeyEvent } from '../keys/index.ts';
import type { StoredEvent } from '../store/index.ts';
import type { Principal } from '../access/index.ts';
import { AppError, parseBody, readJson } from './problem.ts';
import { authMiddleware } from './koa-auth.ts';
import { principalOf } from './context.ts';

/** A stream whose subscriber stops reading is ended rather than buffered without bound. */
const MAX_BUFFERED_BYTES = 1 << 20;
/** Events that end a key's life: when it is the subscriber's own key, its stream ends after telling it. */
const FINAL = new Set(['key.revoked', 'key.rotation_ended', 'key.expired']);

const usageReport = z.strictObject({
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

function frame(event: StoredEvent<KeyEvent>): string {
  const { type, ...data } = event.value;
  return `id: ${event.id}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * GET /v1/keys/events — server-sent events (text/event-stream) for resource servers that cache verified API
 * keys: `key.revoked`, `key.rotated`, `key.rotation_ended`, `key.expired`, each `{ key_id, project_id, at }`,
 * `id:` a resumable event id. The subscriber needs admin:projects on an organisation (the access policy) and
 * is told only about keys of projects it administers.
 *
 * - `Last-Event-ID` (header, or `last_event_id` in the query) resumes after that event: nothing is missed
 *   across a dropped connection. Without it the stream starts at the present (replaying at most a minute).
 * - The first frame is `event: ready` (`id:` the position it starts from), sent once the log has been read.
 * - A `: ok` comment follows every successful read of the log at least every `events_heartbeat_ms`: a
 *   subscriber that hears nothing for longer knows the stream is stalled and stops trusting its cache.
 * - The stream ends after `events_max_stream_seconds`, when the subscriber's own key is revoked or expires,
 *   and at shutdown; the subscriber reconnects (authenticating again) and resumes.
 */
export function keyStreamRoutes(router: Router, services: Services): void {
  const auth = authMiddleware(services);
  const settings = services.config.api_keys;

  router.get('/v1/keys/events', auth, async (ctx) => {
    const principal = principalOf(ctx);
    await services.access.requireKeyEventSubscription(principal);
    const resumeFrom = ctx.get('last-event-id') || (typeof ctx.query.last_event_id === 'string' ? ctx.query.last_event_id : '');
    if (resumeFrom && !EVENT_ID.test(resumeFrom)) throw new AppError('invalid_request', 'Last-Event-ID must be an event id of this stream (<ms>-<seq>)', { field: 'last_event_id' });
    const body = new PassThrough();
    ctx.status = 200;
    ctx.type = 'text/event-stream';
    ctx.set('Cache-Control', 'no-store');
    // Proxies that buffer responses (nginx) would hold events back.
    ctx.set('X-Accel-Buffering', 'no');
    ctx.req.socket.setNoDelay(true);
    ctx.body = body;
    void pump(ctx, services, principal, resumeFrom || services.keyEvents.startCursor(), body, settings).catch((err: unknown) => {
      services.logger.warn({ err: String(err) }, 'key event stream failed');
      body.end();
    });
  });

  /**
   * POST /v1/keys/usage — verifications a resource server decided from its cache, in batches:
   * `{ reports: [{ key_id, outcome, count, last_used_at?, last_used_ip? }] }`. The caller administers every
   * key's project (as reading the key's usage needs); a refused key refuses the whole batch, nothing counted.
   */
  router.post('/v1/keys/usage', auth, async (ctx) => {
    const input = parseBody(usageReport, await readJson(ctx, 256 * 1024));
    const principal = principalOf(ctx);
    const ids = [...new Set(input.reports.map((r) => r.key_id))];
    for (const id of ids) {
      const key = await services.keys.getRecord(id);
      if (!key) throw new AppError('not_found', `API key ${id} does not exist`, { field: 'reports' });
      await services.access.requireKeyAdmin(principal, key);
    }
    for (const report of input.reports) {
      const at = report.last_used_at ? Math.min(Date.parse(report.last_used_at), Date.now()) : undefined;
      services.keys.recordUsage(report.key_id, report.outcome, report.count, at === undefined ? undefined : { at, ip: report.last_used_ip ?? null });
    }
    ctx.status = 202;
    ctx.body = { accepted: input.reports.length };
  });
}

async function pump(ctx: Context, services: Services, principal: Principal, from: string, body: PassThrough, settings: Services['config']['api_keys']): Promise<void> {
  const stop = new AbortController();
  const end = () => stop.abort();
  ctx.req.once('close', end);
  body.once('close', end);
  const lifetime = setTimeout(end, settings.events_max_stream_seconds * 1000);
  lifetime.unref();
  const ownKey = principal.kind === 'api_key' ? principal.actor.id : null;
  let lastWrite = 0;
  let ready = false;
  const write = (text: string) => {
    lastWrite = Date.now();
    if (!body.write(text) && body.writableLength > MAX_BUFFERED_BYTES) end();
  };
  try {
    for await (const batch of services.keyEvents.follow(from, stop.signal)) {
      if (!ready) {
        // `retry:` tells EventSource clients how soon to reconnect; `id:` is where this stream starts.
        write(`retry: 1000\nid: ${from}\nevent: ready\ndata: {}\n\n`);
        ready = true;
      }
      for (const event of batch.events) {
        if (!(await services.access.receivesKeyEvent(principal, event.value.project_id))) continue;
        write(frame(event));
        if (ownKey && event.value.key_id === ownKey && FINAL.has(event.value.type)) end();
      }
      if (stop.signal.aborted) break;
      if (Date.now() - lastWrite >= settings.events_heartbeat_ms - settings.events_poll_ms) write(': ok\n\n');
    }
  } finally {
    clearTimeout(lifetime);
    ctx.req.off('close', end);
    body.end();
  }
}
