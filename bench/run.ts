/**
 * `npm run bench [-- --quick] [-- --only=name[,name]] [--rounds=N --duration=S --warmup=S --connections=N]`
 *
 * Side-by-side measurements in one run: each scenario starts a baseline and our server as separate
 * child processes, then loads them alternately (baseline, ours, baseline, ours…) with a load generator
 * in a third process, so drift on a shared machine hits both. Reports the median of rounds and the
 * ratios ours/baseline: absolute numbers are noise on shared machines, ratios are what we report.
 * Writes bench/results/latest.json.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { Redis } from 'ioredis';
import type { OpenStoreConfig } from '../src/store/index.ts';
import { startRedisCluster } from '../test/support/redis-cluster.ts';
import { startRedisServer } from '../test/support/redis-server.ts';
import {
  BENCH_DIR,
  ROOT_DIR,
  fmt,
  freePort,
  median,
  printTable,
  redisAnswers,
  busyPercent,
  hostCpu,
  runLoad,
  sleep,
  startChild,
  stopAll,
  type Child,
  type LoadOptions,
  type LoadResult,
} from './lib.ts';

// ---------------------------------------------------------------------------------------------
// Options

/** How long each target is loaded: the flags' values, or a scenario's own unless given on the command line. */
interface Timing {
  rounds: number;
  duration: number;
  warmup: number;
}

interface Flags extends Timing {
  quick: boolean;
  only: string[];
  connections: number;
  /** Timing flags given on the command line: they override the scenarios' own timing. */
  explicit: Set<keyof Timing>;
}

const USAGE = `usage: npm run bench -- [--quick] [--only=name[,name…]] [--rounds=N] [--duration=S] [--warmup=S] [--connections=N] [--list]`;

function parseFlags(argv: string[]): Flags & { list: boolean } {
  // Several short rounds rather than two long ones: the median of 4 shrugs off a round disturbed by
  // another job on the machine, and short slots keep each pair of measurements close in time.
  const explicit = new Set<keyof Timing>();
  const flags = { quick: false, only: [] as string[], rounds: 4, duration: 5, warmup: 2, connections: 16, list: false, explicit };
  const numeric = (name: string, value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} expects a positive number, got ${value}\n${USAGE}`);
    return n;
  };
  for (const arg of argv) {
    const [key = '', value = ''] = arg.replace(/^--/, '').split(/=(.*)/s);
    switch (key) {
      case 'quick':
        flags.quick = true;
        break;
      case 'list':
        flags.list = true;
        break;
      case 'only':
        flags.only = value.split(',').map((s) => s.trim()).filter(Boolean);
        break;
      case 'rounds':
        flags.rounds = Math.round(numeric(key, value));
        explicit.add(key);
        break;
      case 'duration':
        flags.duration = numeric(key, value);
        explicit.add(key);
        break;
      case 'warmup':
        flags.warmup = Number(value) === 0 ? 0 : numeric(key, value);
        explicit.add(key);
        break;
      case 'connections':
        flags.connections = Math.round(numeric(key, value));
        break;
      case 'help':
      case 'h':
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${arg}\n${USAGE}`);
    }
  }
  if (flags.quick) {
    if (!explicit.has('rounds')) flags.rounds = 2;
    if (!explicit.has('duration')) flags.duration = 2;
    if (!explicit.has('warmup')) flags.warmup = 1;
  }
  return flags;
}

// ---------------------------------------------------------------------------------------------
// Targets

/** A server under load, ready, with the request to send it. */
interface Running {
  child: Child;
  /** The request the load generator repeats (connections, duration and warm-up are added). */
  request?: Pick<LoadOptions, 'url' | 'method' | 'headers' | 'body' | 'expectBodyIncludes'>;
  /**
   * Instead of the HTTP load generator (in-process scenarios): run `warmup` then, after calling
   * `onMeasureStart`, the measured `duration`, and return the result in the load generator's terms.
   */
  run?(options: LoadOptions, onMeasureStart: () => void): Promise<LoadResult>;
  /** One request by hand before loading: throws unless the answer is what the scenario expects. */
  check(): Promise<void>;
  /** After the child is stopped: temp dirs, Redis keys… */
  cleanup(): Promise<void>;
}

type HttpRequest = NonNullable<Running['request']>;

interface TargetSpec {
  /** Short label in the table: "bare", "ours"… */
  label: string;
  describe: string;
  start(): Promise<Running>;
}

interface Scenario {
  name: string;
  title: string;
  /** Run when no --only is given. */
  byDefault: boolean;
  /** `inprocess`: no HTTP, operations per second of a function call (req/s is ops/s; no latencies). */
  kind?: 'http' | 'inprocess';
  /** This scenario's own rounds/duration/warm-up (normal run, and --quick); command-line flags win. */
  timing?: Partial<Timing>;
  quickTiming?: Partial<Timing>;
  /** A ratio to report against (not enforced): subject/baseline throughput at least `rps`. */
  target?: { rps: number };
  /** A reason to skip (e.g. Redis not answering), checked before anything starts. */
  skip?(): Promise<string | undefined>;
  baseline: TargetSpec;
  subject: TargetSpec;
  /** Extra observations once measured (e.g. whether WORKERS took effect). */
  notes?(subject: TargetSummary, baseline: TargetSummary): string[];
}

// The client both servers know, and the token request a backend service makes.
const CLIENT = {
  client_id: 'bench-svc',
  client_secret: 'bench-secret-0123456789abcdefghijklmn',
  grant_types: ['client_credentials'],
  scope: 'read:logs write:alerts',
};
const AUDIENCE = 'https://api.logtrace.local';
const RESOURCE_SCOPES = ['read:logs', 'write:alerts', 'admin:projects'];
const REDIS = { host: '127.0.0.1', port: 6379 };

function clientCredentialsRequest(baseUrl: string, client: { client_id: string; client_secret: string } = CLIENT): HttpRequest {
  return {
    url: `${baseUrl}/token`,
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: 'grant_type=client_credentials&scope=read%3Alogs',
  };
}

function decodeJwtPart(part: string | undefined): Record<string, unknown> {
  return JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** One token request: 200, an ES256 JWT access token for the log API with scope read:logs. */
async function checkClientCredentials(name: string, request: HttpRequest, clientId: string = CLIENT.client_id): Promise<void> {
  const res = await fetch(request.url, { method: request.method, headers: request.headers, body: request.body ?? null });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${name}: token request answered ${res.status}: ${text.slice(0, 300)}`);
  const body = JSON.parse(text) as { access_token?: string; token_type?: string };
  const parts = body.access_token?.split('.') ?? [];
  if (parts.length !== 3) throw new Error(`${name}: access_token is not a JWT: ${text.slice(0, 300)}`);
  const header = decodeJwtPart(parts[0]);
  const payload = decodeJwtPart(parts[1]);
  const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  const problems = [
    header.alg !== 'ES256' && `alg ${String(header.alg)}`,
    !aud.includes(AUDIENCE) && `aud ${JSON.stringify(payload.aud)}`,
    payload.scope !== 'read:logs' && `scope ${JSON.stringify(payload.scope)}`,
    payload.client_id !== clientId && `client_id ${JSON.stringify(payload.client_id)}`,
  ].filter(Boolean);
  if (problems.length) throw new Error(`${name}: unexpected access token (${problems.join(', ')})`);
}

function bareProvider(): TargetSpec {
  return {
    label: 'bare',
    describe: 'bare oidc-provider (bench/bare-provider.ts), in-memory adapter',
    async start() {
      const port = await freePort();
      const baseUrl = `http://127.0.0.1:${port}`;
      const child = await startChild({
        name: 'bare oidc-provider',
        cmd: process.execPath,
        args: [path.join(BENCH_DIR, 'bare-provider.ts')],
        env: {
          PORT: String(port),
          ISSUER: baseUrl,
          CLIENT_ID: CLIENT.client_id,
          CLIENT_SECRET: CLIENT.client_secret,
          CLIENT_SCOPE: CLIENT.scope,
          AUDIENCE,
          SCOPES: RESOURCE_SCOPES.join(' '),
          NODE_ENV: 'production',
        },
        readyUrl: `${baseUrl}/.well-known/openid-configuration`,
      });
      const request = clientCredentialsRequest(baseUrl);
      return { child, request, check: () => checkClientCredentials('bare', request), cleanup: async () => {} };
    },
  };
}

