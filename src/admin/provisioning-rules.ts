import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { Services } from '../container.ts';
import { ProvisioningRuleConflict, ROLES, type ProvisioningRuleView } from '../directory/index.ts';
import { AppError, parseBody, readJson } from './problem.ts';
import { authMiddleware, type Principal } from './koa-auth.ts';
import { auditAction, principalOf } from './context.ts';

/**
 * /v1/provisioning-rules: who gets an account on first federated sign-in (email domain, optionally limited
 * to some connections), and the project role the new account starts with. The configuration file's rules
 * come first and are read-only here.
 */
export const provisioningRuleInput = z
  .strictObject({
    email_domain: z.string().trim().toLowerCase().regex(/^[a-z0-9.-]+\.[a-z]{2,}$/, 'not a domain name').max(253),
    connectors: z.array(z.string().min(1)).max(50).optional(),
    project_id: z.string().min(1).optional(),
    role: z.enum(ROLES).optional(),
  })
  .refine((r) => !r.role || r.project_id, { message: 'a role needs a project_id', path: ['project_id'] })
  .refine((r) => !r.project_id || r.role, { message: 'a project_id needs a role', path: ['role'] });
export type ProvisioningRuleBody = z.infer<typeof provisioningRuleInput>;

const ORG_WIDE = 'managing provisioning rules';

/**
 * The checks and the write of a new rule, shared by the API and the dashboard: the connections exist, the
 * caller administers the organisation and the rule's project, and only an owner hands out `owner`.
 * Returns the rule and the project its audit event is filed under.
 */
export async function addProvisioningRule(services: Services, principal: Principal, input: ProvisioningRuleBody): Promise<{ rule: ProvisioningRuleView; auditProject: string }> {
  const root = await services.access.requireOrgAdmin(principal, ORG_WIDE);
  for (const [i, id] of (input.connectors ?? []).entries()) {
    if (!services.connectors.has(id)) throw new AppError('invalid_request', `connectors.${i}: no connection ${id} (${[...services.connectors.keys()].join(', ') || 'none configured'})`, { field: `connectors.${i}` });
  }
  if (input.project_id) {
    await services.access.requireRoleChange(principal, input.project_id, { to: input.role }, 'make new accounts owners');
  }
  try {
    const rule = await services.provisioningRules.create(input, principal.actor.id);
    return { rule, auditProject: input.project_id ?? root };
  } catch (error) {
    if (error instanceof ProvisioningRuleConflict) throw new AppError('conflict', error.message, { field: 'email_domain' });
    throw error;
  }
}

/** Removes a stored rule (configuration rules: 409); the same rights as creating it. */
export async function removeProvisioningRule(services: Services, principal: Principal, id: string): Promise<{ rule: ProvisioningRuleView; auditProject: string }> {
  const root = await services.access.requireOrgAdmin(principal, ORG_WIDE);
  const rule = await services.provisioningRules.get(id);
  if (!rule) throw new AppError('not_found', `provisioning rule ${id} does not exist`, { field: 'id' });
  if (rule.origin === 'config') throw new AppError('conflict', 'this rule comes from the configuration file (provisioning.rules); change it there');
  // A rule whose project is gone grants nothing; the organisation admin may remove it.
  if (rule.project && (await services.projects.get(rule.project))) {
    await services.access.requireRoleChange(principal, rule.project, { from: rule.role }, 'remove a rule that makes owners', { project: 'id', about: `provisioning rule ${rule.id}` });
  }
  await services.provisioningRules.delete(rule.id);
  return { rule, auditProject: rule.project ?? root };
}

export const ruleAuditDetail = (rule: ProvisioningRuleView) => ({ email_domain: rule.email_domain, connectors: rule.connectors, role: rule.role });

export function provisioningRuleRoutes(router: Router, services: Services): void {
  const auth = authMiddleware(services);

  router.get('/v1/provisioning-rules', auth, async (ctx: Context) => {
    await services.access.requireOrgAdmin(principalOf(ctx), ORG_WIDE);
    ctx.body = { provisioning_rules: await services.provisioningRules.list() };
  });

  router.get('/v1/provisioning-rules/:id', auth, async (ctx: Context) => {
    await services.access.requireOrgAdmin(principalOf(ctx), ORG_WIDE);
    const rule = await services.provisioningRules.get(ctx.params.id!);
    if (!rule) throw new AppError('not_found', `provisioning rule ${ctx.params.id} does not exist`, { field: 'id' });
    ctx.body = rule;
  });

  router.post('/v1/provisioning-rules', auth, async (ctx: Context) => {
    const input = parseBody(provisioningRuleInput, await readJson(ctx));
    const { rule, auditProject } = await addProvisioningRule(services, principalOf(ctx), input);
    await auditAction(ctx, services, { action: 'provisioning_rule.created', target: { type: 'provisioning_rule', id: rule.id }, project_id: auditProject, outcome: 'success', detail: ruleAuditDetail(rule) });
    ctx.status = 201;
    ctx.body = rule;
  });

  router.delete('/v1/provisioning-rules/:id', auth, async (ctx: Context) => {
    const { rule, auditProject } = await removeProvisioningRule(services, principalOf(ctx), ctx.params.id!);
    await auditAction(ctx, services, { action: 'provisioning_rule.deleted', target: { type: 'provisioning_rule', id: rule.id }, project_id: auditProject, outcome: 'success', detail: ruleAuditDetail(rule) });
    ctx.status = 204;
  });
}
