import { spawnSync } from 'node:child_process';
import { ROOT, type AuthServer } from './auth-server.ts';

/** Runs the operator CLI against a test server's configuration (same store). */
export function cli(server: Pick<AuthServer, 'configPath'>, args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const out = spawnSync(process.execPath, ['src/cli/main.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, LOGTRACE_CONFIG: server.configPath },
    encoding: 'utf8',
    input,
    timeout: 30_000,
  });
  return { status: out.status, stdout: out.stdout, stderr: out.stderr };
}

export interface Bootstrapped {
  project: { id: string; name: string };
  key: { id: string; key: string; scopes: string[]; expires_at: string };
}

export function bootstrap(server: Pick<AuthServer, 'configPath'>, name = 'Acme'): Bootstrapped {
  const out = cli(server, ['bootstrap', '--project', name, '--json']);
  if (out.status !== 0) throw new Error(`bootstrap failed: ${out.stderr}`);
  return JSON.parse(out.stdout) as Bootstrapped;
}

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  type: string | null;
  body: T;
}

/** A JSON client of the /v1 API with one credential. */
export function api(baseUrl: string, credential?: string, header: 'authorization' | 'x-logs-api-key' = 'authorization') {
  return async function call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = {};
    if (credential) headers[header] = header === 'authorization' ? `Bearer ${credential}` : credential;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${baseUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    return { status: response.status, type: response.headers.get('content-type'), body: (text ? JSON.parse(text) : null) as T };
  };
}
