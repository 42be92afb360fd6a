import { createHash, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { writeInOrder, type Store } from '../store/index.ts';
import type { AuditLog } from '../audit/index.ts';
import type { AccessPolicy, Principal } from '../access/index.ts';
import type { ScimConnectionConfig } from '../connectors/connections.ts';
import { isEmailAddress, type GroupRoles, type IdentityRepository, type MembershipChange, type UpstreamSessions, type UserRepository } from '../directory/index.ts';
import { equalityOn, matches, type Filter } from './filter.ts';
import { applyPatch, groupFromJson, groupJson, GROUP_ATTRS, primaryEmail, SCHEMA_GROUP, SCHEMA_USER, ScimInputError, userFromJson, userJson, USER_ATTRS, type ScimGroupAttrs, type ScimUserAttrs } from './resources.ts';

/**
 * SCIM provisioning (RFC 7643/7644) as a service: a SCIM connection's token (the principal) creates, changes
 * and deletes the accounts and groups of its connection. Plain inputs in, records out; every rule about
 * what the token may touch is the access policy's (src/access scim* methods).
 *
 * A SCIM User is an account (its id is the account id of /v1/users); a SCIM Group is a group of the group
 * source named by the connection id, so role mappings `{source: <connection>, group: <displayName>}` give
 * its members roles (cause `scim`). `active: false` and DELETE disable the account at once on every node
 * (oidc-provider's findAccount and the admin API read `disabled` on every use, so refresh tokens, sessions
 * and access to /v1 end); a deleted User's account stays, disabled, for the audit.
 *
 * Layout: scim:user:{accountId} → ScimUserRecord; scim:users:{connection} → live account ids;
 *         scim:username:{connection:sha256(lower userName)} and scim:email:{connection:sha256(lower email)} → { id };
 *         scim:group:{groupId} → ScimGroupRecord; scim:groups:{connection} → group ids;
 *         scim:groupname:{connection:sha256(lower displayName)} → { id };
 *         scim:members:{groupId} → account ids; scim:memberof:{accountId} → group ids.
 */
export interface ScimUserRecord extends ScimUserAttrs {
  [key: string]: unknown;
  id: string;
  connection_id: string;
  deleted: boolean;
  created_at: string;
  updated_at: string;
}

export interface ScimGroupRecord {
  [key: string]: unknown;
  id: string;
  connection_id: string;
  displayName: string;
  externalId: string | null;
  created_at: string;
  updated_at: string;
}

export type ScimGroupView = ScimGroupRecord & { members: string[] };

/** Who is calling, for the audit log. */
export interface ScimRequestMeta {
  ip: string | null;
  user_agent: string | null;
}

export interface ScimServiceDeps {
  store: Store;
  users: UserRepository;
  identities: IdentityRepository;
  groupRoles: GroupRoles;
  upstreamSessions: UpstreamSessions;
  audit: AuditLog;
  access: AccessPolicy;
  logger: Logger;
  /** The SCIM connections as the connection set knows them now. */
  scimConnections: () => Iterable<ScimConnectionConfig>;
}

const digest = (value: string) => createHash('sha256').update(value.toLowerCase()).digest('hex').slice(0, 40);
const userKey = (id: string) => `scim:user:{${id}}`;
const usersKey = (connection: string) => `scim:users:{${connection}}`;
const userNameKey = (connection: string, userName: string) => `scim:username:{${connection}:${digest(userName)}}`;
const emailKey = (connection: string, email: string) => `scim:email:{${connection}:${digest(email)}}`;
const groupKey = (id: string) => `scim:group:{${id}}`;
const groupsKey = (connection: string) => `scim:groups:{${connection}}`;
const groupNameKey = (connection: string, name: string) => `scim:groupname:{${connection}:${digest(name)}}`;
const membersKey = (groupId: string) => `scim:members:{${groupId}}`;
const memberOfKey = (userId: string) => `scim:memberof:{${userId}}`;

/** The address an account is made with: the primary email, else a userName that is an address. */
function accountEmail(attrs: ScimUserAttrs): string | null {
  const email = primaryEmail(attrs);
  if (email && isEmailAddress(email)) return email.toLowerCase();
  return isEmailAddress(attrs.userName) ? attrs.userName.toLowerCase() : null;
}

function accountName(attrs: ScimUserAttrs): string | undefined {
  const name = attrs.displayName ?? attrs.name?.formatted ?? [attrs.name?.givenName, attrs.name?.familyName].filter(Boolean).join(' ');
  return name?.trim().slice(0, 200) || undefined;
}

/** A User as filters see it (and as the door renders it, with schemas and meta added). */
export function userResource(record: ScimUserRecord): Record<string, unknown> {
  return { id: record.id, ...userJson(record) };
}

export function groupResource(group: ScimGroupView): Record<string, unknown> {
  return { id: group.id, ...groupJson({ displayName: group.displayName, externalId: group.externalId, members: group.members }) };
}

const byCreation = <T extends { created_at: string; id: string }>(a: T, b: T) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id);

