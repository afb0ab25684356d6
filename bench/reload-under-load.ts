/**
 * `npm run bench`, reload scenario (issue 8, case 5): checks under load against `serve
 * --policies` while a folder of 12,000 policies (about 5 MB) is replaced and reloaded. The load
 * is open-loop at a fixed rate (as traffic from Envoy is: it does not wait for the last answer
 * before sending the next request), well below saturation, so a stall of the event loop shows
 * as latency instead of being hidden by a client that slows down with the server. Prints
 * check latency p50/p99/max in steady state and while the reload runs (from the folder swap to
 * the "snapshot applied" line), and the checks that missed a 200 ms gRPC deadline (Envoy's
 * default ext_authz timeout). The compile runs on a worker thread; the main thread only
 * receives the result and builds the router, whose cost the server's log line reports.
 *
 * Run alone: `node bench/reload-under-load.ts` (`BENCH_RELOAD_POLICIES`, `BENCH_RELOAD_RATE` checks/s).
 *
 * @example
 * ```ts
 * await reloadUnderLoad(); // prints one table
 * ```
 */
import { mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createGrpcClient, httpCheckRequest } from '../cli/grpc-client.ts';
import { writeBigPolicyFolder } from '../dev/fixtures/big-policy-folder.ts';
import { startServeProcess } from '../dev/serve-process.ts';
import { generateTestKey, jwksOf, signToken, standardClaims } from '../dev/fixtures/tokens.ts';

const POLICIES = Number(process.env.BENCH_RELOAD_POLICIES ?? 12_000);
const RATE = Number(process.env.BENCH_RELOAD_RATE ?? 1000);
const TICK_MS = 5;
const DEADLINE_MS = 200;
const STEADY_MS = 3000;

interface Sample {
  at: number;
  ms: number;
  outcome: 'ok' | 'timeout' | 'error';
}

/**
 * Runs the scenario and prints its table.
 *
 * @example
 * ```ts
 * await reloadUnderLoad();
 * ```
 */
export async function reloadUnderLoad(): Promise<void> {
  const key = await generateTestKey('RS256', 'reload');
  const base = await mkdtemp(join(tmpdir(), 'jwtgate-bench-reload-'));
  const dir = join(base, 'policies');
  const next = join(base, 'next');
  const { bytes, hostOf } = await writeBigPolicyFolder({ policies: POLICIES, jwks: jwksOf(key), dir: await mkdirp(dir) });
  const svc = await startServeProcess(['--policies', dir], { JWTGATE_LOG_LEVEL: 'info', JWTGATE_ALLOW_LOG_SAMPLE: '0' });
  const client = createGrpcClient(`127.0.0.1:${svc.grpcPort}`);
  try {
    const first = await svc.waitForLog((l) => l.msg === 'snapshot applied', 120_000);
    // "read write" satisfies both versions of the folder: the reload changes every policy, not the decisions.
    const token = await signToken(key, standardClaims({ scope: 'read write', exp: Math.floor(Date.now() / 1000) + 3600 }));
    const request = (i: number) =>
      httpCheckRequest({
        method: 'GET',
        host: hostOf((i * 7919) % POLICIES),
        path: '/api/orders',
        headers: { authorization: `Bearer ${token}` },
      });
    for (let i = 0; i < 2000; i++) await client.check(request(i)); // warm-up

    const samples: Sample[] = [];
    const inFlight = new Set<Promise<void>>();
    let n = 0;
    const send = () => {
      const at = performance.now();
      const call = client
        .check(request(n++), { deadlineMs: DEADLINE_MS })
        .then(
          () => 'ok' as const,
          (e: { code?: number }) => (e.code === 4 ? ('timeout' as const) : ('error' as const)), // 4: DEADLINE_EXCEEDED
        )
        .then((outcome) => {
          samples.push({ at, ms: performance.now() - at, outcome });
        });
      inFlight.add(call);
      void call.finally(() => inFlight.delete(call));
    };
    const started = performance.now();
    const ticker = setInterval(() => {
      while (n < ((performance.now() - started) * RATE) / 1000) send();
    }, TICK_MS);

    await new Promise((resolve) => setTimeout(resolve, STEADY_MS));
    await writeBigPolicyFolder({ policies: POLICIES, jwks: jwksOf(key), dir: await mkdirp(next), scope: 'write' });
    const applied = svc.logs.filter((l) => l.msg === 'snapshot applied').length;
    const swapAt = performance.now();
    await rename(dir, join(base, 'old'));
    await rename(next, dir);
    const done = await svc.waitForLog(
      (l) => l.msg === 'snapshot applied' && svc.logs.filter((x) => x.msg === 'snapshot applied').length > applied,
      120_000,
    );
    const doneAt = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 500));
    clearInterval(ticker);
    await Promise.all(inFlight);

    const steady = stats(samples.filter((s) => s.at < swapAt));
    const reload = stats(samples.filter((s) => s.at >= swapAt && s.at <= doneAt));
    console.log(
      `\nreload under load: ${POLICIES} policies (${(bytes / 1e6).toFixed(1)} MB) replaced by a folder rename, ${RATE} checks/s (open loop), ${DEADLINE_MS} ms deadline`,
    );
    console.log(`  first load: compile ${String(first.compileMs)} ms (worker), router ${String(first.routerMs)} ms (main thread)`);
    console.log(
      `  reload:     ${(doneAt - swapAt).toFixed(0)} ms from the swap to "snapshot applied": compile ${String(done.compileMs)} ms (worker), router ${String(done.routerMs)} ms (main thread)`,
    );
    console.log('  window     checks   p50 ms   p99 ms   max ms   timeouts   other errors');
    for (const [name, s] of [
      ['steady', steady],
      ['reloading', reload],
    ] as const) {
      console.log(
        `  ${name.padEnd(9)} ${String(s.count).padStart(7)}   ${s.p50.toFixed(2).padStart(6)}   ${s.p99.toFixed(2).padStart(6)}   ${s.max.toFixed(1).padStart(6)}   ${String(s.timeouts).padStart(8)}   ${String(s.errors).padStart(12)}`,
      );
    }
  } finally {
    client.close();
    await svc.stop();
    await rm(base, { recursive: true, force: true });
  }
}

function stats(samples: Sample[]): { count: number; p50: number; p99: number; max: number; timeouts: number; errors: number } {
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  const at = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))] ?? Number.NaN;
  return {
    count: ms.length,
    p50: at(0.5),
    p99: at(0.99),
    max: ms.at(-1) ?? Number.NaN,
    timeouts: samples.filter((s) => s.outcome === 'timeout').length,
    errors: samples.filter((s) => s.outcome === 'error').length,
  };
}

async function mkdirp(dir: string): Promise<string> {
  const { mkdir } = await import('node:fs/promises');
  await mkdir(dir, { recursive: true });
  return dir;
}

if (import.meta.main) await reloadUnderLoad();
