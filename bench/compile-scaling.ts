/**
 * `npm run bench`, compile scaling: the compiler on N policies in one namespace, each on its own
 * host, and all on one shared host (where route claims and host claims meet most). Prints ms
 * per compile with the ratio to the 1,000-policy run of the same shape, so growth that is worse
 * than linear shows as a ratio well above 6 at 6,000 (before the claims were indexed, 6,000
 * policies on one host took about 2 s, ten times the distinct-host figure).
 *
 * @example
 * ```ts
 * compileScaling(); // prints one table
 * ```
 */
import { performance } from 'node:perf_hooks';
import { loadSchema } from '../cli/standalone.ts';
import { compile } from '../compiler/compile.ts';
import type { Resource } from '../compiler/resources.ts';
import { API_VERSION } from '../compiler/resources.ts';

const COUNTS = [1_000, 6_000];

function resources(count: number, sharedHost: boolean): Resource[] {
  const issuer: Resource = {
    apiVersion: API_VERSION,
    kind: 'JWTIssuer',
    metadata: { name: 'idp', namespace: 'shop' },
    spec: { issuer: 'https://idp.bench.test', audiences: ['bench'], algorithms: ['RS256'], jwksUri: 'https://idp.bench.test/jwks' },
  };
  return [
    issuer,
    ...Array.from(
      { length: count },
      (_, i): Resource => ({
        apiVersion: API_VERSION,
        kind: 'JWTPolicy',
        metadata: { name: `p${i}`, namespace: 'shop' },
        spec: {
          targets: [{ hosts: [sharedHost ? 'shared.bench.test' : `svc-${i}.bench.test`], paths: [{ prefix: `/p${i}` }] }],
          issuers: { anyOf: [{ name: 'idp' }] },
        },
      }),
    ),
  ];
}

/**
 * Runs the table (a warm-up compile first, then one compile per cell, the second against the
 * first's snapshot as the last good one, as a reload does).
 *
 * @example
 * ```ts
 * compileScaling();
 * ```
 */
export function compileScaling(): void {
  const schema = loadSchema();
  compile({ resources: resources(200, true), schema });
  console.log('\ncompile (in-process)        policies   hosts    cold ms   reload ms   ratio');
  for (const shared of [false, true]) {
    let base = 0;
    for (const count of COUNTS) {
      const input = resources(count, shared);
      let t0 = performance.now();
      const first = compile({ resources: input, schema });
      const cold = performance.now() - t0;
      t0 = performance.now();
      compile({ resources: input, schema, previous: first.snapshot });
      const reload = performance.now() - t0;
      if (base === 0) base = reload;
      console.log(
        `${''.padEnd(27)} ${String(count).padStart(8)}   ${(shared ? 'one' : 'each').padEnd(5)} ${cold.toFixed(0).padStart(9)}   ${reload.toFixed(0).padStart(9)}   ${(reload / base).toFixed(2).padStart(5)}`,
      );
    }
  }
}
