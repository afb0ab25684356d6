/**
 * `npm run bench`: Check throughput and latency of the real service (the CLI in a child process,
 * called over gRPC from this process), and route lookup cost against the number of policies.
 * Every figure is printed with its ratio to a baseline measured in the same run, so results
 * from different machines compare by ratio, not by absolute numbers.
 *
 * Scenarios (same manifests, same client, same concurrency):
 * - baseline: a `mode: Disabled` route; gRPC + decoding + matching, no token work.
 * - rs256-cached: one RS256 token repeated; the verified-token cache answers.
 * - rs256-uncached / es256-uncached: the service with the token cache off; every check verifies a signature.
 * - deny-missing: no token; the 401 path.
 * - compile scaling (`compile-scaling.ts`): compile time at 1,000 and 6,000 policies, distinct and shared hosts.
 * - reload under load (`reload-under-load.ts`): check latency while 12,000 policies reload.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { buildRouter } from '../authz/match/router.ts';
import { compileScaling } from './compile-scaling.ts';
import { reloadUnderLoad } from './reload-under-load.ts';
import type { JwkSet, SnapshotPolicy } from '../snapshot/types.ts';
import { httpCheckRequest } from '../cli/grpc-client.ts';
import { jwtIssuer, jwtPolicy, joinManifests } from '../dev/fixtures/manifests.ts';
import { routePolicy } from '../dev/fixtures/policies.ts';
import type { ServeProcess } from '../dev/serve-process.ts';
import { startStandalone, type StandaloneService } from '../dev/standalone-service.ts';
import { generateTestKey, jwksOf, signToken, standardClaims, TEST_AUDIENCE, TEST_ISSUER } from '../dev/fixtures/tokens.ts';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 20_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const HOST = 'bench.test';

interface Result {
  name: string;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  cpuUs: number;
  rssMb: number;
}

async function main(): Promise<void> {
  const rsa = await generateTestKey('RS256', 'rsa');
  const ec = await generateTestKey('ES256', 'ec');
  const files = { 'bench.yaml': manifests(jwksOf(rsa, ec)) };
  const rsToken = await signToken(rsa, standardClaims({ scope: 'read', exp: Math.floor(Date.now() / 1000) + 3600 }));
  const esToken = await signToken(ec, standardClaims({ scope: 'read', exp: Math.floor(Date.now() / 1000) + 3600 }));

  console.log(`jwtgate check benchmark: ${REQUESTS} checks per scenario, ${CONCURRENCY} in flight, Node ${process.version}\n`);
  const results: Result[] = [];
  const cached = await startStandalone(files, { JWTGATE_LOG_LEVEL: 'info', JWTGATE_ALLOW_LOG_SAMPLE: '0' });
  results.push(await scenario('baseline (disabled route)', cached, '/public', {}));
  results.push(await scenario('rs256-cached', cached, '/api', { authorization: `Bearer ${rsToken}` }));
  results.push(await scenario('deny-missing (401)', cached, '/api', {}));
  await cached.close();
  const uncached = await startStandalone(files, {
    JWTGATE_LOG_LEVEL: 'info',
    JWTGATE_ALLOW_LOG_SAMPLE: '0',
    JWTGATE_TOKEN_CACHE_SIZE: '0',
  });
  results.push(await scenario('rs256-uncached', uncached, '/api', { authorization: `Bearer ${rsToken}` }));
  results.push(await scenario('es256-uncached', uncached, '/api', { authorization: `Bearer ${esToken}` }));
  await uncached.close();

  const [base] = results;
  if (base === undefined) throw new TypeError('no scenario ran');
  console.log('scenario                     checks/s   ratio   p50 ms   p95 ms   p99 ms   server CPU us/check   ratio   server RSS MB');
  for (const r of results) {
    console.log(
      `${r.name.padEnd(28)} ${r.rps.toFixed(0).padStart(8)}   ${(r.rps / base.rps).toFixed(2).padStart(5)}   ${r.p50.toFixed(2).padStart(6)}   ${r.p95.toFixed(2).padStart(6)}   ${r.p99.toFixed(2).padStart(6)}   ${r.cpuUs.toFixed(0).padStart(19)}   ${(r.cpuUs / base.cpuUs).toFixed(2).padStart(5)}   ${r.rssMb.toFixed(0).padStart(13)}`,
    );
  }
  routeLookup();
  compileScaling();
  await reloadUnderLoad();
}

async function scenario(name: string, { svc, client }: StandaloneService, path: string, headers: Record<string, string>): Promise<Result> {
  const request = httpCheckRequest({ method: 'GET', host: HOST, path, headers });
  for (let i = 0; i < 2000; i++) await client.check(request); // warm-up: JIT, connections, caches
  const latencies = new Float64Array(REQUESTS);
  let next = 0;
  const cpuBefore = serverCpuMs(svc);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < REQUESTS) {
        const i = next++;
        const t0 = performance.now();
        await client.check(request);
        latencies[i] = performance.now() - t0;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const cpuUs = ((serverCpuMs(svc) - cpuBefore) * 1000) / REQUESTS;
  latencies.sort();
  const at = (q: number) => latencies[Math.min(REQUESTS - 1, Math.floor(q * REQUESTS))] ?? Number.NaN;
  return { name, rps: REQUESTS / elapsed, p50: at(0.5), p95: at(0.95), p99: at(0.99), cpuUs, rssMb: serverRssMb(svc) };
}

function serverRssMb(svc: ServeProcess): number {
  const status = readFileSync(`/proc/${svc.process.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** The server's user + system CPU time: the client shares the machine, so CPU per check is the fairer figure. */
