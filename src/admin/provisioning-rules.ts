import { z } from 'zod';
import { ROLES, type ProvisioningRuleView } from '../directory/index.ts';
import { provisioningRuleInput, type ProvisioningRuleService } from '../provisioning/index.ts';
import type { ApiRoutes } from './api-routes.ts';
import { callerOf } from '../http/caller.ts';

const RULE_ID = z.strictObject({ id: z.string().describe('A provisioning rule id') });
const RULE = z.strictObject({
  id: z.string(),
  email_domain: z.string(),
  connectors: z.array(z.string()).describe('Connections the rule is limited to; empty: any'),
  project: z.string().nullable().describe('A project id (stored rules) or, for configuration rules, the id or name written there'),
  role: z.enum(ROLES).nullable(),
  origin: z.enum(['config', 'api']),
  created_at: z.iso.datetime().nullable(),
  created_by: z.string().nullable(),
});

function ruleView(r: ProvisioningRuleView): z.infer<typeof RULE> {
  return { id: r.id, email_domain: r.email_domain, connectors: r.connectors, project: r.project, role: r.role, origin: r.origin, created_at: r.created_at, created_by: r.created_by };
}

/**
 * /v1/provisioning-rules: who gets an account on first federated sign-in (email domain, optionally limited
 * to some connections), and the project role the new account starts with (src/provisioning). The
 * configuration file's rules come first and are read-only here.
 */
export function provisioningRuleRoutes(api: ApiRoutes, { provisioningRules: rules }: { provisioningRules: ProvisioningRuleService }): void {

  api.add(
    {
      method: 'get',
      path: '/v1/provisioning-rules',
      operationId: 'listProvisioningRules',
      summary: 'Provisioning rules, in the order they are tried',
      tag: 'Provisioning rules',
      responses: { 200: { description: 'Configuration rules first, then stored ones', schema: z.strictObject({ provisioning_rules: z.array(RULE) }) } },
    },
    async (ctx) => ({ provisioning_rules: (await rules.list(callerOf(ctx))).map(ruleView) }),
  );

  api.add(
    {
      method: 'get',
      path: '/v1/provisioning-rules/:id',
      operationId: 'getProvisioningRule',
      summary: 'A provisioning rule',
      tag: 'Provisioning rules',
      params: RULE_ID,
      responses: { 200: { description: 'The rule', schema: RULE } },
      problems: [404],
    },
    async (ctx, { params }) => ruleView(await rules.get(callerOf(ctx), params.id)),
  );

  api.add(
    {
      method: 'post',
      path: '/v1/provisioning-rules',
      operationId: 'createProvisioningRule',
      summary: 'Add a provisioning rule',
      description: 'A rule with the same domain and connections as an existing one could never apply: 409 names that rule.',
      tag: 'Provisioning rules',
      body: provisioningRuleInput,
      responses: { 201: { description: 'The rule', schema: RULE } },
      problems: [404, 409],
    },
    async (ctx, { body }) => ruleView(await rules.create(callerOf(ctx), body)),
  );

  api.add(
    {
      method: 'delete',
      path: '/v1/provisioning-rules/:id',
      operationId: 'deleteProvisioningRule',
      summary: 'Remove a stored provisioning rule (accounts it made stay)',
      tag: 'Provisioning rules',
      params: RULE_ID,
      responses: { 204: { description: 'Removed' } },
      problems: [404, 409],
    },
    async (ctx, { params }) => {
      await rules.remove(callerOf(ctx), params.id);
      ctx.status = 204;
      return undefined;
    },
  );
}
