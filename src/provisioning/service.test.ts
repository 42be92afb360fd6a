import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openPeople, refusal, type People } from '../../test/support/people.ts';

let people: People;
beforeEach(async () => {
  people = await openPeople({ connectors: ['corp-oidc', 'partner-saml'], rules: [{ email_domain: 'acme.example', connectors: ['corp-oidc'] }] });
});
afterEach(async () => {
  await people.close();
});

describe('ProvisioningRuleService', () => {
  it('a rule that could never apply is a conflict naming the rule it conflicts with (configuration or stored)', async () => {
    const owner = await people.person('owner@acme.example', { [people.acme]: 'owner' });
    const withConfig = await refusal(people.provisioningRules.create(await owner.caller(), { email_domain: 'ACME.example', connectors: ['corp-oidc'] }));
    expect(withConfig).toMatchObject({ code: 'conflict', field: 'email_domain' });
    expect(withConfig!.message).toContain('cfg_0');
    const stored = await people.provisioningRules.create(await owner.caller(), { email_domain: 'acme.example', connectors: ['partner-saml', 'corp-oidc'], project_id: people.team, role: 'viewer' });
    const withStored = await refusal(people.provisioningRules.create(await owner.caller(), { email_domain: 'acme.example', connectors: ['corp-oidc', 'partner-saml'] }));
    expect(withStored).toMatchObject({ code: 'conflict', field: 'email_domain' });
    expect(withStored!.message).toContain(stored.id);
    // Two creates of one scope racing: exactly one lands.
    const raced = await Promise.allSettled([people.provisioningRules.create(await owner.caller(), { email_domain: 'race.example' }), people.provisioningRules.create(await owner.caller(), { email_domain: 'race.example' })]);
    expect(raced.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });

  it('only an owner makes a rule that makes owners, or removes one; a configuration rule is read-only', async () => {
    const owner = await people.person('owner@acme.example', { [people.acme]: 'owner' });
    const admin = await people.person('admin@acme.example', { [people.acme]: 'admin' });
    expect(await refusal(people.provisioningRules.create(await admin.caller(), { email_domain: 'new.example', project_id: people.team, role: 'owner' }))).toMatchObject({ code: 'forbidden', field: 'role' });
    const rule = await people.provisioningRules.create(await owner.caller(), { email_domain: 'new.example', project_id: people.team, role: 'owner' });
    expect(await refusal(people.provisioningRules.remove(await admin.caller(), rule.id))).toMatchObject({ code: 'forbidden' });
    expect(await refusal(people.provisioningRules.remove(await admin.caller(), 'cfg_0'))).toMatchObject({ code: 'conflict' });
    await people.provisioningRules.remove(await owner.caller(), rule.id);
    expect(await people.actions()).toEqual(expect.arrayContaining(['provisioning_rule.created', 'provisioning_rule.deleted']));
  });

  it('refuses another organisation’s project, an unknown connection and a viewer; checks plain input like the door', async () => {
    const admin = await people.person('admin@acme.example', { [people.acme]: 'admin' });
    const viewer = await people.person('viewer@acme.example', { [people.acme]: 'viewer' });
    expect(await refusal(people.provisioningRules.create(await admin.caller(), { email_domain: 'x.example', project_id: people.globex, role: 'viewer' }))).toMatchObject({ code: 'forbidden' });
    expect(await refusal(people.provisioningRules.create(await admin.caller(), { email_domain: 'x.example', connectors: ['nope'] }))).toMatchObject({ code: 'invalid', field: 'connectors.0' });
    expect(await refusal(people.provisioningRules.create(await admin.caller(), { email_domain: 'x.example', role: 'viewer' }))).toMatchObject({ code: 'invalid', field: 'project_id' });
    expect(await refusal(people.provisioningRules.list(await viewer.caller()))).toMatchObject({ code: 'forbidden' });
  });
});

describe('RoleMappingService', () => {
  it('an admin cannot map a group to owner nor remove such a mapping, and cannot even preview making one', async () => {
    const owner = await people.person('owner@acme.example', { [people.acme]: 'owner' });
    const admin = await people.person('admin@acme.example', { [people.acme]: 'admin' });
    const toOwner = { source: 'ldap', group: 'admins', project_id: people.team, role: 'owner' as const };
    expect(await refusal(people.roleMappings.create(await admin.caller(), toOwner))).toMatchObject({ code: 'forbidden', field: 'role' });
    expect(await refusal(people.roleMappings.previewCreate(await admin.caller(), toOwner))).toMatchObject({ code: 'forbidden' });
    const mapping = await people.roleMappings.create(await owner.caller(), { ...toOwner, group: '  admins ' });
    expect(mapping.group).toBe('admins');
    expect(await refusal(people.roleMappings.remove(await admin.caller(), mapping.id))).toMatchObject({ code: 'forbidden' });
    // Looking is not changing: the plain preview needs admin:projects only.
    expect(await people.roleMappings.preview(await admin.caller(), { remove: [mapping.id] })).toEqual([]);
    await people.roleMappings.remove(await owner.caller(), mapping.id);
    expect(await people.actions()).toEqual(expect.arrayContaining(['role_mapping.created', 'role_mapping.deleted']));
  });

  it('another organisation’s mappings are neither listed nor previewed; an unknown source is refused with its field', async () => {
    const admin = await people.person('admin@acme.example', { [people.acme]: 'admin' });
    const globexOwner = await people.person('owner@globex.example', { [people.globex]: 'owner' });
    const theirs = await people.roleMappings.create(await globexOwner.caller(), { source: 'corp-oidc', group: 'staff', project_id: people.globex, role: 'member' });
    expect(await people.roleMappings.list(await admin.caller())).toEqual([]);
    expect(await refusal(people.roleMappings.preview(await admin.caller(), { remove: [theirs.id] }))).toMatchObject({ code: 'forbidden' });
    expect(await refusal(people.roleMappings.create(await admin.caller(), { source: 'corp-oidc', group: 'staff', project_id: people.globex, role: 'member' }))).toMatchObject({ code: 'forbidden' });
    expect(await refusal(people.roleMappings.preview(await admin.caller(), { add: [{ source: 'nowhere', group: 'g', project_id: people.acme, role: 'viewer' }] }))).toMatchObject({ code: 'invalid', field: 'add.0.source' });
  });
});