interface OursOptions {
  /**
   * `redis`: the Redis on 127.0.0.1:6379; `redis-own`: a standalone redis-server the bench starts on a free
   * port; `redis-cluster`: a 3-master, 3-replica Redis Cluster the bench starts (test/support), for the
   * Cluster-vs-standalone scenarios (both without persistence, so they differ only in topology).
   */
  store: 'embedded' | 'redis' | 'redis-own' | 'redis-cluster';
  /** Extra environment for the server process, e.g. { WORKERS: '2' }. */
  env?: Record<string, string>;
  /** Extra top-level config keys, merged over the bench config. */
  config?: Record<string, unknown>;
}

/** Our server's temp directory, port and config file, before it starts. */
interface OursSetup {
  baseUrl: string;
  dir: string;
  configPath: string;
  /** The `store` section of its config (embedded: an lmdb directory in `dir`; Redis: a random prefix). */
  store: OpenStoreConfig;
  /** Removes the temp directory and the Redis keys under the prefix: call once the server has stopped. */
  cleanup(): Promise<void>;
}

/** Environment that would override the config file's store (src/config/load.ts): blanked for our children. */
const NO_STORE_OVERRIDES = { DATA_DIR: '', REDIS_URL: '' };

async function prepareOurs(options: OursOptions): Promise<OursSetup> {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'logtrace-bench-'));
  const prefix = `bench${randomBytes(6).toString('hex')}:`;
  let stopRedis = async (): Promise<void> => {};
  let store: OpenStoreConfig;
  if (options.store === 'embedded') {
    store = { driver: 'embedded', path: path.join(dir, 'data') };
  } else if (options.store === 'redis-own') {
    const redis = await startRedisServer();
    stopRedis = () => redis.dispose();
    store = { driver: 'redis', url: redis.url, prefix };
  } else if (options.store === 'redis-cluster') {
    const cluster = await startRedisCluster();
    stopRedis = () => cluster.dispose();
    store = { driver: 'redis', cluster: cluster.seeds, prefix };
  } else {
    store = { driver: 'redis', url: `redis://${REDIS.host}:${REDIS.port}`, prefix };
  }
  const config = {
    issuer: baseUrl,
    port,
    host: '127.0.0.1',
    log_level: 'warn',
    store,
    resource: { audience: AUDIENCE, scopes: RESOURCE_SCOPES },
    clients: [CLIENT],
    ...options.config,
  };
  const configPath = path.join(dir, 'config.yaml');
  await writeFile(configPath, toYaml(config));
  const cleanup = async () => {
    await rm(dir, { recursive: true, force: true });
    if (options.store === 'redis') await deleteRedisPrefix(prefix);
    await stopRedis();
  };
  return { baseUrl, dir, configPath, store, cleanup };
}

const envNoteOf = (options: OursOptions) => (options.env ? ' ' + Object.entries(options.env).map(([k, v]) => `${k}=${v}`).join(' ') : '');

/** Starts `node src/main.ts` on a prepared config; does not clean up on failure (the caller owns `setup`). */
async function launchOurs(options: OursOptions, setup: OursSetup): Promise<Child> {
  const child = await startChild({
    name: `our server (${options.store}${envNoteOf(options)})`,
    cmd: process.execPath,
    args: ['src/main.ts'],
    env: { ...NO_STORE_OVERRIDES, LOGTRACE_CONFIG: setup.configPath, NODE_ENV: 'production', ...options.env },
    readyUrl: `${setup.baseUrl}/healthz`,
  });
  // With workers, /healthz answers as soon as the first one listens: give the others time to join.
  const workers = Number(options.env?.WORKERS ?? 1);
  if (workers > 1) {
    const deadline = Date.now() + 15_000;
    while (child.processes().length < workers + 1 && Date.now() < deadline) await sleep(100);
    await sleep(1000);
  }
  return child;
}

/** Our server started as in production: `node src/main.ts` with LOGTRACE_CONFIG pointing at a temp YAML. */
function ours(options: OursOptions): TargetSpec {
  return {
    label: 'ours',
    describe: `src/main.ts, ${options.store} store${envNoteOf(options)}`,
    async start() {
      const setup = await prepareOurs(options);
      let child: Child;
      try {
        child = await launchOurs(options, setup);
      } catch (err) {
        await setup.cleanup();
        throw err;
      }
      const request = clientCredentialsRequest(setup.baseUrl);
      return { child, request, check: () => checkClientCredentials('ours', request), cleanup: setup.cleanup };
    },
  };
}

async function deleteRedisPrefix(prefix: string): Promise<void> {
  const redis = new Redis({ host: REDIS.host, port: REDIS.port, lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
  } catch (err) {
    console.warn(`could not delete Redis keys ${prefix}*: ${(err as Error).message}`);
  } finally {
    redis.disconnect();
  }
}

const redisSkip = async () =>
  (await redisAnswers(REDIS.host, REDIS.port)) ? undefined : `Redis does not answer on ${REDIS.host}:${REDIS.port}`;

// ---------------------------------------------------------------------------------------------
// API-key verification: POST /v1/keys/verify, ours vs a minimal Koa handler; and in process

const VERIFY_SCOPE = 'read:logs';

/** Our server's prepared config with a valid key on its store, shared by the two targets of a verify scenario. */
interface VerifyFixture extends OursSetup {
  key: string;
  keyId: string;
}

/**
 * Runs the bootstrap CLI (`npm run cli -- bootstrap`, i.e. `node src/cli/main.ts bootstrap`) against our
 * server's config: a root project and a key holding every scope (read:logs among them) on its store.
 */
async function bootstrapKey(setup: OursSetup): Promise<{ key: string; id: string }> {
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      ['src/cli/main.ts', 'bootstrap', '--project', 'bench', '--json'],
      { cwd: ROOT_DIR, env: { ...process.env, ...NO_STORE_OVERRIDES, LOGTRACE_CONFIG: setup.configPath }, timeout: 60_000 },
      (err, out, errOut) => (err ? reject(new Error(`bootstrap CLI failed: ${err.message}\n${errOut}`)) : resolve(out)),
    );
  });
  const line = stdout.trim().split('\n').pop() ?? '';
  const parsed = JSON.parse(line) as { key?: { id?: string; key?: string; scopes?: string[] } | null };
  if (!parsed.key?.key || !parsed.key.id) throw new Error(`bootstrap CLI printed no key: ${stdout.slice(0, 300)}`);
  if (!parsed.key.scopes?.includes(VERIFY_SCOPE)) throw new Error(`the bootstrap key lacks ${VERIFY_SCOPE}: ${line}`);
  return { key: parsed.key.key, id: parsed.key.id };
}

async function createVerifyFixture(options: OursOptions): Promise<VerifyFixture> {
  const setup = await prepareOurs(options);
  try {
    const { key, id } = await bootstrapKey(setup);
    return { ...setup, key, keyId: id };
  } catch (err) {
    await setup.cleanup();
    throw err;
  }
}

