/**
 * A real webhook receiver for tests: node:http on a free port, verifying every request with the
 * independent `standardwebhooks` package. Each path is one endpoint with its own secret and behaviour.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { freePort } from '../support/ports.ts';

export interface Receipt {
  path: string;
  id: string;
  timestamp: string;
  body: string;
  /** True when standardwebhooks' Webhook(secret).verify accepted the request. */
  verified: boolean;
  verifyError: string | null;
  /** What the receiver answered. */
  status: number;
}

export interface Behaviour {
  /** Answer 500 to the first N requests, then 2xx. */
  failFirst?: number;
  /** Answer this status to every request (after failFirst). Default 204. */
  status?: number;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Send a `location` header (with a 3xx status). */
  location?: string;
}

export interface Receiver {
  url(path: string): string;
  /** Registers the endpoint's signing secret (from WebhookRepository.create) and behaviour. */
  endpoint(path: string, secret: string, behaviour?: Behaviour): void;
  receipts(path?: string): Receipt[];
  close(): Promise<void>;
}

function header(headers: IncomingHttpHeaders, name: string): string {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : (value ?? '');
}

export async function startReceiver(): Promise<Receiver> {
  const endpoints = new Map<string, { secret: string; behaviour: Behaviour; seen: number }>();
  const receipts: Receipt[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = request.url ?? '/';
      const body = Buffer.concat(chunks).toString('utf8');
      const endpoint = endpoints.get(path);
      let verified = false;
      let verifyError: string | null = 'unknown endpoint';
      if (endpoint) {
        try {
          new Webhook(endpoint.secret).verify(body, {
            'webhook-id': header(request.headers, 'webhook-id'),
            'webhook-timestamp': header(request.headers, 'webhook-timestamp'),
            'webhook-signature': header(request.headers, 'webhook-signature'),
          });
          verified = true;
          verifyError = null;
        } catch (error) {
          verifyError = error instanceof Error ? error.message : String(error);
        }
      }
      const behaviour = endpoint?.behaviour ?? {};
      const seen = endpoint ? endpoint.seen++ : 0;
      const status = !verified ? 401 : seen < (behaviour.failFirst ?? 0) ? 500 : (behaviour.status ?? 204);
      receipts.push({
        path,
        id: header(request.headers, 'webhook-id'),
        timestamp: header(request.headers, 'webhook-timestamp'),
        body,
        verified,
        verifyError,
        status,
      });
      const answer = (): void => {
        if (response.destroyed) return;
        response.writeHead(status, behaviour.location ? { location: behaviour.location } : {});
        response.end(status === 204 ? undefined : 'receiver says hello');
      };
      if (behaviour.delayMs) setTimeout(answer, behaviour.delayMs).unref();
      else answer();
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    endpoint(path, secret, behaviour = {}) {
      endpoints.set(path, { secret, behaviour, seen: 0 });
    },
    receipts: (path) => receipts.filter((r) => path === undefined || r.path === path),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Polls `probe` until it returns a value other than undefined; fails after `withinMs`. */
export async function eventually<T>(probe: () => Promise<T | undefined>, withinMs = 5000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
