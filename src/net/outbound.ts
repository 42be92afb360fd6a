/**
 * Outbound requests an admin can aim (webhooks, connections made at run time), with the address policy of
 * `addresses.ts` applied where it cannot be dodged:
 *
 * - the host is resolved once, every address checked, and the connection is made to the checked
 *   addresses (a pinned `lookup`), so a DNS answer that changes in between (rebinding) is never used;
 * - redirects are never followed: a 3xx comes back as the answer, for the caller to report (a followed
 *   redirect would be a second request to a destination nobody checked);
 * - a time limit on the whole exchange and a cap on the response size.
 *
 * `guardedFetch` is built on node:http(s) rather than the global fetch, whose connections cannot be pinned
 * without the undici package. It answers with a standard `Response` and fails like fetch does
 * (TypeError('fetch failed', { cause }) for network errors, the signal's reason on timeout), plus
 * BlockedAddressError for a refused destination, thrown before any connection is opened.
 */
import type { LookupAddress, LookupOptions } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { BlockedAddressError, OutboundPolicy, UnresolvableHostError } from './addresses.ts';

const DEFAULT_OUTBOUND_TIMEOUT_MS = 15_000;
/** Discovery, JWKS, SAML metadata (≤ 1 MB), Graph group pages: all far below this. */
const DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
const USER_AGENT = 'LogTrace-Auth';
/** Statuses whose responses have no body (Fetch standard "null body status"). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

export class ResponseTooLargeError extends Error {
  override readonly name = 'ResponseTooLargeError';
}

interface GuardedFetchOptions {
  policy: OutboundPolicy;
  /** Limit on the whole exchange, body included; a caller's shorter `signal` applies too. */
  timeoutMs?: number | undefined;
  maxResponseBytes?: number | undefined;
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A `lookup` for net/tls/http that answers with addresses already checked, and never resolves again. */
function pinnedLookup(addresses: LookupAddress[]): (hostname: string, options: LookupOptions, callback: LookupCallback) => void {
  return (_hostname, options, callback) => {
    const family = options.family === 4 || options.family === 6 ? options.family : undefined;
    const usable = family ? addresses.filter((a) => a.family === family) : addresses;
    const answer = usable.length > 0 ? usable : addresses;
    if (options.all) callback(null, answer);
    else callback(null, answer[0]!.address, answer[0]!.family);
  };
}

/** A `lookup` that resolves through the policy: the check and the connection use the same answer. */
function checkingLookup(policy: OutboundPolicy, port: number): (hostname: string, options: LookupOptions, callback: LookupCallback) => void {
  return (hostname, options, callback) => {
    policy.resolve(hostname, port).then(
      (addresses) => pinnedLookup(addresses)(hostname, options, callback),
      (error: unknown) => callback(error as NodeJS.ErrnoException, []),
    );
  };
}

/** A lookup that fails with `error`: a socket that errors like a failed connection, without connecting. */
function failingLookup(error: Error): (hostname: string, options: LookupOptions, callback: LookupCallback) => void {
  return (_hostname, _options, callback) => callback(error as NodeJS.ErrnoException, []);
}

/** What a request body can be here: what our callers send (strings, forms, bytes). */
function bodyBytes(body: RequestInit['body']): { bytes: Buffer | undefined; type: string | undefined } {
  if (body === undefined || body === null) return { bytes: undefined, type: undefined };
  if (typeof body === 'string') return { bytes: Buffer.from(body, 'utf8'), type: 'text/plain;charset=UTF-8' };
  if (body instanceof URLSearchParams) return { bytes: Buffer.from(body.toString(), 'utf8'), type: 'application/x-www-form-urlencoded;charset=UTF-8' };
  if (body instanceof ArrayBuffer) return { bytes: Buffer.from(body), type: undefined };
  if (ArrayBuffer.isView(body)) return { bytes: Buffer.from(body.buffer, body.byteOffset, body.byteLength), type: undefined };
  throw new TypeError('guarded fetch: unsupported request body (send a string, URLSearchParams or bytes)');
}

function rejectOnAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** Network failures as fetch reports them; refusals, timeouts and our own errors as they are. */
function asFetchError(error: unknown, signal: AbortSignal): unknown {
  if (signal.aborted) return signal.reason;
  if (error instanceof BlockedAddressError || error instanceof ResponseTooLargeError) return error;
  return new TypeError('fetch failed', { cause: error });
}

