import { hashPassword, isRole, passwordProblem, resolveProjectRef, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../directory/index.ts';
import { CliError, type Options } from './keys.ts';
import type { CliServices } from './services.ts';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/**
 * `users add --email <e> --name <n> --project <id or name> --role <role> --password-stdin`: a local account
 * (created when absent; the password is read from standard input) with a manual role on a project.
 */
export async function usersCommand(services: CliServices, sub: string | undefined, options: Options): Promise<number> {
  if (sub !== 'add') throw new CliError('usage: users add --email <e> [--name <n>] [--project <id|name> --role owner|admin|member|viewer] [--password-stdin]');
  const email = typeof options.email === 'string' ? options.email.trim().toLowerCase() : '';
  if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) throw new CliError('--email must be an email address');
  const role = options.role;
  if (role !== undefined && !isRole(role)) throw new CliError('--role must be owner, admin, member or viewer');
  if ((role === undefined) !== (options.project === undefined)) throw new CliError('--project and --role go together');
  const project = typeof options.project === 'string' ? await resolveProjectRef(services.projectRepository, options.project) : undefined;
  if (options.project !== undefined && !project) throw new CliError(`project ${String(options.project)} does not exist (create it with bootstrap)`);

  let passwordHash: string | undefined;
  if (options['password-stdin']) {
    const password = await readStdin();
    const problem = passwordProblem(password);
    if (problem) throw new CliError(problem === 'too_short' ? `the password must be at least ${PASSWORD_MIN_LENGTH} characters` : `the password must be at most ${PASSWORD_MAX_LENGTH} characters`);
    passwordHash = await hashPassword(password);
  }
  // The same service as /v1 and the dashboard, with the operator as the caller; a refusal is a DomainError,
  // which cli/main.ts maps to its message and exit code.
  const added = await services.accounts.addLocal(services.caller, { email, name: typeof options.name === 'string' ? options.name : undefined, password_hash: passwordHash, project_id: project?.id, role: isRole(role) ? role : undefined });
  const { user, created } = added;
  const result = { user: { id: user.id, email: user.email, name: options.name ?? user.name ?? null, created }, membership: project ? { project_id: project.id, role } : null };
  if (options.json) console.log(JSON.stringify(result));
  else console.log(`${created ? 'created' : 'updated'} ${user.email} (${user.id})${project ? `, ${role} of ${project.name} (${project.id})` : ''}`);
  return 0;
}
