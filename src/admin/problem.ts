import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { z } from 'zod';
import { StoreInputError, StoreUnavailableError } from '../store/index.ts';
import { DomainError, type DomainErrorCode } from '../domain/index.ts';
import { BodyError } from '../http/json-body.ts';

/**
 * Errors of the /v1 API: one AppError, rendered as RFC 9457 application/problem+json by one middleware.
 * Codes are a closed set; `field` names the offending input.
 */
const PROBLEM_CODES = {
  unauthorized: { status: 401, title: 'Authentication required' },
  forbidden: { status: 403, title: 'Not allowed' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  conflict: { status: 409, title: 'Conflict' },
  invalid_request: { status: 400, title: 'Invalid request' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  payload_too_large: { status: 413, title: 'Payload too large' },
  rate_limited: { status: 429, title: 'Too many requests' },
  unavailable: { status: 503, title: 'Service unavailable' },
  internal: { status: 500, title: 'Internal error' },
} as const;
type ProblemCode = keyof typeof PROBLEM_CODES;

export class AppError extends Error {
  override readonly name = 'AppError';
  readonly code: ProblemCode;
  readonly status: number;
  readonly detail: string;
  readonly field: string | undefined;
  readonly headers: Record<string, string>;
  constructor(code: ProblemCode, detail: string, options: { field?: string | undefined; headers?: Record<string, string> } = {}) {
    super(detail);
    this.code = code;
    this.status = PROBLEM_CODES[code].status;
    this.detail = detail;
    this.field = options.field;
    this.headers = options.headers ?? {};
  }
}

/** Each domain refusal's problem code: the one place a DomainError becomes an HTTP status. */
const DOMAIN_PROBLEMS: Record<DomainErrorCode, ProblemCode> = {
  invalid: 'invalid_request',
  forbidden: 'forbidden',
  not_found: 'not_found',
  conflict: 'conflict',
  unavailable: 'unavailable',
  rate_limited: 'rate_limited',
};

/** A request body the server would not read (src/http/json-body.ts), by its status. */
const BODY_PROBLEMS: Record<BodyError['status'], ProblemCode> = { 400: 'invalid_request', 413: 'payload_too_large', 415: 'unsupported_media_type' };

/** A domain service's refusal (the access policy's included) as a problem, with the field it names. */
function fromDomainError(err: DomainError): AppError {
  return new AppError(DOMAIN_PROBLEMS[err.code], err.message, { field: err.field });
}

/** The first zod issue as an AppError naming its field (`scopes.1`, `ip_allowlist`). */
function fromZod(error: z.ZodError): AppError {
  const issue = error.issues[0]!;
  const field = issue.path.join('.') || undefined;
  let message = issue.message;
  if (issue.code === 'invalid_type') message = `expected ${issue.expected}`;
  if (issue.code === 'unrecognized_keys') message = `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`;
  return new AppError('invalid_request', field ? `${field}: ${message}` : message, { field });
}

export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body);
  if (!result.success) throw fromZod(result.error);
  return result.data;
}

/** What a client is told about input the store refused (no key, no internals). */
export function storeInputDetail(error: StoreInputError): string {
  return error.reason === 'invalid_cursor' ? 'the cursor is not an event id' : 'an identifier in this request is longer than any this server issues';
}

export function problemMiddleware(logger: Logger, onProblem?: (ctx: Parameters<Middleware>[0], error: AppError) => Promise<void>): Middleware {
  return async (ctx, next) => {
    let problem: AppError | undefined;
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) problem = new AppError('not_found', `no route ${ctx.method} ${ctx.path}`);
    } catch (err) {
      if (err instanceof AppError) problem = err;
      else if (err instanceof DomainError) problem = fromDomainError(err);
      else if (err instanceof StoreUnavailableError) problem = new AppError('unavailable', 'the store is unreachable; try again shortly', { headers: { 'Retry-After': '1' } });
      else if (err instanceof StoreInputError) problem = new AppError('invalid_request', storeInputDetail(err));
      else if (err instanceof BodyError) problem = new AppError(BODY_PROBLEMS[err.status], err.message);
      else {
        const status = (err as { status?: number }).status;
        if (status === 405) problem = new AppError('method_not_allowed', (err as Error).message);
        else if (status === 501) problem = new AppError('not_found', (err as Error).message);
        else if (status === 415) problem = new AppError('unsupported_media_type', (err as Error).message);
        else if (status === 413) problem = new AppError('payload_too_large', (err as Error).message);
        else if (status === 400) problem = new AppError('invalid_request', (err as Error).message);
        else {
          logger.error({ req_id: ctx.state.requestId, err }, 'unhandled error in /v1');
          problem = new AppError('internal', 'internal error; the request id identifies it in the server log');
        }
      }
    }
    if (!problem) return;
    ctx.status = problem.status;
    for (const [name, value] of Object.entries(problem.headers)) ctx.set(name, value);
    ctx.type = 'application/problem+json';
    ctx.body = {
      type: `urn:logtrace:problem:${problem.code}`,
      title: PROBLEM_CODES[problem.code].title,
      status: problem.status,
      detail: problem.detail,
      code: problem.code,
      ...(problem.field ? { field: problem.field } : {}),
      instance: ctx.path,
      request_id: ctx.state.requestId ?? null,
    };
    if (onProblem) await onProblem(ctx, problem).catch((e: unknown) => logger.warn({ err: String(e) }, 'could not audit a failed admin call'));
  };
}
