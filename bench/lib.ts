/**
 * Benchmark harness building blocks: child servers (each in its own process group, always killed),
 * a load generator in a separate process (bench/load.ts, autocannon), CPU accounting from /proc,
 * medians and a plain-text table.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export const BENCH_DIR = import.meta.dirname;
export const ROOT_DIR = path.resolve(BENCH_DIR, '..');

// ---------------------------------------------------------------------------------------------
// Load generation

/** What bench/load.ts runs: `warmup` unmeasured seconds, then `duration` measured seconds. */
export interface LoadOptions {
  url: string;
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  connections: number;
  duration: number;
  warmup: number;
  /**
   * When set, a response whose body does not contain this text is a failure (a "mismatch"), whatever
   * its status: e.g. `"valid":true` for key verification, where a 200 may still say `valid: false`.
   */
  expectBodyIncludes?: string;
}

/** One measured run. Latencies in milliseconds. */
export interface LoadResult {
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  responses: number;
  ok: number;
  non2xx: number;
  /** Socket errors (refused, reset…) as counted by autocannon. */
  errors: number;
  timeouts: number;
  /** Responses (of any status) whose body lacked `expectBodyIncludes`. */
  mismatches: number;
  /** Failed requests of the unmeasured warm-up (non-2xx, socket errors, timeouts, mismatches): they fail the run too. */
  warmupFailures: number;
  /** The first failing body seen (warm-up or measured), cut to 300 characters, to say what went wrong. */
  failureSample?: string;
  statusCodes: Record<string, number>;
  seconds: number;
  /** CPU the load generator itself used during the measured run. */
  cpuSeconds: number;
}

/** The line bench/load.ts prints when warm-up is over and the measured run starts. */
export const MEASURING = '#measuring';

/**
 * Runs bench/load.ts as a child process and returns its result; `onMeasureStart` is called when the
 * warm-up is over (to sample server counters around the measured run only).
 */
export async function runLoad(opts: LoadOptions, onMeasureStart?: () => void): Promise<LoadResult> {
  const child = spawn(process.execPath, [path.join(BENCH_DIR, 'load.ts'), JSON.stringify(opts)], {
    cwd: ROOT_DIR,
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  const tracked = track(child, 'load generator');
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => {
    const seen = stdout.includes(MEASURING);
    stdout += s;
    if (!seen && stdout.includes(MEASURING)) onMeasureStart?.();
  });
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const code = await tracked.exited;
  untrack(tracked);
  const line = stdout.trim().split('\n').pop() ?? '';
  if (code !== 0 || !line.startsWith('{')) {
    throw new Error(`load generator exited with ${String(code)}:\n${stderr.trim() || stdout.trim()}`);
  }
  return JSON.parse(line) as LoadResult;
}

// ---------------------------------------------------------------------------------------------
// Child processes

export interface ChildSpec {
  name: string;
  cmd: string;
  args: string[];
  /** Added to the harness's own environment. */
  env?: Record<string, string>;
  cwd?: string;
  /** Polled with GET until it answers 200. */
  readyUrl: string;
  readyTimeoutMs?: number;
}

export interface Child {
  name: string;
  pid: number;
  /** Exit code or signal once the process has ended, else undefined. */
  exitStatus(): string | undefined;
  /** Lines written to stdout + stderr so far. */
  outputLines(): number;
  /** The last `n` lines of output. */
  tail(n?: number): string;
  /** Pids of every live process in the child's process group (the server and any workers it forks). */
  processes(): number[];
  /** User + system CPU seconds used so far by the live processes of the group (NaN without /proc). */
  cpuSeconds(): number;
  /** Resident memory of the live processes of the group, MiB (NaN without /proc). */
  rssMiB(): number;
  /** SIGTERM to the whole group, SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

interface Tracked {
  name: string;
  proc: ChildProcess;
  pid: number;
  exited: Promise<number | null>;
  status: string | undefined;
}

const live = new Set<Tracked>();
let cleanupInstalled = false;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  // Last resort, synchronous: whatever is still running when we exit is killed outright.
  process.on('exit', () => {
    for (const t of live) killGroup(t.pid, 'SIGKILL');
  });
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error(`\n${signal}: stopping ${live.size} child process group(s)…`);
    void stopAll().finally(() => process.exit(130));
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
  process.on('uncaughtException', (err) => {
    console.error('uncaught exception:', err);
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    console.error('unhandled rejection:', err);
    process.exit(1);
  });
}

function track(proc: ChildProcess, name: string): Tracked {
  installCleanup();
  if (proc.pid === undefined) throw new Error(`${name}: spawn failed`);
  const tracked: Tracked = {
    name,
    proc,
    pid: proc.pid,
    status: undefined,
    exited: new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        tracked.status = signal ? `signal ${signal}` : `code ${String(code)}`;
        resolve(code);
      });
      proc.once('error', (err) => {
        tracked.status = `spawn error ${err.message}`;
        resolve(null);
      });
    }),
  };
  live.add(tracked);
  return tracked;
}

function untrack(t: Tracked): void {
  // A leader that exited may leave grandchildren behind in its group.
  if (groupPids(t.pid).length === 0) live.delete(t);
}

async function stopTracked(t: Tracked, graceMs: number): Promise<void> {
  killGroup(t.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  await Promise.race([t.exited, sleep(graceMs)]);
  while (groupPids(t.pid).length > 0 && Date.now() < deadline) await sleep(50);
  if (t.status === undefined || groupPids(t.pid).length > 0) {
    killGroup(t.pid, 'SIGKILL');
    await Promise.race([t.exited, sleep(2000)]);
  }
  live.delete(t);
}

/** Stops every child still running (the run's finally block, and Ctrl-C). */
export async function stopAll(graceMs = 3000): Promise<void> {
  await Promise.all([...live].map((t) => stopTracked(t, graceMs)));
}

/**
 * Starts a child in its own process group (so workers it forks are reached too) and waits until
 * `readyUrl` answers 200. Rejects, with the output's tail, if the child exits or times out first.
 */
export async function startChild(spec: ChildSpec): Promise<Child> {
  const proc = spawn(spec.cmd, spec.args, {
    cwd: spec.cwd ?? ROOT_DIR,
    env: { ...process.env, ...spec.env },
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  const tracked = track(proc, spec.name);
  const ring: string[] = [];
  let lines = 0;
  const onData = (stream: string) => {
    let partial = '';
    return (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        lines++;
        ring.push(`[${stream}] ${line}`);
        if (ring.length > 200) ring.shift();
      }
    };
  };
  proc.stdout?.setEncoding('utf8').on('data', onData('out'));
  proc.stderr?.setEncoding('utf8').on('data', onData('err'));

  const child: Child = {
    name: spec.name,
    pid: tracked.pid,
    exitStatus: () => tracked.status,
    outputLines: () => lines,
    tail: (n = 30) => ring.slice(-n).join('\n'),
    processes: () => groupPids(tracked.pid),
    cpuSeconds: () => groupCpuSeconds(tracked.pid),
    rssMiB: () => groupRssMiB(tracked.pid),
    stop: (graceMs = 5000) => stopTracked(tracked, graceMs),
  };

  const timeoutMs = spec.readyTimeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (tracked.status !== undefined) {
      await child.stop();
      throw new Error(`${spec.name} exited (${tracked.status}) before ${spec.readyUrl} answered:\n${child.tail()}`);
    }
    try {
      const res = await fetch(spec.readyUrl, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return child;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await child.stop();
      throw new Error(`${spec.name}: ${spec.readyUrl} did not answer 200 within ${timeoutMs} ms:\n${child.tail()}`);
    }
    await sleep(100);
  }
}

/**
 * For children written for the bench (bare provider, load generator): exit when the harness goes
 * away, even if it was SIGKILLed and could not clean up. The harness holds our stdin open.
 */
export function exitWithParent(): void {
  process.stdin.on('end', () => process.exit(1));
  process.stdin.on('error', () => process.exit(1));
  process.stdin.resume();
  process.stdin.unref?.();
}

// ---------------------------------------------------------------------------------------------
// /proc accounting (Linux; elsewhere these return [] and NaN)

const confCache = new Map<string, number>();
function getconf(name: string, fallback: number): number {
  let value = confCache.get(name);
  if (value === undefined) {
    try {
      value = Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim()) || fallback;
    } catch {
      value = fallback;
    }
    confCache.set(name, value);
  }
  return value;
}
const ticksPerSecond = () => getconf('CLK_TCK', 100);

interface ProcStat {
  pid: number;
  pgrp: number;
  ticks: number;
  rssPages: number;
}

function readStat(pid: string): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state): field n is rest[n - 3].
    const state = rest[0];
    if (state === 'Z' || state === 'X') return undefined;
    return { pid: Number(pid), pgrp: Number(rest[2]), ticks: Number(rest[11]) + Number(rest[12]), rssPages: Number(rest[21]) };
  } catch {
    return undefined;
  }
}