function serverCpuMs(svc: ServeProcess): number {
  const fields = (readFileSync(`/proc/${svc.process.pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of proc(5))
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

/**
 * Route lookup cost for 10, 1 000 and 10 000 policies: must stay flat, not grow with the count.
 * Cluster policies, then namespaced ones in 100 namespaces reached through grants (a shared
 * gateway: each lookup first finds the host's owners).
 */
function routeLookup(): void {
  console.log('\nroute lookup (in-process)   policies   ns/lookup   ratio');
  let base = 0;
  const cases = [10, 1_000, 10_000].map((count) => ({ count, granted: false })).concat([{ count: 10_000, granted: true }]);
  for (const { count, granted } of cases) {
    const policies: SnapshotPolicy[] = Array.from({ length: count }, (_, i) => policy(i, granted));
    const grants = granted
      ? Array.from({ length: 100 }, (_, n) => ({
          id: `JWTHostGrant/ns-${n}`,
          hosts: Array.from({ length: count / 100 }, (_, k) => `svc-${k * 100 + n}.bench.test`),
          namespaces: [`ns-${n}`],
        }))
      : [];
    const router = buildRouter(policies, grants);
    const requests = Array.from({ length: 1000 }, (_, i) => ({
      host: `svc-${(i * 7919) % count}.bench.test`,
      path: `/api/v1/items/${i}`,
      method: 'GET',
    }));
    for (const r of requests) router.match(r);
    const rounds = 200;
    const t0 = performance.now();
    for (let k = 0; k < rounds; k++) for (const r of requests) if (router.match(r)?.policy === undefined) throw new Error('no match');
    const ns = ((performance.now() - t0) * 1e6) / (rounds * requests.length);
    if (base === 0) base = ns;
    const label = granted ? '  namespaced, via grants' : '';
    console.log(`${label.padEnd(28)}${String(count).padStart(8)}   ${ns.toFixed(0).padStart(9)}   ${(ns / base).toFixed(2).padStart(5)}`);
  }
}

function policy(i: number, namespaced: boolean): SnapshotPolicy {
  return routePolicy(
    namespaced ? `JWTPolicy/ns-${i % 100}/p${i}` : `ClusterJWTPolicy/p${i}`,
    { hosts: [`svc-${i}.bench.test`], paths: [{ kind: 'prefix', value: '/api/v1' }] },
    {
      scope: namespaced ? { kind: 'namespaced', namespace: `ns-${i % 100}` } : { kind: 'cluster', enforcement: 'default' },
      mode: 'disabled',
    },
  );
}

function manifests(jwks: JwkSet): string {
  return joinManifests(
    jwtIssuer({
      name: 'idp',
      namespace: 'bench',
      spec: { issuer: TEST_ISSUER, audiences: [TEST_AUDIENCE], jwks, algorithms: ['RS256', 'ES256'] },
    }),
    jwtPolicy({
      name: 'api',
      namespace: 'bench',
      spec: {
        targets: [{ hosts: [HOST], paths: [{ prefix: '/api' }] }],
        issuers: { anyOf: [{ name: 'idp' }] },
        rules: [{ claim: 'scope', containsAll: ['read'] }],
        forward: { claimsToHeaders: [{ claim: 'sub', header: 'x-user-id' }] },
      },
    }),
    jwtPolicy({
      name: 'public',
      namespace: 'bench',
      spec: { mode: 'Disabled', targets: [{ hosts: [HOST], paths: [{ prefix: '/public' }] }] },
    }),
  );
}

await main();
