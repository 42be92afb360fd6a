/** Who did something, as the audit log records it. */
export interface Actor {
  type: 'api_key' | 'user' | 'client' | 'system';
  id: string | null;
}

/**
 * Who is asking, as the access policy and every domain service see it — whatever door the request came
 * through (/v1, the dashboard, the CLI, SCIM).
 */
export type Principal =
  | { kind: 'api_key'; actor: Actor; project_id: string; scopes: string[] }
  | { kind: 'token'; actor: Actor; scopes: string[]; project_roles: Record<string, string> }
  | { kind: 'operator'; actor: Actor }
  /**
   * A SCIM connection's bearer token (the directory pushing people and groups). It holds no scope on any
   * project: it reaches only the accounts and groups of its own connection, through the scim* methods.
   */
  | { kind: 'scim'; actor: Actor; connection_id: string; connector: string };

/** A principal and where the request came from: what a domain service needs to decide and to audit. */
export interface Caller {
  principal: Principal;
  /** The client address (src/http/client-address.ts), null for the CLI. */
  ip: string | null;
  user_agent: string | null;
}