export class ScimService {
  private readonly deps: ScimServiceDeps;

  constructor(deps: ScimServiceDeps) {
    this.deps = deps;
  }

  private actor(connection: string) {
    return { type: 'system' as const, id: `scim:${connection}` };
  }

  private async auditEvent(connection: string, meta: ScimRequestMeta, action: string, target: { type: string; id: string }, detail: Record<string, unknown>): Promise<void> {
    await this.deps.audit.record({ actor: this.actor(connection), action, target, project_id: null, ip: meta.ip, user_agent: meta.user_agent, outcome: 'success', detail: { connection, ...detail } });
  }

  // ---- Users ----

  private async userRecord(principal: Principal, id: string): Promise<ScimUserRecord> {
    const record = await this.deps.store.get<ScimUserRecord>(userKey(id));
    this.deps.access.requireScimResource(principal, record, 'User', id);
    return record!;
  }

  async getUser(principal: Principal, id: string): Promise<ScimUserRecord> {
    return this.userRecord(principal, id);
  }

  /** The connection's Users matching the filter, in a stable order (creation, then id): pages stay put. */
  async listUsers(principal: Principal, filter: Filter | null): Promise<ScimUserRecord[]> {
    const { connection_id } = this.deps.access.scimConnection(principal);
    const userName = filter ? equalityOn(filter, 'userName') : undefined;
    let ids: string[];
    if (userName !== undefined) {
      const ref = await this.deps.store.get<{ id: string }>(userNameKey(connection_id, userName));
      ids = ref ? [ref.id] : [];
    } else {
      ids = await this.deps.store.smembers(usersKey(connection_id));
    }
    const records = (await Promise.all(ids.map((id) => this.deps.store.get<ScimUserRecord>(userKey(id))))).filter((r): r is ScimUserRecord => this.deps.access.scimOwns(principal, r));
    return records.filter((r) => !filter || matches(userResource(r), filter)).sort(byCreation);
  }

