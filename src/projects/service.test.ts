import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openPeople, refusal, type People } from '../../test/support/people.ts';

let people: People;
beforeEach(async () => {
  people = await openPeople();
});
afterEach(async () => {
  await people.close();
});

describe('ProjectService', () => {
  it('creates a project below one the caller administers, audited with the address; not in another organisation', async () => {
    const admin = await people.person('admin@acme.example', { [people.acme]: 'admin' });
    const made = await people.projects.create(await admin.caller(), { name: '  Billing ', parent_id: people.team });
    expect(made).toMatchObject({ name: 'Billing', parent_id: people.team, path: [people.acme, people.team, made.id] });
    const [event] = (await people.auditLog.list()).filter((e) => e.action === 'project.created');
    expect(event).toMatchObject({ actor: { type: 'user', id: admin.id }, ip: '203.0.113.7', user_agent: 'unit-test', project_id: made.id });
    expect(await refusal(people.projects.create(await admin.caller(), { name: 'Spy', parent_id: people.globex }))).toMatchObject({ code: 'forbidden' });
    expect(await refusal(people.projects.create(await admin.caller(), { name: 'Ghost', parent_id: 'prj_missing' }))).toMatchObject({ code: 'not_found', field: 'parent_id' });
  });

  it('an organisation needs an admin of every organisation; a name taken is a conflict; an empty name is invalid', async () => {
    const admin = await people.person('admin@acme.example', { [people.acme]: 'admin' });
    expect(await refusal(people.projects.create(await admin.caller(), { name: 'Initech' }))).toMatchObject({ code: 'forbidden', field: 'parent_id' });
    expect(await refusal(people.projects.create(people.operator, { name: 'acme' }))).toMatchObject({ code: 'conflict', field: 'name' });
    expect(await refusal(people.projects.create(people.operator, { name: '   ' }))).toMatchObject({ code: 'invalid', field: 'name' });
  });

  it('lists and reads only visible projects: another organisation’s project does not exist for the caller', async () => {
    const viewer = await people.person('viewer@acme.example', { [people.team]: 'viewer' });
    expect((await people.projects.list(await viewer.caller())).map((p) => p.id)).toEqual([people.team]);
    expect((await people.projects.get(await viewer.caller(), people.team)).name).toBe('Team');
    const other = await refusal(people.projects.get(await viewer.caller(), people.globex));
    expect(other).toMatchObject({ code: 'not_found' });
    expect(await refusal(people.projects.get(await viewer.caller(), people.acme))).toEqual(other && { ...other, message: other.message.replace(people.globex, people.acme) });
  });
});

describe('MembershipService', () => {
  it('an admin cannot make themselves owner, nor demote or remove an owner', async () => {
    const owner = await people.person('owner@acme.example', { [people.acme]: 'owner' });
    const admin = await people.person('admin@acme.example', { [people.acme]: 'admin' });
    expect(await refusal(people.members.setRole(await admin.caller(), { project_id: people.acme, user_id: admin.id, role: 'owner' }))).toMatchObject({ code: 'forbidden', field: 'role' });
    expect(await refusal(people.members.setRole(await admin.caller(), { project_id: people.team, user_id: admin.id, role: 'owner' }))).toMatchObject({ code: 'forbidden' });
    expect(await refusal(people.members.setRole(await admin.caller(), { project_id: people.acme, user_id: owner.id, role: 'viewer' }))).toMatchObject({ code: 'forbidden' });
    expect(await refusal(people.members.remove(await admin.caller(), { project_id: people.acme, user_id: owner.id }))).toMatchObject({ code: 'forbidden' });
    expect((await people.membershipRepository.rolesOf(owner.id))[people.acme]).toBe('owner');
    expect((await people.membershipRepository.rolesOf(admin.id))[people.acme]).toBe('admin');
    expect(await people.actions()).not.toContain('member.role_changed');
  });

  it('an owner grants and removes; each change is audited with from and to', async () => {
    const owner = await people.person('owner@acme.example', { [people.acme]: 'owner' });
    const bob = await people.person('bob@acme.example', {});
    expect(await people.members.setRole(await owner.caller(), { project_id: people.team, user_id: bob.id, role: 'owner' })).toMatchObject({ user_id: bob.id, role: 'owner' });
    expect((await people.members.list(await owner.caller(), people.team)).map((m) => [m.email, m.role, m.manual])).toEqual([['bob@acme.example', 'owner', 'owner']]);
    await people.members.remove(await owner.caller(), { project_id: people.team, user_id: bob.id });
    expect(await refusal(people.members.remove(await owner.caller(), { project_id: people.team, user_id: bob.id }))).toMatchObject({ code: 'not_found', field: 'user_id' });
    const changes = (await people.auditLog.list()).filter((e) => e.action === 'member.role_changed').map((e) => e.detail);
    expect(changes).toEqual([
      { cause: 'manual', from: null, to: 'owner' },
      { cause: 'manual', from: 'owner', to: null },
    ]);
  });

  it('another organisation’s project: no listing, no grant; an unknown user is not_found', async () => {
    const admin = await people.person('admin@acme.example', { [people.acme]: 'admin' });
    const bob = await people.person('bob@acme.example', {});
    expect(await refusal(people.members.list(await admin.caller(), people.globex))).toMatchObject({ code: 'forbidden' });
    expect(await refusal(people.members.setRole(await admin.caller(), { project_id: people.globex, user_id: bob.id, role: 'viewer' }))).toMatchObject({ code: 'forbidden' });
    expect(await refusal(people.members.setRole(await admin.caller(), { project_id: people.acme, user_id: 'nobody', role: 'viewer' }))).toMatchObject({ code: 'not_found', field: 'user_id' });
  });
});
