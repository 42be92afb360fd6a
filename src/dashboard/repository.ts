import { randomBytes } from 'node:crypto';
import type { JsonObject, Store, SecretBox, SealedSecret } from '../store/index.ts';

/**
 * The dashboard's store (the one module of src/dashboard that knows its key strings): it is a
 * backend-for-frontend, so tokens from our own token endpoint stay in the store, keyed by a random id in
 * an HttpOnly cookie (./session.ts); page scripts never see them.
 *
 *   dashboard:session:{id}   the session (idle TTL, renewed on use; absolute lifetime in `absolute_until`)
 *   dashboard:login:{state}  a sign-in in progress: PKCE verifier, nonce, where to return (10 minutes)
 *   dashboard:flash:{id}:{flash}  what a form post made, for the page it redirects to (a new key's secret,
 *                            sealed): shown once, to this session only (5 minutes)
 */
const SESSION_IDLE_SECONDS = 8 * 3600;
export const SESSION_ABSOLUTE_SECONDS = 24 * 3600;
const LOGIN_TTL_SECONDS = 600;
/** Long enough for the redirect after a post to arrive on a slow link; the secret is gone after that. */
const FLASH_TTL_SECONDS = 300;

/** What a flash was made for: the page that shows it takes only its own kind. */
export type FlashKind = 'key' | 'webhook' | 'invitation' | 'scim_token' | 'client';

interface StoredFlash {
  [key: string]: unknown;
  kind: FlashKind;
  project_id: string;
  sealed: SealedSecret;
}

interface DashboardSessionFields {
  user_id: string;
  email: string;
  name: string | null;
  id_token: string;
  access_token: string;
  /** Scopes granted by the token endpoint: an upper bound on what the dashboard may do. */
  scopes: string[];
}

export interface DashboardSession extends DashboardSessionFields {
  [key: string]: unknown;
  /** Per-session CSRF token, carried by every form as `_csrf`. */
  csrf: string;
  created_at: string;
  absolute_until: string;
}

interface PendingLogin {
  [key: string]: unknown;
  verifier: string;
  nonce: string;
  return_to: string;
}

const sessionKey = (id: string) => `dashboard:session:{${id}}`;
const loginKey = (state: string) => `dashboard:login:{${state}}`;
const flashKey = (sessionId: string, flashId: string) => `dashboard:flash:{${sessionId}}:${flashId}`;
const flashAad = (sessionId: string, flashId: string, kind: FlashKind, projectId: string) => `dashboard-flash:${sessionId}:${flashId}:${kind}:${projectId}`;
const ID_PATTERN = /^[\w-]{43}$/;

function randomId(): string {
  return randomBytes(32).toString('base64url');
}

export class DashboardSessions {
  private readonly store: Store;
  private readonly box: SecretBox;
  /** `box` seals flashes (they may hold a new secret) as webhook secrets are sealed: with LOGTRACE_SECRET_KEY when set. */
  constructor(store: Store, box: SecretBox) {
    this.store = store;
    this.box = box;
  }

  async create(fields: DashboardSessionFields): Promise<{ id: string; session: DashboardSession }> {
    const id = randomId();
    const now = Date.now();
    const session: DashboardSession = { ...fields, csrf: randomId(), created_at: new Date(now).toISOString(), absolute_until: new Date(now + SESSION_ABSOLUTE_SECONDS * 1000).toISOString() };
    await this.store.put(sessionKey(id), session, SESSION_IDLE_SECONDS);
    return { id, session };
  }

  /** The session, its idle lifetime renewed; undefined when unknown, expired or past its absolute lifetime. */
  async load(id: string | undefined): Promise<DashboardSession | undefined> {
    if (!id || !ID_PATTERN.test(id)) return undefined;
    const session = await this.store.get<DashboardSession>(sessionKey(id));
    if (!session) return undefined;
    if (Date.parse(session.absolute_until) <= Date.now()) {
      await this.store.delete(sessionKey(id));
      return undefined;
    }
    await this.store.batch([{ op: 'expire', key: sessionKey(id), ttlSeconds: SESSION_IDLE_SECONDS }]);
    return session;
  }

  async destroy(id: string | undefined): Promise<void> {
    if (id && ID_PATTERN.test(id)) await this.store.delete(sessionKey(id));
  }

  /**
   * Post/redirect/get: a form post that made something keeps what the next page shows (a secret shown
   * once) here and redirects to that page with the returned flash id. The id is a handle, not the secret:
   * the flash is stored under this session, so the same URL in another browser or session finds nothing.
   */
  async putFlash(sessionId: string, kind: FlashKind, projectId: string, payload: JsonObject): Promise<string> {
    const flashId = randomId();
    const sealed = await this.box.seal(JSON.stringify(payload), flashAad(sessionId, flashId, kind, projectId));
    const flash: StoredFlash = { kind, project_id: projectId, sealed };
    await this.store.put(flashKey(sessionId, flashId), flash, FLASH_TTL_SECONDS);
    return flashId;
  }

  /**
   * The flash, once: of two requests racing with it (two tabs, a reload), one gets it (an atomic consume,
   * as for sign-ins); afterwards it is gone. Undefined when unknown, used, expired, of another session,
   * or for another page (kind or project).
   */
  async takeFlash<T extends JsonObject>(sessionId: string, kind: FlashKind, projectId: string, flashId: string | undefined): Promise<T | undefined> {
    if (!flashId || !ID_PATTERN.test(flashId) || !ID_PATTERN.test(sessionId)) return undefined;
    const key = flashKey(sessionId, flashId);
    const flash = await this.store.get<StoredFlash>(key);
    if (!flash || flash.kind !== kind || flash.project_id !== projectId) return undefined;
    const outcome = await this.store.consume(key, 'shown', Date.now());
    if (outcome.result !== 'consumed') return undefined;
    await this.store.delete(key);
    try {
      return JSON.parse(await this.box.open(flash.sealed, flashAad(sessionId, flashId, kind, projectId))) as T;
    } catch {
      // Sealed with a key this node does not hold, or altered in the store: nothing to show.
      return undefined;
    }
  }

  async startLogin(login: PendingLogin): Promise<string> {
    const state = randomId();
    await this.store.put(loginKey(state), login, LOGIN_TTL_SECONDS);
    return state;
  }

  /**
   * One use only, atomically: of two callbacks racing with the same cookie, one gets the record. `state` is
   * the value of this browser's login cookie, never the one in the callback URL: that is what binds the
   * sign-in to the browser that started it (the URL's state must then equal it, checked by openid-client).
   */
  async takeLogin(state: string | undefined): Promise<PendingLogin | undefined> {
    if (!state || !ID_PATTERN.test(state)) return undefined;
    const outcome = await this.store.consume(loginKey(state), 'used', Date.now());
    if (outcome.result !== 'consumed') return undefined;
    const login = await this.store.get<PendingLogin>(loginKey(state));
    await this.store.delete(loginKey(state));
    return login;
  }
}