  /**
   * POST /Users. The account is made with the primary email (or a userName that is an address). An account
   * that already has that email is taken over only when the policy allows (scimMayClaim); otherwise, as
   * for a userName this connection already has, the answer is 409 uniqueness (what Okta and Entra expect).
   */
  async createUser(principal: Principal, attrs: ScimUserAttrs, meta: ScimRequestMeta): Promise<ScimUserRecord> {
    const { connection_id } = this.deps.access.scimConnection(principal);
    const { store, users, identities } = this.deps;
    const email = accountEmail(attrs);
    if (!email) throw new ScimInputError('invalidValue', 'an account needs an email address: send userName as an address, or emails with a primary value');
    const taken = await store.get<{ id: string }>(userNameKey(connection_id, attrs.userName));
    if (taken && this.deps.access.scimOwns(principal, await store.get<ScimUserRecord>(userKey(taken.id)))) {
      throw new ScimInputError('uniqueness', `a User with userName ${attrs.userName} exists (id ${taken.id})`, 409);
    }
    let accountId: string;
    let claimed = false;
    const existing = await users.findByEmail(email);
    if (existing) {
      const record = await store.get<ScimUserRecord>(userKey(existing.id));
      const facts = { provisioned_by: record?.connection_id ?? null, source: existing.source, has_password: !!existing.password_hash, identity_connectors: (await identities.linkedTo(existing.id)).map((l) => String(l.connector_id)) };
      if ((record && !record.deleted) || !this.deps.access.scimMayClaim(principal, facts)) {
        throw new ScimInputError('uniqueness', `an account with the email ${email} exists and is not this connection's to provision`, 409);
      }
      accountId = existing.id;
      claimed = true;
    } else {
      const made = await users.create({ email, name: accountName(attrs), email_verified: true, source: connection_id });
      if (!made.created) throw new ScimInputError('uniqueness', `an account with the email ${email} was created meanwhile`, 409);
      accountId = made.user.id;
    }
    // Two creates racing for one userName: the index decides, the loser answers 409. An index entry is taken
    // over only when it names this account, or a User this connection deleted (a record not written yet is
    // a create in flight).
    if (!(await store.putIfAbsent(userNameKey(connection_id, attrs.userName), { id: accountId }))) {
      const winner = await store.get<{ id: string }>(userNameKey(connection_id, attrs.userName));
      const held = winner && winner.id !== accountId ? await store.get<ScimUserRecord>(userKey(winner.id)) : undefined;
      if (winner && winner.id !== accountId && !(held?.deleted && held.connection_id === connection_id)) {
        throw new ScimInputError('uniqueness', `a User with userName ${attrs.userName} exists (id ${winner.id})`, 409);
      }
      await store.put(userNameKey(connection_id, attrs.userName), { id: accountId });
    }
    const now = new Date().toISOString();
    const previous = await store.get<ScimUserRecord>(userKey(accountId));
    const record: ScimUserRecord = { ...attrs, id: accountId, connection_id, deleted: false, created_at: previous?.created_at ?? now, updated_at: now };
    const primary = primaryEmail(attrs);
    await writeInOrder(store, [
      { op: 'sadd', key: usersKey(connection_id), members: [accountId] },
      { op: 'put', key: userKey(accountId), value: record },
      ...(primary ? [{ op: 'put' as const, key: emailKey(connection_id, primary), value: { id: accountId } }] : []),
    ]);
    await this.applyAccount(accountId, attrs, undefined, connection_id, meta);
    await this.auditEvent(connection_id, meta, 'scim.user_created', { type: 'user', id: accountId }, { userName: attrs.userName, active: attrs.active, ...(claimed ? { existing_account: true } : {}) });
    return record;
  }

  /** PUT /Users/{id}: the attributes given replace the ones kept. */
  async replaceUser(principal: Principal, id: string, attrs: ScimUserAttrs, meta: ScimRequestMeta): Promise<ScimUserRecord> {
    const record = await this.userRecord(principal, id);
    return this.saveUser(record, attrs, meta);
  }

  /** PATCH /Users/{id}. */
  async patchUser(principal: Principal, id: string, operations: Parameters<typeof applyPatch>[3], meta: ScimRequestMeta): Promise<ScimUserRecord> {
    const record = await this.userRecord(principal, id);
    return this.saveUser(record, userFromJson(applyPatch(userJson(record), USER_ATTRS, SCHEMA_USER, operations)), meta);
  }

  private async saveUser(record: ScimUserRecord, attrs: ScimUserAttrs, meta: ScimRequestMeta): Promise<ScimUserRecord> {
    const { store } = this.deps;
    const connection = record.connection_id;
    const ops: Parameters<Store['batch']>[0] = [];
    if (attrs.userName.toLowerCase() !== record.userName.toLowerCase()) {
      if (!(await store.putIfAbsent(userNameKey(connection, attrs.userName), { id: record.id }))) {
        const holder = await store.get<{ id: string }>(userNameKey(connection, attrs.userName));
        const live = holder && holder.id !== record.id ? await store.get<ScimUserRecord>(userKey(holder.id)) : undefined;
        if (live && !live.deleted && live.connection_id === connection) throw new ScimInputError('uniqueness', `a User with userName ${attrs.userName} exists (id ${holder!.id})`, 409);
        ops.push({ op: 'put', key: userNameKey(connection, attrs.userName), value: { id: record.id } });
      }
      ops.push({ op: 'delete', key: userNameKey(connection, record.userName) });
    }
    const before = primaryEmail(record);
    const after = primaryEmail(attrs);
    if (before && before.toLowerCase() !== after?.toLowerCase()) ops.push({ op: 'delete', key: emailKey(connection, before) });
    if (after) ops.push({ op: 'put', key: emailKey(connection, after), value: { id: record.id } });
    const next: ScimUserRecord = { ...record, ...attrs, updated_at: new Date().toISOString() };
    await writeInOrder(store, [{ op: 'put', key: userKey(record.id), value: next }, ...ops]);
    await this.applyAccount(record.id, attrs, record, connection, meta);
    await this.auditEvent(connection, meta, 'scim.user_updated', { type: 'user', id: record.id }, { userName: attrs.userName, active: attrs.active });
    return next;
  }

