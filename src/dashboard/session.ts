import { timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';

/** The dashboard's cookies: the session's random id (its contents stay in the store: ./repository.ts) and a sign-in in progress. */
export const SESSION_COOKIE = 'lt_dash';
export const LOGIN_COOKIE = 'lt_dash_login';

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Cookies written by hand: Koa refuses `secure` cookies when it cannot see TLS (behind a proxy without
 * trust_proxy), yet an https issuer means the browser talks https.
 */
export function setCookie(ctx: Context, name: string, value: string, options: { secure: boolean; path?: string; maxAge?: number; httpOnly?: boolean }): void {
  const parts = [`${name}=${value}`, `Path=${options.path ?? '/dashboard'}`, 'SameSite=Lax'];
  if (options.httpOnly !== false) parts.push('HttpOnly');
  if (options.secure) parts.push('Secure');
  if (options.maxAge !== undefined) {
    parts.push(`Max-Age=${options.maxAge}`);
    if (options.maxAge === 0) parts.push('Expires=Thu, 01 Jan 1970 00:00:00 GMT');
  }
  ctx.append('Set-Cookie', parts.join('; '));
}

export function clearCookie(ctx: Context, name: string, secure: boolean, path = '/dashboard'): void {
  setCookie(ctx, name, '', { secure, path, maxAge: 0 });
}
