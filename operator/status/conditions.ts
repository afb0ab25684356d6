/**
 * Status conditions as Kubernetes API conventions define them (metav1.Condition): one const
 * object of types and one of CamelCase reasons, and {@link setStatusCondition}, a port of
 * apimachinery's `meta.SetStatusCondition` so `lastTransitionTime` moves only when a status flips.
 *
 * @example
 * ```ts
 * const next = setStatusCondition(current, { type: CONDITION_TYPES.Ready, status: 'True',
 *   reason: CONDITION_REASONS.Enforced, message: 'in snapshot 7', observedGeneration: 3 }, new Date());
 * ```
 */

/** The condition types the operator writes. */
export const CONDITION_TYPES = {
  /** The spec passed schema, cross-field and conflict checks. Every kind. */
  Accepted: 'Accepted',
  /** Every reference (issuer, Secret) resolved and its keys are usable. Not on JWTHostGrant, which refers to nothing. */
  ResolvedRefs: 'ResolvedRefs',
  /** Enforced by the published snapshot (a JWTHostGrant: its current spec is what the snapshot grants). Every kind. */
  Ready: 'Ready',
  /** JWTIssuer only: verification keys are in hand (fetched, or static). */
  KeysAvailable: 'KeysAvailable',
  /**
   * Policies only, abnormal when True (Gateway API's polarity): another policy claims one of this
   * policy's routes or hosts. On the refused or contested claim (Accepted=False too) and on the
   * holder that keeps the route (still Ready); see README "Who holds a route".
   */
  Conflicted: 'Conflicted',
} as const;
export type ConditionType = (typeof CONDITION_TYPES)[keyof typeof CONDITION_TYPES];

/**
 * Whether a condition's status is the abnormal one, which makes its Event a Warning: False for
 * every type but `Conflicted`, whose polarity is inverted (True = another policy claims its routes).
 *
 * @example
 * ```ts
 * isAbnormal('Conflicted', 'True'); // true
 * isAbnormal('Ready', 'True'); // false
 * ```
 */
export function isAbnormal(type: string, status: string): boolean {
  return type === CONDITION_TYPES.Conflicted ? status === 'True' : status === 'False';
}

/**
 * Every condition and Event reason the operator writes besides the compiler's diagnostic
 * reasons (which are passed through as they are, see compiler/diagnostics.ts) and the GEP-713
 * reasons of a JWTPolicy's `status.ancestors` (ANCESTOR_REASONS, compiler/policy-ancestors.ts).
 */
export const CONDITION_REASONS = {
  Accepted: 'Accepted',
  ResolvedRefs: 'ResolvedRefs',
  /** A condition that cannot be judged because an earlier one is False. */
  NotEvaluated: 'NotEvaluated',
  Enforced: 'Enforced',
  NotEnforced: 'NotEnforced',
  /** The policy is broken but holds its routes: every request on them gets 503 policy_invalid. */
  FailingClosed: 'FailingClosed',
  /**
   * A JWTHostGrant that no longer compiles: its last good version stays in the snapshot, since
   * dropping it could hand its hosts to a broader grant's namespaces (compiler/compile.ts).
   */
  KeepingLastGood: 'KeepingLastGood',
  /** Keys are static (inline, Secret): nothing to fetch. */
  StaticKeys: 'StaticKeys',
  KeysFetched: 'KeysFetched',
  /** The last fetch failed; the last good keys are still used. */
  KeysStale: 'KeysStale',
  /** No key could be fetched yet. */
  KeysUnavailable: 'KeysUnavailable',
  /** A policy's issuer has no keys, so its tokens get 503 keys_unavailable. */
  IssuerKeysUnavailable: 'IssuerKeysUnavailable',
  /** Conflicted=False: no other policy claims this policy's routes or hosts. */
  NoConflicts: 'NoConflicts',
  /** Events: a new snapshot was published. */
  SnapshotPublished: 'SnapshotPublished',
  /** Events: publishing failed (retried with backoff). */
  PublishFailed: 'PublishFailed',
} as const;
export type ConditionReason = (typeof CONDITION_REASONS)[keyof typeof CONDITION_REASONS];

export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** metav1.Condition. */
export interface Condition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  observedGeneration?: number;
  /** RFC 3339. */
  lastTransitionTime: string;
}

/** A condition the operator wants; the transition time is filled in by {@link setStatusCondition}. */
export type DesiredCondition = Omit<Condition, 'lastTransitionTime'>;

/**
 * Returns `conditions` with `desired` set: a new type is added with `now` as its transition
 * time; an existing one keeps its `lastTransitionTime` unless its `status` changed, while
 * reason, message and observedGeneration always follow `desired`. Never mutates its input.
 *
 * @example
 * ```ts
 * const a = setStatusCondition([], { type: 'Ready', status: 'False', reason: 'X', message: '' }, t1);
 * const b = setStatusCondition(a, { type: 'Ready', status: 'False', reason: 'Y', message: '' }, t2);
 * b[0].lastTransitionTime === a[0].lastTransitionTime; // status did not flip
 * ```
 */
export function setStatusCondition(conditions: readonly Condition[], desired: DesiredCondition, now: Date): Condition[] {
  const existing = conditions.find((c) => c.type === desired.type);
  // metav1.Time has second precision; keep the same so kubectl and other tools agree.
  const lastTransitionTime =
    existing !== undefined && existing.status === desired.status ? existing.lastTransitionTime : now.toISOString().replace(/\.\d+Z$/, 'Z');
  const next: Condition = { ...desired, lastTransitionTime };
  return existing === undefined ? [...conditions, next] : conditions.map((c) => (c === existing ? next : c));
}
