/**
 * A real `redis-server` for tests, on a free port in its own temp directory.
 *
 * `stop()` / `start()` restart it on the same port (for fail-closed and recovery tests); with
 * `persist: true` it keeps an fsync-always append-only file, so data survives the restart.
 * Servers are killed when the test process exits, and a tiny watchdog kills them if the test process
 * dies without running exit handlers (SIGKILL, crash), so no redis-server outlives its test run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './ports.ts';

export interface RedisServerOptions {
  /** Listen on this port; default a free one. */
  port?: number;
  /** Keep an append-only file (fsync always) so data survives stop()/start(); default false. */
  persist?: boolean;
  /** The binary to run; default `redis-server` from PATH (or REDIS_SERVER_BIN). */
  binary?: string;
  /** How long start-up may take before it is an error; default 10 s. */
  startTimeoutMs?: number;
  /** More command-line settings (`--cluster-enabled yes`, `--replicaof 127.0.0.1 7000`…). */
  extraArgs?: string[];
  /**
   * Run as a Sentinel: `redis-server <dir>/sentinel.conf --sentinel`, the file first holding these lines
   * (Sentinel rewrites it as it learns the topology).
   */
  sentinelConfig?: string;
}

export interface RedisServer {
  /** `redis://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** Its working directory (append-only file, if persisted). */
  dir: string;
  /** Graceful shutdown (SIGTERM), resolves when the process has exited. */
  stop(): Promise<void>;
  /** Starts it again on the same port and directory; resolves when it answers PING. */
  start(): Promise<void>;
  /** SIGKILL, no shutdown work (simulates a crash). */
  kill(): void;
  /** Freezes the process (SIGSTOP): connections stay open but nothing answers. */
  pause(): void;
  /** Resumes a paused server (SIGCONT). */
  resume(): void;
  /** Stops the server and removes its directory. */
  dispose(): Promise<void>;
}

const running = new Set<ChildProcess>();
const directories = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of running) child.kill('SIGKILL');
    for (const dir of directories) rmSync(dir, { recursive: true, force: true });
  });
}

/**
 * Kills `pid` (and removes `dir`) once this test process is gone, even if it dies without running
 * exit handlers. Ends by itself when the server exits first.
 */
function watchdog(pid: number, dir: string): void {
  const script =
    'while kill -0 "$0" 2>/dev/null; do kill -0 "$1" 2>/dev/null || exit 0; sleep 1; done; kill -9 "$1" 2>/dev/null; sleep 1; rm -rf "$2"';
  const guard = spawn('sh', ['-c', script, String(process.pid), String(pid), dir], { stdio: 'ignore', detached: true });
  guard.on('error', () => {});
  guard.unref();
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  installExitHook();
  const binary = options.binary ?? process.env.REDIS_SERVER_BIN ?? 'redis-server';
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(path.join(tmpdir(), 'lt-redis-'));
  directories.add(dir);
  const sentinelFile = path.join(dir, 'sentinel.conf');
  if (options.sentinelConfig !== undefined) writeFileSync(sentinelFile, `${options.sentinelConfig}\n`);
  const args = [
    ...(options.sentinelConfig !== undefined ? [sentinelFile, '--sentinel'] : []),
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--daemonize', 'no',
    '--protected-mode', 'no',
    '--logfile', '',
    ...(options.sentinelConfig !== undefined
      ? []
      : ['--save', '', ...(options.persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'])]),
    ...(options.extraArgs ?? []),
  ];

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = '';

  async function start(): Promise<void> {
    if (child) throw new Error(`redis-server on port ${port} is already running`);
    output = '';
    const proc = spawn(binary, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    running.add(proc);
    const record = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-4000);
    };
    proc.stdout?.on('data', record);
    proc.stderr?.on('data', record);
    let exitInfo: string | undefined;
    exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        exitInfo = `code ${code}, signal ${signal}`;
        running.delete(proc);
        if (child === proc) child = undefined;
        resolve();
      });
      proc.once('error', (error) => {
        exitInfo = `spawn error: ${error.message}`;
        running.delete(proc);
        if (child === proc) child = undefined;
        resolve();
      });
    });
    if (proc.pid !== undefined) watchdog(proc.pid, dir);

    const deadline = Date.now() + startTimeoutMs;
    for (;;) {
      if (exitInfo !== undefined) {
        throw new Error(`redis-server on port ${port} exited during start-up (${exitInfo}):\n${output}`);
      }
      if (await answersPing(port)) return;
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`redis-server on port ${port} did not answer PING within ${startTimeoutMs} ms:\n${output}`);
      }
      await delay(50);
    }
  }

  async function stop(): Promise<void> {
    const proc = child;
    if (!proc) return;
    proc.kill('SIGCONT'); // a paused server cannot act on SIGTERM
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    start,
    stop,
    kill() {
      child?.kill('SIGKILL');
    },
    pause() {
      child?.kill('SIGSTOP');
    },
    resume() {
      child?.kill('SIGCONT');
    },
    async dispose() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
      directories.delete(dir);
    },
  };
}

/** True when a fresh connection gets `+PONG` (or `-NOAUTH`: it answers, behind a password) within 500 ms; not `-LOADING`, not refused. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG') || reply.startsWith('-NOAUTH'));
    });
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
