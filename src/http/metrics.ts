import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import Koa, { type Middleware } from 'koa';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ConfigError, type Config } from '../config/index.ts';
import type { Store } from '../store/index.ts';

/** Prometheus metrics of one server process, on its own registry (no module-level singletons). */
export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({
    name: 'logtrace_http_requests_total',
    help: 'HTTP requests by method, route and status code',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'logtrace_http_request_duration_seconds',
    help: 'HTTP request duration by route',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly grants = new Counter({
    name: 'logtrace_oauth_grants_total',
    help: 'Token endpoint grants by grant type and outcome (success or the OAuth error code)',
    labelNames: ['grant_type', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly verifications = new Counter({
    name: 'logtrace_api_key_verifications_total',
    help: 'API key verifications by outcome (valid or the refusal code)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  /** Sources of logtrace_verify_limiter_entries, registered by whoever owns a limiter. */
  readonly limiterSizes = new Map<string, () => number>();
  readonly verifyLimiterEntries = new Gauge({
    name: 'logtrace_verify_limiter_entries',
    help: 'Subjects remembered by the key verification failure limiters (bounded by api_keys.verify_limiter_entries)',
    labelNames: ['limiter'] as const,
    registers: [this.registry],
    collect: () => {
      for (const [limiter, size] of this.limiterSizes) this.verifyLimiterEntries.set({ limiter }, size());
    },
  });
  readonly logins = new Counter({
    name: 'logtrace_logins_total',
    help: 'Sign-in attempts by method and outcome',
    labelNames: ['method', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly passwordChecks = new Counter({
    name: 'logtrace_password_checks_total',
    help: 'Password checks run: local (an account hash), decoy (no such account, same cost), directory (an LDAP bind)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly passwordHashesInFlight = new Gauge({
    name: 'logtrace_password_hashes_in_flight',
    help: 'Password hashes and checks running now in this process (bounded by passwords.max_concurrent_hashes)',
    registers: [this.registry],
  });
  readonly passwordHashesInFlightMax = new Gauge({
    name: 'logtrace_password_hashes_in_flight_max',
    help: 'The most password hashes and checks that ran at once in this process since it started',
    registers: [this.registry],
  });
  readonly passwordHashesRefused = new Counter({
    name: 'logtrace_password_hashes_refused_total',
    help: 'Password hashes refused because every slot and queue place was taken (answered 503)',
    registers: [this.registry],
  });
  readonly storeDuration = new Histogram({
    name: 'logtrace_store_operation_duration_seconds',
    help: 'Store operation latency by operation and outcome',
    labelNames: ['driver', 'operation', 'outcome'] as const,
    buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 2],
    registers: [this.registry],
  });

  readonly storeErrors = new Counter({
    name: 'logtrace_store_errors_total',
    help: 'Failed store operations by kind: timeout, connection, readonly (a demoted master), cluster_down, redirections, auth, busy, command, input',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly storeFailovers = new Counter({
    name: 'logtrace_store_failovers_total',
    help: 'Times this process saw another Redis node become master (Cluster promotion, Sentinel switch)',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'logtrace_' });
  }
}

const TIMED: ReadonlySet<string> = new Set(['get', 'put', 'putIfAbsent', 'consume', 'delete', 'ttl', 'sadd', 'srem', 'smembers', 'incr', 'counters', 'batch', 'append', 'range', 'ping']);

/**
 * Wraps a store so each operation's latency and failures are recorded. The wrappers and their labelled
 * histogram children are made once per operation: this sits on every hot path (one store read per verify).
 */
export function instrumentStore(store: Store, metrics: Metrics): Store {
  const wrappers = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  for (const operation of TIMED) {
    const method = (store as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[operation];
    if (typeof method !== 'function') continue;
    const ok = metrics.storeDuration.labels({ driver: store.driver, operation, outcome: 'ok' });
    const failed = metrics.storeDuration.labels({ driver: store.driver, operation, outcome: 'error' });
    wrappers.set(operation, async (...args: unknown[]) => {
      const started = performance.now();
      try {
        const result = await method.apply(store, args);
        ok.observe((performance.now() - started) / 1000);
        return result;
      } catch (err) {
        failed.observe((performance.now() - started) / 1000);
        throw err;
      }
    });
  }
  return new Proxy(store, {
    get(target, property, receiver) {
      return (typeof property === 'string' && wrappers.get(property)) || Reflect.get(target, property, receiver);
    },
  });
}

/** The scrape token from `metrics.token` or `metrics.token_file` (read once at start-up), if any. */
export async function readMetricsToken(config: Config['metrics']): Promise<string | undefined> {
  if (config.token) return config.token;
  if (!config.token_file) return undefined;
  let text: string;
  try {
    text = await readFile(config.token_file, 'utf8');
  } catch (err) {
    throw new ConfigError(config.token_file, [`metrics.token_file: cannot read it: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
  const token = text.trim();
  if (token.length < 16) throw new ConfigError(config.token_file, ['metrics.token_file: the token must be at least 16 characters']);
  return token;
}

/** `metrics.listen` as host and port (`:9464` listens on every interface). */
export function metricsListenAddress(listen: string): { host: string | undefined; port: number } {
  const colon = listen.lastIndexOf(':');
  const host = listen.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return { host: host || undefined, port: Number(listen.slice(colon + 1)) };
}

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/** Constant-time check of `Authorization: Bearer <token>` (digests first: equal lengths, no length leak). */
function bearerMatches(authorization: string | undefined, token: string): boolean {
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? '');
  return timingSafeEqual(digest(match?.[1] ?? ''), digest(token)) && match !== null;
}

/** GET /metrics: the Prometheus text, behind the scrape token when one is configured. */
export function metricsEndpoint(metrics: Metrics, token: string | undefined): Middleware {
  return async (ctx) => {
    if (token !== undefined && !bearerMatches(ctx.get('authorization') || undefined, token)) {
      ctx.status = 401;
      ctx.set('WWW-Authenticate', 'Bearer realm="metrics"');
      ctx.type = 'text/plain';
      ctx.body = 'metrics need Authorization: Bearer <metrics token>\n';
      return;
    }
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  };
}

/** The app of the separate metrics address (`metrics.listen`): GET /metrics, 404 for anything else. */
export function metricsApp(metrics: Metrics, token: string | undefined): Koa {
  const app = new Koa();
  const endpoint = metricsEndpoint(metrics, token);
  app.use(async (ctx, next) => {
    if (ctx.path === '/metrics' && (ctx.method === 'GET' || ctx.method === 'HEAD')) return endpoint(ctx, next);
    ctx.status = 404;
    ctx.type = 'text/plain';
    ctx.body = 'not found\n';
  });
  return app;
}