function verifyRequest(baseUrl: string, key: string): HttpRequest {
  return {
    url: `${baseUrl}/v1/keys/verify`,
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ key, scope: VERIFY_SCOPE }),
    // A 200 may still say `"valid":false`: the load generator counts such a body as a failure.
    expectBodyIncludes: '"valid":true',
  };
}

/** One verification: 200 and `valid: true`; for ours also the key's id and the scope. */
async function checkVerify(name: string, request: HttpRequest, keyId?: string): Promise<void> {
  const res = await fetch(request.url, { method: request.method, headers: request.headers, body: request.body ?? null });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${name}: verify answered ${res.status}: ${text.slice(0, 300)}`);
  const body = JSON.parse(text) as { valid?: unknown; key_id?: unknown; scopes?: unknown };
  const problems = [
    body.valid !== true && `valid ${JSON.stringify(body.valid)}`,
    keyId !== undefined && body.key_id !== keyId && `key_id ${JSON.stringify(body.key_id)}`,
    keyId !== undefined && !(Array.isArray(body.scopes) && body.scopes.includes(VERIFY_SCOPE)) && `scopes ${JSON.stringify(body.scopes)}`,
  ].filter(Boolean);
  if (problems.length) throw new Error(`${name}: unexpected verify answer (${problems.join(', ')}): ${text.slice(0, 300)}`);
}

/**
 * The two targets of a verify scenario, sharing one fixture: our server's config, store and key. The
 * first target to start creates it (temp dir, bootstrap CLI); it is removed when both have stopped.
 * The minimal handler opens the same store as our server (the same lmdb directory, or the same Redis
 * URL and prefix), so both read the record the CLI wrote.
 */
function verifyTargets(store: OursOptions['store']): { baseline: TargetSpec; subject: TargetSpec } {
  const options: OursOptions = { store };
  let fixture: Promise<VerifyFixture> | undefined;
  let users = 0;
  const acquire = (): Promise<VerifyFixture> => {
    users++;
    fixture ??= createVerifyFixture(options);
    return fixture;
  };
  const release = async (): Promise<void> => {
    if (--users > 0) return;
    const done = fixture;
    fixture = undefined;
    const f = await done?.catch(() => undefined);
    await f?.cleanup();
  };
  /** Runs `start` on the shared fixture; gives the fixture back if it fails. */
  const withFixture = async (start: (f: VerifyFixture) => Promise<Running>): Promise<Running> => {
    try {
      return await start(await acquire());
    } catch (err) {
      await release();
      throw err;
    }
  };
  const baseline: TargetSpec = {
    label: 'minimal',
    describe: `minimal Koa handler (bench/minimal-verify.ts): JSON body, one store.get, {valid:true}; same ${store} store as ours`,
    start: () =>
      withFixture(async (f) => {
        const port = await freePort();
        const child = await startChild({
          name: `minimal verify (${store})`,
          cmd: process.execPath,
          args: [path.join(BENCH_DIR, 'minimal-verify.ts')],
          env: { PORT: String(port), STORE_JSON: JSON.stringify(f.store), NODE_ENV: 'production' },
          readyUrl: `http://127.0.0.1:${port}/healthz`,
        });
        const request = verifyRequest(`http://127.0.0.1:${port}`, f.key);
        return { child, request, check: () => checkVerify('minimal', request), cleanup: release };
      }),
  };
  const subject: TargetSpec = {
    label: 'ours',
    describe: `src/main.ts, ${store} store, POST /v1/keys/verify with the bootstrap key (scope ${VERIFY_SCOPE})`,
    start: () =>
      withFixture(async (f) => {
        const child = await launchOurs(options, f);
        const request = verifyRequest(f.baseUrl, f.key);
        return { child, request, check: () => checkVerify('ours', request, f.keyId), cleanup: release };
      }),
  };
  return { baseline, subject };
}

/**
 * In process (bench/inprocess-verify.ts, a child of its own): `keys.verify()` or the bare `store.get`
 * it makes, `concurrency` at a time, on a store of its own (temp lmdb directory or random Redis prefix).
 */
function inProcess(mode: 'verify' | 'get', store: OursOptions['store'], concurrency: number): TargetSpec {
  return {
    label: mode === 'verify' ? 'verify' : 'store.get',
    describe:
      (mode === 'verify' ? `keys.verify(key, { scope: '${VERIFY_SCOPE}' })` : 'store.get(apikey:hash:{sha256}) alone') +
      `, ${store} store, ${concurrency === 1 ? 'one at a time' : `batches of ${concurrency} in Promise.all`}`,
    async start() {
      const port = await freePort();
      const dir = await mkdtemp(path.join(os.tmpdir(), 'logtrace-bench-inproc-'));
      const prefix = `bench${randomBytes(6).toString('hex')}:`;
      const storeConfig: OpenStoreConfig =
        store === 'embedded' ? { driver: 'embedded', path: path.join(dir, 'data') } : { driver: 'redis', url: `redis://${REDIS.host}:${REDIS.port}`, prefix };
      const cleanup = async () => {
        await rm(dir, { recursive: true, force: true });
        if (store === 'redis') await deleteRedisPrefix(prefix);
      };
      const baseUrl = `http://127.0.0.1:${port}`;
      let child: Child;
      try {
        child = await startChild({
          name: `in-process ${mode} (${store}, concurrency ${concurrency})`,
          cmd: process.execPath,
          args: [path.join(BENCH_DIR, 'inprocess-verify.ts')],
          env: { PORT: String(port), MODE: mode, CONCURRENCY: String(concurrency), STORE_JSON: JSON.stringify(storeConfig), NODE_ENV: 'production' },
          readyUrl: `${baseUrl}/ready`,
        });
      } catch (err) {
        await cleanup();
        throw err;
      }
      return driven(child, baseUrl, `in-process ${mode}`, cleanup);
    },
  };
}

/**
 * A child driven over its control endpoint (GET /ready, POST /run?seconds=S answering an InProcessRun:
 * inprocess-verify.ts, verifier-inprocess.ts) as a target: no HTTP load, operations per second.
 */
