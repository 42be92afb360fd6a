import { z } from 'zod';
import type { AccessPolicy } from '../access/index.ts';
import type { AuditLog } from '../audit/index.ts';
import { DomainError, type Caller } from '../domain/index.ts';
import { ROLES, type ProjectRepository, type ProvisioningRules, type ProvisioningRuleView } from '../directory/index.ts';

/**
 * A provisioning rule as a caller writes it: an email domain, optionally limited to some connections, and
 * the project role the new account starts with. The /v1 door validates with it (and describes it in
 * /v1/openapi.json); the service checks any plain input with it too, so the dashboard and the CLI get the
 * same refusals.
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
type ProvisioningRuleBody = z.input<typeof provisioningRuleInput>;

const ORG_WIDE = 'managing provisioning rules';

const auditDetail = (rule: ProvisioningRuleView) => ({ email_domain: rule.email_domain, connectors: rule.connectors, role: rule.role });

interface ProvisioningRuleServiceDeps {
  rules: ProvisioningRules;
  projects: ProjectRepository;
  access: AccessPolicy;
  audit: AuditLog;
  /** The ids of the connections enabled now (the set changes at run time). */
  connectorIds: () => string[];
}

/**
 * Who gets an account on first federated sign-in: the configuration file's rules (read-only, tried first)
 * and rules made at run time. Organisation-wide: admin:projects on an organisation to read or change them;
 * a rule that gives a role needs the caller to administer that project, and only an owner makes a rule
 * that makes owners (or removes one). A rule that could never be reached (same domain and connections as
 * an earlier one) is a conflict naming that rule.
 *
 * Methods (the /v1 routes and the dashboard's SSO page call these): list, get, create, remove.
 */
export class ProvisioningRuleService {
  private readonly deps: ProvisioningRuleServiceDeps;
  constructor(deps: ProvisioningRuleServiceDeps) {
    this.deps = deps;
  }

  async list(caller: Caller): Promise<ProvisioningRuleView[]> {
    await this.deps.access.requireOrgAdmin(caller.principal, ORG_WIDE);
    return this.deps.rules.list();
  }

  async get(caller: Caller, id: string): Promise<ProvisioningRuleView> {
    await this.deps.access.requireOrgAdmin(caller.principal, ORG_WIDE);
    const rule = await this.deps.rules.get(id);
    if (!rule) throw new DomainError('not_found', `provisioning rule ${id} does not exist`, 'id');
    return rule;
  }

  async create(caller: Caller, input: ProvisioningRuleBody): Promise<ProvisioningRuleView> {
    const root = await this.deps.access.requireOrgAdmin(caller.principal, ORG_WIDE);
    const parsed = provisioningRuleInput.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.join('.');
      throw new DomainError('invalid', field ? `${field}: ${issue.message}` : issue.message, field || undefined);
    }
    const rule = parsed.data;
    const known = this.deps.connectorIds();
    for (const [i, id] of (rule.connectors ?? []).entries()) {
      if (!known.includes(id)) throw new DomainError('invalid', `connectors.${i}: no connection ${id} (${known.join(', ') || 'none configured'})`, `connectors.${i}`);
    }
    if (rule.project_id) {
      await this.deps.access.requireRoleChange(caller.principal, rule.project_id, { to: rule.role }, 'make new accounts owners');
    }
    const created = await this.deps.rules.create(rule, caller.principal.actor.id);
    await this.deps.audit.recordBy(caller, { action: 'provisioning_rule.created', target: { type: 'provisioning_rule', id: created.id }, project_id: rule.project_id ?? root, outcome: 'success', detail: auditDetail(created) });
    return created;
  }

  /** Removes a stored rule (a configuration rule is a conflict: change the file); accounts it made stay. */
  async remove(caller: Caller, id: string): Promise<ProvisioningRuleView> {
    const root = await this.deps.access.requireOrgAdmin(caller.principal, ORG_WIDE);
    const rule = await this.deps.rules.get(id);
    if (!rule) throw new DomainError('not_found', `provisioning rule ${id} does not exist`, 'id');
    if (rule.origin === 'config') throw new DomainError('conflict', 'this rule comes from the configuration file (provisioning.rules); change it there');
    // A rule whose project is gone grants nothing; the organisation admin may remove it.
    if (rule.project && (await this.deps.projects.get(rule.project))) {
      await this.deps.access.requireRoleChange(caller.principal, rule.project, { from: rule.role }, 'remove a rule that makes owners', { project: 'id', about: `provisioning rule ${rule.id}` });
    }
    await this.deps.rules.delete(rule.id);
    await this.deps.audit.recordBy(caller, { action: 'provisioning_rule.deleted', target: { type: 'provisioning_rule', id: rule.id }, project_id: rule.project ?? root, outcome: 'success', detail: auditDetail(rule) });
    return rule;
  }
}
