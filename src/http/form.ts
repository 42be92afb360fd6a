import type { Context } from 'koa';
import type { IncomingMessage } from 'node:http';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Thrown as an HTTP error (Koa's `status` + `expose`), for the error middleware to render. */
function httpError(status: number, message: string): Error {
  return Object.assign(new Error(message), { status, expose: true });
}

/**
 * Reads a request body of at most `limitBytes` as UTF-8 text. A declared Content-Length over the limit is
 * refused before reading; a body that grows past it (chunked, or a lying Content-Length) stops being read
 * at the limit. Either way the answer is 413 with `Connection: close`: the rest of the upload is not read,
 * and the socket closes once the answer is sent. The request stream is never destroyed here: destroying
 * it tore the socket down under the response and the access log afterwards (one request crashed the
 * process). Bytes that are not UTF-8 are a 400, not replacement characters.
 */
export function readBodyText(ctx: Context, limitBytes: number, tooLarge: () => Error = () => httpError(413, 'body too large')): Promise<string> {
  const refuse = (): Error => {
    ctx.set('Connection', 'close');
    return tooLarge();
  };
  const declared = ctx.request.length;
  if (declared !== undefined && declared > limitBytes) return Promise.reject(refuse());
  const req: IncomingMessage = ctx.req;
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        cleanup();
        req.pause();
        reject(refuse());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      try {
        resolve(utf8.decode(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
      } catch {
        reject(httpError(400, 'the body is not valid UTF-8'));
      }
    };
    const onError = (error: Error) => {
      cleanup();
      reject(Object.assign(httpError(400, 'the body could not be read'), { cause: error }));
    };
    // 'close' before 'end': the client went away mid-body.
    const onClose = () => onError(new Error('request closed before its body ended'));
    if (req.readableEnded) {
      resolve('');
      return;
    }
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
    req.once('close', onClose);
  });
}

/** Reads an application/x-www-form-urlencoded body (our own HTML forms) with a size limit. */
export async function readForm(ctx: Context, limitBytes = 16 * 1024): Promise<URLSearchParams> {
  if (!ctx.is('application/x-www-form-urlencoded')) ctx.throw(415, 'expected an application/x-www-form-urlencoded form');
  return new URLSearchParams(await readBodyText(ctx, limitBytes, () => httpError(413, 'form too large')));
}
