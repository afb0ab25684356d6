/**
 * Merges a desired status into what an object's status says now: conditions go through
 * {@link setStatusCondition} (so `lastTransitionTime` moves only on a flip), and the result says
 * whether anything changed (only then is it written) and which conditions changed state (those
 * become Events).
 *
 * A JWTPolicy's `ancestors` (GEP-713) are matched to the current entries by their key,
 * ancestorRef and controllerName, and each entry's conditions merge the same way, so an
 * ancestor's Accepted keeps its `lastTransitionTime` while it does not flip. Their changes are
 * not transitions: the policy's own Accepted and Ready flip with them and make the Events. The
 * operator owns the whole status of its kinds, so entries it no longer wants (another
 * controllerName included) are dropped.
 *
 * @example
 * ```ts
 * const { status, changed, transitions } = nextStatus(object.status, desired, new Date());
 * if (changed) await writeStatus(api, object, status);
 * ```
 */
import { canonicalJson } from '../../snapshot/digest.ts';
import { ancestorKey, type AncestorRef } from '../../compiler/policy-ancestors.ts';
import { setStatusCondition, type Condition, type DesiredCondition } from './conditions.ts';
import type { DesiredStatus, IssuerKeysSummary } from './desired-status.ts';

/** One `status.ancestors` entry: Gateway API's PolicyAncestorStatus. */
export interface PolicyAncestorStatus {
  ancestorRef: AncestorRef;
  controllerName: string;
  conditions: Condition[];
}

/** The whole `status` the operator owns. */
export interface ResourceStatus {
  observedGeneration?: number;
  conditions: Condition[];
  keys?: IssuerKeysSummary;
  /** JWTHostGrant only: the namespaces granted in the published snapshot. */
  namespaces?: string[];
  /** JWTPolicy with targetRefs only: GEP-713 ancestors. */
  ancestors?: PolicyAncestorStatus[];
}

export interface NextStatus {
  status: ResourceStatus;
  /** False when `status` equals the current one: nothing to write. */
  changed: boolean;
  /** Conditions that are new or whose status or reason changed. */
  transitions: Condition[];
}

/**
 * @example
 * ```ts
 * nextStatus(undefined, { conditions: [{ type: 'Ready', status: 'True', reason: 'Enforced', message: '' }] }, now).changed; // true
 * ```
 */
export function nextStatus(current: unknown, desired: DesiredStatus, now: Date): NextStatus {
  const { conditions, transitions } = mergeConditions(readConditions(current), desired.conditions, now);
  const currentAncestors = new Map(readAncestors(current).map((a) => [entryKey(a), a]));
  const ancestors = desired.ancestors?.map(
    (want): PolicyAncestorStatus => ({
      ancestorRef: want.ancestorRef,
      controllerName: want.controllerName,
      conditions: mergeConditions(currentAncestors.get(entryKey(want))?.conditions ?? [], want.conditions, now).conditions,
    }),
  );
  const status: ResourceStatus = {
    ...(desired.observedGeneration === undefined ? {} : { observedGeneration: desired.observedGeneration }),
    conditions,
    ...(desired.keys === undefined ? {} : { keys: desired.keys }),
    ...(desired.namespaces === undefined ? {} : { namespaces: desired.namespaces }),
    ...(ancestors === undefined ? {} : { ancestors }),
  };
  return { status, changed: canonicalJson(status) !== canonicalJson(current ?? {}), transitions };
}

/** `current` with every `desired` condition set (and no other type), and those that are new or changed status or reason. */
function mergeConditions(
  current: readonly Condition[],
  desired: readonly DesiredCondition[],
  now: Date,
): { conditions: Condition[]; transitions: Condition[] } {
  let conditions: Condition[] = current.filter((c) => desired.some((d) => d.type === c.type));
  const transitions: Condition[] = [];
  for (const want of desired) {
    const before = conditions.find((c) => c.type === want.type);
    conditions = setStatusCondition(conditions, want, now);
    const after = conditions.find((c) => c.type === want.type);
    if (after !== undefined && (before === undefined || before.status !== want.status || before.reason !== want.reason))
      transitions.push(after);
  }
  return { conditions, transitions };
}

/** The well-formed conditions of a status read from the API (anything else is dropped and rewritten). */
function readConditions(status: unknown): Condition[] {
  if (!isObject(status)) return [];
  const list = status.conditions;
  if (!Array.isArray(list)) return [];
  return list.filter(
    (c): c is Condition =>
      isObject(c) && typeof c.type === 'string' && typeof c.status === 'string' && typeof c.lastTransitionTime === 'string',
  );
}

/** The well-formed ancestor entries of a status read from the API: each needs a readable key. */
function readAncestors(status: unknown): PolicyAncestorStatus[] {
  if (!isObject(status) || !Array.isArray(status.ancestors)) return [];
  return status.ancestors.flatMap((entry): PolicyAncestorStatus[] => {
    if (!isObject(entry) || typeof entry.controllerName !== 'string' || !isObject(entry.ancestorRef)) return [];
    const { group, kind, namespace, name, sectionName, port } = entry.ancestorRef;
    if (typeof group !== 'string' || typeof kind !== 'string' || typeof namespace !== 'string' || typeof name !== 'string') return [];
    const ancestorRef: AncestorRef = {
      group,
      kind,
      namespace,
      name,
      ...(typeof sectionName === 'string' ? { sectionName } : {}),
      ...(typeof port === 'number' ? { port } : {}),
    };
    return [{ ancestorRef, controllerName: entry.controllerName, conditions: readConditions(entry) }];
  });
}

/** GEP-713: an ancestor entry is identified by its ancestorRef and controllerName together. */
function entryKey(entry: { ancestorRef: AncestorRef; controllerName: string }): string {
  return `${entry.controllerName} ${ancestorKey(entry.ancestorRef)}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
