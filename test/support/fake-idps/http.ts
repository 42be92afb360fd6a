/** Small node:http plumbing shared by the fake upstream identity providers. */
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { exportJWK, SignJWT, type JWK, type JWTPayload } from 'jose';
import { freePort } from '../ports.ts';

export type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void;

/** Listens on a free 127.0.0.1 port; a handler that throws answers 500 with the message. */
export async function listen(handler: Handler): Promise<{ url: string; close(): Promise<void> }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = createServer((req, res) => {
    Promise.resolve()
      .then(() => handler(req, res, new URL(req.url ?? '/', url)))
      .catch((error: unknown) => {
        if (!res.headersSent) json(res, 500, { error: 'server_error', error_description: String(error) });
        else res.end();
      });
  });
  // Longer than any client's idle keep-alive: otherwise the server may close an idle socket just as fetch
  // reuses it, and the request fails with ECONNRESET (a race that shows on a loaded machine).
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The form body of a POST; anything but application/x-www-form-urlencoded is refused by the callers. */
export async function readForm(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  if (!(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) return undefined;
  return new URLSearchParams(await readBody(req));
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

export function redirect(res: ServerResponse, location: string): void {
  res.writeHead(302, { location });
  res.end();
}

/** `{redirectUri}?params` keeping the redirect URI's own query. */
export function withParams(base: string, params: Record<string, string>): string {
  const url = new URL(base);
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  return url.toString();
}

/** Client credentials from HTTP Basic (RFC 6749 §2.3.1, form-urlencoded parts) or from the form body. */
export function clientCredentials(req: IncomingMessage, form: URLSearchParams): { id: string | null; secret: string | null; method: 'basic' | 'post' | 'none' } {
  const header = req.headers.authorization;
  if (header?.startsWith('Basic ')) {
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const decode = (value: string): string => decodeURIComponent(value.replace(/\+/g, ' '));
    return { id: decode(decoded.slice(0, colon)), secret: decode(decoded.slice(colon + 1)), method: 'basic' };
  }
  if (form.has('client_secret')) return { id: form.get('client_id'), secret: form.get('client_secret'), method: 'post' };
  return { id: form.get('client_id'), secret: null, method: 'none' };
}

export function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

export function randomId(bytes = 24): string {
  return randomBytes(bytes).toString('base64url');
}

/** An RS256 signing key with its public JWK (kid set), for fakes that mint id_tokens. */
export interface SigningKey {
  kid: string;
  privateJwk: JWK;
  publicJwk: JWK;
  sign(claims: JWTPayload): Promise<string>;
}

export async function signingKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomId(8);
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  return {
    kid,
    privateJwk,
    publicJwk,
    sign: (claims) => new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' }).sign(privateKey),
  };
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);
