import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Store } from '../store/index.ts';
import type { Role } from './roles.ts';

/**
 * Invitations by email for people who have no account yet: a role on a project, waiting behind a one-time
 * link. The link's secret is 192-bit random, so, like API keys, it is stored only as its SHA-256 (hex) and
 * compared in constant time; it is shown once, when the invitation is made.
 *
 * At most one invitation is pending per (project, email): making another replaces the earlier one. The
 * `current` pointer decides which one that is, so two admins inviting the same person at the same moment
 * never leave two live links. Accepting and revoking both close the invitation through one atomic
 * `consume` of the field `closed`: of two concurrent accepts (or an accept and a revoke) exactly one wins.
 *
 * Records stay readable for RETAIN_SECONDS after they expire, so an old link can be told apart from a
 * wrong one ("expired", "already used" rather than "unknown").
 *
 * Layout: invitation:{id} (record, TTL), invitation:token:{sha256} → { id } (same TTL),
 *         invitation:current:{projectId:email} → { id } (same TTL),
 *         invitation:project:{projectId} and invitation:email:{email} → sets of ids still open.
 */
type InvitationStatus = 'pending' | 'accepted' | 'revoked';

/** Who made or revoked an invitation: a person, or an API key (as in the audit log). */
interface InvitationActor {
  type: 'user' | 'api_key' | 'client' | 'system';
  id: string | null;
}

export interface Invitation {
  [key: string]: unknown;
  id: string;
  /** Lower-cased. */
  email: string;
  project_id: string;
  role: Role;
  invited_by: InvitationActor;
  created_at: string;
  expires_at: string;
  status: InvitationStatus;
  accepted_at?: string | undefined;
  /** The user the invitation made (or gave the role to). */
  accepted_by?: string | undefined;
  revoked_at?: string | undefined;
  revoked_by?: InvitationActor | undefined;
  /** Why it was revoked: by hand, or replaced by a newer invitation for the same email and project. */
  revoked_reason?: 'revoked' | 'replaced' | undefined;
}

interface InvitationRecord extends Invitation {
  token_hash: string;
  /** Set by the atomic consume that closed it (accept or revoke); ms since the epoch. */
  closed?: number | undefined;
}

/** Why a link or an id does not lead to a pending invitation; a normal result, not an exception. */
export type InvitationFailure = 'not_found' | 'expired' | 'revoked' | 'accepted';
type InvitationResult = { ok: true; invitation: Invitation } | { ok: false; code: InvitationFailure; invitation?: Invitation };

const DEFAULT_INVITATION_DAYS = 7;
export const MAX_INVITATION_DAYS = 30;
const RETAIN_SECONDS = 30 * 86_400;
const DAY_MS = 86_400_000;
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{32}$/;
const ID_PATTERN = /^inv_[A-Za-z0-9_-]{16}$/;
/** The same check as `users add`: something@domain.tld, no spaces. */
const EMAIL_PATTERN = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

export function isEmailAddress(value: string): boolean {
  return value.length <= 320 && EMAIL_PATTERN.test(value);
}

const recordKey = (id: string) => `invitation:{${id}}`;
const tokenKey = (hash: string) => `invitation:token:{${hash}}`;
const currentKey = (projectId: string, email: string) => `invitation:current:{${projectId}:${email}}`;
const projectKey = (projectId: string) => `invitation:project:{${projectId}}`;
const emailKey = (email: string) => `invitation:email:{${email}}`;

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function hashesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

function publicView(record: InvitationRecord): Invitation {
  const { token_hash: _hash, closed: _closed, ...invitation } = record;
  return invitation;
}

/** Seconds the record (and its pointers) live: until expiry plus the retention. */
function ttlOf(record: Pick<Invitation, 'expires_at'>, now = Date.now()): number {
  return Math.max(1, Math.ceil((Date.parse(record.expires_at) - now) / 1000) + RETAIN_SECONDS);
}

export class InvitationRepository {
  private readonly store: Store;
  constructor(store: Store) {
    this.store = store;
  }

