import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openPeople, refusal, type People } from '../../test/support/people.ts';
import { sessionEnded } from '../directory/index.ts';

let people: People;
beforeEach(async () => {
  people = await openPeople();
});
afterEach(async () => {
  await people.close();
});

describe('AccountService', () => {
  it('lists only the accounts on projects the caller administers, with roles there only', async () => {
    const admin = await people.person('admin@acme.example', { [people.acme]: 'admin' });
    await people.person('carol@globex.example', { [people.globex]: 'admin' });
    const both = await people.person('dual@example.com', { [people.team]: 'viewer', [people.globex]: 'member' });
    await people.person('loner@example.com', {});
    const listed = await people.accounts.list(await admin.caller());
    expect(listed.map((a) => a.email)).toEqual(['admin@acme.example', 'dual@example.com']);
    // Another organisation's role of a shared person is not named.
    expect(listed.find((a) => a.id === both.id)!.memberships.map((m) => m.project_id)).toEqual([people.team]);
    // An account with no role belongs to no organisation: only an admin of every one sees it.
    expect((await people.accounts.list(people.operator)).map((a) => a.email)).toContain('loner@example.com');
  });

  it('another organisation’s user does not exist for the caller, and cannot be changed', async () => {
    const admin = await people.person('admin@acme.example', { [people.acme]: 'admin' });
    const carol = await people.person('carol@globex.example', { [people.globex]: 'member' });
    expect(await refusal(people.accounts.get(await admin.caller(), carol.id))).toMatchObject({ code: 'not_found' });
    expect(await refusal(people.accounts.update(await admin.caller(), carol.id, { disabled: true }))).toMatchObject({ code: 'not_found' });
    expect((await people.userRepository.findById(carol.id))!.disabled).toBeFalsy();
  });

  it('disabling ends sessions and is audited; an admin cannot disable an owner, nor an account also in another organisation', async () => {
    const owner = await people.person('owner@acme.example', { [people.acme]: 'owner' });
    const admin = await people.person('admin@acme.example', { [people.acme]: 'admin' });
    const bob = await people.person('bob@acme.example', { [people.team]: 'member' });
    const dual = await people.person('dual@example.com', { [people.team]: 'viewer', [people.globex]: 'member' });
    const before = Math.floor(Date.now() / 1000) - 1;
    const disabled = await people.accounts.update(await admin.caller(), bob.id, { disabled: true, name: ' Bob ' });
    expect(disabled).toMatchObject({ disabled: true, name: 'Bob' });
    expect(sessionEnded((await people.userRepository.findById(bob.id))!, before)).toBe(true);
    expect(await people.actions()).toContain('user.disabled');
    expect(await refusal(people.accounts.update(await admin.caller(), owner.id, { disabled: true }))).toMatchObject({ code: 'forbidden' });
    expect(await refusal(people.accounts.update(await admin.caller(), dual.id, { name: 'Renamed' }))).toMatchObject({ code: 'forbidden' });
    expect(await refusal(people.accounts.update(await admin.caller(), bob.id, { name: '' }))).toMatchObject({ code: 'invalid', field: 'name' });
    expect((await people.accounts.update(await owner.caller(), owner.id, { disabled: false })).disabled).toBe(false);
  });

  it('addLocal (the CLI) refuses a bad email and a half-given role before writing anything', async () => {
    expect(await refusal(people.accounts.addLocal(people.operator, { email: 'not an email' }))).toMatchObject({ code: 'invalid', field: 'email' });
    expect(await refusal(people.accounts.addLocal(people.operator, { email: 'x@acme.example', project_id: people.acme }))).toMatchObject({ code: 'invalid', field: 'role' });
    expect(await people.userRepository.findByEmail('x@acme.example')).toBeUndefined();
    const made = await people.accounts.addLocal(people.operator, { email: 'X@acme.example', project_id: people.acme, role: 'owner' });
    expect(made).toMatchObject({ created: true, role: 'owner' });
    expect((await people.membershipRepository.rolesOf(made.user.id))[people.acme]).toBe('owner');
  });
});
