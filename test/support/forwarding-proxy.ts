import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Loopback is a whole /8 on Linux: binding the client side of a connection to 127.0.0.5 makes the server
 * see a caller at 127.0.0.5. Tests use this for distinct callers and for an attacker that is not a proxy.
 */

export interface ForwardingProxy {
  url: string;
  close(): Promise<void>;
}

/**
 * A reverse proxy as nginx is usually configured in front of an app: it appends the address of whoever
 * connected to it to X-Forwarded-For (`$proxy_add_x_forwarded_for`), and likewise appends its scheme to
 * X-Forwarded-Proto and the Host it was asked for to X-Forwarded-Host; a client's own values stay to the
 * left. It connects upstream from `sourceAddress` (default 127.0.0.1).
 */
export async function startForwardingProxy(upstream: string, options: { sourceAddress?: string; proto?: 'http' | 'https' } = {}): Promise<ForwardingProxy> {
  const target = new URL(upstream);
  const agent = new http.Agent({ keepAlive: false });
  const append = (existing: string | string[] | undefined, value: string) => {
    const before = Array.isArray(existing) ? existing.join(', ') : existing;
    return before ? `${before}, ${value}` : value;
  };
  const server = http.createServer((req, res) => {
    const headers: IncomingHttpHeaders = { ...req.headers };
    headers['x-forwarded-for'] = append(req.headers['x-forwarded-for'], req.socket.remoteAddress!.replace(/^::ffff:/, ''));
    headers['x-forwarded-proto'] = append(req.headers['x-forwarded-proto'], options.proto ?? 'http');
    headers['x-forwarded-host'] = append(req.headers['x-forwarded-host'], req.headers.host ?? '');
    headers.host = target.host;
    const forward = http.request(
      { agent, host: target.hostname, port: target.port, method: req.method, path: req.url, headers, localAddress: options.sourceAddress ?? '127.0.0.1' },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => {
      res.statusCode = 502;
      res.end();
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}

export interface SentResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json<T = Record<string, unknown>>(): T;
}

/** One HTTP request from a chosen local address (`from`), without following redirects. */
export function send(url: string, options: { method?: string; headers?: Record<string, string>; body?: string; from?: string } = {}): Promise<SentResponse> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: options.method ?? 'GET',
        path: `${target.pathname}${target.search}`,
        headers: { ...(options.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(options.body)) }), ...options.headers },
        localAddress: options.from,
        agent: false,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: <T>() => JSON.parse(text) as T }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A JSON POST, as the log API would send one. */
export function postJson(url: string, body: unknown, options: { headers?: Record<string, string>; from?: string } = {}): Promise<SentResponse> {
  return send(url, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...options.headers }, ...(options.from ? { from: options.from } : {}) });
}