function driven(child: Child, baseUrl: string, name: string, cleanup: () => Promise<void>): Running {
  const runFor = async (seconds: number): Promise<InProcessRun> => {
    const res = await fetch(`${baseUrl}/run?seconds=${seconds}`, { method: 'POST', signal: AbortSignal.timeout(seconds * 1000 + 30_000) });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${name}: run answered ${res.status}: ${text.slice(0, 300)}`);
    return JSON.parse(text) as InProcessRun;
  };
  return {
    child,
    async run(opts, onMeasureStart) {
      const warm = opts.warmup > 0 ? await runFor(opts.warmup) : undefined;
      onMeasureStart();
      const r = await runFor(opts.duration);
      const failureSample = r.failureSample ?? warm?.failureSample;
      return {
        rps: r.ops / r.seconds,
        p50: Number.NaN,
        p90: Number.NaN,
        p99: Number.NaN,
        max: Number.NaN,
        responses: r.ops,
        ok: r.ops - r.invalid - r.thrown,
        non2xx: r.invalid,
        errors: r.thrown,
        timeouts: 0,
        mismatches: 0,
        warmupFailures: (warm?.invalid ?? 0) + (warm?.thrown ?? 0),
        ...(failureSample !== undefined ? { failureSample } : {}),
        statusCodes: { ok: r.ops - r.invalid - r.thrown, ...(r.invalid ? { invalid: r.invalid } : {}), ...(r.thrown ? { thrown: r.thrown } : {}) },
        seconds: r.seconds,
        // No load generator: the harness only waits for the answer.
        cpuSeconds: 0,
      };
    },
    async check() {
      const r = await runFor(0.05);
      if (r.ops === 0 || r.invalid || r.thrown) throw new Error(`${name}: ${r.ops} ops, ${r.invalid} invalid, ${r.thrown} thrown: ${r.failureSample ?? ''}`);
    },
    cleanup,
  };
}

/** What bench/inprocess-verify.ts answers to POST /run. */
interface InProcessRun {
  ops: number;
  invalid: number;
  thrown: number;
  seconds: number;
  failureSample?: string;
}

const VERIFY_HTTP_TIMING: Partial<Timing> = { rounds: 4, duration: 3, warmup: 1 };
const INPROCESS_TIMING: Partial<Timing> = { rounds: 3, duration: 1, warmup: 0.5 };
const INPROCESS_QUICK_TIMING: Partial<Timing> = { rounds: 2, duration: 0.5, warmup: 0.25 };

function verifyScenario(store: OursOptions['store']): Scenario {
  return {
    name: `verify-${store}`,
    title: `POST /v1/keys/verify, valid key — ours (${store === 'embedded' ? 'embedded lmdb' : 'Redis'}) vs a minimal Koa handler doing one store read on the same store`,
    byDefault: true,
    ...(store === 'redis' ? { skip: redisSkip } : {}),
    timing: VERIFY_HTTP_TIMING,
    target: { rps: 0.8 },
    ...verifyTargets(store),
  };
}

function inProcessScenario(store: OursOptions['store'], concurrency: number): Scenario {
  return {
    name: `verify-inprocess-${store}${concurrency === 1 ? '' : `-c${concurrency}`}`,
    title: `keys.verify() in process, no HTTP — vs the bare store.get it makes (${store}, ${concurrency === 1 ? 'one at a time' : `${concurrency} at a time`})`,
    byDefault: true,
    kind: 'inprocess',
    ...(store === 'redis' ? { skip: redisSkip } : {}),
    timing: INPROCESS_TIMING,
    quickTiming: INPROCESS_QUICK_TIMING,
    baseline: inProcess('get', store, concurrency),
    subject: inProcess('verify', store, concurrency),
  };
}

/** Our server's verify endpoint on its own store and bootstrap key (Cluster vs standalone: two servers). */
function oursVerify(options: OursOptions, label: string): TargetSpec {
  return {
    label,
    describe: `src/main.ts, ${options.store} store, POST /v1/keys/verify with the bootstrap key (scope ${VERIFY_SCOPE})`,
    async start() {
      const fixture = await createVerifyFixture(options);
      try {
        const child = await launchOurs(options, fixture);
        const request = verifyRequest(fixture.baseUrl, fixture.key);
        return { child, request, check: () => checkVerify(label, request, fixture.keyId), cleanup: fixture.cleanup };
      } catch (err) {
        await fixture.cleanup();
        throw err;
      }
    },
  };
}

/**
 * Our server with an OAuth client registered at run time (POST /v1/clients, src/clients) instead of one in
 * the configuration file: every token request finds the client in the store and compares the presented
 * secret with its SHA-256 hash (src/oidc/registered-clients.ts), where a configuration client is in
 * memory with its secret in clear.
 */
function oursRegisteredClient(options: OursOptions): TargetSpec {
  return {
    label: 'registered',
    describe: `src/main.ts, ${options.store} store, a client registered with POST /v1/clients (hashed secret, looked up per request)`,
    async start() {
      const setup = await prepareOurs(options);
      try {
        const admin = await bootstrapKey(setup);
        const child = await launchOurs(options, setup);
        const auth = { authorization: `Bearer ${admin.key}` };
        const projects = (await (await fetch(`${setup.baseUrl}/v1/projects`, { headers: auth })).json()) as { projects: Array<{ id: string }> };
        const answer = await fetch(`${setup.baseUrl}/v1/clients`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body: JSON.stringify({ project_id: projects.projects[0]!.id, name: 'bench-svc', type: 'confidential', grant_types: ['client_credentials'], scopes: ['read:logs', 'write:alerts'] }),
        });
        const registered = (await answer.json()) as { client_id?: string; client_secret?: string };
        if (answer.status !== 201 || !registered.client_id || !registered.client_secret) throw new Error(`registering the bench client answered ${answer.status}: ${JSON.stringify(registered)}`);
        const request = clientCredentialsRequest(setup.baseUrl, { client_id: registered.client_id, client_secret: registered.client_secret });
        return { child, request, check: () => checkClientCredentials('registered', request, registered.client_id), cleanup: setup.cleanup };
      } catch (err) {
        await setup.cleanup();
        throw err;
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The verifier library (logtrace-auth/verifier): in process vs over HTTP, and vs bare jose

/** Our server running for the verifier scenarios, with an admin key, a read:logs key and a token. */
interface VerifierFixture extends OursSetup {
  server: Child;
  adminKey: string;
  key: string;
  keyId: string;
  token: string;
}

async function createVerifierFixture(): Promise<VerifierFixture> {
  const options: OursOptions = { store: 'embedded' };
  const setup = await prepareOurs(options);
  try {
    const admin = await bootstrapKey(setup);
    const server = await launchOurs(options, setup);
    const project = (await (await fetch(`${setup.baseUrl}/v1/projects`, { headers: { authorization: `Bearer ${admin.key}` } })).json()) as { projects: Array<{ id: string }> };
    const created = (await (
      await fetch(`${setup.baseUrl}/v1/keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ project_id: project.projects[0]!.id, name: 'bench-reader', scopes: [VERIFY_SCOPE], environment: 'live' }),
      })
    ).json()) as { id: string; key: string };
    const tokenRequest = clientCredentialsRequest(setup.baseUrl);
    const token = ((await (await fetch(tokenRequest.url, { method: tokenRequest.method, headers: tokenRequest.headers, body: tokenRequest.body ?? null })).json()) as { access_token: string }).access_token;
    return { ...setup, server, adminKey: admin.key, key: created.key, keyId: created.id, token };
  } catch (err) {
    await setup.cleanup();
    throw err;
  }
}

/** One fixture shared by a scenario's two targets; the server stops and the files go when both are done. */
function sharedVerifierFixture() {
  let fixture: Promise<VerifierFixture> | undefined;
  let users = 0;
  return {
    acquire(): Promise<VerifierFixture> {
      users++;
      fixture ??= createVerifierFixture();
      return fixture;
    },
    async release(): Promise<void> {
      if (--users > 0) return;
      const f = await fixture?.catch(() => undefined);
      fixture = undefined;
      await f?.server.stop();
      await f?.cleanup();
    },
  };
}

function verifierChild(label: string, describe: string, mode: 'apikey' | 'jwt' | 'jose', shared: ReturnType<typeof sharedVerifierFixture>): TargetSpec {
  return {
    label,
    describe,
    async start() {
      const f = await shared.acquire();
      try {
        const port = await freePort();
        const baseUrl = `http://127.0.0.1:${port}`;
        const child = await startChild({
          name: `verifier in process (${mode})`,
          cmd: process.execPath,
          args: [path.join(BENCH_DIR, 'verifier-inprocess.ts')],
          env: { PORT: String(port), MODE: mode, ISSUER: f.baseUrl, AUDIENCE, KEY: f.key, CREDENTIAL: f.adminKey, TOKEN: f.token, NODE_ENV: 'production' },
          readyUrl: `${baseUrl}/ready`,
        });
        return driven(child, baseUrl, `verifier ${mode}`, () => shared.release());
      } catch (err) {
        await shared.release();
        throw err;
      }
    },
  };
}

