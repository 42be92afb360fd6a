import { PassThrough } from 'node:stream';
import type { Context } from 'koa';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Config } from '../config/index.ts';
import type { KeyEvent, KeyEventSubscription, KeyService } from '../keys/index.ts';
import type { StoredEvent } from '../store/index.ts';
import type { ApiRoutes } from './api-routes.ts';
import { callerOf } from '../http/caller.ts';

/** A stream whose subscriber stops reading is ended rather than buffered without bound. */
const MAX_BUFFERED_BYTES = 1 << 20;

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
export function keyStreamRoute(api: ApiRoutes, deps: { keys: KeyService; logger: Logger; settings: Config['api_keys'] }): void {
  const { keys, logger, settings } = deps;
  api.add(
    {
      method: 'get',
      path: '/v1/keys/events',
      operationId: 'streamKeyEvents',
      summary: 'Server-sent events for verifiers that cache keys: key.revoked, key.rotated, key.rotation_ended, key.expired',
      description: 'Needs admin:projects on an organisation; tells only about keys of projects the subscriber administers. Resume with Last-Event-ID (header) or last_event_id.',
      tag: 'API keys',
      query: z.object({ last_event_id: z.string().describe('Resume after this event id (or send the Last-Event-ID header)').optional() }),
      responses: { 200: { description: 'text/event-stream: `ready`, then one frame per event, `: ok` heartbeats', contentType: 'text/event-stream' } },
    },
    async (ctx, { query }) => {
      const subscription = await keys.subscribe(callerOf(ctx), { last_event_id: ctx.get('last-event-id') || query.last_event_id });
      const body = new PassThrough();
      ctx.status = 200;
      ctx.type = 'text/event-stream';
      ctx.set('Cache-Control', 'no-store');
      // Proxies that buffer responses (nginx) would hold events back.
      ctx.set('X-Accel-Buffering', 'no');
      ctx.req.socket.setNoDelay(true);
      ctx.body = body;
      void pump(ctx, subscription, body, settings).catch((err: unknown) => {
        logger.warn({ err: String(err) }, 'key event stream failed');
        body.end();
      });
      return undefined;
    },
  );
}

async function pump(ctx: Context, subscription: KeyEventSubscription, body: PassThrough, settings: Config['api_keys']): Promise<void> {
  const stop = new AbortController();
  const end = () => stop.abort();
  ctx.req.once('close', end);
  body.once('close', end);
  const lifetime = setTimeout(end, settings.events_max_stream_seconds * 1000);
  lifetime.unref();
  let lastWrite = 0;
  let ready = false;
  const write = (text: string) => {
    lastWrite = Date.now();
    if (!body.write(text) && body.writableLength > MAX_BUFFERED_BYTES) end();
  };
  try {
    for await (const batch of subscription.batches(stop.signal)) {
      if (!ready) {
        // `retry:` tells EventSource clients how soon to reconnect; `id:` is where this stream starts.
        write(`retry: 1000\nid: ${subscription.from}\nevent: ready\ndata: {}\n\n`);
        ready = true;
      }
      for (const event of batch.events) write(frame(event));
      if (batch.final) end();
      if (stop.signal.aborted) break;
      if (Date.now() - lastWrite >= settings.events_heartbeat_ms - settings.events_poll_ms) write(': ok\n\n');
    }
  } finally {
    clearTimeout(lifetime);
    ctx.req.off('close', end);
    body.end();
  }
}