  /**
   * The account follows the SCIM User: its name, and `active`. Deactivation disables the account and
   * forgets its upstream session, audited as any disabling is; activation enables it again.
   */
  private async applyAccount(accountId: string, attrs: ScimUserAttrs, before: ScimUserAttrs | undefined, connection: string, meta: ScimRequestMeta): Promise<void> {
    const account = await this.deps.users.findById(accountId);
    if (!account) return;
    const name = accountName(attrs);
    const disabled = !attrs.active;
    if (name !== account.name || disabled !== !!account.disabled) await this.deps.users.update(accountId, { ...(name ? { name } : {}), disabled });
    if (disabled !== !!account.disabled || (before && before.active !== attrs.active)) {
      if (disabled) await this.deps.upstreamSessions.forget(accountId);
      await this.auditEvent(connection, meta, disabled ? 'user.disabled' : 'user.enabled', { type: 'user', id: accountId }, { via: 'scim' });
    }
  }

  /**
   * DELETE /Users/{id}: the resource is gone (404 from now on) and its group memberships with it; the
   * account stays, disabled, for the audit. A later POST with the same userName brings the account back.
   */
  async deleteUser(principal: Principal, id: string, meta: ScimRequestMeta): Promise<void> {
    const record = await this.userRecord(principal, id);
    const { store } = this.deps;
    const connection = record.connection_id;
    const primary = primaryEmail(record);
    const groups = await store.smembers(memberOfKey(id));
    await writeInOrder(store, [
      { op: 'put', key: userKey(id), value: { ...record, deleted: true, updated_at: new Date().toISOString() } },
      { op: 'srem', key: usersKey(connection), members: [id] },
      { op: 'delete', key: userNameKey(connection, record.userName) },
      ...(primary ? [{ op: 'delete' as const, key: emailKey(connection, primary) }] : []),
      { op: 'delete', key: memberOfKey(id) },
    ]);
    for (const group of groups) await store.srem(membersKey(group), [id]);
    await this.applyAccount(id, { ...record, active: false }, record, connection, meta);
    await this.recompute(id, connection, meta);
    await this.auditEvent(connection, meta, 'scim.user_deleted', { type: 'user', id }, { userName: record.userName });
  }

  /**
   * The account a first sign-in through `connectorId` links to (SignInDeps.provisionedAccount): a live User
   * of an enabled SCIM connection tied to that connector whose userName or primary email is this address.
   */
  async accountForSignIn(connectorId: string, email: string): Promise<string | undefined> {
    for (const connection of this.deps.scimConnections()) {
      if (!connection.enabled || connection.connector !== connectorId) continue;
      for (const key of [userNameKey(connection.id, email), emailKey(connection.id, email)]) {
        const ref = await this.deps.store.get<{ id: string }>(key);
        const record = ref ? await this.deps.store.get<ScimUserRecord>(userKey(ref.id)) : undefined;
        if (!record || record.deleted || record.connection_id !== connection.id) continue;
        const matchesAddress = record.userName.toLowerCase() === email.toLowerCase() || primaryEmail(record)?.toLowerCase() === email.toLowerCase();
        if (matchesAddress) return record.id;
      }
    }
    return undefined;
  }

  /**
   * A deleted SCIM connection's groups give nothing any more: its Users lose the roles they held through
   * them (audited). The accounts stay as they are; they still sign in through their connector.
   */
  async connectionDeleted(connection: string, meta: ScimRequestMeta): Promise<void> {
    const { store } = this.deps;
    for (const id of await store.smembers(usersKey(connection))) {
      const changes = await this.deps.groupRoles.apply(id, connection, [], 'scim');
      for (const change of changes) {
        await this.deps.audit.record({ actor: this.actor(connection), action: 'member.role_changed', target: { type: 'user', id }, project_id: change.project_id, ip: meta.ip, user_agent: meta.user_agent, outcome: 'success', detail: { cause: 'scim', source: connection, from: change.from, to: change.to, reason: 'connection_deleted' } });
      }
    }
  }

