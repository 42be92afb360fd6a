/**
 * Load generator, run as its own process so it never shares an event loop with a server under test:
 *   node bench/load.ts '<LoadOptions as JSON>'
 * Runs an unmeasured warm-up, then the measured run, and prints one LoadResult as JSON on stdout.
 * Latencies are taken from autocannon's per-response hrtime durations (fractional ms), not its
 * histogram, whose 1 ms buckets are too coarse to compare p50s of a few milliseconds.
 */
import autocannon from 'autocannon';
import { exitWithParent, MEASURING, type LoadOptions, type LoadResult } from './lib.ts';

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

interface Collected {
  result: autocannon.Result;
  latencies: Float64Array;
  statusCodes: Record<string, number>;
}

/** The first failing body of the whole process (warm-up included), for the harness's error message. */
let failureSample: string | undefined;

/** autocannon's verifyBody: false (counted in `mismatches`) when the body lacks `expected`. */
function bodyCheck(expected: string): (body: string | Buffer | undefined) => boolean {
  return (body) => {
    const text = typeof body === 'string' ? body : (body?.toString('utf8') ?? '');
    if (text.includes(expected)) return true;
    failureSample ??= text.slice(0, 300);
    return false;
  };
}

function once(opts: LoadOptions, duration: number): Promise<Collected> {
  let latencies = new Float64Array(1 << 16);
  let count = 0;
  const statusCodes: Record<string, number> = {};
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: opts.url,
        method: opts.method,
        headers: opts.headers,
        body: opts.body,
        connections: opts.connections,
        duration,
        timeout: 10,
        ...(opts.expectBodyIncludes !== undefined ? { verifyBody: bodyCheck(opts.expectBodyIncludes) } : {}),
      },
      (err: unknown, result: autocannon.Result) => {
        if (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        resolve({ result, latencies: latencies.slice(0, count).sort(), statusCodes });
      },
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (count === latencies.length) {
        const bigger = new Float64Array(latencies.length * 2);
        bigger.set(latencies);
        latencies = bigger;
      }
      latencies[count++] = responseTime;
      const key = String(statusCode);
      statusCodes[key] = (statusCodes[key] ?? 0) + 1;
    });
  });
}

async function main(): Promise<void> {
  exitWithParent();
  const raw = process.argv[2];
  if (!raw) throw new Error('usage: node bench/load.ts <options json>');
  const opts = JSON.parse(raw) as LoadOptions;
  let warmupFailures = 0;
  if (opts.warmup > 0) {
    const warm = await once(opts, opts.warmup);
    const warmOk = Object.entries(warm.statusCodes).reduce((n, [code, c]) => (code.startsWith('2') ? n + c : n), 0);
    warmupFailures = warm.latencies.length - warmOk + warm.result.errors + warm.result.timeouts + warm.result.mismatches;
  }
  // Tells the harness to take its "before" samples (server CPU) now.
  process.stdout.write(MEASURING + '\n');
  const cpuBefore = process.cpuUsage();
  const { result, latencies, statusCodes } = await once(opts, opts.duration);
  const cpu = process.cpuUsage(cpuBefore);
  const responses = latencies.length;
  const ok = Object.entries(statusCodes).reduce((n, [code, c]) => (code.startsWith('2') ? n + c : n), 0);
  const out: LoadResult = {
    rps: responses / result.duration,
    p50: percentile(latencies, 50),
    p90: percentile(latencies, 90),
    p99: percentile(latencies, 99),
    max: latencies.length ? (latencies[latencies.length - 1] ?? Number.NaN) : Number.NaN,
    responses,
    ok,
    non2xx: responses - ok,
    errors: result.errors,
    timeouts: result.timeouts,
    mismatches: result.mismatches,
    warmupFailures,
    ...(failureSample !== undefined ? { failureSample } : {}),
    statusCodes,
    seconds: result.duration,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error('load generator failed:', err);
  process.exit(1);
});
