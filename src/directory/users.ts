import { randomUUID } from 'node:crypto';
import type { Store } from '../store/index.ts';

/** A person. `id` is the stable `sub` of every token issued to them. */
/** An account the configuration file declares (`users:`), as config/schema.ts validates it. */
interface StaticUser {
  email: string;
  name?: string | undefined;
  password_hash: string;
  email_verified: boolean;
}

export interface User {
  [key: string]: unknown;
  id: string;
  email: string;
  email_verified: boolean;
  name?: string | undefined;
  password_hash?: string | undefined;
  /** Where the account comes from: `static` (config file), `local`, or a connector id. */
  source: string;
  disabled?: boolean;
  /**
   * Set while the account is disabled because the directory it came from no longer lists the person, or
   * lists them as disabled (the LDAP sync). Only such an account is enabled again when they come back; an
   * account an admin disabled carries no marker and stays disabled whatever the directory says.
   */
  deprovisioned?: { source: string; reason: DeprovisionReason; at: string } | undefined;
  /**
   * Every session, refresh token, authorization code and access token of this account that began at or
   * before this instant is void, on every node (read at each use): set when the account is disabled, so
   * enabling it again revives none of them.
   */
  sessions_ended_at?: string | undefined;
  created_at: string;
  updated_at: string;
  last_login_at?: string | undefined;
  /** The language chosen in the dashboard (`en`, `ru`), applied at each sign-in. */
  preferred_language?: string | undefined;
}

/** Why a directory sync disabled an account: the person is gone from it, or it lists them as disabled. */
export type DeprovisionReason = 'gone' | 'disabled';

/**
 * Whether something of the account issued at `issuedAtSeconds` (a token's `iat`, an authentication's
 * `auth_time`, a session's login time; epoch seconds) predates the end of its sessions. Seconds are whole,
 * so the second in which sessions ended counts as before: a new sign-in needs the account enabled, which
 * only happens at a later sync pass or admin action.
 */
export function sessionEnded(user: Pick<User, 'sessions_ended_at'>, issuedAtSeconds: number): boolean {
  if (!user.sessions_ended_at) return false;
  return issuedAtSeconds <= Math.floor(Date.parse(user.sessions_ended_at) / 1000);
}

/** The longest address RFC 5321 lets a mailbox have (64 + 1 + 255): no account has a longer one. */
export const EMAIL_MAX_LENGTH = 320;

const userKey = (id: string) => `user:{${id}}`;
const emailKey = (email: string) => `user:email:{${email.toLowerCase()}}`;
const ALL_USERS = 'user:all:{index}';
const lockKey = (id: string) => `user:lock:{${id}}`;
const LOCK_SECONDS = 5;
/** About 10 s of waiting at most: far beyond what one read and one write take, even on a loaded store. */
const LOCK_ATTEMPTS = 400;

export class UserRepository {
  private readonly store: Store;
  constructor(store: Store) {
    this.store = store;
  }

  async findById(id: string): Promise<User | undefined> {
    return this.store.get<User>(userKey(id));
  }

  async findByEmail(email: string): Promise<User | undefined> {
    if (email.length > EMAIL_MAX_LENGTH) return undefined;
    const ref = await this.store.get<{ id: string }>(emailKey(email));
    return ref ? this.findById(ref.id) : undefined;
  }

  /**
   * Creates or updates a static (config-file) account. The id is created once and then kept, so the
   * `sub` of a static user survives restarts and stays the same on every node.
   */
  /**
   * Writes an account: the index of all accounts first (list() skips an id without an account), then the
   * account, each its own Redis Cluster slot: never an account the admin listing cannot show.
   */
  private async save(user: User): Promise<void> {
    await this.store.sadd(ALL_USERS, [user.id]);
    await this.store.put(userKey(user.id), user);
  }

  async upsertStatic(user: StaticUser): Promise<User> {
    const now = new Date().toISOString();
    const candidate = randomUUID();
    await this.store.putIfAbsent(emailKey(user.email), { id: candidate });
    const ref = await this.store.get<{ id: string }>(emailKey(user.email));
    if (!ref) throw new Error(`could not index user ${user.email}`);
    const existing = await this.findById(ref.id);
    const record: User = {
      ...existing,
      id: ref.id,
      email: user.email,
      email_verified: user.email_verified,
      name: user.name,
      password_hash: user.password_hash,
      source: 'static',
      created_at: existing?.created_at ?? now,
      updated_at: now,
    };
    await this.save(record);
    return record;
  }