  /**
   * Makes an invitation and its one-time token (returned here only). An invitation still pending for the
   * same email and project is replaced: it is revoked (reason `replaced`) and its link stops working.
   */
  async create(input: { email: string; project_id: string; role: Role; invited_by: InvitationActor; expires_in_days?: number | undefined }): Promise<{ invitation: Invitation; token: string; replaced: string[] }> {
    const email = input.email.trim().toLowerCase();
    if (!isEmailAddress(email)) throw new RangeError('email must be an email address');
    const days = input.expires_in_days ?? DEFAULT_INVITATION_DAYS;
    if (!Number.isInteger(days) || days < 1 || days > MAX_INVITATION_DAYS) throw new RangeError(`expires_in_days must be a whole number from 1 to ${MAX_INVITATION_DAYS}`);
    const token = randomBytes(24).toString('base64url');
    const now = new Date();
    const record: InvitationRecord = {
      id: `inv_${randomBytes(12).toString('base64url')}`,
      email,
      project_id: input.project_id,
      role: input.role,
      invited_by: input.invited_by,
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + days * DAY_MS).toISOString(),
      status: 'pending',
      token_hash: hashToken(token),
    };
    const replaced: string[] = [];
    for (const old of (await this.pendingForEmail(email)).filter((i) => i.project_id === input.project_id)) {
      if ((await this.close(old.id, { status: 'revoked', revoked_by: input.invited_by, revoked_reason: 'replaced' })).ok) replaced.push(old.id);
    }
    const ttl = ttlOf(record, now.getTime());
    // One entity at a time (one Redis Cluster slot each): the record, its listings, then the pointer
    // that makes it current, and last the token lookup that makes the link work. A failure part-way
    // leaves an invitation no link can accept (it expires with its TTL), never a working link to a
    // record that is missing or unlisted (so it could not be revoked).
    await this.store.put(recordKey(record.id), record, ttl);
    await this.store.sadd(projectKey(record.project_id), [record.id]);
    await this.store.sadd(emailKey(email), [record.id]);
    await this.store.put(currentKey(record.project_id, email), { id: record.id }, ttl);
    await this.store.put(tokenKey(record.token_hash), { id: record.id }, ttl);
    return { invitation: publicView(record), token, replaced };
  }

  async get(id: string): Promise<Invitation | undefined> {
    const record = await this.record(id);
    return record && publicView(record);
  }

  /** Pending, unexpired invitations of a project, oldest first. */
  async listPending(projectId: string): Promise<Invitation[]> {
    return this.pendingIn(projectKey(projectId));
  }

  /** Pending, unexpired invitations for an email, on any project. */
  async pendingForEmail(email: string): Promise<Invitation[]> {
    return this.pendingIn(emailKey(email.trim().toLowerCase()));
  }

  /** The invitation behind a link's token, if it is still pending; otherwise why not. */
  async findByToken(token: string): Promise<InvitationResult> {
    if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) return { ok: false, code: 'not_found' };
    const hash = hashToken(token);
    const ref = await this.store.get<{ id: string }>(tokenKey(hash));
    const record = ref ? await this.record(ref.id) : undefined;
    // Found by its hash; comparing again in constant time keeps the decision independent of the store's index.
    if (!record || !hashesEqual(record.token_hash, hash)) return { ok: false, code: 'not_found' };
    return this.state(record);
  }

  /** Revokes a pending invitation: its link stops working at once. */
  async revoke(id: string, by: InvitationActor): Promise<InvitationResult> {
    return this.close(id, { status: 'revoked', revoked_by: by, revoked_reason: 'revoked' });
  }

  /**
   * Marks a pending invitation accepted by `userId`. Atomic: of two concurrent calls (or an accept racing a
   * revoke), exactly one succeeds; the other gets `accepted` or `revoked`.
   */
  async accept(id: string, userId: string | undefined): Promise<InvitationResult> {
    return this.close(id, { status: 'accepted', ...(userId ? { accepted_by: userId } : {}) });
  }

  /** Names the account an invitation accepted before that account existed (accept first, then create). */
  async recordAcceptedBy(id: string, userId: string): Promise<void> {
    const record = await this.record(id);
    if (!record || record.status !== 'accepted') return;
    await this.store.put(recordKey(id), { ...record, accepted_by: userId }, ttlOf(record));
  }

  private async record(id: string): Promise<InvitationRecord | undefined> {
    if (!ID_PATTERN.test(id)) return undefined;
    return this.store.get<InvitationRecord>(recordKey(id));
  }

  /** Whether a record is the pending, unexpired, current invitation for its email and project. */
  private async state(record: InvitationRecord): Promise<InvitationResult> {
    const invitation = publicView(record);
    if (record.status === 'accepted') return { ok: false, code: 'accepted', invitation };
    if (record.status === 'revoked' || record.closed !== undefined) return { ok: false, code: 'revoked', invitation };
    if (Date.parse(record.expires_at) <= Date.now()) return { ok: false, code: 'expired', invitation };
    const current = await this.store.get<{ id: string }>(currentKey(record.project_id, record.email));
    // Replaced by a newer invitation made at the same moment (its create did not see this one).
    if (current?.id !== record.id) return { ok: false, code: 'revoked', invitation };
    return { ok: true, invitation };
  }

  private async close(id: string, change: Pick<Invitation, 'status'> & Partial<Invitation>): Promise<InvitationResult> {
    const record = await this.record(id);
    if (!record) return { ok: false, code: 'not_found' };
    const state = await this.state(record);
    if (!state.ok) return state;
    const at = Date.now();
    const claim = await this.store.consume(recordKey(id), 'closed', at);
    if (claim.result === 'missing') return { ok: false, code: 'not_found' };
    if (claim.result === 'already') {
      const winner = await this.record(id);
      return { ok: false, code: winner?.status === 'accepted' ? 'accepted' : 'revoked', ...(winner ? { invitation: publicView(winner) } : {}) };
    }
    const when = new Date(at).toISOString();
    const closed: InvitationRecord = {
      ...record,
      ...change,
      ...(change.status === 'accepted' ? { accepted_at: when } : { revoked_at: when }),
      // `put` drops consume marks: the mark goes into the value so the record stays closed.
      closed: at,
    };
    // The `current` pointer stays: it may already name a newer invitation, and a closed one is never pending.
    // The record decides (closed), then the listings drop it (pendingIn skips closed ones meanwhile).
    await this.store.put(recordKey(id), closed, ttlOf(record, at));
    await this.store.srem(projectKey(record.project_id), [id]);
    await this.store.srem(emailKey(record.email), [id]);
    return { ok: true, invitation: publicView(closed) };
  }

  /** The pending invitations among a set's ids; ids of gone, closed or superseded ones are dropped from the set. */
  private async pendingIn(setKey: string): Promise<Invitation[]> {
    const ids = await this.store.smembers(setKey);
    const out: Invitation[] = [];
    const stale: string[] = [];
    for (const id of ids) {
      const record = await this.record(id);
      const state = record ? await this.state(record) : undefined;
      if (state?.ok) out.push(state.invitation);
      else stale.push(id);
    }
    if (stale.length) await this.store.srem(setKey, stale);
    return out.sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id));
  }
}
