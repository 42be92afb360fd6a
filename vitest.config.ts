import { defineConfig } from 'vitest/config';

// Integration tests start real servers (redis-server, our server, Chromium): give them room and
// run files in separate processes so a test can kill and restart its own peers.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Every /v1 answer a test gets is checked by the server against its declared schema (/v1/openapi.json).
    env: { LOGTRACE_CHECK_RESPONSES: '1' },
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
