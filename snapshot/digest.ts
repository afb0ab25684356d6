/**
 * The snapshot digest: sha256 over a canonical JSON rendering (object keys sorted, no
 * whitespace) of the parts that decide requests. The compiler sets it; loaders recompute it to
 * refuse a truncated or hand-edited file, and publishers compare it to skip no-op updates.
 *
 * @example
 * ```ts
 * const sha = snapshotDigest(snapshot); // 64 hex chars
 * ```
 */
import { createHash } from 'node:crypto';
import type { Snapshot } from './types.ts';

/** JSON with sorted object keys, so equal content always hashes equal. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

export function snapshotDigest(snapshot: Pick<Snapshot, 'settings' | 'issuers' | 'policies' | 'grants'>): string {
  const { settings, issuers, policies, grants } = snapshot;
  return createHash('sha256').update(canonicalJson({ settings, issuers, policies, grants })).digest('hex');
}