function verifierApiKeyScenario(): Scenario {
  const shared = sharedVerifierFixture();
  return {
    name: 'verifier-apikey',
    title: 'API key: the verifier library from its cache, in process — vs POST /v1/keys/verify over HTTP (ours, embedded, 16 connections)',
    byDefault: true,
    kind: 'inprocess',
    timing: INPROCESS_TIMING,
    quickTiming: INPROCESS_QUICK_TIMING,
    target: { rps: 50 },
    baseline: {
      label: 'http',
      describe: 'src/main.ts, embedded store, POST /v1/keys/verify of a read:logs key',
      async start() {
        const f = await shared.acquire();
        const request = verifyRequest(f.baseUrl, f.key);
        // The fixture's server is this target's child: the harness stops it; release() then finds it stopped.
        return { child: f.server, request, check: () => checkVerify('http', request, f.keyId), cleanup: () => shared.release() };
      },
    },
    subject: verifierChild('verifier', "verifier.verify({ apiKey, ip }) with apiKeys.credential: cached after the first call (event stream live)", 'apikey', shared),
  };
}

function verifierJwtScenario(): Scenario {
  const shared = sharedVerifierFixture();
  return {
    name: 'verifier-jwt',
    title: 'access token (ES256 JWT): verifier.verify() in process — vs bare jose.jwtVerify with the key imported once',
    byDefault: true,
    kind: 'inprocess',
    timing: INPROCESS_TIMING,
    quickTiming: INPROCESS_QUICK_TIMING,
    target: { rps: 0.9 },
    baseline: verifierChild('jose', 'jwtVerify(token, importedKey, { issuer, audience })', 'jose', shared),
    subject: verifierChild('verifier', "verifier.verify({ authorization: 'Bearer …' }): cached JWKS, typ/alg/iss/aud/exp checks", 'jwt', shared),
  };
}

// ---------------------------------------------------------------------------------------------
// Probes: measurements that are not a pair of targets

interface ProbeReport {
  name: string;
  title: string;
  status: 'ok' | 'skipped' | 'failed';
  reason?: string;
  lines: string[];
  result?: Record<string, unknown>;
}

interface Probe {
  name: string;
  title: string;
  byDefault: boolean;
  run(flags: Flags): Promise<{ lines: string[]; result: Record<string, unknown> }>;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
}

/**
 * Revocation propagation: a key cached by a verifier (in this process) is revoked with DELETE /v1/keys/{id};
 * the time from the revoke's answer until the verifier refuses the key. Two server nodes on one Redis when
 * Redis answers (revoked on one, the verifier on the other), else one node on the embedded store.
 */
const revocationProbe: Probe = {
  name: 'verifier-revocation',
  title: 'revocation propagation to a verifier: DELETE /v1/keys/{id} answered → the verifier refuses the key',
  byDefault: true,
  async run(flags) {
    const { createVerifier } = await import('../src/verifier/index.ts');
    const useRedis = await redisAnswers(REDIS.host, REDIS.port);
    // One log API (credential) and one end-client address revoking 100 keys a minute is a bench artifact
    // the verify limiter would throttle.
    const apiKeys = { verify_failures_per_minute: 100_000 };
    const options: OursOptions = { store: useRedis ? 'redis' : 'embedded', config: { api_keys: apiKeys } };
    const first = await prepareOurs(options);
    const setups = [first];
    const children: Child[] = [];
    try {
      if (useRedis) {
        // A second node on the same Redis prefix: its own port and config file.
        const port = await freePort();
        const baseUrl = `http://127.0.0.1:${port}`;
        const configPath = path.join(first.dir, 'config-b.yaml');
        await writeFile(configPath, toYaml({ issuer: baseUrl, port, host: '127.0.0.1', log_level: 'warn', store: first.store, resource: { audience: AUDIENCE, scopes: RESOURCE_SCOPES }, clients: [CLIENT], api_keys: apiKeys }));
        setups.push({ ...first, baseUrl, configPath, cleanup: async () => undefined });
      }
      const admin = await bootstrapKey(first);
      for (const setup of setups) children.push(await launchOurs(options, setup));
      const revoker = setups[0]!.baseUrl;
      const verifierNode = setups.at(-1)!.baseUrl;
      const verifier = createVerifier({ issuer: verifierNode, audience: AUDIENCE, apiKeys: { credential: admin.key }, onError: () => undefined });
      if (!(await verifier.ready(30_000))) throw new Error('the verifier’s event stream did not connect');
      const auth = { authorization: `Bearer ${admin.key}`, 'content-type': 'application/json' };
      const projectId = ((await (await fetch(`${revoker}/v1/projects`, { headers: auth })).json()) as { projects: Array<{ id: string }> }).projects[0]!.id;
      const samples: number[] = [];
      const count = flags.quick ? 20 : 100;
      try {
        for (let i = 0; i < count; i++) {
          const created = (await (await fetch(`${revoker}/v1/keys`, { method: 'POST', headers: auth, body: JSON.stringify({ project_id: projectId, name: `r${i}`, scopes: ['read:logs'], environment: 'live' }) })).json()) as { id: string; key: string };
          await verifier.verify({ apiKey: created.key, ip: '127.0.0.1' });
          // Cached now (a second verification makes no server call).
          await verifier.verify({ apiKey: created.key, ip: '127.0.0.1' });
          const revoked = await fetch(`${revoker}/v1/keys/${created.id}`, { method: 'DELETE', headers: auth });
          await revoked.arrayBuffer();
          const answered = performance.now();
          if (revoked.status !== 200) throw new Error(`revoke answered ${revoked.status}`);
          for (;;) {
            const refused = await verifier.verify({ apiKey: created.key, ip: '127.0.0.1' }).then(() => false, () => true);
            if (refused) break;
            if (performance.now() - answered > 30_000) throw new Error('a revoked key was still accepted after 30 s');
            await sleep(1);
          }
          samples.push(performance.now() - answered);
        }
      } finally {
        await verifier.close();
      }
      const sorted = [...samples].sort((x, y) => x - y);
      const result = { revocations: samples.length, nodes: setups.length, store: options.store, p50_ms: percentile(sorted, 50), p99_ms: percentile(sorted, 99), max_ms: sorted.at(-1) ?? Number.NaN, target_p99_ms: 1000 };
      const lines = [
        `  ${samples.length} revocations, ${setups.length === 2 ? 'revoked on node A, verifier on node B (one Redis)' : 'one node (embedded store)'}, event log read every 100 ms (default)`,
        `  propagation p50 ${fmt(result.p50_ms, 1)} ms  p99 ${fmt(result.p99_ms, 1)} ms  max ${fmt(result.max_ms, 1)} ms — target p99 ≤ 1000 ms: ${result.p99_ms <= 1000 ? 'met' : 'NOT MET'}`,
      ];
      return { lines, result };
    } finally {
      for (const child of children) await child.stop();
      await first.cleanup();
    }
  },
};

const PROBES: Probe[] = [revocationProbe];

const cores = os.availableParallelism();
/** CPU used by other processes during a run above which the run is flagged as disturbed. */
const OTHER_CORES_WARN = 0.2;

