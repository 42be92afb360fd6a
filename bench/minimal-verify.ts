/**
 * The baseline for API-key verification: the least a Koa service can do to answer our
 * `POST /v1/keys/verify` — read the JSON body, hash the key, ONE store read of the record our
 * KeyRepository reads (`apikey:hash:{sha256 hex}`), answer `{"valid":true}`. No validation, no checks on
 * the record, no usage counting, no request id, no metrics, no access log.
 *   PORT=… STORE_JSON='{"driver":"embedded","path":"…"}' node bench/minimal-verify.ts
 *   PORT=… STORE_JSON='{"driver":"redis","url":"redis://…","prefix":"…"}' node bench/minimal-verify.ts
 * STORE_JSON is the `store` section of our server's config, opened with the same `openStore`: the same
 * lmdb directory (lmdb is multi-process safe) or the same Redis URL and prefix, so the read hits the
 * record the bootstrap CLI wrote for our server. Ready when GET /healthz answers 200.
 * A key without a record answers 404 `{"valid":false}`, which the harness counts as an error.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import Koa from 'koa';
import { openStore, type OpenStoreConfig } from '../src/store/index.ts';
import { exitWithParent } from './lib.ts';

async function main(): Promise<void> {
  exitWithParent();
  const port = Number(process.env.PORT);
  const storeJson = process.env.STORE_JSON;
  if (!port || !storeJson) throw new Error('minimal-verify: PORT and STORE_JSON must be set');
  const store = await openStore(JSON.parse(storeJson) as OpenStoreConfig);

  const app = new Koa();
  app.use(async (ctx) => {
    if (ctx.method === 'GET' && ctx.path === '/healthz') {
      ctx.body = { status: 'ok' };
      return;
    }
    if (ctx.method !== 'POST' || ctx.path !== '/v1/keys/verify') {
      ctx.status = 404;
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of ctx.req) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { key?: unknown };
    if (typeof body.key !== 'string') {
      ctx.status = 400;
      ctx.body = { valid: false };
      return;
    }
    const hash = createHash('sha256').update(body.key).digest('hex');
    const record = await store.get(`apikey:hash:{${hash}}`);
    if (!record) {
      ctx.status = 404;
      ctx.body = { valid: false };
      return;
    }
    ctx.body = { valid: true };
  });

  const server = http.createServer(app.callback());
  server.keepAliveTimeout = 65_000;
  server.listen(port, '127.0.0.1');
  process.once('SIGTERM', () => {
    server.close(() => void store.close().finally(() => process.exit(0)));
    server.closeAllConnections();
  });
}

main().catch((err: unknown) => {
  console.error('minimal-verify failed to start:', err);
  process.exit(1);
});
