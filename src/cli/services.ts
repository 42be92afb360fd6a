import { userInfo } from 'node:os';
import type { OperatorServices } from '../container.ts';
import type { Project } from '../directory/index.ts';
import type { Actor, Caller, Principal } from '../domain/index.ts';

/** What an operator command gets: the composition root's services (built with `mode: 'cli'`) and who runs it. */
export type CliServices = OperatorServices & {
  operator: Actor;
  /** The operator as the access policy sees them: whoever holds the configuration and the store holds every right. */
  principal: Principal;
  /** The operator as domain services take them (no address: the CLI runs where the store is). */
  caller: Caller;
};

/** The person at the terminal, as audit events name them (`cli:<login>`). */
export function operator(): { operator: Actor; principal: Principal; caller: Caller } {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (containers): keep "unknown"
  }
  const actor: Actor = { type: 'system', id: `cli:${user}` };
  const principal: Principal = { kind: 'operator', actor };
  return { operator: actor, principal, caller: { principal, ip: null, user_agent: null } };
}

/** A project by id, or a root organisation by name. */
export async function resolveProject(services: Pick<CliServices, 'projectRepository'>, idOrName: string): Promise<Project | undefined> {
  const byId = await services.projectRepository.get(idOrName);
  if (byId) return byId;
  const roots = await services.projectRepository.roots();
  return roots.find((p) => p.name.toLowerCase() === idOrName.toLowerCase());
}
