import type { Context } from 'koa';

/** Reads an application/x-www-form-urlencoded body (our own HTML forms) with a size limit. */
export async function readForm(ctx: Context, limitBytes = 16 * 1024): Promise<URLSearchParams> {
  if (!ctx.is('application/x-www-form-urlencoded')) ctx.throw(415, 'expected an application/x-www-form-urlencoded form');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > limitBytes) ctx.throw(413, 'form too large');
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
