/**
 * Which snapshot objects a publisher may delete after replacing the head: a pure decision, so the
 * rules that keep a stale writer from taking a newer snapshot apart are tested on their own.
 *
 * 1. Only the writer of the head collects, and only while the head is still the one it wrote
 *    (same resourceVersion when re-read): if another head was written meanwhile, its writer
 *    collects, and what it references must not be judged against our head.
 * 2. Only objects the head does not reference: part names are content-addressed, so an unchanged
 *    part of our own snapshot, or one reused from an older version, stays.
 * 3. Only objects of an older generation than the head we wrote: parts created for a newer head
 *    by a writer racing us (generation annotation above ours) are not ours to judge.
 *
 * @example
 * ```ts
 * const garbage = selectGarbage({ head, written: { resourceVersion: '812', generation: 9 }, configMaps, secret });
 * for (const cm of garbage.configMaps) await deletePart(cm);
 * ```
 */
import { SNAPSHOT_NAME } from '../snapshot/published-form.ts';

/**
 * A published object as GC sees it.
 *
 * @example
 * ```ts
 * const part: SnapshotObject = { name: 'jwtgate-snapshot-0123456789ab-0', resourceVersion: '77', generation: 4 };
 * ```
 */
export interface SnapshotObject {
  name: string;
  resourceVersion: string;
  /** Its generation annotation: the snapshot it was first written for (0 when unreadable). */
  generation: number;
}

/**
 * What {@link selectGarbage} judges.
 *
 * @example
 * ```ts
 * const input: GarbageInput = { head: { resourceVersion: '812', parts: [] }, written: { resourceVersion: '812', generation: 9 }, configMaps: [] };
 * ```
 */
export interface GarbageInput {
  /** The head as re-read after our write. */
  head: { resourceVersion: string; parts: readonly string[]; secretName?: string };
  /** The head we wrote. */
  written: { resourceVersion: string; generation: number };
  /** Every labelled snapshot ConfigMap in the namespace (the head among them is ignored). */
  configMaps: readonly SnapshotObject[];
  /** The keys Secret, when it exists. */
  secret?: SnapshotObject;
}

/**
 * @example
 * ```ts
 * selectGarbage({ head: { resourceVersion: '9', parts: [] }, written: { resourceVersion: '8', generation: 3 }, configMaps }); // nothing: a newer head
 * ```
 */
export function selectGarbage(input: GarbageInput): { configMaps: SnapshotObject[]; secret?: SnapshotObject } {
  const { head, written } = input;
  if (head.resourceVersion !== written.resourceVersion) return { configMaps: [] };
  const referenced = new Set(head.parts);
  const older = (o: SnapshotObject): boolean => o.generation < written.generation;
  const configMaps = input.configMaps.filter((cm) => cm.name.startsWith(`${SNAPSHOT_NAME}-`) && !referenced.has(cm.name) && older(cm));
  const secret = input.secret !== undefined && head.secretName !== input.secret.name && older(input.secret) ? input.secret : undefined;
  return { configMaps, ...(secret === undefined ? {} : { secret }) };
}
