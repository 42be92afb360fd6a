/**
 * The verifier library in process, driven by the harness like inprocess-verify.ts (GET /ready, POST
 * /run?seconds=S → `{ ops, invalid, thrown, seconds, failureSample? }`):
 *   MODE=apikey  `verifier.verify({ apiKey: KEY, ip })` with local API-key verification (CREDENTIAL): after
 *                the first call, a cached verification (hash, map lookup, checks, usage count)
 *   MODE=jwt     `verifier.verify({ authorization: 'Bearer ' + TOKEN })`: the library's JWT path
 *   MODE=jose    bare `jose.jwtVerify(TOKEN, key, { issuer, audience })` with the key imported once from
 *                the server's JWKS: the baseline of MODE=jwt
 * Environment: PORT (control), ISSUER, AUDIENCE, and KEY + CREDENTIAL or TOKEN. One operation at a time;
 * the loop yields to the event loop every 256 operations (the event stream and usage reports run).
 */
import http from 'node:http';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { decodeProtectedHeader, importJWK, jwtVerify, type JWK } from 'jose';
import { createVerifier } from '../src/verifier/index.ts';
import { exitWithParent } from './lib.ts';

const YIELD_EVERY = 256;

async function main(): Promise<void> {
  exitWithParent();
  const { PORT, MODE, ISSUER, AUDIENCE, KEY, CREDENTIAL, TOKEN } = process.env;
  if (!PORT || !ISSUER || !AUDIENCE || !(MODE === 'apikey' ? KEY && CREDENTIAL : (MODE === 'jwt' || MODE === 'jose') && TOKEN)) {
    throw new Error('verifier-inprocess: set PORT, ISSUER, AUDIENCE, MODE=apikey (KEY, CREDENTIAL) | jwt | jose (TOKEN)');
  }
  const verifier = createVerifier({ issuer: ISSUER, audience: AUDIENCE, ...(MODE === 'apikey' ? { apiKeys: { credential: CREDENTIAL! } } : {}) });
  if (!(await verifier.ready(30_000))) throw new Error('the verifier did not get ready (event stream)');
  let op: () => Promise<boolean>;
  if (MODE === 'apikey') {
    op = async () => (await verifier.verify({ apiKey: KEY!, ip: '127.0.0.1' })).key_id !== undefined;
  } else if (MODE === 'jwt') {
    const authorization = `Bearer ${TOKEN!}`;
    op = async () => (await verifier.verify({ authorization })).subject !== '';
  } else {
    const kid = decodeProtectedHeader(TOKEN!).kid;
    const jwks = (await (await fetch(`${ISSUER}/jwks`)).json()) as { keys: JWK[] };
    const jwk = jwks.keys.find((k) => k.kid === kid);
    if (!jwk) throw new Error(`no key ${kid} in the JWKS`);
    const key = await importJWK(jwk, jwk.alg ?? 'ES256');
    op = async () => (await jwtVerify(TOKEN!, key, { issuer: ISSUER, audience: AUDIENCE })).payload.sub !== undefined;
  }
  if (!(await op())) throw new Error('the first verification failed');

  async function run(seconds: number) {
    let ops = 0;
    let invalid = 0;
    let thrown = 0;
    let failureSample: string | undefined;
    let sinceYield = 0;
    const started = performance.now();
    const end = started + seconds * 1000;
    for (;;) {
      try {
        if (!(await op())) invalid++;
      } catch (err) {
        thrown++;
        failureSample ??= String(err).slice(0, 300);
      }
      ops++;
      if (++sinceYield >= YIELD_EVERY) {
        sinceYield = 0;
        await yieldToLoop();
        if (performance.now() >= end) break;
      }
    }
    return { ops, invalid, thrown, seconds: (performance.now() - started) / 1000, ...(failureSample !== undefined ? { failureSample } : {}) };
  }

  let running: Promise<unknown> = Promise.resolve();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && url.pathname === '/ready') return send(200, { mode: MODE });
    const seconds = Number(url.searchParams.get('seconds'));
    if (req.method !== 'POST' || url.pathname !== '/run' || !(seconds > 0)) return send(404, { error: 'POST /run?seconds=S' });
    const next = running.then(() => run(seconds));
    running = next.catch(() => undefined);
    next.then(
      (result) => send(200, result),
      (err: unknown) => send(500, { error: String(err) }),
    );
  });
  server.listen(Number(PORT), '127.0.0.1');
  process.once('SIGTERM', () => {
    server.close();
    server.closeAllConnections();
    void running.then(() => verifier.close()).finally(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  console.error('verifier-inprocess failed to start:', err);
  process.exit(1);
});
