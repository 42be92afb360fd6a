/**
 * Every path of the admin dashboard, in one place: the routes (src/dashboard/*) register these and the
 * pages link to them, so a path is written once.
 */
export const DASHBOARD_PATH = '/dashboard';
export const LOGIN_PATH = '/dashboard/login';
export const CALLBACK_PATH = '/dashboard/callback';
export const SIGNED_OUT_PATH = '/dashboard/signed-out';
export const SIGN_OUT_PATH = '/dashboard/sign-out';
export const LANG_PATH = '/dashboard/lang';

export const API_ACCESS_PATH = '/dashboard/settings/security/api-access';
export const LOG_PATH = '/dashboard/settings/security/log';
export const REVOKE_PATH = `${API_ACCESS_PATH}/revoke`;
export const ROTATE_PATH = `${API_ACCESS_PATH}/rotate`;
export const USAGE_PATH = `${API_ACCESS_PATH}/usage`;
export const MEMBERS_PATH = '/dashboard/settings/members';
export const WEBHOOKS_PATH = '/dashboard/settings/webhooks';
export const SSO_PATH = '/dashboard/settings/security/sso';
export const SSO_NEW_PATH = `${SSO_PATH}/new`;
export const SSO_EDIT_PATH = `${SSO_PATH}/edit`;
export const SSO_TEST_PATH = `${SSO_PATH}/test`;
export const SSO_TRY_PATH = `${SSO_PATH}/try`;
export const SSO_DELETE_PATH = `${SSO_PATH}/delete`;
export const SSO_SCIM_ROTATE_PATH = `${SSO_PATH}/scim/rotate`;
export const SSO_RULE_ADD_PATH = `${SSO_PATH}/rules/add`;
export const SSO_RULE_DELETE_PATH = `${SSO_PATH}/rules/delete`;
export const WEBHOOK_DELETE_PATH = `${WEBHOOKS_PATH}/delete`;
export const DELIVERIES_PATH = `${WEBHOOKS_PATH}/deliveries`;
export const REDELIVER_PATH = `${WEBHOOKS_PATH}/redeliver`;
export const MEMBER_ROLE_PATH = `${MEMBERS_PATH}/role`;
export const MEMBER_REMOVE_PATH = `${MEMBERS_PATH}/remove`;
export const INVITE_PATH = `${MEMBERS_PATH}/invite`;
export const INVITATION_REVOKE_PATH = `${MEMBERS_PATH}/invitations/revoke`;
export const MAPPING_ADD_PATH = `${MEMBERS_PATH}/mappings/add`;
export const MAPPING_DELETE_PATH = `${MEMBERS_PATH}/mappings/delete`;

/** The sections of the side navigation and the page each opens. */
/** Settings → Integrations → Applications: OAuth clients of a project. */
export const APPLICATIONS_PATH = '/dashboard/settings/integrations/applications';
export const APPLICATION_PATH = `${APPLICATIONS_PATH}/view`;
export const APPLICATION_ROTATE_PATH = `${APPLICATIONS_PATH}/rotate`;
export const APPLICATION_DELETE_PATH = `${APPLICATIONS_PATH}/delete`;

export const SECTION_PATHS = { 'api-access': API_ACCESS_PATH, log: LOG_PATH, members: MEMBERS_PATH, webhooks: WEBHOOKS_PATH, applications: APPLICATIONS_PATH, sso: SSO_PATH } as const;
export type Section = keyof typeof SECTION_PATHS;

/** `path` with the non-empty `params` as its query string. */
export function url(path: string, params: Record<string, string | undefined | null>): string {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') query.set(k, v);
  const qs = query.toString();
  return qs ? `${path}?${qs}` : path;
}
