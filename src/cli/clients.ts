import type { ClientView } from '../clients/index.ts';
import { DomainError } from '../domain/index.ts';
import { resolveProject, type CliServices } from './services.ts';
import type { Options } from './keys.ts';

export const CLIENTS_USAGE = `  clients create --project <id|name> --name <n> --type confidential|public
                 --grant-types authorization_code,refresh_token,client_credentials --scopes read:logs[,…]
                 [--redirect-uris <url>,…] [--post-logout-redirect-uris <url>,…] [--first-party]
                 [--secret-ttl-days <n>] [--json]
                                register an OAuth client; its secret is printed once
  clients list [--project <id|name>] [--json]
                                registered clients (without --project: all, and the configuration file's)
  clients rotate-secret --client-id <id> [--grace-seconds 86400] [--json]
                                a new secret, printed once; the old one works until the grace ends
  clients delete --client-id <id> [--json]
                                the client stops authenticating at once; its tokens are revoked`;

const list = (value: string | undefined): string[] | undefined => (value === undefined ? undefined : value.split(',').map((s) => s.trim()).filter(Boolean));

function line(c: ClientView): string {
  return `${c.client_id}  ${c.origin === 'config' ? 'config    ' : (c.project_id ?? '').padEnd(10)}  ${c.type.padEnd(12)}  ${c.grant_types.join(',')}  ${c.scopes.join(' ')}  ${c.name}`;
}

function required(value: string | undefined, name: string): string {
  if (!value) throw new DomainError('invalid', `--${name} is required`, name);
  return value;
}

/**
 * `clients create|list|rotate-secret|delete`: ClientService's methods with the operator as the caller (the
 * same rules, audit and webhooks as /v1/clients). A refusal is a DomainError, mapped in cli/main.ts.
 */
export async function clientsCommand(services: CliServices, sub: string | undefined, values: Options): Promise<number> {
  const { clients, caller } = services;
  const json = values.json === true;
  const str = (name: string) => (typeof values[name] === 'string' ? (values[name] as string) : undefined);
  const out = (data: unknown, text: string) => console.log(json ? JSON.stringify(data) : text);
  const projectId = async (ref: string): Promise<string> => {
    const project = await resolveProject(services, ref);
    if (!project) throw new DomainError('not_found', `project ${ref} does not exist`, 'project');
    return project.id;
  };
  switch (sub) {
    case 'create': {
      const ttl = str('secret-ttl-days');
      const made = await clients.create(caller, {
        project_id: await projectId(required(str('project'), 'project')),
        name: required(str('name'), 'name'),
        type: required(str('type'), 'type') as 'confidential' | 'public',
        grant_types: list(required(str('grant-types'), 'grant-types')) ?? [],
        scopes: list(required(str('scopes'), 'scopes')) ?? [],
        redirect_uris: list(str('redirect-uris')),
        post_logout_redirect_uris: list(str('post-logout-redirect-uris')),
        first_party: values['first-party'] === true ? true : undefined,
        secret_ttl_days: ttl === undefined ? undefined : Number(ttl),
      });
      const body = made.client_secret ? { ...made.client, client_secret: made.client_secret } : made.client;
      out(body, `${line(made.client)}${made.client_secret ? `\n\nclient_id:     ${made.client.client_id}\nclient_secret: ${made.client_secret}\n\nStore the secret now: it is not shown again.` : `\n\nclient_id: ${made.client.client_id} (public: no secret, PKCE)`}`);
      return 0;
    }
    case 'list': {
      const project = str('project');
      const found = await clients.list(caller, { project_id: project ? await projectId(project) : undefined });
      out({ clients: found }, found.map(line).join('\n') || '(no clients)');
      return 0;
    }
    case 'rotate-secret': {
      const grace = str('grace-seconds');
      const rotated = await clients.rotateSecret(caller, required(str('client-id'), 'client-id'), { grace_seconds: grace === undefined ? undefined : Number(grace) });
      const previous = rotated.client.previous_secret_expires_at;
      out(rotated, `client_secret: ${rotated.client_secret}\n\n${previous ? `The old secret keeps working until ${previous}.` : 'The old secret no longer works.'} Store the new secret now: it is not shown again.`);
      return 0;
    }
    case 'delete': {
      const deleted = await clients.delete(caller, required(str('client-id'), 'client-id'));
      out(deleted, `deleted ${line(deleted)}`);
      return 0;
    }
    default:
      throw new DomainError('invalid', 'usage: clients create|list|rotate-secret|delete (see --help)');
  }
}

