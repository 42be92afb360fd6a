import cluster from 'node:cluster';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import type { Config } from './config/index.ts';
import { buildServices, type Services } from './container.ts';
import { createApp } from './app.ts';
import { metricsApp, metricsListenAddress, readMetricsToken } from './http/metrics.ts';

export interface RunningServer {
  url: string;
  port: number;
  /** The separate metrics address (`metrics.listen`), when configured. */
  metricsUrl: string | undefined;
  services: Services;
  close(): Promise<void>;
}

export function createLogger(config: Pick<Config, 'log_level'>): Logger {
  return pino({
    level: config.log_level,
    // Workers (`workers` > 1) share one stdout: their pid tells whose line it is.
    base: { service: 'logtrace-auth', ...(cluster.isWorker ? { pid: process.pid } : {}) },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Belt and braces: these never reach a log line even if an object carrying them is logged.
    redact: { paths: ['*.client_secret', '*.password', '*.password_hash', '*.bind_password', '*.d', '*.jwk', 'req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
  });
}

/** Builds the services and listens; close() stops accepting, drains in-flight requests, closes the store. */
export async function startServer(config: Config, logger: Logger = createLogger(config)): Promise<RunningServer> {
  const metricsToken = await readMetricsToken(config.metrics);
  const services = await buildServices(config, logger);
  const app = createApp(services, { metricsToken });
  const servers: http.Server[] = [];
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      // Event streams never finish on their own: end them so the drain below is not held for 10 s.
      services.keyEvents.stop();
      await Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              if (!server.listening) return resolve();
              server.close(() => resolve());
              server.closeIdleConnections();
              // Requests still running after 10 s are cut off rather than holding the shutdown forever.
              setTimeout(() => server.closeAllConnections(), 10_000).unref();
            }),
        ),
      );
      await services.close();
    })();
    return closing;
  };
  const listen = async (handler: http.RequestListener, port: number, host: string | undefined): Promise<number> => {
    const server = http.createServer(handler);
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return (server.address() as AddressInfo).port;
  };
  try {
    const port = await listen(app.callback(), config.port, config.host);
    let metricsUrl: string | undefined;
    if (config.metrics.listen) {
      const address = metricsListenAddress(config.metrics.listen);
      const metricsPort = await listen(metricsApp(services.metrics, metricsToken).callback(), address.port, address.host);
      const shown = !address.host || address.host === '0.0.0.0' || address.host === '::' ? '127.0.0.1' : address.host.includes(':') ? `[${address.host}]` : address.host;
      metricsUrl = `http://${shown}:${metricsPort}`;
    }
    return { url: `http://127.0.0.1:${port}`, port, metricsUrl, services, close };
  } catch (err) {
    await close();
    throw err;
  }
}
