/**
 * GEP-713 policy status: for each JWTPolicy with `targetRefs`, the ancestors it takes effect
 * under (the Gateways its HTTPRoutes name, or the Gateway it targets) and, for each, whether the
 * policy is accepted there. compile-route-refs.ts says where each ref reaches and whether its
 * target is there; this file folds that with the policy's own diagnostics into one verdict per
 * ancestor, which the operator writes to `status.ancestors` (operator/status/desired-status.ts).
 *
 * ```
 *  per ancestor (one entry per distinct ancestorRef, however many refs reach it)
 *    a ref's target is not there ─────────────────────▶ False TargetNotFound  (route or Gateway missing,
 *                                                         rule/listener missing, route not admitted by it)
 *    else the policy has errors, RouteConflict only ───▶ False Conflicted  (another policy holds the route)
 *    else the policy has other errors ─────────────────▶ False Invalid     (not enforced as written;
 *                                                         its routes fail closed)
 *    else ─────────────────────────────────────────────▶ True  Accepted
 * ```
 *
 * Any error refuses the whole policy (compile-policy.ts), so an ancestor whose own target is fine
 * still reads False while another ref fails: that is what requests there get (503
 * policy_invalid on what it protected). Where the route's Gateway did not admit it, TargetNotFound
 * says so, since from that Gateway the target is not there; the policy's own Accepted condition
 * keeps the finer reason (TargetNotAccepted).
 *
 * A route that names no Gateway, or that does not exist, has no Gateway to report under: the
 * HTTPRoute itself is the ancestor then (GEP-713: an ancestor is the target or above it), so every
 * ref shows up.
 *
 * @example
 * ```ts
 * const attachment = judgeAncestors({ kind: 'JWTPolicy', namespace: 'shop', name: 'orders' }, reached, diagnostics);
 * attachment.ancestors[0]; // { ancestorRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'infra', name: 'public' }, accepted: true, reason: 'Accepted', message: '…' }
 * ```
 */
import { DIAGNOSTIC_REASONS, type Diagnostic, type ResourceRef } from './diagnostics.ts';

/** The `Accepted` reasons of an ancestor's condition: Gateway API's `PolicyConditionReason`s. */
export const ANCESTOR_REASONS = {
  Accepted: 'Accepted',
  /** Another policy holds the targeted route (resolve-claims.ts); this one is refused there. */
  Conflicted: 'Conflicted',
  /** The policy is not enforced as written (any error of its own, or another of its refs failing). */
  Invalid: 'Invalid',
  /** The target is not there for this ancestor: missing, or not admitted by this Gateway. */
  TargetNotFound: 'TargetNotFound',
} as const;
export type AncestorReason = (typeof ANCESTOR_REASONS)[keyof typeof ANCESTOR_REASONS];

/** GEP-713 caps `status.ancestors` at 16; a policy reaching more is refused (compile-route-refs.ts). */
export const MAX_ANCESTORS = 16;

/** A Gateway API ParentReference, defaults applied: a Gateway (or listener), or the HTTPRoute itself. */
export interface AncestorRef {
  group: string;
  kind: string;
  namespace: string;
  name: string;
  sectionName?: string;
  port?: number;
}

/** Where one targetRef reaches, as compile-route-refs.ts finds it. */
export interface RefAncestor {
  /** `spec.targetRefs[i]`. */
  field: string;
  ancestorRef: AncestorRef;
  /** The target is there for this ancestor (the Gateway admitted the route, or the Gateway exists). */
  found: boolean;
  /** What was found, or why not. */
  message: string;
}

/** One ancestor's verdict. */
export interface AncestorStatus {
  ancestorRef: AncestorRef;
  accepted: boolean;
  reason: AncestorReason;
  message: string;
}

/** A policy with targetRefs and its ancestors, sorted by ancestorRef. */
export interface PolicyAttachment {
  resource: ResourceRef;
  ancestors: AncestorStatus[];
}

/**
 * A stable key of an ancestorRef (GEP-713: entries are a map keyed by ancestorRef and controllerName).
 *
 * @example
 * ```ts
 * ancestorKey({ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'infra', name: 'public' });
 * // 'gateway.networking.k8s.io/Gateway/infra/public//'
 * ```
 */
