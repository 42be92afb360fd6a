/**
 * API-key verification in process, no HTTP: a child the harness starts and drives like a server.
 *   PORT=… MODE=verify|get CONCURRENCY=1|16 STORE_JSON='{"driver":"embedded","path":"…"}' node bench/inprocess-verify.ts
 * On start it opens the store (openStore), builds ProjectRepository + KeyRepository as the server does,
 * creates a project and a `read:logs` key. Then, on request, it runs one of:
 *   verify  `await keys.verify(key, { scope: 'read:logs' })`, each result must be `valid: true`;
 *   get     `await store.get('apikey:hash:{sha256}')`, the one store read verify makes, each must find the record;
 * in a loop for a fixed time, CONCURRENCY operations at a time (1: one after the other; 16: batches of 16
 * in Promise.all). Every 256 operations the loop yields to the event loop (setImmediate), so timers run
 * as they would in a server: KeyRepository's usage flush (once a second) is part of what verify costs.
 *
 * Control, on 127.0.0.1:PORT: GET /ready (200 once set up), POST /run?seconds=S → one JSON result
 * `{ ops, invalid, thrown, seconds, failureSample? }`. The harness reads this process's CPU from /proc.
 * SIGTERM: `keys.close()` (flushes usage counters), `store.close()`, exit. The harness owns the store's
 * temp directory or Redis prefix and removes it after this process has exited.
 */
import http from 'node:http';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import pino from 'pino';
import { openStore, type OpenStoreConfig } from '../src/store/index.ts';
import { ProjectRepository } from '../src/directory/index.ts';
import { KeyRepository, hashKey } from '../src/keys/index.ts';
import { exitWithParent } from './lib.ts';

interface RunResult {
  ops: number;
  /** Operations that completed but with the wrong answer (valid: false, record missing). */
  invalid: number;
  /** Operations that threw. */
  thrown: number;
  seconds: number;
  failureSample?: string;
}

const YIELD_EVERY = 256;

async function main(): Promise<void> {
  exitWithParent();
  const port = Number(process.env.PORT);
  const mode = process.env.MODE;
  const concurrency = Number(process.env.CONCURRENCY ?? 1);
  const storeJson = process.env.STORE_JSON;
  if (!port || !storeJson || (mode !== 'verify' && mode !== 'get') || !Number.isInteger(concurrency) || concurrency < 1) {
    throw new Error('inprocess-verify: set PORT, MODE=verify|get, CONCURRENCY (≥ 1) and STORE_JSON');
  }

  const store = await openStore(JSON.parse(storeJson) as OpenStoreConfig);
  const projects = new ProjectRepository(store);
  const keys = new KeyRepository(store, projects, { logger: pino({ level: 'silent' }) });
  const project = await projects.create({ name: `bench-${process.pid}` });
  const { key } = await keys.create({ project_id: project.id, name: 'bench', scopes: ['read:logs'], environment: 'live', ttl_days: 90, ip_allowlist: [], auto_rotate: false }, { type: 'system', id: 'bench' });
  const recordKey = `apikey:hash:{${hashKey(key)}}`;
  // The `get` process never verifies: its KeyRepository only held the key's creation.
  if (mode === 'get') await keys.close();

  let failureSample: string | undefined;
  let invalid = 0;
  let thrown = 0;
  const fail = (what: string) => {
    failureSample ??= what.slice(0, 300);
  };
  const op: () => Promise<void> =
    mode === 'verify'
      ? async () => {
          try {
            const result = await keys.verify(key, { scope: 'read:logs' });
            if (!result.valid) {
              invalid++;
              fail(`verify answered ${JSON.stringify({ valid: result.valid, code: result.code })}`);
            }
          } catch (err) {
            thrown++;
            fail(`verify threw ${String(err)}`);
          }
        }
      : async () => {
          try {
            if (!(await store.get(recordKey))) {
              invalid++;
              fail(`store.get(${recordKey}) found nothing`);
            }
          } catch (err) {
            thrown++;
            fail(`store.get threw ${String(err)}`);
          }
        };
  const batch: Promise<void>[] = new Array<Promise<void>>(concurrency);

  async function run(seconds: number): Promise<RunResult> {
    invalid = 0;
    thrown = 0;
    failureSample = undefined;
    let ops = 0;
    let sinceYield = 0;
    const started = performance.now();
    const end = started + seconds * 1000;
    for (;;) {
      if (concurrency === 1) {
        await op();
      } else {
        for (let i = 0; i < concurrency; i++) batch[i] = op();
        await Promise.all(batch);
      }
      ops += concurrency;
      sinceYield += concurrency;
      if (sinceYield >= YIELD_EVERY) {
        sinceYield = 0;
        await yieldToLoop();
        if (performance.now() >= end) break;
      }
    }
    return { ops, invalid, thrown, seconds: (performance.now() - started) / 1000, ...(failureSample !== undefined ? { failureSample } : {}) };
  }

  // One run at a time: the harness waits for each answer, but be safe against overlapping requests.
  let running: Promise<unknown> = Promise.resolve();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && url.pathname === '/ready') return send(200, { mode, concurrency });
    const seconds = Number(url.searchParams.get('seconds'));
    if (req.method !== 'POST' || url.pathname !== '/run' || !(seconds > 0)) return send(404, { error: 'POST /run?seconds=S' });
    const next = running.then(() => run(seconds));
    running = next.catch(() => undefined);
    next.then(
      (result) => send(200, result),
      (err: unknown) => send(500, { error: String(err) }),
    );
  });
  server.listen(port, '127.0.0.1');

  process.once('SIGTERM', () => {
    server.close();
    server.closeAllConnections();
    void (async () => {
      await running;
      await keys.close();
      await store.close();
      process.exit(0);
    })().catch((err: unknown) => {
      console.error('inprocess-verify: closing failed:', err);
      process.exit(1);
    });
  });
}

main().catch((err: unknown) => {
  console.error('inprocess-verify failed to start:', err);
  process.exit(1);
});