/** Add scenarios here: a baseline and a subject with their own requests. */
const SCENARIOS: Scenario[] = [
  {
    name: 'cc-embedded',
    title: 'client_credentials token, ES256 JWT — ours (embedded lmdb) vs bare oidc-provider',
    byDefault: true,
    baseline: bareProvider(),
    subject: ours({ store: 'embedded' }),
  },
  {
    name: 'cc-redis',
    title: 'client_credentials token, ES256 JWT — ours (Redis) vs bare oidc-provider',
    byDefault: true,
    skip: redisSkip,
    baseline: bareProvider(),
    subject: ours({ store: 'redis' }),
  },
  {
    name: 'cc-workers',
    title: `client_credentials token, ES256 JWT — ours (embedded, WORKERS=${cores}) vs bare oidc-provider (1 process)`,
    byDefault: true,
    baseline: bareProvider(),
    subject: ours({ store: 'embedded', env: { WORKERS: String(cores) } }),
    notes(subject) {
      const notes = [
        `the load generator runs on the same ${cores}-core machine, so ${cores} server processes compete with it for CPU`,
      ];
      if (subject.processes <= 1) {
        notes.push(`WORKERS=${cores} did not take effect: our server ran ${subject.processes} process, so this row measures a single process`);
      }
      return notes;
    },
  },
  {
    name: 'cc-cluster',
    title: 'client_credentials token, ES256 JWT — ours on a 3-master Redis Cluster vs ours on standalone Redis',
    byDefault: true,
    target: { rps: 0.9 },
    baseline: { ...ours({ store: 'redis-own' }), label: 'standalone' },
    subject: { ...ours({ store: 'redis-cluster' }), label: 'cluster' },
  },
  {
    name: 'verify-cluster',
    title: 'POST /v1/keys/verify, valid key — ours on a 3-master Redis Cluster vs ours on standalone Redis',
    byDefault: true,
    timing: VERIFY_HTTP_TIMING,
    target: { rps: 0.9 },
    baseline: oursVerify({ store: 'redis-own' }, 'standalone'),
    subject: oursVerify({ store: 'redis-cluster' }, 'cluster'),
  },
  {
    name: 'cc-workers-2-vs-1',
    title: 'client_credentials token, ES256 JWT — ours with workers: 2 vs workers: 1 (embedded): CPU per token',
    byDefault: true,
    baseline: { ...ours({ store: 'embedded', env: { WORKERS: '1' } }), label: 'workers:1' },
    subject: { ...ours({ store: 'embedded', env: { WORKERS: '2' } }), label: 'workers:2' },
    notes(subject) {
      return subject.processes <= 2 ? [`workers: 2 did not take effect: ${subject.processes} process(es)`] : [];
    },
  },
  {
    name: 'cc-registered-embedded',
    title: 'client_credentials token — a client registered at run time vs a configuration-file client (both ours, embedded)',
    byDefault: true,
    target: { rps: 0.9 },
    baseline: { ...ours({ store: 'embedded' }), label: 'config' },
    subject: oursRegisteredClient({ store: 'embedded' }),
  },
  {
    name: 'cc-registered-redis',
    title: 'client_credentials token — a client registered at run time vs a configuration-file client (both ours, Redis)',
    byDefault: true,
    skip: redisSkip,
    target: { rps: 0.9 },
    baseline: { ...ours({ store: 'redis' }), label: 'config' },
    subject: oursRegisteredClient({ store: 'redis' }),
  },
  verifyScenario('embedded'),
  verifyScenario('redis'),
  inProcessScenario('embedded', 1),
  inProcessScenario('embedded', 16),
  inProcessScenario('redis', 1),
  inProcessScenario('redis', 16),
  verifierApiKeyScenario(),
  verifierJwtScenario(),
  {
    name: 'cc-bare-vs-bare',
    title: 'calibration (A/A): bare oidc-provider vs another bare oidc-provider — the noise floor of the ratios',
    byDefault: false,
    baseline: bareProvider(),
    subject: { ...bareProvider(), label: 'bare#2' },
  },
];

// ---------------------------------------------------------------------------------------------
// Measuring

interface Round extends LoadResult {
  round: number;
  /** Server CPU (all processes of its group) per response, in microseconds. */
  cpuUsPerReq: number;
  /** CPU cores the server used on average during the run (may exceed 1: GC and libuv threads). */
  serverCores: number;
  /** Whole machine (server + load generator + everything else) busy %, during the run. */
  hostBusy: number;
  /** Cores used by the load generator, and by everything else on the machine (other jobs: noise). */
  loadgenCores: number;
  otherCores: number;
  /** Server resident memory (all its processes) at the end of the round: growth across rounds hints at a leak. */
  rssMiB: number;
  /** Output lines the server wrote during the round (log spam shows here). */
  logLines: number;
  processes: number;
}

interface TargetSummary {
  label: string;
  describe: string;
  rounds: Round[];
  rps: number;
  p50: number;
  p99: number;
  cpuUsPerReq: number;
  serverCores: number;
  hostBusy: number;
  otherCores: number;
  /** non-2xx + socket errors + timeouts + body mismatches, all rounds, warm-ups included. */
  errors: number;
  /** The first failing answer seen, if any. */
  failureSample?: string;
  statusCodes: Record<string, number>;
  logLines: number;
  processes: number;
}

interface ScenarioReport {
  name: string;
  title: string;
  status: 'ok' | 'skipped' | 'failed';
  reason?: string;
  /** `inprocess`: req/s are operations/s of a function call, no latencies. */
  kind: 'http' | 'inprocess';
  /** Rounds, seconds per measured run and warm-up this scenario ran with (its own, or the flags'). */
  timing: Timing & { connections: number };
  /** The ratio reported against, and whether the medians met it (not enforced: the run still passes). */
  target?: { rps: number; met: boolean };
  baseline?: TargetSummary;
  subject?: TargetSummary;
  /** subject / baseline, medians of rounds. */
  ratios?: { rps: number; p50: number; p99: number; cpuUsPerReq: number };
  /** subject / baseline within each round (adjacent in time): their spread shows how noisy the ratios are. */
  roundRatios?: { rps: number[]; p50: number[]; cpuUsPerReq: number[] };
  notes: string[];
}

/** Every failed request of a round: non-2xx, socket errors, timeouts, wrong bodies, and those of its warm-up. */
function roundErrors(r: LoadResult): number {
  return r.non2xx + r.errors + r.timeouts + r.mismatches + r.warmupFailures;
}

function summarize(spec: TargetSpec, rounds: Round[]): TargetSummary {
  const statusCodes: Record<string, number> = {};
  for (const r of rounds) for (const [code, n] of Object.entries(r.statusCodes)) statusCodes[code] = (statusCodes[code] ?? 0) + n;
  const failureSample = rounds.find((r) => r.failureSample !== undefined)?.failureSample;
  return {
    label: spec.label,
    describe: spec.describe,
    rounds,
    rps: median(rounds.map((r) => r.rps)),
    p50: median(rounds.map((r) => r.p50)),
    p99: median(rounds.map((r) => r.p99)),
    cpuUsPerReq: median(rounds.map((r) => r.cpuUsPerReq)),
    serverCores: median(rounds.map((r) => r.serverCores)),
    hostBusy: median(rounds.map((r) => r.hostBusy)),
    otherCores: median(rounds.map((r) => r.otherCores)),
    errors: rounds.reduce((n, r) => n + roundErrors(r), 0),
    ...(failureSample !== undefined ? { failureSample } : {}),
    statusCodes,
    logLines: rounds.reduce((n, r) => n + r.logLines, 0),
    processes: Math.max(0, ...rounds.map((r) => r.processes)),
  };
}

function laterWarmup(flags: Flags, round: number): number {
  return round === 1 ? flags.warmup : Math.min(flags.warmup, 0.5);
}