/** The response body as a stream: size-capped, ended by the signal, and closing the socket when cancelled. */
function bodyStream(res: http.IncomingMessage, signal: AbortSignal, maxBytes: number, url: string): ReadableStream<Uint8Array> {
  let done = false;
  let onAbort: (() => void) | undefined;
  const finish = (): void => {
    done = true;
    if (onAbort) signal.removeEventListener('abort', onAbort);
  };
  return new ReadableStream<Uint8Array>({
    start(controller) {
      const fail = (error: unknown): void => {
        if (done) return;
        finish();
        controller.error(error);
        res.destroy();
      };
      onAbort = () => fail(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      let received = 0;
      res.on('data', (chunk: Buffer) => {
        if (done) return;
        received += chunk.length;
        if (received > maxBytes) {
          fail(new ResponseTooLargeError(`${url}: response larger than ${maxBytes} bytes`));
          return;
        }
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      });
      res.on('end', () => {
        if (done) return;
        finish();
        controller.close();
      });
      res.on('error', (error) => fail(new TypeError('terminated', { cause: error })));
      res.on('close', () => {
        if (!res.complete) fail(new TypeError('terminated', { cause: new Error('the connection closed before the response ended') }));
      });
    },
    cancel() {
      finish();
      res.destroy();
    },
  });
}

/**
 * A fetch for destinations an admin chose. Takes the subset of fetch our callers use: string or URL input,
 * method, headers, a string / form / bytes body, signal. `redirect` is ignored: redirects are never followed.
 */
export function guardedFetch(options: GuardedFetchOptions): typeof fetch {
  const { policy } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_OUTBOUND_TIMEOUT_MS;
  const maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  // Agents of our own, without keep-alive: no socket opened elsewhere (unchecked) is ever reused here.
  const agents = { 'http:': new http.Agent({ keepAlive: false }), 'https:': new https.Agent({ keepAlive: false }) };

  async function guarded(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
    if (input instanceof Request) throw new TypeError('guarded fetch: pass a URL, not a Request');
    const url = new URL(input);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`fetch failed: ${url.protocol} URLs are not fetched`);
    if (url.username !== '' || url.password !== '') throw new TypeError('fetch failed: URLs with credentials are not fetched');
    const method = (init.method ?? 'GET').toUpperCase();
    const headers = new Headers(init.headers);
    const body = bodyBytes(init.body);
    if (body.type && !headers.has('content-type')) headers.set('content-type', body.type);
    if (body.bytes) headers.set('content-length', String(body.bytes.length));
    if (!headers.has('user-agent')) headers.set('user-agent', USER_AGENT);
    if (!headers.has('accept')) headers.set('accept', '*/*');

    const signal = init.signal ? AbortSignal.any([init.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
    signal.throwIfAborted();
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    let addresses: LookupAddress[];
    try {
      addresses = await rejectOnAbort(policy.resolve(url.hostname, port), signal);
    } catch (error) {
      throw error instanceof UnresolvableHostError ? new TypeError('fetch failed', { cause: error }) : error;
    }

    return new Promise<Response>((resolve, reject) => {
      const request = (url.protocol === 'https:' ? https : http).request({
        protocol: url.protocol,
        hostname: url.hostname.replace(/^\[|\]$/g, ''),
        port,
        path: `${url.pathname}${url.search}`,
        method,
        headers: Object.fromEntries(headers),
        agent: agents[url.protocol as 'http:' | 'https:'],
        lookup: pinnedLookup(addresses),
      });
      const onAbort = (): void => {
        request.destroy();
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      request.on('error', (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(asFetchError(error, signal));
      });
      request.on('response', (res) => {
        signal.removeEventListener('abort', onAbort);
        const status = res.statusCode ?? 0;
        if (status < 200 || status > 599) {
          res.destroy();
          reject(new TypeError('fetch failed', { cause: new Error(`invalid HTTP status ${status}`) }));
          return;
        }
        const responseHeaders = new Headers();
        for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
          try {
            responseHeaders.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
          } catch {
            // A header value fetch would not accept either: left out.
          }
        }
        const nullBody = NULL_BODY_STATUSES.has(status) || method === 'HEAD';
        if (nullBody) res.resume();
        const response = new Response(nullBody ? null : bodyStream(res, signal, maxBytes, url.href), { status, headers: responseHeaders });
        Object.defineProperty(response, 'url', { value: url.href });
        resolve(response);
      });
      request.end(body.bytes);
    });
  }
  return guarded as typeof fetch;
}

/**
 * Socket factories for clients that open their own connections (ldapts' `createConnection` and
 * `createSecureConnection`): the host is resolved and checked by the policy, and the socket connects to
 * the addresses checked. A refused host gives a socket that fails with BlockedAddressError before connecting.
 */
export interface SocketFactories {
  createConnection: typeof net.connect;
  createSecureConnection: typeof tls.connect;
}

/** The placeholder host of a refused literal address: its (failing) lookup runs instead of a connection. */
const REFUSED_HOST = 'refused.invalid';

export function guardedSockets(policy: OutboundPolicy): SocketFactories {
  function createConnection(port: number, host: string): net.Socket {
    const refused = policy.refuseLiteral(host, port);
    // net.connect skips `lookup` for a literal address, so a refused literal goes through a failing lookup.
    if (refused) return net.connect({ port, host: REFUSED_HOST, lookup: failingLookup(refused) });
    return net.connect({ port, host, lookup: checkingLookup(policy, port) });
  }
  function createSecureConnection(...args: unknown[]): tls.TLSSocket {
    // StartTLS: `tls.connect({ socket, … })` over the connection already made (and checked) above.
    if (typeof args[0] === 'object' && args[0] !== null) return tls.connect(args[0] as tls.ConnectionOptions);
    const [port, host, options] = args as [number, string, tls.ConnectionOptions | undefined];
    const refused = policy.refuseLiteral(host, port);
    if (refused) return tls.connect({ ...options, port, host: REFUSED_HOST, lookup: failingLookup(refused) });
    return tls.connect({ ...options, port, host, lookup: checkingLookup(policy, port) });
  }
  return {
    createConnection: createConnection as typeof net.connect,
    createSecureConnection: createSecureConnection as typeof tls.connect,
  };
}
