/**
 * HTTP helpers of the verifier: JSON documents cached per their Cache-Control and revalidated with their
 * ETag (RFC 9111 §5.2.2.1 max-age; RFC 9110 §13.1.2 If-None-Match).
 */
export type FetchLike = typeof fetch;

export interface CachedDocument<T> {
  value: T;
  etag: string | undefined;
  /** When it must be revalidated (epoch ms). */
  expiresAt: number;
}

export interface CachePolicy {
  /** Used when the response names no max-age. */
  defaultTtlMs: number;
  minTtlMs: number;
  maxTtlMs: number;
}

/** The freshness lifetime a response grants, within the policy's bounds. */
export function freshnessMs(cacheControl: string | null, policy: CachePolicy): number {
  let ttl = policy.defaultTtlMs;
  if (cacheControl) {
    const directives = cacheControl.toLowerCase().split(',').map((d) => d.trim());
    const maxAge = directives.map((d) => /^max-age=(\d+)$/.exec(d)).find((m) => m);
    if (directives.includes('no-store') || directives.includes('no-cache')) ttl = 0;
    else if (maxAge) ttl = Number(maxAge[1]) * 1000;
  }
  return Math.min(policy.maxTtlMs, Math.max(policy.minTtlMs, ttl));
}

export class HttpStatusError extends Error {
  override readonly name = 'HttpStatusError';
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** GET a JSON document; a 304 to If-None-Match keeps the previous value with a new lifetime. */
export async function fetchJson<T>(fetchImpl: FetchLike, url: string, options: { headers?: Record<string, string>; previous?: CachedDocument<T> | undefined; policy: CachePolicy; timeoutMs: number; parse: (body: unknown) => T }): Promise<CachedDocument<T>> {
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  if (options.previous?.etag) headers['if-none-match'] = options.previous.etag;
  const response = await fetchImpl(url, { headers, redirect: 'error', signal: AbortSignal.timeout(options.timeoutMs) });
  const expiresAt = Date.now() + freshnessMs(response.headers.get('cache-control'), options.policy);
  if (response.status === 304 && options.previous) {
    await response.body?.cancel();
    return { value: options.previous.value, etag: response.headers.get('etag') ?? options.previous.etag, expiresAt };
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new HttpStatusError(response.status, `GET ${url} answered ${response.status}`);
  }
  return { value: options.parse(await response.json()), etag: response.headers.get('etag') ?? undefined, expiresAt };
}
