import { createHash } from 'node:crypto';
import { writeInOrder, type BatchOp, type Store } from '../store/index.ts';
import { primaryEmail, type ScimUserAttrs } from './resources.ts';

/**
 * Where SCIM keeps its Users and Groups; the only module that knows their store keys.
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

export class ScimRepository {
  private readonly store: Store;
  constructor(store: Store) {
    this.store = store;
  }

  // ---- Users ----

  user(id: string): Promise<ScimUserRecord | undefined> {
    return this.store.get<ScimUserRecord>(userKey(id));
  }

  /** A connection's live Users. */
  userIds(connection: string): Promise<string[]> {
    return this.store.smembers(usersKey(connection));
  }

  async userIdByName(connection: string, userName: string): Promise<string | undefined> {
    return (await this.store.get<{ id: string }>(userNameKey(connection, userName)))?.id;
  }

  async userIdByEmail(connection: string, email: string): Promise<string | undefined> {
    return (await this.store.get<{ id: string }>(emailKey(connection, email)))?.id;
  }

  /** Takes a userName for an account when no one holds it; false when someone does (the index decides races). */
  claimUserName(connection: string, userName: string, id: string): Promise<boolean> {
    return this.store.putIfAbsent(userNameKey(connection, userName), { id });
  }

  /** Gives a userName to an account whatever held it (a deleted User's, or this account's own). */
  async takeOverUserName(connection: string, userName: string, id: string): Promise<void> {
    await this.store.put(userNameKey(connection, userName), { id });
  }

  /** A new (or returning) User: listed under its connection, its primary email indexed. */
  async addUser(record: ScimUserRecord): Promise<void> {
    const primary = primaryEmail(record);
    await writeInOrder(this.store, [
      { op: 'sadd', key: usersKey(record.connection_id), members: [record.id] },
      { op: 'put', key: userKey(record.id), value: record },
      ...(primary ? [{ op: 'put' as const, key: emailKey(record.connection_id, primary), value: { id: record.id } }] : []),
    ]);
  }

  /**
   * A User's new attributes, with its userName and primary-email entries moved along. `takeOverName`: the
   * new userName's entry names another (deleted) User and is overwritten.
   */
  async updateUser(previous: ScimUserRecord, next: ScimUserRecord, takeOverName: boolean): Promise<void> {
    const connection = previous.connection_id;
    const ops: BatchOp[] = [];
    if (next.userName.toLowerCase() !== previous.userName.toLowerCase()) {
      if (takeOverName) ops.push({ op: 'put', key: userNameKey(connection, next.userName), value: { id: next.id } });
      ops.push({ op: 'delete', key: userNameKey(connection, previous.userName) });
    }
    const before = primaryEmail(previous);
    const after = primaryEmail(next);
    if (before && before.toLowerCase() !== after?.toLowerCase()) ops.push({ op: 'delete', key: emailKey(connection, before) });
    if (after) ops.push({ op: 'put', key: emailKey(connection, after), value: { id: next.id } });
    await writeInOrder(this.store, [{ op: 'put', key: userKey(next.id), value: next }, ...ops]);
  }

  /** A deleted User: kept (marked deleted), out of its connection's list, its indexes and its groups. */
  async deleteUser(record: ScimUserRecord): Promise<void> {
    const { id, connection_id: connection } = record;
    const primary = primaryEmail(record);
    const groups = await this.store.smembers(memberOfKey(id));
    await writeInOrder(this.store, [
      { op: 'put', key: userKey(id), value: { ...record, deleted: true, updated_at: new Date().toISOString() } },
      { op: 'srem', key: usersKey(connection), members: [id] },
      { op: 'delete', key: userNameKey(connection, record.userName) },
      ...(primary ? [{ op: 'delete' as const, key: emailKey(connection, primary) }] : []),
      { op: 'delete', key: memberOfKey(id) },
    ]);
    for (const group of groups) await this.store.srem(membersKey(group), [id]);
  }

  // ---- Groups ----

  group(id: string): Promise<ScimGroupRecord | undefined> {
    return this.store.get<ScimGroupRecord>(groupKey(id));
  }

  groupIds(connection: string): Promise<string[]> {
    return this.store.smembers(groupsKey(connection));
  }

  async groupIdByName(connection: string, displayName: string): Promise<string | undefined> {
    return (await this.store.get<{ id: string }>(groupNameKey(connection, displayName)))?.id;
  }

  /** Takes a group name when no one holds it; false when someone does (the index decides races). */
  claimGroupName(connection: string, displayName: string, id: string): Promise<boolean> {
    return this.store.putIfAbsent(groupNameKey(connection, displayName), { id });
  }

  async takeOverGroupName(connection: string, displayName: string, id: string): Promise<void> {
    await this.store.put(groupNameKey(connection, displayName), { id });
  }

  async releaseGroupName(connection: string, displayName: string): Promise<void> {
    await this.store.delete(groupNameKey(connection, displayName));
  }

  async addGroup(group: ScimGroupRecord): Promise<void> {
    await writeInOrder(this.store, [
      { op: 'sadd', key: groupsKey(group.connection_id), members: [group.id] },
      { op: 'put', key: groupKey(group.id), value: group },
    ]);
  }

  async putGroup(group: ScimGroupRecord): Promise<void> {
    await this.store.put(groupKey(group.id), group);
  }

  /** A group, its name and its member list gone; returns who its members were. */
  async deleteGroup(group: ScimGroupRecord): Promise<string[]> {
    const members = await this.store.smembers(membersKey(group.id));
    await writeInOrder(this.store, [
      { op: 'delete', key: groupKey(group.id) },
      { op: 'srem', key: groupsKey(group.connection_id), members: [group.id] },
      { op: 'delete', key: groupNameKey(group.connection_id, group.displayName) },
      { op: 'delete', key: membersKey(group.id) },
    ]);
    for (const member of members) await this.store.srem(memberOfKey(member), [group.id]);
    return members;
  }

  members(groupId: string): Promise<string[]> {
    return this.store.smembers(membersKey(groupId));
  }

  /** Membership changes as set operations: two PATCHes adding different members at once both land. */
  async changeMembers(groupId: string, added: string[], removed: string[]): Promise<void> {
    if (added.length) await this.store.sadd(membersKey(groupId), added);
    if (removed.length) await this.store.srem(membersKey(groupId), removed);
    for (const id of added) await this.store.sadd(memberOfKey(id), [groupId]);
    for (const id of removed) await this.store.srem(memberOfKey(id), [groupId]);
  }

  /** The groups an account is a member of (of any connection). */
  async groupsOf(userId: string): Promise<ScimGroupRecord[]> {
    const groups = await Promise.all((await this.store.smembers(memberOfKey(userId))).map((g) => this.group(g)));
    return groups.filter((g): g is ScimGroupRecord => !!g);
  }
}
