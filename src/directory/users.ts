import { randomUUID } from 'node:crypto';
import type { Store } from '../store/index.ts';
import type { UserConfig } from '../config/index.ts';

/** A person. `id` is the stable `sub` of every token issued to them. */
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
  created_at: string;
  updated_at: string;
  last_login_at?: string | undefined;
  /** The language chosen in the dashboard (`en`, `ru`), applied at each sign-in. */
  preferred_language?: string | undefined;
}

/** The longest address RFC 5321 lets a mailbox have (64 + 1 + 255): no account has a longer one. */
export const EMAIL_MAX_LENGTH = 320;

const userKey = (id: string) => `user:{${id}}`;
const emailKey = (email: string) => `user:email:{${email.toLowerCase()}}`;
const ALL_USERS = 'user:all:{index}';

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

  async upsertStatic(user: UserConfig): Promise<User> {
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
    const user = await this.findById(id);
    if (!user) return undefined;
    const next: User = { ...user, ...changes, updated_at: new Date().toISOString() };
    await this.store.put(userKey(id), next);
    return next;
  }

  /** Every account (admin listing); ids come from the email index set. */
  async list(): Promise<User[]> {
    const ids = await this.store.smembers(ALL_USERS);
    const users = await Promise.all(ids.map((id) => this.findById(id)));
    return users.filter((u): u is User => !!u).sort((a, b) => a.email.localeCompare(b.email));
  }

  async recordLogin(id: string): Promise<void> {
    const user = await this.findById(id);
    if (user) await this.store.put(userKey(id), { ...user, last_login_at: new Date().toISOString() });
  }
}
