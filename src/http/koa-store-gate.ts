import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import type { Store } from '../store/index.ts';

/**
 * Fail closed on paths that may not touch the store at all (a client-credentials JWT is signed without a
 * store write): refuse with 503 when the store is known to be unreachable. "Known" is the driver's own
 * connection state (no round trip) or the last background ping (catches a store that is connected but
 * not answering). Paths that do use the store fail closed by themselves through StoreUnavailableError.
 */
export class StoreHealth {
  private up = true;
  private timer: NodeJS.Timeout | undefined;
  private readonly store: Store;
  private readonly logger: Logger;

  constructor(store: Store, logger: Logger) {
    this.store = store;
    this.logger = logger;
  }

  healthy(): boolean {
    return this.up && this.store.available();
  }

  start(intervalMs = 1000): void {
    const check = async () => {
      const was = this.up;
      try {
        await Promise.race([this.store.ping(), new Promise((_, reject) => setTimeout(() => reject(new Error('ping timed out')), intervalMs).unref())]);
        this.up = true;
      } catch {
        this.up = false;
      }
      if (was !== this.up) this.logger[this.up ? 'info' : 'error'](`store ${this.up ? 'reachable again' : 'unreachable: failing closed'}`);
    };
    this.timer = setInterval(() => void check(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

export function storeGate(health: StoreHealth, paths: string[]): Middleware {
  const gated = (path: string) => paths.some((p) => path === p || path.startsWith(`${p}/`));
  return async (ctx, next) => {
    if (gated(ctx.path) && !health.healthy()) {
      ctx.status = 503;
      ctx.set('Retry-After', '1');
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { error: 'temporarily_unavailable', error_description: 'the authorization server cannot reach its store; try again shortly' };
      return;
    }
    await next();
  };
}