  // ---- Groups ----

  private async groupRecord(principal: Principal, id: string): Promise<ScimGroupRecord> {
    const record = await this.deps.store.get<ScimGroupRecord>(groupKey(id));
    this.deps.access.requireScimResource(principal, record, 'Group', id);
    return record!;
  }

  private async withMembers(group: ScimGroupRecord): Promise<ScimGroupView> {
    return { ...group, members: (await this.deps.store.smembers(membersKey(group.id))).sort() };
  }

  async getGroup(principal: Principal, id: string): Promise<ScimGroupView> {
    return this.withMembers(await this.groupRecord(principal, id));
  }

  async listGroups(principal: Principal, filter: Filter | null): Promise<ScimGroupView[]> {
    const { connection_id } = this.deps.access.scimConnection(principal);
    const displayName = filter ? equalityOn(filter, 'displayName') : undefined;
    let ids: string[];
    if (displayName !== undefined) {
      const ref = await this.deps.store.get<{ id: string }>(groupNameKey(connection_id, displayName));
      ids = ref ? [ref.id] : [];
    } else {
      ids = await this.deps.store.smembers(groupsKey(connection_id));
    }
    const groups = (await Promise.all(ids.map((id) => this.deps.store.get<ScimGroupRecord>(groupKey(id))))).filter((g): g is ScimGroupRecord => this.deps.access.scimOwns(principal, g));
    const views = await Promise.all(groups.sort(byCreation).map((g) => this.withMembers(g)));
    return views.filter((g) => !filter || matches(groupResource(g), filter));
  }

  /** Members must be live Users of this connection: anyone else's id is refused as if it did not exist. */
  private async checkMembers(principal: Principal, members: string[]): Promise<void> {
    for (const id of members) {
      if (!this.deps.access.scimOwns(principal, await this.deps.store.get<ScimUserRecord>(userKey(id)))) {
        throw new ScimInputError('invalidValue', `members: User ${id} not found`);
      }
    }
  }

  async createGroup(principal: Principal, attrs: ScimGroupAttrs, meta: ScimRequestMeta): Promise<ScimGroupView> {
    const { connection_id } = this.deps.access.scimConnection(principal);
    await this.checkMembers(principal, attrs.members);
    const id = randomUUID();
    // The name index decides between racing creates (a deleted group's entry is removed with it).
    if (!(await this.deps.store.putIfAbsent(groupNameKey(connection_id, attrs.displayName), { id }))) {
      const holder = await this.deps.store.get<{ id: string }>(groupNameKey(connection_id, attrs.displayName));
      throw new ScimInputError('uniqueness', `a Group named ${attrs.displayName} exists (id ${holder?.id ?? 'being created'})`, 409);
    }
    const now = new Date().toISOString();
    const group: ScimGroupRecord = { id, connection_id, displayName: attrs.displayName, externalId: attrs.externalId, created_at: now, updated_at: now };
    await writeInOrder(this.deps.store, [
      { op: 'sadd', key: groupsKey(connection_id), members: [id] },
      { op: 'put', key: groupKey(id), value: group },
    ]);
    await this.auditEvent(connection_id, meta, 'scim.group_created', { type: 'scim_group', id }, { displayName: attrs.displayName });
    await this.changeMembers(group, [], attrs.members, false, meta);
    return this.withMembers(group);
  }

  async replaceGroup(principal: Principal, id: string, attrs: ScimGroupAttrs, meta: ScimRequestMeta): Promise<ScimGroupView> {
    const group = await this.groupRecord(principal, id);
    return this.saveGroup(principal, group, attrs, meta);
  }

  async patchGroup(principal: Principal, id: string, operations: Parameters<typeof applyPatch>[3], meta: ScimRequestMeta): Promise<ScimGroupView> {
    const group = await this.withMembers(await this.groupRecord(principal, id));
    const patched = applyPatch(groupJson(group), GROUP_ATTRS, SCHEMA_GROUP, operations);
    return this.saveGroup(principal, group, groupFromJson(patched), meta);
  }

