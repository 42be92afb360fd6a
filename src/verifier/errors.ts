/**
 * Why a request was refused, ready to answer: `status` (401, 403 or 503), a stable `code`, and the
 * `WWW-Authenticate` value (RFC 6750 §3: `invalid_token`, `insufficient_scope`, `invalid_request`).
 */
export type VerifierErrorCode =
  | 'missing_credential'
  | 'invalid_request'
  | 'invalid_token'
  | 'token_expired'
  | 'not_found'
  | 'expired'
  | 'revoked'
  | 'rotated'
  | 'ip_not_allowed'
  | 'wrong_project'
  | 'insufficient_scope'
  | 'unavailable';

export class VerifierError extends Error {
  override readonly name = 'VerifierError';
  readonly status: 401 | 403 | 503;
  readonly code: VerifierErrorCode;
  readonly wwwAuthenticate: string;

  constructor(status: 401 | 403 | 503, code: VerifierErrorCode, message: string, options: { realm: string; error?: 'invalid_token' | 'insufficient_scope' | 'invalid_request'; scope?: string; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = status;
    this.code = code;
    const params = [`realm="${quote(options.realm)}"`];
    if (options.error) params.push(`error="${options.error}"`, `error_description="${quote(message)}"`);
    if (options.scope) params.push(`scope="${quote(options.scope)}"`);
    this.wwwAuthenticate = `Bearer ${params.join(', ')}`;
  }
}

/** RFC 9110 §5.6.4 quoted-string: backslash and quote escaped, no control characters. */
function quote(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what must not reach a header
  return text.replace(/[\\"]/g, '\\$&').replace(/[\x00-\x1f\x7f]/g, ' ');
}
