/**
 * Resolves a ClusterJWTPolicy's namespaceSelector (metav1.LabelSelector semantics) against the
 * known Namespaces. Fails closed: a selector that cannot be resolved matches nothing, because
 * applying a cluster policy more widely than intended can weaken a namespace (a `Disabled`
 * default would open it).
 *
 * @example
 * ```ts
 * selectNamespaces({ matchLabels: { team: 'shop' } }, [{ name: 'shop', labels: { team: 'shop' } }]);
 * // { namespaces: ['shop'], resolved: true }
 * selectNamespaces(undefined, undefined); // { namespaces: undefined, resolved: true } (all)
 * ```
 */
import type { LabelSelector, LabelSelectorRequirement, NamespaceInput } from './resources.ts';

/** The label every namespace carries with its own name (Kubernetes 1.21+). */
const NAME_LABEL = 'kubernetes.io/metadata.name';

export interface NamespaceSelection {
  /** Sorted matching names; undefined = every namespace. */
  namespaces: string[] | undefined;
  /** False when a non-empty selector met no Namespace list: then it matches nothing. */
  resolved: boolean;
}

export function selectNamespaces(selector: LabelSelector | undefined, namespaces: NamespaceInput[] | undefined): NamespaceSelection {
  const labels = Object.entries(selector?.matchLabels ?? {});
  const expressions = selector?.matchExpressions ?? [];
  // An absent or empty selector selects everything (metav1.LabelSelector).
  if (labels.length === 0 && expressions.length === 0) return { namespaces: undefined, resolved: true };
  if (namespaces === undefined) return { namespaces: [], resolved: false };
  const matching = namespaces.filter((ns) => {
    const all: Record<string, string> = { ...ns.labels, [NAME_LABEL]: ns.name };
    return labels.every(([key, value]) => all[key] === value) && expressions.every((req) => satisfies(all, req));
  });
  return { namespaces: matching.map((ns) => ns.name).sort(), resolved: true };
}

function satisfies(labels: Record<string, string>, req: LabelSelectorRequirement): boolean {
  const has = Object.hasOwn(labels, req.key);
  switch (req.operator) {
    case 'In':
      return has && (req.values ?? []).includes(labels[req.key] as string);
    case 'NotIn':
      return !has || !(req.values ?? []).includes(labels[req.key] as string);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
  }
}