  private async saveGroup(principal: Principal, group: ScimGroupRecord, attrs: ScimGroupAttrs, meta: ScimRequestMeta): Promise<ScimGroupView> {
    const { store } = this.deps;
    const connection = group.connection_id;
    const current = await store.smembers(membersKey(group.id));
    const added = attrs.members.filter((m) => !current.includes(m));
    await this.checkMembers(principal, added);
    const renamed = attrs.displayName !== group.displayName;
    if (attrs.displayName.toLowerCase() !== group.displayName.toLowerCase()) {
      if (!(await store.putIfAbsent(groupNameKey(connection, attrs.displayName), { id: group.id }))) {
        const holder = await store.get<{ id: string }>(groupNameKey(connection, attrs.displayName));
        if (holder && holder.id !== group.id && (await store.get(groupKey(holder.id)))) throw new ScimInputError('uniqueness', `a Group named ${attrs.displayName} exists (id ${holder.id})`, 409);
        await store.put(groupNameKey(connection, attrs.displayName), { id: group.id });
      }
      await store.delete(groupNameKey(connection, group.displayName));
    }
    const next: ScimGroupRecord = { ...group, displayName: attrs.displayName, externalId: attrs.externalId, updated_at: new Date().toISOString() };
    await store.put(groupKey(group.id), next);
    if (renamed || attrs.externalId !== group.externalId) await this.auditEvent(connection, meta, 'scim.group_updated', { type: 'scim_group', id: group.id }, { displayName: attrs.displayName, ...(renamed ? { previous: group.displayName } : {}) });
    const removed = current.filter((m) => !attrs.members.includes(m));
    // A renamed group is another group name for every member: all of them are recomputed.
    await this.changeMembers(next, removed, added, renamed, meta);
    return this.withMembers(next);
  }

  async deleteGroup(principal: Principal, id: string, meta: ScimRequestMeta): Promise<void> {
    const group = await this.groupRecord(principal, id);
    const { store } = this.deps;
    const members = await store.smembers(membersKey(id));
    await writeInOrder(store, [
      { op: 'delete', key: groupKey(id) },
      { op: 'srem', key: groupsKey(group.connection_id), members: [id] },
      { op: 'delete', key: groupNameKey(group.connection_id, group.displayName) },
      { op: 'delete', key: membersKey(id) },
    ]);
    for (const member of members) await store.srem(memberOfKey(member), [id]);
    await this.auditEvent(group.connection_id, meta, 'scim.group_deleted', { type: 'scim_group', id }, { displayName: group.displayName });
    for (const member of members) await this.recompute(member, group.connection_id, meta);
  }

  /**
   * Membership changes as set operations (two PATCHes adding different members at once both land), then
   * each touched member's roles from the names of the groups they are in now.
   */
  private async changeMembers(group: ScimGroupRecord, removed: string[], added: string[], everyone: boolean, meta: ScimRequestMeta): Promise<void> {
    const { store } = this.deps;
    if (added.length) await store.sadd(membersKey(group.id), added);
    if (removed.length) await store.srem(membersKey(group.id), removed);
    for (const id of added) await store.sadd(memberOfKey(id), [group.id]);
    for (const id of removed) await store.srem(memberOfKey(id), [group.id]);
    if (added.length || removed.length) await this.auditEvent(group.connection_id, meta, 'scim.group_members_changed', { type: 'scim_group', id: group.id }, { displayName: group.displayName, added, removed });
    const touched = new Set([...added, ...removed, ...(everyone ? await store.smembers(membersKey(group.id)) : [])]);
    for (const id of touched) await this.recompute(id, group.connection_id, meta);
  }

  /** A member's groups of this connection, by name, applied as the group source named by the connection. */
  private async recompute(userId: string, connection: string, meta: ScimRequestMeta): Promise<MembershipChange[]> {
    const { store } = this.deps;
    const groups = (await Promise.all((await store.smembers(memberOfKey(userId))).map((g) => store.get<ScimGroupRecord>(groupKey(g))))).filter((g): g is ScimGroupRecord => !!g && g.connection_id === connection);
    const changes = await this.deps.groupRoles.apply(userId, connection, [...new Set(groups.map((g) => g.displayName))].sort(), 'scim');
    for (const change of changes) {
      await this.deps.audit.record({ actor: this.actor(connection), action: 'member.role_changed', target: { type: 'user', id: userId }, project_id: change.project_id, ip: meta.ip, user_agent: meta.user_agent, outcome: 'success', detail: { cause: 'scim', source: connection, from: change.from, to: change.to } });
    }
    return changes;
  }
}
