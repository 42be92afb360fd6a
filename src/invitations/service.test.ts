import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openPeople, refusal, type People } from '../../test/support/people.ts';

let people: People;
beforeEach(async () => {
  people = await openPeople();
});
afterEach(async () => {
  await people.close();
});

const FROM = { ip: '198.51.100.2', user_agent: 'browser' };

describe('InvitationService', () => {
  it('an admin cannot invite as owner, nor revoke an invitation as owner; an owner can', async () => {
    const owner = await people.person('owner@acme.example', { [people.acme]: 'owner' });
    const admin = await people.person('admin@acme.example', { [people.acme]: 'admin' });
    expect(await refusal(people.invitations.create(await admin.caller(), { project_id: people.team, email: 'new@acme.example', role: 'owner' }))).toMatchObject({ code: 'forbidden', field: 'role' });
    const made = await people.invitations.create(await owner.caller(), { project_id: people.team, email: 'New@Acme.example', role: 'owner' });
    expect(made.url).toBe(`https://auth.example/invitations/${made.token}`);
    expect(made.invitation).toMatchObject({ email: 'new@acme.example', role: 'owner', status: 'pending' });
    expect(await refusal(people.invitations.revoke(await admin.caller(), { project_id: people.team, invitation_id: made.invitation.id }))).toMatchObject({ code: 'forbidden' });
    expect((await people.invitations.revoke(await owner.caller(), { project_id: people.team, invitation_id: made.invitation.id })).status).toBe('revoked');
    expect(await refusal(people.invitations.revoke(await owner.caller(), { project_id: people.team, invitation_id: made.invitation.id }))).toMatchObject({ code: 'conflict', field: 'invitation_id' });
    expect(await people.actions()).toEqual(expect.arrayContaining(['invitation.created', 'invitation.revoked']));
  });

  it('another organisation’s project: no invite, no list, and its invitations are not found by id', async () => {
    const admin = await people.person('admin@acme.example', { [people.acme]: 'admin' });
    const globexOwner = await people.person('owner@globex.example', { [people.globex]: 'owner' });
    const theirs = await people.invitations.create(await globexOwner.caller(), { project_id: people.globex, email: 'x@globex.example', role: 'viewer' });
    expect(await refusal(people.invitations.create(await admin.caller(), { project_id: people.globex, email: 'y@globex.example', role: 'viewer' }))).toMatchObject({ code: 'forbidden' });
    expect(await refusal(people.invitations.list(await admin.caller(), people.globex))).toMatchObject({ code: 'forbidden' });
    expect(await refusal(people.invitations.revoke(await admin.caller(), { project_id: people.acme, invitation_id: theirs.invitation.id }))).toMatchObject({ code: 'not_found', field: 'invitation_id' });
  });

  it('an email that has an account is a conflict that names the account only to whoever may see it; inviteOrGrant gives it the role', async () => {
    const admin = await people.person('admin@acme.example', { [people.acme]: 'admin' });
    const carol = await people.person('carol@globex.example', { [people.globex]: 'member' });
    const conflict = await refusal(people.invitations.create(await admin.caller(), { project_id: people.acme, email: 'carol@globex.example', role: 'viewer' }));
    expect(conflict).toMatchObject({ code: 'conflict', field: 'email' });
    expect(conflict!.message).not.toContain(carol.id);
    const granted = await people.invitations.inviteOrGrant(await admin.caller(), { project_id: people.acme, email: 'carol@globex.example', role: 'viewer' });
    expect(granted).toMatchObject({ kind: 'member', user_id: carol.id });
    expect((await people.membershipRepository.rolesOf(carol.id))[people.acme]).toBe('viewer');
  });

  it('accepting with a password makes the account once: a replayed link and a lost race make nothing', async () => {
    const owner = await people.person('owner@acme.example', { [people.acme]: 'owner' });
    const made = await people.invitations.create(await owner.caller(), { project_id: people.team, email: 'dana@acme.example', role: 'member' });
    expect(await refusal(people.invitations.acceptWithPassword(FROM, { token: made.token, name: 'Dana', password: 'short' }))).toMatchObject({ code: 'invalid', field: 'password' });
    const [first, second] = await Promise.all([
      people.invitations.acceptWithPassword(FROM, { token: made.token, name: 'Dana', password: 'a-long-password' }),
      people.invitations.acceptWithPassword(FROM, { token: made.token, name: 'Dana', password: 'a-long-password' }).catch((err: Error) => err),
    ]);
    const outcomes = [first, second].map((r) => (r instanceof Error ? r.name : r.ok ? 'ok' : r.code));
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(1);
    const user = await people.userRepository.findByEmail('dana@acme.example');
    expect((await people.membershipRepository.rolesOf(user!.id))[people.team]).toBe('member');
    expect(await people.invitations.acceptWithPassword(FROM, { token: made.token, name: 'Dana', password: 'a-long-password' })).toEqual({ ok: false, code: 'accepted' });
    expect(await people.invitations.link('forged-token-that-is-not-one')).toEqual({ ok: false, code: 'not_found' });
    const accepted = (await people.auditLog.list()).find((e) => e.action === 'invitation.accepted');
    expect(accepted).toMatchObject({ actor: { type: 'user', id: user!.id }, ip: FROM.ip });
  });

  it('an account that appeared after the invitation is never taken over', async () => {
    const owner = await people.person('owner@acme.example', { [people.acme]: 'owner' });
    const made = await people.invitations.create(await owner.caller(), { project_id: people.acme, email: 'eve@acme.example', role: 'admin' });
    const eve = await people.person('eve@acme.example', {});
    expect(await refusal(people.invitations.acceptWithPassword(FROM, { token: made.token, name: 'Eve', password: 'a-long-password' }))).toMatchObject({ code: 'conflict', field: 'email' });
    expect(await people.membershipRepository.rolesOf(eve.id)).toEqual({});
  });
});
