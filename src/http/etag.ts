import { createHash } from 'node:crypto';

/** A strong entity tag for a JSON body (RFC 9110 §8.8.3). */
export function etagOf(json: string): string {
  return `"${createHash('sha256').update(json).digest('base64url').slice(0, 27)}"`;
}

/**
 * RFC 9110 §13.1.2: whether an If-None-Match list names this entity tag (weak comparison). Compared by hand
 * rather than with Koa's ctx.fresh: fetch() adds `Cache-Control: no-cache` to every conditional request
 * (Fetch §4.5), which ctx.fresh reads as "never answer 304".
 */
export function ifNoneMatch(header: string, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === bare);
}