  /**
   * Creates an account (local password, or provisioned from a connector) unless one with that email
   * exists; returns it and whether it was created. Safe when several nodes race (the email index decides).
   */
  async create(input: { email: string; name?: string | undefined; email_verified: boolean; password_hash?: string | undefined; source: string }): Promise<{ user: User; created: boolean }> {
    const email = input.email.toLowerCase();
    const id = randomUUID();
    if (!(await this.store.putIfAbsent(emailKey(email), { id }))) {
      const existing = await this.findByEmail(email);
      if (existing) return { user: existing, created: false };
      // The index outlived a create that failed before writing the account: take it over, or this
      // email could never get an account again.
      await this.store.put(emailKey(email), { id });
    }
    const now = new Date().toISOString();
    const user: User = { id, email, email_verified: input.email_verified, name: input.name, password_hash: input.password_hash, source: input.source, created_at: now, updated_at: now };
    await this.save(user);
    return { user, created: true };
  }

  async update(id: string, changes: Partial<Pick<User, 'name' | 'disabled' | 'password_hash' | 'email_verified' | 'preferred_language'>>): Promise<User | undefined> {
    return this.change(id, () => changes);
  }

  /**
   * Disables (or enables) an account by an admin's decision. Disabling ends every session and token it
   * holds; either way the account is the admin's now: a directory sync never enables it again.
   */
  async setDisabledByAdmin(id: string, disabled: boolean, other: Partial<Pick<User, 'name'>> = {}): Promise<User | undefined> {
    return this.change(id, (user) => ({
      ...other,
      disabled,
      deprovisioned: undefined,
      ...(disabled && !user.disabled ? { sessions_ended_at: new Date().toISOString() } : {}),
    }));
  }

  /**
   * Disables an account because its directory no longer vouches for the person, ending its sessions.
   * An account already disabled (by an admin, or by another directory) is left as it is: undefined.
   */
  async deprovision(id: string, source: string, reason: DeprovisionReason): Promise<User | undefined> {
    return this.change(id, (user) => {
      if (user.disabled) return undefined;
      const now = new Date().toISOString();
      return { disabled: true, deprovisioned: { source, reason, at: now }, sessions_ended_at: now };
    });
  }

  /** Enables an account that `source` deprovisioned; any other account is left as it is: undefined. */
  async reprovision(id: string, source: string): Promise<User | undefined> {
    return this.change(id, (user) => (user.disabled && user.deprovisioned?.source === source ? { disabled: false, deprovisioned: undefined } : undefined));
  }

  /**
   * Read, decide, write — one writer per account at a time (a short lock in the store), so a sync that
   * re-enables an account cannot overwrite an admin's concurrent "disable", nor a sign-in's login time
   * either. `decide` returns the changes, or undefined to change nothing (then the result is undefined).
   */
  private async change(id: string, decide: (user: User) => Partial<User> | undefined, touch = true): Promise<User | undefined> {
    return this.locked(id, async () => {
      const user = await this.findById(id);
      if (!user) return undefined;
      const changes = decide(user);
      if (!changes) return undefined;
      const next: User = { ...user, ...changes, ...(touch ? { updated_at: new Date().toISOString() } : {}) };
      for (const key of Object.keys(next)) if (next[key] === undefined) delete next[key];
      await this.store.put(userKey(id), next);
      return next;
    });
  }

  private async locked<T>(id: string, work: () => Promise<T>): Promise<T> {
    const lock = lockKey(id);
    // A holder that died leaves the lock to expire; waits are short because every holder is (one read, one write).
    for (let attempt = 0; !(await this.store.putIfAbsent(lock, { pid: process.pid }, LOCK_SECONDS)); attempt++) {
      if (attempt >= LOCK_ATTEMPTS) throw new Error(`account ${id} is being changed by someone else; try again`);
      await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40));
    }
    try {
      return await work();
    } finally {
      await this.store.delete(lock);
    }
  }

  /** Every account (admin listing); ids come from the email index set. */
  async list(): Promise<User[]> {
    const ids = await this.store.smembers(ALL_USERS);
    const users = await Promise.all(ids.map((id) => this.findById(id)));
    return users.filter((u): u is User => !!u).sort((a, b) => a.email.localeCompare(b.email));
  }

  async recordLogin(id: string): Promise<void> {
    // Not an update of the person's information (the `updated_at` claim).
    await this.change(id, () => ({ last_login_at: new Date().toISOString() }), false);
  }
}
