import { describe, expect, it } from 'vitest';
import { AccessDenied, AccessPolicy, type Principal } from './policy.ts';

/** Acme (org) > Team > Sub, and Globex (org): the tree the policy reads, in memory. */
const PATHS: Record<string, string[]> = {
  prj_acme: ['prj_acme'],
  prj_team: ['prj_acme', 'prj_team'],
  prj_sub: ['prj_acme', 'prj_team', 'prj_sub'],
  prj_globex: ['prj_globex'],
};
const tree = {
  pathOf: async (id: string) => PATHS[id],
  roots: async () => [{ id: 'prj_acme' }, { id: 'prj_globex' }],
  subtree: async (id: string) => Object.entries(PATHS).filter(([, path]) => path.includes(id)).map(([p]) => ({ id: p })),
};
const policy = new AccessPolicy(tree);
const ALL = ['read:logs', 'write:alerts', 'admin:projects'];
const person = (roles: Record<string, string>, scopes = ALL): Principal => ({ kind: 'token', actor: { type: 'user', id: 'u' }, scopes, project_roles: roles });
const key = (project: string, scopes: string[]): Principal => ({ kind: 'api_key', actor: { type: 'api_key', id: 'key_1' }, project_id: project, scopes });
const operator: Principal = { kind: 'operator', actor: { type: 'system', id: 'cli:root' } };

async function refusal(check: Promise<unknown>): Promise<string | undefined> {
  try {
    await check;
    return undefined;
  } catch (err) {
    if (err instanceof AccessDenied) return err.code;
    throw err;
  }
}

