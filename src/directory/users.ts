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
}

const userKey = (id: string) => `user:{${id}}`;
const emailKey = (email: string) => `user:email:{${email.toLowerCase()}}`;

export class UserRepository {
  private readonly store: Store;
  constructor(store: Store) {
    this.store = store;
  }

  async findById(id: string): Promise<User | undefined> {
    return this.store.get<User>(userKey(id));
  }

  async findByEmail(email: string): Promise<User | undefined> {
    const ref = await this.store.get<{ id: string }>(emailKey(email));
    return ref ? this.findById(ref.id) : undefined;
  }

  /**
   * Creates or updates a static (config-file) account. The id is created once and then kept, so the
   * `sub` of a static user survives restarts and stays the same on every node.
   */
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
    await this.store.put(userKey(ref.id), record);
    return record;
  }

  async recordLogin(id: string): Promise<void> {
    const user = await this.findById(id);
    if (user) await this.store.put(userKey(id), { ...user, last_login_at: new Date().toISOString() });
  }
}
