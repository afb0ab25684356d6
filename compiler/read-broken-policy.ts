/**
 * What can still be read of a JWTPolicy or ClusterJWTPolicy that cannot be compiled as written
 * (a typo such as `targetz:`, `mode: 7`, a duplicate name): which policy it is, where it applies
 * and which routes it names. The compiler holds those routes closed rather than dropping the
 * policy, because dropping it would hand its routes to a weaker policy or to the unmatched
 * default (DESIGN.md "Integrity of the policy set").
 *
 * A part is read only where validation found no problem inside it: the targets when nothing under
 * `spec.targets` failed (and they compile), a JWTPolicy's targetRefs when nothing under
 * `spec.targetRefs` did (through `readTargetRefs`), the selector and enforcement likewise. What cannot be
 * read comes from the policy's entry in the last good snapshot, else the reading that denies more.
 *
 * @example
 * ```ts
 * const broken = readBrokenPolicy(resource, ref, problems, namespaces, previous.get(policyId(ref)), report);
 * broken?.targets; // undefined when its routes cannot be read from the manifest
 * ```
 */
import type { PolicyScope, SnapshotPolicy, Target } from '../snapshot/types.ts';
import { compileScope, compileTargets, policyId, type ValidPolicy } from './compile-policy.ts';
import { CROSS_FIELD_MESSAGES } from './cross-field-rules.ts';
import { DIAGNOSTIC_REASONS, type Diagnostic, type Report, type ResourceRef } from './diagnostics.ts';
import type { NamespaceInput, Resource, TargetRefSpec } from './resources.ts';

/** A policy that cannot be enforced, as far as it can be read. */
export interface BrokenPolicy {
  id: string;
  scope: PolicyScope;
  workloadSelector?: Record<string, string>;
  /** Its routes; undefined when they cannot be read from the manifest. */
  targets: Target[] | undefined;
}

type Doc = Record<string, unknown>;

function isObject(value: unknown): value is Doc {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Reads `resource` as far as `problems` (its validation diagnostics) allow; undefined when not
 * even its name can be read, so it cannot be told apart from another policy.
 *
 * @example
 * ```ts
 * readBrokenPolicy(jwtPolicyWithTypo, ref, [{ field: 'spec.targetz', … }], undefined, undefined, report)?.targets; // undefined
 * ```
 */
export function readBrokenPolicy(
  resource: Resource,
  ref: ResourceRef,
  problems: readonly Diagnostic[],
  namespaces: NamespaceInput[] | undefined,
  previous: SnapshotPolicy | undefined,
  report: Report,
  readTargetRefs?: (refs: readonly TargetRefSpec[], namespace: string) => Target[],
): BrokenPolicy | undefined {
  const touched = (prefix: string): boolean =>
    problems.some(
      ({ field }) => field !== undefined && (field === prefix || field.startsWith(`${prefix}.`) || field.startsWith(`${prefix}[`)),
    );
  if (touched('metadata.name') || touched('metadata.namespace') || touched('metadata')) return undefined;
  const spec: Doc = isObject(resource.spec) ? structuredClone(resource.spec) : {};
  const id = policyId(ref);
  let targets: Target[] | undefined;
  // The schema checked the targets' types; "exactly one match kind per path" is a CEL rule,
  // which validation runs only on a schema-valid spec, so it is checked here.
  if (Array.isArray(spec.targets) && !touched('spec.targets') && pathsHaveOneMatch(spec.targets, report)) {
    let readable = true;
    const read = compileTargets({ targets: spec.targets }, () => {
      readable = false;
    });
    if (readable) targets = read;
  }
  // A JWTPolicy's targetRefs, when the schema found nothing wrong inside them: the routes a
  // Gateway admitted (compile-route-refs.ts). With targets beside them (a cross-field error),
  // both are held; if the targets cannot be read, neither is known.
  if (resource.kind === 'JWTPolicy' && Array.isArray(spec.targetRefs) && !touched('spec.targetRefs') && readTargetRefs !== undefined) {
    const fromRefs = readTargetRefs(spec.targetRefs as TargetRefSpec[], ref.namespace as string);
    targets = spec.targets === undefined ? fromRefs : targets === undefined ? undefined : [...targets, ...fromRefs];
  }
  const asValid = { kind: resource.kind, ref, metadata: resource.metadata, spec } as unknown as ValidPolicy;
  const scope: PolicyScope =
    resource.kind === 'JWTPolicy'
      ? { kind: 'namespaced', namespace: ref.namespace as string }
      : !touched('spec.enforcement') && !touched('spec.namespaceSelector')
        ? compileScope(asValid, namespaces, report)
        : // Unknown reach: where it held routes before, else everywhere and above namespaced policies.
          (previous?.scope ?? { kind: 'cluster', enforcement: 'override' });
  const selector =
    resource.kind === 'JWTPolicy' &&
    !touched('spec.workloadSelector') &&
    isObject(spec.workloadSelector) &&
    isObject(spec.workloadSelector.matchLabels)
      ? Object.fromEntries(
          Object.entries(spec.workloadSelector.matchLabels)
            .map(([k, v]): [string, string] => [k, String(v)])
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : resource.kind === 'JWTPolicy' && touched('spec.workloadSelector')
        ? previous?.workloadSelector
        : undefined;
  return { id, scope, ...(selector === undefined ? {} : { workloadSelector: selector }), targets };
}

/** Reports every path without exactly one match kind; true when there is none. */
function pathsHaveOneMatch(targets: unknown[], report: Report): boolean {
  let ok = true;
  targets.forEach((target, t) => {
    const paths = isObject(target) && Array.isArray(target.paths) ? target.paths : [];
    paths.forEach((path, p) => {
      if (isObject(path) && ['exact', 'prefix', 'regex'].filter((k) => typeof path[k] === 'string').length === 1) return;
      ok = false;
      report({
        severity: 'error',
        field: `spec.targets[${t}].paths[${p}]`,
        reason: DIAGNOSTIC_REASONS.InvalidSpec,
        message: CROSS_FIELD_MESSAGES.onePathMatch,
      });
    });
  });
  return ok;
}

/**
 * One reading of several copies of the same policy (the same kind, namespace and name twice):
 * every route any copy names, and where the copies disagree on their reach, the wider one.
 * Undefined when a copy cannot even be named.
 *
 * @example
 * ```ts
 * mergeCopies([a, b]).targets; // a.targets ∪ b.targets, or undefined if either is unreadable
 * ```
 */
export function mergeCopies(copies: readonly (BrokenPolicy | undefined)[]): BrokenPolicy | undefined {
  const [first] = copies;
  if (first === undefined || copies.some((c) => c === undefined)) return undefined;
  const all = copies as BrokenPolicy[];
  const same = <T>(pick: (c: BrokenPolicy) => T): boolean => all.every((c) => JSON.stringify(pick(c)) === JSON.stringify(pick(first)));
  const scope: PolicyScope =
    same((c) => c.scope) || first.scope.kind === 'namespaced' ? first.scope : { kind: 'cluster', enforcement: 'override' };
  const targets = all.some((c) => c.targets === undefined) ? undefined : all.flatMap((c) => c.targets as Target[]);
  const selector = same((c) => c.workloadSelector) ? first.workloadSelector : undefined;
  return { id: first.id, scope, ...(selector === undefined ? {} : { workloadSelector: selector }), targets };
}
