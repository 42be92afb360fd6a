/**
 * One HTTP attempt of one message. Any 2xx is success; everything else (3xx, since redirects are not
 * followed, 4xx, 5xx, a timeout, a network error) is a failure the caller may retry. The response body is
 * discarded unread: receivers' answers are not stored.
 */
import { BlockedAddressError } from '../net/index.ts';
import { sign } from './signature.ts';

export interface AttemptOutcome {
  ok: boolean;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
}

interface AttemptInput {
  fetch: typeof fetch;
  url: string;
  secret: string;
  /** `webhook-id`: the same for every attempt of one message, so receivers can dedupe. */
  messageId: string;
  body: string;
  timeoutMs: number;
}

const USER_AGENT = 'LogTrace-Webhooks/1';

export async function attemptDelivery(input: AttemptInput): Promise<AttemptOutcome> {
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  const timestamp = Math.floor(Date.now() / 1000);
  const headers = {
    'content-type': 'application/json',
    'user-agent': USER_AGENT,
    'webhook-id': input.messageId,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': sign(input.secret, input.messageId, timestamp, input.body),
  };
  try {
    const response = await input.fetch(input.url, {
      method: 'POST',
      headers,
      body: input.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(input.timeoutMs),
    });
    await response.body?.cancel().catch(() => {});
    const status = response.status;
    if (status >= 200 && status < 300) return { ok: true, status_code: status, error: null, duration_ms: elapsed() };
    const error = status >= 300 && status < 400 ? `redirect (${status}) not followed` : `unexpected status ${status}`;
    return { ok: false, status_code: status, error, duration_ms: elapsed() };
  } catch (error) {
    return { ok: false, status_code: null, error: describeFailure(error, input.timeoutMs), duration_ms: elapsed() };
  }
}

function describeFailure(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return `timeout after ${timeoutMs} ms`;
  // The destination is loopback, private or link-local (webhooks.block_private_addresses): nothing was sent.
  if (error instanceof BlockedAddressError) return error.message;
  if (error instanceof Error) {
    // undici's fetch wraps socket errors: TypeError('fetch failed', { cause: { code: 'ECONNREFUSED', … } }).
    const cause: unknown = error.cause;
    if (cause instanceof Error) {
      const code = (cause as Error & { code?: unknown }).code;
      return `network error: ${typeof code === 'string' ? code : cause.message}`;
    }
    return `network error: ${error.message}`;
  }
  return 'network error';
}
