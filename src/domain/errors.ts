/**
 * The one error a domain service throws: a refusal of plain input, with a closed set of codes. Each door
 * maps it once — /v1 to problem+json (src/admin/problem.ts), the dashboard to a message next to the field,
 * the CLI to an exit code — so no door tells errors apart by their text.
 */
export type DomainErrorCode = 'invalid' | 'forbidden' | 'not_found' | 'conflict' | 'unavailable' | 'rate_limited';

export class DomainError extends Error {
  override readonly name: string = 'DomainError';
  readonly code: DomainErrorCode;
  /** The input field at fault (`scopes`, `scopes.1`, `redirect_uris.0`), when one is. */
  readonly field: string | undefined;
  constructor(code: DomainErrorCode, message: string, field?: string) {
    super(message);
    this.code = code;
    this.field = field;
  }
}

export function isDomainError(error: unknown): error is DomainError {
  return error instanceof DomainError;
}