async function measure(running: Running, flags: Flags, round: number): Promise<Round> {
  const { child } = running;
  let cpuBefore = child.cpuSeconds();
  let hostBefore = hostCpu();
  const linesBefore = child.outputLines();
  let processes = child.processes().length;
  const options: LoadOptions = {
    url: '',
    method: 'GET',
    ...running.request,
    connections: flags.connections,
    duration: flags.duration,
    // The first round warms the JIT; later ones only re-open the connections and let them settle.
    warmup: laterWarmup(flags, round),
  };
  if (!running.run && !running.request) throw new Error(`${child.name}: neither a request nor a run()`);
  const result = await (running.run ? running.run.bind(running) : runLoad)(
    options,
    () => {
      cpuBefore = child.cpuSeconds();
      hostBefore = hostCpu();
      processes = Math.max(processes, child.processes().length);
    },
  );
  const cpu = child.cpuSeconds() - cpuBefore;
  const hostBusy = busyPercent(hostBefore, hostCpu());
  const exit = child.exitStatus();
  if (exit !== undefined) throw new Error(`${child.name} died during the load (${exit}):\n${child.tail()}`);
  return {
    ...result,
    round,
    cpuUsPerReq: result.responses > 0 ? (cpu * 1e6) / result.responses : Number.NaN,
    serverCores: cpu / result.seconds,
    hostBusy,
    loadgenCores: result.cpuSeconds / result.seconds,
    rssMiB: child.rssMiB(),
    otherCores: Math.max(0, (hostBusy / 100) * cores - cpu / result.seconds - result.cpuSeconds / result.seconds),
    logLines: child.outputLines() - linesBefore,
    processes: Math.max(processes, child.processes().length),
  };
}

function roundLine(label: string, r: Round, kind: Scenario['kind']): string {
  const errors = roundErrors(r);
  const rates =
    kind === 'inprocess'
      ? `${fmt(r.rps).padStart(9)} ops/s  ${fmt(1e6 / r.rps, 2).padStart(6)} µs/op  cpu ${fmt(r.cpuUsPerReq, 2).padStart(6)} µs/op  `
      : `${fmt(r.rps).padStart(7)} req/s  p50 ${fmt(r.p50, 2).padStart(6)} ms  p99 ${fmt(r.p99, 2).padStart(7)} ms  cpu ${fmt(r.cpuUsPerReq).padStart(5)} µs/req  `;
  return (
    `  round ${r.round} ${label.padEnd(9)} ${rates}` +
    `cores: server ${fmt(r.serverCores, 2)} load ${fmt(r.loadgenCores, 2)} other ${fmt(r.otherCores, 2)}  rss ${fmt(r.rssMiB)} MiB` +
    (errors
      ? `  !!! ${errors} ERRORS ${JSON.stringify(r.statusCodes)} sock=${r.errors} timeouts=${r.timeouts} wrong-body=${r.mismatches} warm-up=${r.warmupFailures}` +
        (r.failureSample !== undefined ? ` first: ${r.failureSample.slice(0, 160)}` : '')
      : '') +
    (r.logLines ? `  (${r.logLines} log lines)` : '')
  );
}

/** The flags with this scenario's own timing, where the command line did not set it. */
function timingFor(scenario: Scenario, flags: Flags): Flags {
  const own = flags.quick ? scenario.quickTiming : scenario.timing;
  const pick = (k: keyof Timing) => (flags.explicit.has(k) ? flags[k] : (own?.[k] ?? flags[k]));
  return { ...flags, rounds: pick('rounds'), duration: pick('duration'), warmup: pick('warmup') };
}

async function runScenario(scenario: Scenario, flags: Flags): Promise<ScenarioReport> {
  const report: ScenarioReport = {
    name: scenario.name,
    title: scenario.title,
    status: 'ok',
    kind: scenario.kind ?? 'http',
    timing: { rounds: flags.rounds, duration: flags.duration, warmup: flags.warmup, connections: flags.connections },
    notes: [],
  };
  console.log(`\n=== ${scenario.name}: ${scenario.title}`);
  console.log(
    `  ${flags.rounds} round(s) × ${flags.duration} s per target, warm-up ${flags.warmup} s then ${laterWarmup(flags, 2)} s` +
      (report.kind === 'http' ? `, ${flags.connections} connections` : ''),
  );
  const reason = await scenario.skip?.();
  if (reason) {
    console.log(`  skipped: ${reason}`);
    return { ...report, status: 'skipped', reason };
  }
  const targets = [scenario.baseline, scenario.subject];
  const running: Running[] = [];
  const rounds: Round[][] = [[], []];
  try {
    for (const spec of targets) {
      const started = Date.now();
      const r = await spec.start();
      running.push(r);
      await r.check();
      console.log(`  ${spec.label}: ${spec.describe} — ready in ${Date.now() - started} ms, ${r.child.processes().length} process(es)`);
    }
    for (let round = 1; round <= flags.rounds; round++) {
      for (const [i, spec] of targets.entries()) {
        const r = running[i];
        if (!r) throw new Error('target not started');
        const measured = await measure(r, flags, round);
        rounds[i]?.push(measured);
        console.log(roundLine(spec.label, measured, scenario.kind));
      }
    }
    // Still answering correctly after the load?
    for (const r of running) await r.check();
  } catch (err) {
    report.status = 'failed';
    report.reason = (err as Error).message;
    console.error(`  FAILED: ${report.reason}`);
  } finally {
    for (const r of running) {
      await r.child.stop();
      await r.cleanup();
    }
  }
  const [baseRounds = [], subjectRounds = []] = rounds;
  if (baseRounds.length && subjectRounds.length) {
    const baseline = summarize(scenario.baseline, baseRounds);
    const subject = summarize(scenario.subject, subjectRounds);
    report.baseline = baseline;
    report.subject = subject;
    report.ratios = {
      rps: subject.rps / baseline.rps,
      p50: subject.p50 / baseline.p50,
      p99: subject.p99 / baseline.p99,
      cpuUsPerReq: subject.cpuUsPerReq / baseline.cpuUsPerReq,
    };
    const pairs = baseRounds.slice(0, subjectRounds.length).map((b, i) => [b, subjectRounds[i] ?? b] as const);
    report.roundRatios = {
      rps: pairs.map(([b, o]) => o.rps / b.rps),
      p50: pairs.map(([b, o]) => o.p50 / b.p50),
      cpuUsPerReq: pairs.map(([b, o]) => o.cpuUsPerReq / b.cpuUsPerReq),
    };
    if (scenario.target) {
      const met = report.ratios.rps >= scenario.target.rps;
      report.target = { rps: scenario.target.rps, met };
      report.notes.push(
        `target ${subject.label}/${baseline.label} ≥ ${scenario.target.rps.toFixed(2)}× throughput (reported, not enforced): ` +
          `${met ? 'met' : 'NOT MET'} at ${ratio(report.ratios.rps)} (per-round ${spread(report.roundRatios.rps)})`,
      );
    }
    report.notes.push(...(scenario.notes?.(subject, baseline) ?? []));
    const busyRounds = [...baseRounds, ...subjectRounds].filter((r) => r.otherCores >= OTHER_CORES_WARN).length;
    if (busyRounds) {
      report.notes.push(
        `other processes used ≥${OTHER_CORES_WARN} core in ${busyRounds} of ${baseRounds.length + subjectRounds.length} runs: ` +
          `they competed for CPU, so these numbers are less trustworthy (the median of rounds absorbs a few such runs)`,
      );
    }
    for (const t of [baseline, subject]) {
      if (t.errors) {
        report.notes.push(
          `!!! ${t.label}: ${t.errors} failed requests (status codes ${JSON.stringify(t.statusCodes)})` +
            (t.failureSample !== undefined ? `; first failing answer: ${t.failureSample}` : ''),
        );
      }
      if (t.logLines) report.notes.push(`${t.label} wrote ${t.logLines} log lines under load at log_level warn`);
    }
  }
  return report;
}