describe('AccessPolicy', () => {
  it.each([
    ['an admin of the org, below', person({ prj_acme: 'admin' }), 'prj_sub', ALL],
    ['a viewer', person({ prj_team: 'viewer' }), 'prj_sub', ['read:logs']],
    ['a viewer, above their project', person({ prj_team: 'viewer' }), 'prj_acme', []],
    ['a token narrower than the role', person({ prj_acme: 'owner' }, ['read:logs']), 'prj_team', ['read:logs']],
    ['a key on its subtree', key('prj_team', ['read:logs']), 'prj_sub', ['read:logs']],
    ['a key elsewhere', key('prj_team', ALL), 'prj_globex', []],
    ['the operator', operator, 'prj_globex', ALL],
    ['anyone, on a project that does not exist', operator, 'prj_gone', []],
  ])('scopes of %s', async (_name, principal, project, expected) => {
    expect(await policy.scopesOn(principal, project)).toEqual(expected);
  });

  it('makes only people owners, never a key or a client', async () => {
    expect(await policy.isOwner(person({ prj_acme: 'owner' }), 'prj_sub')).toBe(true);
    expect(await policy.isOwner(person({ prj_team: 'owner' }), 'prj_acme')).toBe(false);
    expect(await policy.isOwner(key('prj_acme', ALL), 'prj_acme')).toBe(false);
    expect(await policy.isOwner({ kind: 'token', actor: { type: 'client', id: 'svc' }, scopes: ALL, project_roles: { prj_acme: 'owner' } }, 'prj_acme')).toBe(false);
  });

  it('needs every scope of a key to create or rotate it', async () => {
    expect(await refusal(policy.requireKeyScopes(key('prj_acme', ['admin:projects']), 'prj_team', ['write:alerts']))).toBe('forbidden');
    expect(await refusal(policy.requireKeyScopes(person({ prj_acme: 'admin' }, ['admin:projects', 'read:logs']), 'prj_team', ['read:logs']))).toBeUndefined();
    expect(await refusal(policy.requireKeyScopes(person({ prj_team: 'member' }), 'prj_team', ['read:logs']))).toBe('forbidden');
    expect(await refusal(policy.requireKeyScopes(operator, 'prj_gone', ['read:logs']))).toBe('not_found');
  });

  it('gives and takes owner only to and from owners', async () => {
    const admin = person({ prj_acme: 'admin' });
    const owner = person({ prj_acme: 'owner' });
    expect(await refusal(policy.requireRoleChange(admin, 'prj_team', { to: 'admin' }, 'x'))).toBeUndefined();
    expect(await refusal(policy.requireRoleChange(admin, 'prj_team', { to: 'owner' }, 'x'))).toBe('forbidden');
    expect(await refusal(policy.requireRoleChange(admin, 'prj_team', { from: 'owner', to: 'viewer' }, 'x'))).toBe('forbidden');
    expect(await refusal(policy.requireRoleChange(owner, 'prj_team', { from: 'owner', to: null }, 'x'))).toBeUndefined();
    // An owner by directory groups is an owner too: an admin may not demote them by hand.
    const ldapOwner = { id: 'u2', grants: [{ project_id: 'prj_acme', role: 'owner' }] };
    expect(await refusal(policy.requireMemberChange(admin, 'prj_team', ldapOwner, 'viewer'))).toBe('forbidden');
    expect(await refusal(policy.requireUserChange(admin, ldapOwner))).toBe('forbidden');
    expect(await refusal(policy.requireUserChange(owner, ldapOwner))).toBeUndefined();
  });

  it('shows an account only to admins of a project it belongs to', async () => {
    const globexAdmin = person({ prj_globex: 'admin' });
    const acmeMember = { id: 'u3', grants: [{ project_id: 'prj_sub', role: 'member' }] };
    expect(await policy.canSeeUser(globexAdmin, acmeMember)).toBe(false);
    expect(await policy.canSeeUser(person({ prj_team: 'admin' }), acmeMember)).toBe(true);
    // No role anywhere: an admin of every organisation only.
    const orphan = { id: 'u4', grants: [] };
    expect(await policy.canSeeUser(person({ prj_acme: 'admin' }), orphan)).toBe(false);
    expect(await policy.canSeeUser(person({ prj_acme: 'admin', prj_globex: 'admin' }), orphan)).toBe(true);
    // Changing an account in two organisations needs both.
    const both = { id: 'u5', grants: [{ project_id: 'prj_acme', role: 'viewer' }, { project_id: 'prj_globex', role: 'viewer' }] };
    const err = await policy.requireUserChange(person({ prj_acme: 'admin' }), both).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AccessDenied);
    expect((err as Error).message).not.toContain('prj_globex');
  });

  it('makes connection changes that decide who an account is an owner-of-every-organisation matter', async () => {
    const acmeOwner = person({ prj_acme: 'owner' });
    const everywhere = person({ prj_acme: 'owner', prj_globex: 'owner' });
    const admin = person({ prj_acme: 'admin' });
    expect(await refusal(policy.requireConnectionChange(admin, { action: 'update', fields: ['name', 'enabled', 'client_secret'] }))).toBeUndefined();
    for (const field of ['issuer', 'trust_email', 'email_domains', 'ldap', 'attributes', 'groups_claim', 'client_id']) {
      expect(await refusal(policy.requireConnectionChange(admin, { action: 'update', fields: [field] })), field).toBe('forbidden');
    }
    expect(await refusal(policy.requireConnectionChange(admin, { action: 'create' }))).toBe('forbidden');
    expect(await refusal(policy.requireConnectionChange(acmeOwner, { action: 'create' }))).toBe('forbidden');
    expect(await refusal(policy.requireConnectionChange(everywhere, { action: 'delete' }))).toBeUndefined();
    expect(await refusal(policy.requireConnectionChange(key('prj_acme', ALL), { action: 'update', fields: ['name'] }))).toBeUndefined();
    expect(await refusal(policy.requireConnectionChange(key('prj_team', ALL), { action: 'update', fields: ['name'] }))).toBe('forbidden');
  });

  it('narrows exchanged scopes to the key', () => {
    expect(policy.exchangeScopes(['read:logs'], ['read:logs', 'admin:projects'])).toEqual({ scopes: ['read:logs'], refused: ['admin:projects'] });
    expect(policy.exchangeScopes(['read:logs', 'write:alerts'], undefined)).toEqual({ scopes: ['read:logs', 'write:alerts'], refused: [] });
  });

  it('a SCIM token holds no scope anywhere and reaches only its own connection\'s resources', async () => {
    const scim: Principal = { kind: 'scim', actor: { type: 'system', id: 'scim:entra-scim' }, connection_id: 'entra-scim', connector: 'corp' };
    expect(await policy.scopesOn(scim, 'prj_acme')).toEqual([]);
    expect(await policy.visibleProjects(scim)).toEqual(new Set());
    expect(await policy.isOwner(scim, 'prj_acme')).toBe(false);
    expect(await refusal(policy.requireConnectionChange(scim, { action: 'create' }))).toBe('forbidden');
    expect(await refusal(policy.requireUserChange(scim, { id: 'u', grants: [] }))).toBe('not_found');
    expect(() => policy.scimConnection(person({ prj_acme: 'owner' }))).toThrow(AccessDenied);
    expect(() => policy.requireScimResource(scim, { connection_id: 'entra-scim' }, 'User', 'u')).not.toThrow();
    for (const other of [{ connection_id: 'okta-scim' }, { connection_id: 'entra-scim', deleted: true }, undefined]) {
      expect(() => policy.requireScimResource(scim, other, 'User', 'u')).toThrow(expect.objectContaining({ code: 'not_found' }));
    }
    const jit = { provisioned_by: null, source: 'corp', has_password: false, identity_connectors: ['corp'] };
    expect(policy.scimMayClaim(scim, jit)).toBe(true);
    expect(policy.scimMayClaim(scim, { ...jit, provisioned_by: 'entra-scim' })).toBe(true);
    expect(policy.scimMayClaim(scim, { ...jit, provisioned_by: 'okta-scim' })).toBe(false);
    expect(policy.scimMayClaim(scim, { ...jit, has_password: true })).toBe(false);
    expect(policy.scimMayClaim(scim, { ...jit, source: 'static' })).toBe(false);
    expect(policy.scimMayClaim(scim, { ...jit, identity_connectors: ['corp', 'vk'] })).toBe(false);
  });
});
