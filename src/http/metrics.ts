import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
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
  readonly logins = new Counter({
    name: 'logtrace_logins_total',
    help: 'Sign-in attempts by method and outcome',
    labelNames: ['method', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly storeDuration = new Histogram({
    name: 'logtrace_store_operation_duration_seconds',
    help: 'Store operation latency by operation and outcome',
    labelNames: ['driver', 'operation', 'outcome'] as const,
    buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 2],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'logtrace_' });
  }
}

const TIMED: ReadonlySet<string> = new Set(['get', 'put', 'putIfAbsent', 'consume', 'delete', 'ttl', 'sadd', 'srem', 'smembers', 'incr', 'counters', 'batch', 'append', 'range', 'ping']);

/** Wraps a store so each operation's latency and failures are recorded. */
export function instrumentStore(store: Store, metrics: Metrics): Store {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof property !== 'string' || !TIMED.has(property) || typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const end = metrics.storeDuration.startTimer({ driver: target.driver, operation: property });
        try {
          const result: unknown = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          end({ outcome: 'ok' });
          return result;
        } catch (err) {
          end({ outcome: 'error' });
          throw err;
        }
      };
    },
  });
}
