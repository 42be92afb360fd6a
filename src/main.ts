import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { loadConfig, ConfigError, devWarnings, developmentDefaultsCheck, developmentDefaultsRefusal } from './config/index.ts';
import { KeySetUnavailableError } from './oidc/index.ts';
import { StoreConfigError } from './store/index.ts';
import { createLogger, startServer } from './server.ts';

/**
 * The last resort for errors raised outside every request's promise chain (event listeners, timers,
 * promises nobody awaits); the code that raised one is the bug to fix, this only decides what the
 * process does meanwhile. A rejected promise that nobody awaited interrupted nothing else: it is
 * logged and the server keeps serving (Node's default would end the process, and every other request
 * with it). An uncaught exception may have left any state half-changed, so resuming is not safe (Node's
 * documentation says so): it is logged and the process exits 1, for the cluster primary or the
 * supervisor (systemd, Kubernetes, Docker's restart policy) to start a fresh one.
 */
function installCrashPolicy(logger: Logger): void {
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason }, 'unhandled promise rejection; still serving');
  });
  process.on('uncaughtException', (err, origin) => {
    logger.fatal({ err, origin }, 'uncaught exception; exiting');
    process.exit(1);
  });
}

/**
 * Start-up: load config (exit 1 naming every bad key; exit 1 naming every development default when the
 * issuer is not localhost, unless allow_development_defaults), open the store, listen, shut down gracefully on
 * SIGTERM/SIGINT. With `workers` > 1 the primary process forks that many servers sharing the port
 * (node:cluster); they share all state through the store, exactly as separate nodes do.
 */
async function main(): Promise<void> {
  let loaded;
  try {
    loaded = await loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  const { config, source, overrides } = loaded;
  const { refuse } = developmentDefaultsCheck(config);
  if (refuse.length > 0) {
    console.error(developmentDefaultsRefusal(config, refuse));
    process.exit(1);
  }
  const logger = createLogger(config);
  installCrashPolicy(logger);
  const workers = config.workers === 'auto' ? availableParallelism() : config.workers;
  // Said once, by the process that read the configuration (the primary when there are workers).
  if (cluster.isPrimary) for (const note of overrides) logger[note.includes('ignored') ? 'warn' : 'info'](`configuration: ${note}`);

  if (workers > 1 && cluster.isPrimary) {
    for (const warning of devWarnings(config)) logger.warn(`configuration: ${warning}`);
    logger.info({ workers }, 'starting worker processes');
    let stopping = false;
    for (let i = 0; i < workers; i++) cluster.fork();
    cluster.on('exit', (worker, code, signal) => {
      if (stopping) {
        if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
        return;
      }
      logger.error({ pid: worker.process.pid, code, signal }, 'worker died; starting a new one');
      cluster.fork();
    });
    const stop = (signal: NodeJS.Signals) => {
      stopping = true;
      logger.info({ signal }, 'shutting down workers');
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    return;
  }

  if (cluster.isPrimary) for (const warning of devWarnings(config)) logger.warn(`configuration: ${warning}`);
  let server;
  try {
    server = await startServer(config, logger);
  } catch (err) {
    if (err instanceof KeySetUnavailableError || err instanceof ConfigError || err instanceof StoreConfigError) {
      console.error(err instanceof ConfigError ? err.message : `error: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
  logger.info({ issuer: config.issuer, port: server.port, ...(config.metrics.listen ? { metrics: config.metrics.listen } : {}), store: config.store.driver, config: source, pid: process.pid }, 'LogTrace Auth listening');

  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  console.error('fatal:', err);
  process.exit(1);
});
