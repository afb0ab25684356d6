/**
 * Merges a desired status into what an object's status says now: conditions go through
 * {@link setStatusCondition} (so `lastTransitionTime` moves only on a flip), and the result says
 * whether anything changed (only then is it written) and which conditions changed state (those
 * become Events).
 *
 * @example
 * ```ts
 * const { status, changed, transitions } = nextStatus(object.status, desired, new Date());
 * if (changed) await writeStatus(api, object, status);
 * ```
 */
import { canonicalJson } from '../../snapshot/digest.ts';
import { setStatusCondition, type Condition } from './conditions.ts';
import type { DesiredStatus, IssuerKeysSummary } from './desired-status.ts';

/** The whole `status` the operator owns. */
export interface ResourceStatus {
  observedGeneration?: number;
  conditions: Condition[];
  keys?: IssuerKeysSummary;
  /** JWTHostGrant only: the namespaces granted in the published snapshot. */
  namespaces?: string[];
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
  const currentConditions = readConditions(current);
  let conditions: Condition[] = currentConditions.filter((c) => desired.conditions.some((d) => d.type === c.type));
  const transitions: Condition[] = [];
  for (const want of desired.conditions) {
    const before = conditions.find((c) => c.type === want.type);
    conditions = setStatusCondition(conditions, want, now);
    const after = conditions.find((c) => c.type === want.type);
    if (after !== undefined && (before === undefined || before.status !== want.status || before.reason !== want.reason))
      transitions.push(after);
  }
  const status: ResourceStatus = {
    ...(desired.observedGeneration === undefined ? {} : { observedGeneration: desired.observedGeneration }),
    conditions,
    ...(desired.keys === undefined ? {} : { keys: desired.keys }),
    ...(desired.namespaces === undefined ? {} : { namespaces: desired.namespaces }),
  };
  return { status, changed: canonicalJson(status) !== canonicalJson(current ?? {}), transitions };
}

/** The well-formed conditions of a status read from the API (anything else is dropped and rewritten). */
function readConditions(status: unknown): Condition[] {
  if (status === null || typeof status !== 'object') return [];
  const list = (status as { conditions?: unknown }).conditions;
  if (!Array.isArray(list)) return [];
  return list.filter(
    (c): c is Condition =>
      c !== null &&
      typeof c === 'object' &&
      typeof (c as Condition).type === 'string' &&
      typeof (c as Condition).status === 'string' &&
      typeof (c as Condition).lastTransitionTime === 'string',
  );
}
