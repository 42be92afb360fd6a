/**
 * `npm run bench [-- --quick] [-- --only=name[,name]] [--rounds=N --duration=S --warmup=S --connections=N]`
 *
 * Side-by-side measurements in one run: each scenario starts a baseline and our server as separate
 * child processes, then loads them alternately (baseline, ours, baseline, ours…) with a load generator
 * in a third process, so drift on a shared machine hits both. Reports the median of rounds and the
 * ratios ours/baseline: absolute numbers are noise on shared machines, ratios are what we report.
 * Writes bench/results/latest.json.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { Redis } from 'ioredis';
import {
  BENCH_DIR,
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

interface Flags {
  quick: boolean;
  only: string[];
  rounds: number;
  duration: number;
  warmup: number;
  connections: number;
}

const USAGE = `usage: npm run bench -- [--quick] [--only=name[,name…]] [--rounds=N] [--duration=S] [--warmup=S] [--connections=N] [--list]`;

function parseFlags(argv: string[]): Flags & { list: boolean } {
  // Several short rounds rather than two long ones: the median of 4 shrugs off a round disturbed by
  // another job on the machine, and short slots keep each pair of measurements close in time.
  const flags = { quick: false, only: [] as string[], rounds: 4, duration: 5, warmup: 2, connections: 16, list: false };
  const numeric = (name: string, value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} expects a positive number, got ${value}\n${USAGE}`);
    return n;
  };
  const explicit = new Set<string>();
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
  request: Pick<LoadOptions, 'url' | 'method' | 'headers' | 'body'>;
  /** One request by hand before loading: throws unless the answer is what the scenario expects. */
  check(): Promise<void>;
  /** After the child is stopped: temp dirs, Redis keys… */
  cleanup(): Promise<void>;
}

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

