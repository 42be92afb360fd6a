import type { ApiKeyView, CreateKeyInput } from '../keys/index.ts';
import { resolveProject, type CliServices } from './services.ts';

export class CliError extends Error {
  override readonly name = 'CliError';
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.exitCode = exitCode;
  }
}

export type Options = Record<string, string | boolean | undefined>;

function required(options: Options, name: string): string {
  const value = options[name];
  if (typeof value !== 'string' || !value) throw new CliError(`--${name} is required`);
  return value;
}

function print(options: Options, json: unknown, text: string): void {
  console.log(options.json ? JSON.stringify(json) : text);
}

function row(k: ApiKeyView): string {
  return `${k.id}  ${k.prefix}…  ${k.status.padEnd(8)}  ${k.environment}  ${k.scopes.join(',')}  expires ${k.expires_at}  ${k.name}`;
}

/** `keys create|list|rotate|revoke`: KeyService's methods with the operator as the caller (the same rules, audit and webhooks as the API). */
export async function keysCommand(services: CliServices, sub: string | undefined, options: Options): Promise<number> {
  const { keys, caller } = services;
  switch (sub) {
    case 'create': {
      const project = await resolveProject(services, required(options, 'project'));
      if (!project) throw new CliError(`project ${String(options.project)} does not exist`);
      const input: CreateKeyInput = {
        project_id: project.id,
        name: required(options, 'name'),
        scopes: required(options, 'scopes').split(',').map((s) => s.trim()).filter(Boolean),
        environment: (typeof options.env === 'string' ? options.env : 'live') as CreateKeyInput['environment'],
        ttl_days: typeof options['ttl-days'] === 'string' ? Number(options['ttl-days']) : undefined,
        ip_allowlist: typeof options['ip-allowlist'] === 'string' ? options['ip-allowlist'].split(',').map((s) => s.trim()).filter(Boolean) : undefined,
        auto_rotate: options['auto-rotate'] === true,
      };
      const created = await keys.create(caller, input);
      print(options, { ...created.view, key: created.key }, `${row(created.view)}\n\n${created.key}\n\nStore this key now: it is not shown again.`);
      return 0;
    }
    case 'list': {
      const project = await resolveProject(services, required(options, 'project'));
      if (!project) throw new CliError(`project ${String(options.project)} does not exist`);
      const list = await keys.list(caller, { project_id: project.id });
      print(options, { keys: list }, list.map(row).join('\n') || '(no keys)');
      return 0;
    }
    case 'rotate': {
      const grace = typeof options['grace-seconds'] === 'string' ? Number(options['grace-seconds']) : undefined;
      const rotated = await keys.rotate(caller, { id: required(options, 'id'), grace_seconds: grace });
      print(options, { ...rotated.view, key: rotated.key, previous: rotated.old }, `${row(rotated.view)}\n\n${rotated.key}\n\nThe old key keeps working until ${rotated.old.grace_until}. Store the new key now: it is not shown again.`);
      return 0;
    }
    case 'revoke': {
      const revoked = await keys.revoke(caller, { id: required(options, 'id') });
      print(options, revoked, row(revoked));
      return 0;
    }
    default:
      throw new CliError('usage: keys create|list|rotate|revoke (see --help)');
  }
}

/**
 * `bootstrap --project <name>`: the root organisation (created when absent) and, the first time only, a
 * key on it holding every scope. Idempotent: a second run prints the project and `"key": null`.
 */
export async function bootstrapCommand(services: CliServices, options: Options): Promise<number> {
  const name = required(options, 'project');
  const { project, created } = await services.projectRepository.ensureRoot(name);
  if (created) await services.auditLog.record({ actor: services.operator, action: 'project.created', target: { type: 'project', id: project.id }, project_id: project.id, ip: null, outcome: 'success', detail: { name, via: 'bootstrap' } });
  let key: { id: string; key: string; scopes: string[]; expires_at: string } | null = null;
  if (await services.projectRepository.claimBootstrap(project.id)) {
    const made = await services.keys.create(services.caller, { project_id: project.id, name: 'bootstrap', scopes: ['read:logs', 'write:alerts', 'admin:projects'], environment: 'live' });
    key = { id: made.view.id, key: made.key, scopes: made.view.scopes, expires_at: made.view.expires_at };
  }
  const result = { project: { id: project.id, name: project.name }, key };
  if (options.json) console.log(JSON.stringify(result));
  else {
    console.log(`project ${project.id} (${project.name})${created ? ' created' : ' already exists'}`);
    if (key) console.log(`\nAPI key ${key.id} (all scopes, expires ${key.expires_at}):\n\n${key.key}\n\nStore this key now: it is not shown again.`);
    else console.error('The bootstrap key was issued earlier and is not shown again; create more with `keys create`.');
  }
  return 0;
}
