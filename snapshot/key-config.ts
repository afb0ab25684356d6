/**
 * Which part of an issuer's snapshot entry decides its keys. Both planes key their caches on it:
 * the data plane keeps an issuer's key set across reloads while it is equal, and the operator
 * reuses the keys it fetched last while it is equal.
 */
import type { SnapshotIssuer } from './types.ts';

/**
 * The parts of an issuer's config that decide its keys; equal parts mean the same keys. Leaves
 * out `cachedKeys`, which the operator rewrites after each of its own fetches: comparing it would
 * make every such update refetch on every replica.
 *
 * @example
 * ```ts
 * canonicalJson(keyConfigOf(a)) === canonicalJson(keyConfigOf(b)); // reuse the IssuerKeys
 * ```
 */
export function keyConfigOf(config: SnapshotIssuer): Pick<SnapshotIssuer, 'issuer' | 'keySource' | 'remote'> {
  return { issuer: config.issuer, keySource: config.keySource, remote: config.remote };
}