function clientCredentialsRequest(baseUrl: string): Running['request'] {
  return {
    url: `${baseUrl}/token`,
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${CLIENT.client_id}:${CLIENT.client_secret}`).toString('base64')}`,
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
async function checkClientCredentials(name: string, request: Running['request']): Promise<void> {
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
    payload.client_id !== CLIENT.client_id && `client_id ${JSON.stringify(payload.client_id)}`,
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
  store: 'embedded' | 'redis';
  /** Extra environment for the server process, e.g. { WORKERS: '2' }. */
  env?: Record<string, string>;
  /** Extra top-level config keys, merged over the bench config. */
  config?: Record<string, unknown>;
}

/** Our server started as in production: `node src/main.ts` with LOGTRACE_CONFIG pointing at a temp YAML. */
function ours(options: OursOptions): TargetSpec {
  const envNote = options.env ? ' ' + Object.entries(options.env).map(([k, v]) => `${k}=${v}`).join(' ') : '';
  return {
    label: 'ours',
    describe: `src/main.ts, ${options.store} store${envNote}`,
    async start() {
      const port = await freePort();
      const baseUrl = `http://127.0.0.1:${port}`;
      const dir = await mkdtemp(path.join(os.tmpdir(), 'logtrace-bench-'));
      const prefix = `bench${randomBytes(6).toString('hex')}:`;
      const store =
        options.store === 'embedded'
          ? { driver: 'embedded', path: path.join(dir, 'data') }
          : { driver: 'redis', url: `redis://${REDIS.host}:${REDIS.port}`, prefix };
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
      };
      let child: Child;
      try {
        child = await startChild({
          name: `our server (${options.store}${envNote})`,
          cmd: process.execPath,
          args: ['src/main.ts'],
          env: { LOGTRACE_CONFIG: configPath, NODE_ENV: 'production', ...options.env },
          readyUrl: `${baseUrl}/healthz`,
        });
      } catch (err) {
        await cleanup();
        throw err;
      }
      // With workers, /healthz answers as soon as the first one listens: give the others time to join.
      const workers = Number(options.env?.WORKERS ?? 1);
      if (workers > 1) {
        const deadline = Date.now() + 15_000;
        while (child.processes().length < workers + 1 && Date.now() < deadline) await sleep(100);
        await sleep(1000);
      }
      const request = clientCredentialsRequest(baseUrl);
      return { child, request, check: () => checkClientCredentials('ours', request), cleanup };
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
  /** non-2xx + socket errors + timeouts, all rounds. */
  errors: number;
  statusCodes: Record<string, number>;
  logLines: number;
  processes: number;
}

interface ScenarioReport {
  name: string;
  title: string;
  status: 'ok' | 'skipped' | 'failed';
  reason?: string;
  baseline?: TargetSummary;
  subject?: TargetSummary;
  /** subject / baseline, medians of rounds. */
  ratios?: { rps: number; p50: number; p99: number; cpuUsPerReq: number };
  /** subject / baseline within each round (adjacent in time): their spread shows how noisy the ratios are. */
  roundRatios?: { rps: number[]; p50: number[]; cpuUsPerReq: number[] };
  notes: string[];
}

function summarize(spec: TargetSpec, rounds: Round[]): TargetSummary {
  const statusCodes: Record<string, number> = {};
  for (const r of rounds) for (const [code, n] of Object.entries(r.statusCodes)) statusCodes[code] = (statusCodes[code] ?? 0) + n;
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
    errors: rounds.reduce((n, r) => n + r.non2xx + r.errors + r.timeouts, 0),
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
  const result = await runLoad(
    {
      ...running.request,
      connections: flags.connections,
      duration: flags.duration,
      // The first round warms the JIT; later ones only re-open the connections and let them settle.
      warmup: laterWarmup(flags, round),
    },
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

function roundLine(label: string, r: Round): string {
  const errors = r.non2xx + r.errors + r.timeouts;
  return (
    `  round ${r.round} ${label.padEnd(7)} ${fmt(r.rps).padStart(7)} req/s  p50 ${fmt(r.p50, 2).padStart(6)} ms  ` +
    `p99 ${fmt(r.p99, 2).padStart(7)} ms  cpu ${fmt(r.cpuUsPerReq).padStart(5)} µs/req  ` +
    `cores: server ${fmt(r.serverCores, 2)} load ${fmt(r.loadgenCores, 2)} other ${fmt(r.otherCores, 2)}  rss ${fmt(r.rssMiB)} MiB` +
    (errors ? `  !!! ${errors} ERRORS ${JSON.stringify(r.statusCodes)} sock=${r.errors} timeouts=${r.timeouts}` : '') +
    (r.logLines ? `  (${r.logLines} log lines)` : '')
  );
}

async function runScenario(scenario: Scenario, flags: Flags): Promise<ScenarioReport> {
  const report: ScenarioReport = { name: scenario.name, title: scenario.title, status: 'ok', notes: [] };
  console.log(`\n=== ${scenario.name}: ${scenario.title}`);
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
        console.log(roundLine(spec.label, measured));
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
    report.notes.push(...(scenario.notes?.(subject, baseline) ?? []));
    const busyRounds = [...baseRounds, ...subjectRounds].filter((r) => r.otherCores >= OTHER_CORES_WARN).length;
    if (busyRounds) {
      report.notes.push(
        `other processes used ≥${OTHER_CORES_WARN} core in ${busyRounds} of ${baseRounds.length + subjectRounds.length} runs: ` +
          `they competed for CPU, so these numbers are less trustworthy (the median of rounds absorbs a few such runs)`,
      );
    }
    for (const t of [baseline, subject]) {
      if (t.errors) report.notes.push(`!!! ${t.label}: ${t.errors} failed requests (status codes ${JSON.stringify(t.statusCodes)})`);
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
    `\n=== results: median of ${flags.rounds} round(s), ${flags.connections} connections, ${flags.duration} s each` +
      ` (${cores} cores; absolute numbers are noise, compare ratios)\n`,
  );
  const rows: string[][] = [['scenario', 'target', 'req/s', 'p50 ms', 'p99 ms', 'cpu µs/req', 'srv cores', 'other cores', 'errors', 'procs', 'log lines']];
  for (const r of reports) {
    if (!r.baseline || !r.subject) {
      rows.push([r.name, r.status === 'skipped' ? 'skipped' : 'FAILED (see notes)', '', '', '', '', '', '', '', '', '']);
      continue;
    }
    for (const t of [r.baseline, r.subject]) {
      rows.push([r.name, t.label, fmt(t.rps), fmt(t.p50, 2), fmt(t.p99, 2), fmt(t.cpuUsPerReq), fmt(t.serverCores, 2), fmt(t.otherCores, 2), String(t.errors), String(t.processes), String(t.logLines)]);
    }
  }
  printTable(rows);

  const measured = reports.filter((r) => r.ratios);
  if (measured.length) {
    console.log(
      '\nratios subject/baseline of the medians (throughput: higher is better; latency and CPU per request: lower is better);' +
        '\n"range" = lowest–highest of the per-round ratios (each round pairs two adjacent runs): a wide range means a noisy machine\n',
    );
    const ratioRows = [['scenario', 'ratio', 'req/s', 'range', 'p50', 'range', 'p99', 'cpu/req', 'range']];
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
    for (const s of SCENARIOS) console.log(`${s.name.padEnd(18)} ${s.byDefault ? '       ' : '(--only)'} ${s.title}`);
    return;
  }
  const chosen = flags.only.length ? SCENARIOS.filter((s) => flags.only.some((o) => s.name === o || s.name.includes(o))) : SCENARIOS.filter((s) => s.byDefault);
  if (!chosen.length) throw new Error(`--only=${flags.only.join(',')} matches no scenario; --list shows them`);
  const perTarget = flags.warmup + (flags.rounds - 1) * laterWarmup(flags, 2) + flags.rounds * flags.duration + flags.rounds * 0.4;
  const estimate = chosen.length * (2 * perTarget + 5);
  console.log(
    `bench: ${chosen.map((s) => s.name).join(', ')} — ${flags.rounds} round(s) × ${flags.duration} s per target ` +
      `(warm-up ${flags.warmup} s, then ${laterWarmup(flags, 2)} s), alternating, ` +
      `${flags.connections} connections, ~${Math.round(estimate)} s in all; node ${process.version}, ${cores} cores, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
  );
  const startedAt = new Date();
  const reports: ScenarioReport[] = [];
  try {
    for (const scenario of chosen) reports.push(await runScenario(scenario, flags));
  } finally {
    await stopAll();
  }
  printReport(reports, flags);

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
  };
  const file = path.join(resultsDir, 'latest.json');
  await writeFile(file, JSON.stringify(out, null, 2) + '\n');
  console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
  const bad = reports.some((r) => r.status === 'failed' || (r.baseline?.errors ?? 0) + (r.subject?.errors ?? 0) > 0);
  if (bad) process.exitCode = 1;
}

main().catch(async (err: unknown) => {
  console.error('bench failed:', err instanceof Error ? err.message : err);
  await stopAll();
  process.exit(1);
});
