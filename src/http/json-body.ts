import type { Context } from 'koa';
import { readBodyText } from './form.ts';

/**
 * A JSON body the server will not read: the wrong media type (415), too large (413), not JSON or nested
 * too deep (400). Each door renders it its own way: /v1 as problem+json, SCIM as a SCIM error.
 */
export class BodyError extends Error {
  override readonly name = 'BodyError';
  readonly status: 400 | 413 | 415;
  /** Koa's flag: the message is for the client. */
  readonly expose = true;
  constructor(status: 400 | 413 | 415, message: string) {
    super(message);
    this.status = status;
  }
}

/** Deeper than any body the API takes (a connection config nests 4 levels): a 400, never a stack overflow later. */
const MAX_JSON_DEPTH = 32;

/** True when a parsed JSON value nests deeper than `max` arrays/objects; iterative, so any depth is safe. */
function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (typeof current !== 'object' || current === null) continue;
    if (depth > max) return true;
    for (const child of Array.isArray(current) ? current : Object.values(current)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

/**
 * Reads a JSON body (≤ 64 KiB, UTF-8, nested ≤ MAX_JSON_DEPTH). Oversized bodies are refused before or
 * while reading (413, connection closed after the answer), never buffered. `checkType: false` when the
 * caller has checked the media type itself (SCIM takes application/scim+json; verify checks raw headers).
 */
export async function readJson(ctx: Context, limitBytes = 64 * 1024, checkType = true): Promise<unknown> {
  if (checkType && !ctx.is('application/json')) throw new BodyError(415, 'send the body as application/json');
  const text = await readBodyText(ctx, limitBytes, () => new BodyError(413, `the body is larger than ${limitBytes} bytes`));
  let body: unknown;
  try {
    body = JSON.parse(text || 'null') as unknown;
  } catch {
    throw new BodyError(400, 'the body is not valid JSON');
  }
  if (nestedDeeperThan(body, MAX_JSON_DEPTH)) throw new BodyError(400, `the body nests deeper than ${MAX_JSON_DEPTH} levels`);
  return body;
}
