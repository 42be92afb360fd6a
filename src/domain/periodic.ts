import type { Logger } from 'pino';

/**
 * A background job run every `intervalSeconds`, never overlapping itself; a failed run is logged and the
 * next tick tries again. stop() waits for a run in progress. Timers are unref'd (they never hold the
 * process open). Jobs that must run on one node at a time take a store lock inside `run`.
 */
export class PeriodicJob {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private readonly name: string;
  private readonly logger: Logger;
  private readonly run: () => Promise<unknown>;

  constructor(name: string, logger: Logger, run: () => Promise<unknown>) {
    this.name = name;
    this.logger = logger;
    this.run = run;
  }

  start(intervalSeconds: number): void {
    this.timer = setInterval(() => {
      this.running ??= this.run()
        .catch((err: unknown) => this.logger.warn({ err: String(err) }, `${this.name} failed; will retry`))
        .finally(() => (this.running = undefined));
    }, intervalSeconds * 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
