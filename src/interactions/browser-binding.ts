import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';

/**
 * Binds an upstream round trip to the browser that started it (login CSRF and session swapping: RFC 9700
 * §4.7.1, OIDC Core §3.1.2.1 on `state`). Whoever holds the upstream URL or the callback URL (state, code,
 * SAMLResponse + RelayState) holds no cookie of the browser that began: a callback that arrives elsewhere is
 * refused before anything is exchanged or finished.
 *
 * One cookie per sign-in in progress, so that two tabs signing in at once do not undo each other: a random
 * name `lt_fed_<id>` and a random value, HttpOnly, scoped to the connector's own paths
 * (`/federation/<connector>/`), living as long as the transaction. The store keeps only the SHA-256 of the
 * value, next to the transaction; the callback compares in constant time.
 *
 * SameSite: the OAuth/OIDC callback is a cross-site top-level GET, which carries a Lax cookie. A SAML
 * HTTP-POST to the ACS is a cross-site POST, which carries only a `SameSite=None; Secure` cookie: with an
 * https issuer that is the one cookie; with an http issuer it is sent as well (browsers keep Secure cookies
 * from http://localhost and 127.0.0.1, secure contexts) next to a Lax twin with the same value, which serves
 * an IdP on the same site (other http hosts drop the Secure one).
 */
export interface BrowserBinding {
  [key: string]: unknown;
  /** The cookie's name (`lt_fed_<id>`); the SAML cross-site one adds `_x`. */
  cookie: string;
  /** base64url SHA-256 of the cookie's value. */
  hash: string;
}

export interface BindingOptions {
  /** The path the browser sees for the connector's callback / ACS, e.g. `/federation/corp/`. */
  path: string;
  /** An https issuer: the cookies are Secure. */
  https: boolean;
  /** The upstream comes back with a cross-site POST (SAML HTTP-POST binding). */
  crossSitePost: boolean;
  maxAgeSeconds: number;
}

const PREFIX = 'lt_fed_';
const CROSS_SITE_SUFFIX = '_x';
const NAME_PATTERN = /^lt_fed_[\w-]{16}$/;
const VALUE_PATTERN = /^[\w-]{43}$/;

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

function cookieLines(binding: BrowserBinding, value: string, options: BindingOptions, maxAge: number): string[] {
  const common = [`Path=${options.path}`, 'HttpOnly', `Max-Age=${maxAge}`, ...(maxAge === 0 ? ['Expires=Thu, 01 Jan 1970 00:00:00 GMT'] : [])];
  const lines: string[] = [];
  if (!options.crossSitePost || !options.https) {
    lines.push([`${binding.cookie}=${value}`, ...common, 'SameSite=Lax', ...(options.https ? ['Secure'] : [])].join('; '));
  }
  if (options.crossSitePost) {
    lines.push([`${binding.cookie}${CROSS_SITE_SUFFIX}=${value}`, ...common, 'SameSite=None', 'Secure'].join('; '));
  }
  return lines;
}

/**
 * Sets the cookie(s) on the response that leaves for the upstream; the returned binding is stored with
 * the transaction. (Written by hand: Koa refuses Secure cookies when it cannot see TLS behind a proxy.)
 */
export function bindToBrowser(ctx: Context, options: BindingOptions): BrowserBinding {
  const value = randomBytes(32).toString('base64url');
  const binding: BrowserBinding = { cookie: `${PREFIX}${randomBytes(12).toString('base64url')}`, hash: digest(value).toString('base64url') };
  for (const line of cookieLines(binding, value, options, options.maxAgeSeconds)) ctx.append('Set-Cookie', line);
  return binding;
}

/** Whether this request carries the cookie the transaction was bound to (either twin). */
export function isBoundBrowser(ctx: Context, binding: unknown): boolean {
  if (typeof binding !== 'object' || binding === null) return false;
  const { cookie, hash } = binding as Partial<BrowserBinding>;
  if (typeof cookie !== 'string' || !NAME_PATTERN.test(cookie) || typeof hash !== 'string') return false;
  const expected = Buffer.from(hash, 'base64url');
  if (expected.length !== 32) return false;
  let matched = false;
  for (const name of [cookie, `${cookie}${CROSS_SITE_SUFFIX}`]) {
    const value = ctx.cookies.get(name, { signed: false });
    // Both candidates are always hashed and compared: the answer takes the same time whichever matched.
    if (timingSafeEqual(digest(value !== undefined && VALUE_PATTERN.test(value) ? value : ''), expected)) matched = true;
  }
  return matched;
}

/** Clears the cookie(s) of a binding once its transaction is used. */
export function releaseBrowser(ctx: Context, binding: BrowserBinding, options: BindingOptions): void {
  for (const line of cookieLines(binding, '', options, 0)) ctx.append('Set-Cookie', line);
}