function groupStats(pgid: number): ProcStat[] | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  const out: ProcStat[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(entry);
    if (stat && stat.pgrp === pgid) out.push(stat);
  }
  return out;
}

export function groupPids(pgid: number): number[] {
  return (groupStats(pgid) ?? []).map((s) => s.pid);
}

/** Resident memory of the group's live processes, in MiB (NaN without /proc). */
export function groupRssMiB(pgid: number): number {
  const stats = groupStats(pgid);
  if (!stats) return Number.NaN;
  return (stats.reduce((sum, s) => sum + s.rssPages, 0) * getconf('PAGESIZE', 4096)) / 2 ** 20;
}

export function groupCpuSeconds(pgid: number): number {
  const stats = groupStats(pgid);
  if (!stats) return Number.NaN;
  return stats.reduce((sum, s) => sum + s.ticks, 0) / ticksPerSecond();
}

/** Host-wide CPU jiffies from /proc/stat: busy and total (undefined without /proc). */
export function hostCpu(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/** Share of the whole machine's CPU that was busy between two hostCpu() samples, 0–100. */
export function busyPercent(before: ReturnType<typeof hostCpu>, after: ReturnType<typeof hostCpu>): number {
  if (!before || !after || after.total === before.total) return Number.NaN;
  return (100 * (after.busy - before.busy)) / (after.total - before.total);
}

// ---------------------------------------------------------------------------------------------
// Small helpers

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A port that was free a moment ago (listen on 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** True if something answers PING with +PONG at host:port within the timeout. */
export function redisAnswers(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

export function median(values: number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

export function fmt(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** A plain-text table: first row is the header; numeric-looking cells are right-aligned. */
export function printTable(rows: string[][]): void {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  const numeric = /^[\d.,×x%+–-]+$|^n\/a$/;
  const line = (row: string[]) =>
    row.map((cell, i) => (numeric.test(cell) ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  const [header, ...body] = rows;
  if (!header) return;
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of body) console.log(line(row));
}
