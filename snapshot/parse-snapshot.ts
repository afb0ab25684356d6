/**
 * Turns snapshot JSON text into a {@link Snapshot}, refusing anything a newer compiler, a
 * truncated write or a hand edit could have produced: an unknown schema version, missing
 * sections, or content whose sha256 differs from the one it declares. The previous schema
 * version is read too, so replicas of two releases can serve during a rolling upgrade.
 *
 * @example
 * ```ts
 * const snapshot = parseSnapshot(await readFile('snapshot.json', 'utf8'));
 * ```
 */
import { snapshotDigest } from './digest.ts';
import { SNAPSHOT_SCHEMA_VERSION, type HostGrant, type Snapshot } from './types.ts';

/** A snapshot that must not be enforced; the message says why. */
/** The version before grants, still read (see below). */
const PREVIOUS_SCHEMA_VERSION = 1;

export class SnapshotError extends Error {
  override name = 'SnapshotError';
}

export function parseSnapshot(text: string): Snapshot {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new SnapshotError(`not JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new SnapshotError('not a JSON object');
  const s = value as Partial<Snapshot>;
  const version = s.schemaVersion as number;
  if (version !== SNAPSHOT_SCHEMA_VERSION && version !== PREVIOUS_SCHEMA_VERSION) {
    throw new SnapshotError(
      `schemaVersion ${String(s.schemaVersion)} is not supported (expected ${PREVIOUS_SCHEMA_VERSION} or ${SNAPSHOT_SCHEMA_VERSION})`,
    );
  }
  if (typeof s.settings !== 'object' || s.settings === null) throw new SnapshotError('settings missing');
  const { pathParameters } = s.settings;
  if (pathParameters !== undefined && pathParameters !== 'reject' && pathParameters !== 'ignore') {
    throw new SnapshotError(`settings.pathParameters ${JSON.stringify(pathParameters)} is neither "reject" nor "ignore"`);
  }
  if (typeof s.issuers !== 'object' || s.issuers === null || Array.isArray(s.issuers)) throw new SnapshotError('issuers missing');
  if (!Array.isArray(s.policies)) throw new SnapshotError('policies missing');
  if (version === PREVIOUS_SCHEMA_VERSION && s.grants !== undefined) throw new SnapshotError('a version 1 snapshot has no grants');
  if (version === SNAPSHOT_SCHEMA_VERSION && (!Array.isArray(s.grants) || !s.grants.every(isGrant))) {
    throw new SnapshotError('grants missing or malformed');
  }
  if (typeof s.generation !== 'number' || typeof s.sha256 !== 'string') throw new SnapshotError('generation or sha256 missing');
  const actual = snapshotDigest(s as Snapshot);
  if (actual !== s.sha256) throw new SnapshotError(`sha256 mismatch: content hashes to ${actual}, snapshot says ${s.sha256}`);
  // Version 1 (before grants; its digest has no grants key) reads as version 2 without grants:
  // the router then refuses a shared gateway's requests for hosts namespaced policies name (403
  // host_not_granted), so a rolling upgrade's new replicas serve the old operator's snapshot and
  // never open what it protected. Its sha256 stays the one it was published with.
  return version === PREVIOUS_SCHEMA_VERSION ? ({ ...s, schemaVersion: SNAPSHOT_SCHEMA_VERSION, grants: [] } as Snapshot) : (s as Snapshot);
}

/** The router indexes grants' hosts and namespaces as strings: anything else must not load. */
function isGrant(value: unknown): value is HostGrant {
  const g = value as Partial<HostGrant> | null;
  const strings = (list: unknown): boolean => Array.isArray(list) && list.every((x) => typeof x === 'string');
  return (
    typeof g === 'object' &&
    g !== null &&
    typeof g.id === 'string' &&
    strings(g.hosts) &&
    (g.hosts?.length ?? 0) > 0 &&
    strings(g.namespaces)
  );
}
