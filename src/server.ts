import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import type { Config } from './config/index.ts';
import { buildServices, type Services } from './container.ts';
import { createApp } from './http/app.ts';

export interface RunningServer {
  url: string;
  port: number;
  services: Services;
  close(): Promise<void>;
}

export function createLogger(config: Pick<Config, 'log_level'>): Logger {
  return pino({
    level: config.log_level,
    base: { service: 'logtrace-auth' },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Belt and braces: these never reach a log line even if an object carrying them is logged.
    redact: { paths: ['*.client_secret', '*.password', '*.password_hash', '*.bind_password', '*.d', '*.jwk', 'req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
  });
}

/** Builds the services and listens; close() stops accepting, drains in-flight requests, closes the store. */
export async function startServer(config: Config, logger: Logger = createLogger(config)): Promise<RunningServer> {
  const services = await buildServices(config, logger);
  const app = createApp(services);
  const server = http.createServer(app.callback());
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    services,
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
          // Requests still running after 10 s are cut off rather than holding the shutdown forever.
          setTimeout(() => server.closeAllConnections(), 10_000).unref();
        });
        await services.close();
      })();
      return closing;
    },
  };
}
