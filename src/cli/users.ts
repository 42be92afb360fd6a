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
  const project = typeof options.project === 'string' ? await resolveProjectRef(services.projects, options.project) : undefined;
  if (options.project !== undefined && !project) throw new CliError(`project ${String(options.project)} does not exist (create it with bootstrap)`);

  let passwordHash: string | undefined;
  if (options['password-stdin']) {
    const password = await readStdin();
    const problem = passwordProblem(password);
    if (problem) throw new CliError(problem === 'too_short' ? `the password must be at least ${PASSWORD_MIN_LENGTH} characters` : `the password must be at most ${PASSWORD_MAX_LENGTH} characters`);
    passwordHash = await hashPassword(password);
  }
  const { users, memberships } = services;
  const { user, created } = await users.create({ email, name: typeof options.name === 'string' ? options.name : undefined, email_verified: true, password_hash: passwordHash, source: 'local' });
  if (!created && passwordHash) await users.update(user.id, { password_hash: passwordHash });
  if (!created && typeof options.name === 'string') await users.update(user.id, { name: options.name });
  await services.audit.record({ actor: services.operator, action: created ? 'user.created' : 'user.updated', target: { type: 'user', id: user.id }, project_id: project?.id ?? null, ip: null, outcome: 'success', detail: { email, via: 'cli' } });
  if (project && isRole(role)) {
    await services.access.requireRoleChange(services.principal, project.id, { to: role }, 'grant the owner role');
    const change = await memberships.setManual(user.id, project.id, role);
    await services.audit.record({ actor: services.operator, action: 'member.role_changed', target: { type: 'user', id: user.id }, project_id: project.id, ip: null, outcome: 'success', detail: { cause: 'manual', from: change?.from ?? null, to: role } });
  }
  const result = { user: { id: user.id, email: user.email, name: options.name ?? user.name ?? null, created }, membership: project ? { project_id: project.id, role } : null };
  if (options.json) console.log(JSON.stringify(result));
  else console.log(`${created ? 'created' : 'updated'} ${user.email} (${user.id})${project ? `, ${role} of ${project.name} (${project.id})` : ''}`);
  return 0;
}