export function ancestorKey(ref: AncestorRef): string {
  return `${ref.group}/${ref.kind}/${ref.namespace}/${ref.name}/${ref.sectionName ?? ''}/${ref.port ?? ''}`;
}

/**
 * `Gateway infra/public listener api` (or `… port 443`), as messages name an ancestor.
 *
 * @example
 * ```ts
 * describeAncestor({ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'infra', name: 'public', sectionName: 'api' });
 * // 'Gateway infra/public listener api'
 * ```
 */
export function describeAncestor(ref: AncestorRef): string {
  const section = ref.sectionName === undefined ? '' : ` ${ref.kind === 'Gateway' ? 'listener' : 'section'} ${ref.sectionName}`;
  return `${ref.kind} ${ref.namespace}/${ref.name}${section}${ref.port === undefined ? '' : ` port ${ref.port}`}`;
}

/**
 * The verdict at each ancestor `reached` names, given every diagnostic about the policy (run
 * after the whole compile, so conflicts found by resolve-claims.ts count).
 *
 * @example
 * ```ts
 * judgeAncestors(ref, [{ field: 'spec.targetRefs[0]', ancestorRef, found: false, message: 'HTTPRoute shop/x not found' }], []).ancestors[0]?.reason;
 * // 'TargetNotFound'
 * ```
 */
export function judgeAncestors(
  resource: ResourceRef,
  reached: readonly RefAncestor[],
  diagnostics: readonly Diagnostic[],
): PolicyAttachment {
  const byAncestor = new Map<string, RefAncestor[]>();
  for (const r of reached) {
    const key = ancestorKey(r.ancestorRef);
    const seen = byAncestor.get(key) ?? [];
    // A policy read twice (a duplicated manifest) reports each ref twice: once is enough.
    if (!seen.some((s) => s.field === r.field && s.found === r.found && s.message === r.message)) seen.push(r);
    byAncestor.set(key, seen);
  }
  const errors = diagnostics.filter((d) => d.severity === 'error');
  const ownErrors = errors.filter((d) => d.reason !== DIAGNOSTIC_REASONS.RouteConflict);
  const warnings = diagnostics.filter((d) => d.severity === 'warning');
  const ancestors = [...byAncestor.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, refs]): AncestorStatus => {
      const ancestorRef = (refs[0] as RefAncestor).ancestorRef;
      const missing = refs.filter((r) => !r.found);
      if (missing.length > 0) return { ancestorRef, accepted: false, reason: ANCESTOR_REASONS.TargetNotFound, message: list(missing) };
      // The errors about these refs first: they are the likeliest reason, then the rest.
      const fields = new Set(refs.map((r) => r.field));
      const about = (d: Diagnostic): boolean => d.field !== undefined && fields.has(d.field);
      const ordered = (ds: Diagnostic[]): Diagnostic[] => [...ds.filter(about), ...ds.filter((d) => !about(d))];
      if (ownErrors.length > 0)
        return {
          ancestorRef,
          accepted: false,
          reason: ANCESTOR_REASONS.Invalid,
          message: `the policy is not enforced as written, so what it protected is denied (503 policy_invalid): ${describe(ordered(ownErrors))}`,
        };
      if (errors.length > 0)
        return {
          ancestorRef,
          accepted: false,
          reason: ANCESTOR_REASONS.Conflicted,
          message: `another policy holds these routes: ${describe(ordered(errors))}`,
        };
      const noted = warnings.filter(about);
      return {
        ancestorRef,
        accepted: true,
        reason: ANCESTOR_REASONS.Accepted,
        message: `${list(refs)}${noted.length === 0 ? '' : `; with warnings: ${describe(noted)}`}`,
      };
    });
  return { resource, ancestors };
}

function list(refs: readonly RefAncestor[]): string {
  return refs.map((r) => `${r.field}: ${r.message}`).join('; ');
}

function describe(diagnostics: readonly Diagnostic[]): string {
  return diagnostics.map((d) => (d.field === undefined ? d.message : `${d.field}: ${d.message}`)).join('; ');
}