// ---------------------------------------------------------------------------------------------
// Reporting

function ratio(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? 'n/a' : `${value.toFixed(2)}×`;
}

function spread(values: number[] | undefined): string {
  const finite = (values ?? []).filter(Number.isFinite);
  return finite.length ? `${Math.min(...finite).toFixed(2)}–${Math.max(...finite).toFixed(2)}` : 'n/a';
}

function printReport(reports: ScenarioReport[], flags: Flags): void {
  console.log(
    `\n=== results: median of rounds ("rounds" column: rounds × seconds each), ${flags.connections} connections for HTTP` +
      ` (${cores} cores; absolute numbers are noise, compare ratios)\n`,
  );
  const header = ['scenario', 'target', 'rounds', 'req/s', 'p50 ms', 'p99 ms', 'cpu µs/req', 'srv cores', 'other cores', 'errors', 'procs', 'log lines'];
  const rows: string[][] = [header];
  for (const r of reports) {
    const rounds = `${r.timing.rounds}×${r.timing.duration}s`;
    if (!r.baseline || !r.subject) {
      rows.push([r.name, r.status === 'skipped' ? 'skipped' : 'FAILED (see notes)', rounds, ...header.slice(3).map(() => '')]);
      continue;
    }
    const inProcess = r.kind === 'inprocess';
    for (const t of [r.baseline, r.subject]) {
      rows.push([
        r.name,
        t.label,
        rounds,
        fmt(t.rps),
        fmt(t.p50, 2),
        fmt(t.p99, 2),
        fmt(t.cpuUsPerReq, inProcess ? 2 : 0),
        fmt(t.serverCores, 2),
        fmt(t.otherCores, 2),
        String(t.errors),
        String(t.processes),
        String(t.logLines),
      ]);
    }
  }
  printTable(rows);
  if (reports.some((r) => r.kind === 'inprocess' && r.subject)) {
    console.log('(verify-inprocess-* rows: req/s is function calls per second, no HTTP, no latencies; cpu µs/req is CPU per call)');
  }

  const measured = reports.filter((r) => r.ratios);
  if (measured.length) {
    console.log(
      '\nratios subject/baseline of the medians (throughput: higher is better; latency and CPU per request: lower is better);' +
        '\n"range" = lowest–highest of the per-round ratios (each round pairs two adjacent runs): a wide range means a noisy machine\n',
    );
    const ratioRows = [['scenario', 'ratio', 'req/s', 'range', 'p50', 'range', 'p99', 'cpu/req', 'range', 'target']];
    for (const r of measured) {
      ratioRows.push([
        r.name,
        `${r.subject?.label}/${r.baseline?.label}`,
        ratio(r.ratios?.rps),
        spread(r.roundRatios?.rps),
        ratio(r.ratios?.p50),
        spread(r.roundRatios?.p50),
        ratio(r.ratios?.p99),
        ratio(r.ratios?.cpuUsPerReq),
        spread(r.roundRatios?.cpuUsPerReq),
        r.target ? `req/s ≥ ${r.target.rps.toFixed(2)}× ${r.target.met ? 'met' : 'NOT MET'}` : '',
      ]);
    }
    printTable(ratioRows);
  }
  const notes = reports.flatMap((r) => [
    ...(r.status !== 'ok' && r.reason
      ? [`${r.status}: ${r.reason.split('\n').filter((l) => !/^(\[\w+\])?\s+at /.test(l)).slice(0, 15).join('\n      ')}`]
      : []),
    ...r.notes,
  ].map((n) => `${r.name}: ${n}`));
  if (notes.length) {
    console.log('\nnotes:');
    for (const n of notes) console.log(`  - ${n}`);
  }
  const failed = reports.filter((r) => r.status === 'failed' || (r.baseline?.errors ?? 0) + (r.subject?.errors ?? 0) > 0);
  if (failed.length) {
    console.log(`\n!!!!!!!! ${failed.length} scenario(s) failed or had failed requests: ${failed.map((r) => r.name).join(', ')} — their numbers are not comparable !!!!!!!!`);
  }
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  if (flags.list) {
    for (const s of [...SCENARIOS, ...PROBES]) console.log(`${s.name.padEnd(30)} ${s.byDefault ? '       ' : '(--only)'} ${s.title}`);
    return;
  }
  const picked = <T extends { name: string; byDefault: boolean }>(list: T[]) => (flags.only.length ? list.filter((s) => flags.only.some((o) => s.name === o || s.name.includes(o))) : list.filter((s) => s.byDefault));
  const chosen = picked(SCENARIOS);
  const probes = picked(PROBES);
  if (!chosen.length && !probes.length) throw new Error(`--only=${flags.only.join(',')} matches no scenario; --list shows them`);
  const estimate = chosen.reduce((sum, scenario) => {
    const t = timingFor(scenario, flags);
    // Per round: the load generator's start-up (HTTP) or a control request (in process).
    const overhead = scenario.kind === 'inprocess' ? 0.05 : 0.4;
    const perTarget = t.warmup + (t.rounds - 1) * laterWarmup(t, 2) + t.rounds * (t.duration + overhead);
    return sum + 2 * perTarget + 5;
  }, 0);
  console.log(
    `bench: ${chosen.map((s) => s.name).join(', ')} — alternating rounds, default ${flags.rounds} round(s) × ${flags.duration} s per target ` +
      `(warm-up ${flags.warmup} s, then ${laterWarmup(flags, 2)} s; some scenarios have their own), ` +
      `${flags.connections} connections, ~${Math.round(estimate)} s in all; node ${process.version}, ${cores} cores, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
  );
  const startedAt = new Date();
  const reports: ScenarioReport[] = [];
  const probeReports: ProbeReport[] = [];
  try {
    for (const scenario of chosen) reports.push(await runScenario(scenario, timingFor(scenario, flags)));
    for (const probe of probes) {
      console.log(`\n=== ${probe.name}: ${probe.title}`);
      try {
        const { lines, result } = await probe.run(flags);
        for (const line of lines) console.log(line);
        probeReports.push({ name: probe.name, title: probe.title, status: 'ok', lines, result });
      } catch (err) {
        console.error(`  FAILED: ${(err as Error).message}`);
        probeReports.push({ name: probe.name, title: probe.title, status: 'failed', reason: (err as Error).message, lines: [] });
      }
    }
  } finally {
    await stopAll();
  }
  if (reports.length) printReport(reports, flags);
  for (const p of probeReports) console.log(`\n${p.name}: ${p.status === 'ok' ? p.lines.map((l) => l.trim()).join('; ') : `FAILED ${p.reason ?? ''}`}`);

  const resultsDir = path.join(BENCH_DIR, 'results');
  await mkdir(resultsDir, { recursive: true });
  const out = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
    cpus: cores,
    cpuModel: os.cpus()[0]?.model,
    loadavg: os.loadavg(),
    options: { rounds: flags.rounds, duration: flags.duration, warmup: flags.warmup, connections: flags.connections, quick: flags.quick, only: flags.only },
    scenarios: reports,
    probes: probeReports,
  };
  const file = path.join(resultsDir, 'latest.json');
  await writeFile(file, JSON.stringify(out, null, 2) + '\n');
  console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
  const bad = reports.some((r) => r.status === 'failed' || (r.baseline?.errors ?? 0) + (r.subject?.errors ?? 0) > 0) || probeReports.some((p) => p.status === 'failed');
  if (bad) process.exitCode = 1;
}

main().catch(async (err: unknown) => {
  console.error('bench failed:', err instanceof Error ? err.message : err);
  await stopAll();
  process.exit(1);
});
