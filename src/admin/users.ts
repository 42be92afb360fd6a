import { z } from 'zod';
import type { AccountService, Account } from '../accounts/index.ts';
import { ROLES } from '../directory/index.ts';
import type { ApiRoutes } from './api-routes.ts';
import { callerOf } from '../http/caller.ts';

const PATCH_USER = z.strictObject({
  disabled: z.boolean().optional().describe('true ends every session and token of the account; a directory sync never enables it again'),
  name: z.string().trim().min(1).max(200).optional(),
});
const USER_ID = z.strictObject({ id: z.string().describe('A user id (the `sub` of their tokens)') });

export const ROLE_CAUSE = z.strictObject({
  role: z.enum(ROLES),
  cause: z.enum(['manual', 'ldap_sync', 'idp_groups', 'provisioning', 'scim']),
  source: z.string().nullable().describe('The group source behind an automatic grant (`ldap`, a connector or SCIM connection id)'),
  updated_at: z.iso.datetime(),
});

const ACCOUNT = z.strictObject({
  id: z.string(),
  email: z.string(),
  email_verified: z.boolean(),
  name: z.string().nullable(),
  disabled: z.boolean(),
  deprovisioned: z
    .strictObject({ source: z.string(), reason: z.enum(['gone', 'disabled']), at: z.iso.datetime() })
    .nullable()
    .describe('Why a directory sync disabled the account; null when it did not'),
  source: z.string().describe('`static` (configuration), `local`, or the connector it came from'),
  created_at: z.iso.datetime(),
  last_login_at: z.iso.datetime().nullable(),
  identities: z.array(
    z.strictObject({
      connector_id: z.string(),
      subject: z.string(),
      issuer: z.string().nullable(),
      email: z.string().nullable(),
      groups: z.array(z.string()),
      linked_at: z.iso.datetime(),
      last_login_at: z.iso.datetime(),
    }),
  ),
  memberships: z
    .array(z.strictObject({ project_id: z.string(), role: z.enum(ROLES), causes: z.array(ROLE_CAUSE) }))
    .describe('Roles on the projects the caller administers, each with its causes'),
});

const accountView = (account: Account): z.infer<typeof ACCOUNT> => account;

/** People's accounts (src/accounts): those on projects the caller administers. */
export function userRoutes(api: ApiRoutes, services: { accounts: AccountService }): void {
  const { accounts } = services;

  api.add(
    {
      method: 'get',
      path: '/v1/users',
      operationId: 'listUsers',
      summary: 'The accounts the caller may see',
      description: 'Accounts that belong to a project the caller administers; accounts with no role only for an admin of every organization.',
      tag: 'Users',
      responses: { 200: { description: 'The accounts, by email', schema: z.strictObject({ users: z.array(ACCOUNT) }) } },
    },
    async (ctx) => ({ users: (await accounts.list(callerOf(ctx))).map(accountView) }),
  );

  api.add(
    {
      method: 'get',
      path: '/v1/users/:id',
      operationId: 'getUser',
      summary: 'An account the caller may see',
      tag: 'Users',
      params: USER_ID,
      responses: { 200: { description: 'The account', schema: ACCOUNT } },
      problems: [404],
    },
    async (ctx, { params }) => accountView(await accounts.get(callerOf(ctx), params.id)),
  );

  api.add(
    {
      method: 'patch',
      path: '/v1/users/:id',
      operationId: 'updateUser',
      summary: 'Rename, disable or enable an account',
      description: 'The caller must administer every project the account belongs to, and be an owner wherever it is an owner.',
      tag: 'Users',
      params: USER_ID,
      body: PATCH_USER,
      responses: { 200: { description: 'The account', schema: ACCOUNT } },
      problems: [404],
    },
    async (ctx, { params, body }) => accountView(await accounts.update(callerOf(ctx), params.id, body)),
  );
}
