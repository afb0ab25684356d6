/**
 * A large manifests folder, as a mesh with thousands of services would have: one issuer and
 * `policies` JWTPolicies (one host each, a prefix route, a scope rule, a claim header), spread
 * over files of `perFile` policies. 12,000 policies come to about 5 MB, the size that stalled
 * checks for seconds when compiled on the event loop (issue 8, case 5).
 *
 * @example
 * ```ts
 * const { dir, hostOf } = await writeBigPolicyFolder({ policies: 12_000, jwks: jwksOf(key) });
 * httpCheckRequest({ method: 'GET', host: hostOf(7), path: '/api/orders' });
 * ```
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JwkSet } from '../../snapshot/types.ts';
import { jwtIssuer, jwtPolicy, joinManifests } from './manifests.ts';
import { TEST_AUDIENCE, TEST_ISSUER } from './tokens.ts';

/** What {@link writeBigPolicyFolder} wrote. */
export interface BigPolicyFolder {
  dir: string;
  /** Total bytes of manifest text. */
  bytes: number;
  /** The host that policy `i` protects (prefix `/api`, scope `read`). */
  hostOf(i: number): string;
}

/**
 * Writes the folder into a new temporary directory (or `dir`); `scope` is the scope every
 * policy requires, so a second call with another scope is a reload that changes every policy.
 *
 * @example
 * ```ts
 * await writeBigPolicyFolder({ policies: 12_000, jwks, dir, scope: 'write' }); // rewrite in place
 * ```
 */
export async function writeBigPolicyFolder(options: { policies: number; jwks: JwkSet; perFile?: number; dir?: string; scope?: string }): Promise<BigPolicyFolder> {
  const { policies, jwks, perFile = 100, scope = 'read' } = options;
  const dir = options.dir ?? await mkdtemp(join(tmpdir(), 'jwtgate-big-'));
  const hostOf = (i: number) => `svc-${i}.big.test`;
  const issuer = jwtIssuer({ name: 'idp', namespace: 'big', spec: { issuer: TEST_ISSUER, audiences: [TEST_AUDIENCE], jwks, algorithms: ['RS256'] } });
  let bytes = issuer.length;
  await writeFile(join(dir, '00-issuer.yaml'), issuer);
  for (let start = 0; start < policies; start += perFile) {
    const docs: string[] = [];
    for (let i = start; i < Math.min(policies, start + perFile); i++) {
      docs.push(jwtPolicy({ name: `svc-${i}`, namespace: 'big', spec: {
        targets: [{ hosts: [hostOf(i)], paths: [{ prefix: '/api' }] }],
        issuers: { anyOf: [{ name: 'idp' }] },
        rules: [{ claim: 'scope', containsAll: [scope] }],
        forward: { claimsToHeaders: [{ claim: 'sub', header: 'x-user-id' }] },
      } }));
    }
    const text = joinManifests(...docs);
    bytes += text.length;
    await writeFile(join(dir, `policies-${String(start / perFile).padStart(4, '0')}.yaml`), text);
  }
  return { dir, bytes, hostOf };
}
