import { spawnSync } from 'node:child_process';
import { ROOT, type AuthServer } from './auth-server.ts';
import { codeFlowTokens, discover } from './http-login.ts';

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

export const ADMIN_SCOPES = 'openid email profile offline_access read:logs write:alerts admin:projects';

/**
 * A person with a role on a project, as the /v1 API sees them: a local account made (or updated) by the
 * operator CLI, signed in by code + PKCE through the `admin-console` test client. Owners are people: an
 * API key is never an owner, so owner-only calls need one of these.
 */
export async function personApi(server: Pick<AuthServer, 'configPath' | 'url'>, who: { email: string; project: string; role: string; password?: string }) {
  const password = who.password ?? `pw-${who.email}-0123456789`;
  const made = cli(server, ['users', 'add', '--email', who.email, '--project', who.project, '--role', who.role, '--password-stdin', '--json'], `${password}\n`);
  if (made.status !== 0) throw new Error(`users add failed: ${made.stderr}`);
  const user = (JSON.parse(made.stdout) as { user: { id: string } }).user;
  const tokens = await codeFlowTokens(await discover(server.url, 'admin-console'), { email: who.email, password, scope: ADMIN_SCOPES });
  return { user, password, token: tokens.access_token, tokens, call: api(server.url, tokens.access_token) };
}
