import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Polls `check` until it holds (a condition another process makes true), failing after `seconds`. */
export async function eventually(check: () => Promise<boolean>, seconds: number, intervalMs = 200): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`not true within ${seconds} s`);
}

/** A relying party's real callback endpoint on a free port: the browser must land somewhere that answers. */
export async function startCallbackServer(): Promise<{ uri: string; close(): Promise<void> }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>callback</title><p>signed in</p>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { uri: `http://127.0.0.1:${port}/callback`, close: () => new Promise((r) => server.close(() => r())) };
}
