import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import bcrypt from 'bcryptjs';
import { freePort } from './ports.ts';

export const ROOT = path.resolve(import.meta.dirname, '../..');

export const TEST_PASSWORD = 'correct horse battery staple';
// bcrypt at cost 4 keeps the suite fast; production hashes are argon2id (also accepted, tested separately).
export const TEST_PASSWORD_HASH = bcrypt.hashSync(TEST_PASSWORD, 4);
export const CC_SECRET = 'test-ingest-secret-0123456789abcdef-XYZ';
export const REDIRECT_URI = 'http://127.0.0.1:8080/callback';

export type RawConfig = Record<string, unknown>;

/**
 * The loopback destinations test servers may reach although `webhooks.block_private_addresses` is on (the
 * default): the fake IdPs, SAML IdP, slapd and webhook receivers all listen on 127.0.0.1. Tests of the
 * address policy itself (test/security/ssrf.test.ts) replace `outbound`.
 */
export const TEST_OUTBOUND = { allow_private: ['127.0.0.1', 'localhost', '::1'] };

/** A complete test configuration; `overrides` replaces top-level keys. */
export function testConfig(port: number, overrides: RawConfig = {}): RawConfig {
  return {
    issuer: `http://127.0.0.1:${port}`,
    port,
    host: '127.0.0.1',
    log_level: 'warn',
    outbound: TEST_OUTBOUND,
    resource: { audience: 'https://api.logtrace.test', scopes: ['read:logs', 'write:alerts', 'admin:projects'] },
    clients: [
      { client_id: 'ingest-svc', client_secret: CC_SECRET, grant_types: ['client_credentials'], scope: 'read:logs write:alerts' },
      {
        client_id: 'dashboard',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        redirect_uris: [REDIRECT_URI],
        scope: 'openid email profile offline_access read:logs',
      },
      {
        // A first-party console holding the admin API's scopes: people's tokens for /v1 in tests (personApi).
        client_id: 'admin-console',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        redirect_uris: [REDIRECT_URI],
        scope: 'openid email profile offline_access read:logs write:alerts admin:projects',
      },
      {
        client_id: 'partner-app',
        client_name: 'Partner App',
        client_secret: 'partner-app-secret-0123456789abcdefghij',
        first_party: false,
        grant_types: ['authorization_code', 'refresh_token'],
        redirect_uris: [REDIRECT_URI],
        scope: 'openid email profile read:logs',
      },
    ],
    users: [
      { email: 'alice@example.com', name: 'Alice Example', password_hash: TEST_PASSWORD_HASH },
      { email: 'bob@example.com', name: 'Bob', password_hash: TEST_PASSWORD_HASH },
    ],
    ...overrides,
  };
}

export interface AuthServer {
  url: string;
  port: number;
  configPath: string;
  output(): string;
  /** The server process id while it runs (undefined before start and after exit). */
  pid(): number | undefined;
  start(): Promise<void>;
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
  cleanup(): Promise<void>;
}

/**
 * Runs the real server (`node src/main.ts`, as `npm start` does) in a child process on a free port with a
 * generated config file. `start()` after `stop()` restarts it with the same config and data.
 */
export async function startAuthServer(options: { config?: (port: number, dataDir: string) => RawConfig; env?: Record<string, string>; port?: number } = {}): Promise<AuthServer> {
  const port = options.port ?? (await freePort());
  const dir = await mkdtemp(path.join(tmpdir(), 'lt-auth-'));
  const dataDir = path.join(dir, 'data');
  const config = options.config ? options.config(port, dataDir) : testConfig(port, { store: { driver: 'embedded', path: dataDir } });
  const configPath = path.join(dir, 'config.yaml');
  await writeFile(configPath, stringify(config));
  let child: ChildProcess | undefined;
  let output = '';
  const url = `http://127.0.0.1:${port}`;

  const server: AuthServer = {
    url,
    port,
    configPath,
    output: () => output,
    pid: () => (child && child.exitCode === null && child.signalCode === null ? child.pid : undefined),
    async start() {
      child = spawn(process.execPath, ['src/main.ts'], {
        cwd: ROOT,
        env: { ...process.env, LOGTRACE_CONFIG: configPath, ...options.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
      const exited = new Promise<never>((_, reject) => child!.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${output}`))));
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const ok = await Promise.race([fetch(`${url}/healthz`).then((r) => r.ok, () => false), exited]);
        if (ok) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`server did not start:\n${output}`);
    },
    async stop() {
      if (!child || child.exitCode !== null) return child?.exitCode ?? null;
      const c = child;
      return new Promise((resolve) => {
        c.once('exit', (code) => resolve(code));
        c.kill('SIGTERM');
      });
    },
    async cleanup() {
      if (child && child.exitCode === null) child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
  process.once('exit', () => child?.kill('SIGKILL'));
  await server.start();
  return server;
}
