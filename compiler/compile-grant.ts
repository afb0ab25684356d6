/**
 * Compiles JWTHostGrants into the snapshot's {@link HostGrant}s, and tells each namespaced
 * policy whether the hosts it names are its namespace's for requests whose namespace the proxy
 * does not report (DESIGN.md "Tenants"). Without a grant such a policy still decides its
 * namespace's reported traffic; on a shared gateway its host is another namespace's or nobody's,
 * and the status says which, so a missing grant is found before a request is.
 *
 * @example
 * ```ts
 * const grants = compileGrants(validGrants, namespaces, reportOf);
 * reportUngrantedHosts(policies, grants, reportOf);
 * ```
 */
import { hostOwners } from '../snapshot/host-owners.ts';
import type { HostGrant, SnapshotPolicy } from '../snapshot/types.ts';
import { policyId } from './compile-policy.ts';
import { DIAGNOSTIC_REASONS, type Report, type ResourceRef } from './diagnostics.ts';
import type { NamespaceInput } from './resources.ts';
import { selectNamespaces } from './select-namespaces.ts';
import type { ValidResource } from './validate.ts';

export type ValidGrant = Extract<ValidResource, { kind: 'JWTHostGrant' }>;

/** The id standalone mode's default grant carries. */
export const STANDALONE_GRANT_ID = 'standalone';

/**
 * @example
 * ```ts
 * compileGrant(valid, [{ name: 'shop', labels: { team: 'shop' } }], report);
 * // { id: 'JWTHostGrant/shop-hosts', hosts: ['shop.example.com'], namespaces: ['shop'] }
 * ```
 */
export function compileGrant(resource: ValidGrant, namespaces: NamespaceInput[] | undefined, report: Report): HostGrant {
  const { spec } = resource;
  const granted = new Set(spec.namespaces ?? []);
  const selector = spec.namespaceSelector;
  if (selector !== undefined) {
    const empty = Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0;
    if (empty) {
      report({
        severity: 'warning',
        field: 'spec.namespaceSelector',
        reason: DIAGNOSTIC_REASONS.IgnoredField,
        message:
          'an empty namespaceSelector grants nothing: granting every namespace would hand the hosts to whoever creates a policy first',
      });
    } else {
      const selection = selectNamespaces(selector, namespaces);
      if (!selection.resolved) {
        report({
          severity: 'warning',
          field: 'spec.namespaceSelector',
          reason: DIAGNOSTIC_REASONS.NamespacesUnknown,
          message: 'no Namespaces are known, so the selector grants nothing (only the namespaces listed by name are granted)',
        });
      }
      for (const ns of selection.namespaces ?? []) granted.add(ns);
    }
  }
  return { id: policyId(resource.ref), hosts: [...new Set(spec.hostnames)].sort(), namespaces: [...granted].sort() };
}

/**
 * Standalone mode's default: a folder whose namespaced policies all live in one namespace, and
 * that declares no JWTHostGrant, grants that namespace the hosts its policies name, so a
 * single-tenant folder behind a plain Envoy needs no grant. Hostless policies stay for the
 * traffic the proxy reports as the namespace's, as on a cluster. Undefined when the folder does
 * not qualify or names no host.
 *
 * @example
 * ```ts
 * loneNamespaceGrant([policyInShop]); // { id: 'standalone', hosts: ['api.example.com'], namespaces: ['shop'] }
 * loneNamespaceGrant([policyInShop, policyInBilling]); // undefined
 * ```
 */
export function loneNamespaceGrant(policies: readonly SnapshotPolicy[]): HostGrant | undefined {
  const namespaces = new Set(policies.flatMap((p) => (p.scope.kind === 'namespaced' ? [p.scope.namespace] : [])));
  if (namespaces.size !== 1) return undefined;
  const hosts = new Set(policies.filter((p) => p.scope.kind === 'namespaced').flatMap((p) => p.targets.flatMap((t) => t.hosts)));
  if (hosts.size === 0) return undefined;
  return { id: STANDALONE_GRANT_ID, hosts: [...hosts].sort(), namespaces: [...namespaces] };
}

/**
 * A warning on each namespaced policy for each host it names that the grants do not give its
 * namespace, saying what happens to shared-gateway requests for that host instead.
 *
 * @example
 * ```ts
 * reportUngrantedHosts([{ policy, ref }], grants, (ref) => reporterFor(ref, diagnostics));
 * ```
 */
export function reportUngrantedHosts(
  policies: readonly { policy: SnapshotPolicy; ref: ResourceRef }[],
  grants: readonly HostGrant[],
  reportFor: (ref: ResourceRef) => Report,
): void {
  const owners = hostOwners(grants);
  for (const { policy, ref } of policies) {
    if (policy.scope.kind !== 'namespaced') continue;
    const namespace = policy.scope.namespace;
    const hosts = new Set(policy.targets.flatMap((t) => t.hosts));
    for (const host of [...hosts].sort()) {
      const owned = owners(host);
      if (owned?.namespaces.has(namespace) === true) continue;
      const instead =
        owned === undefined || owned.namespaces.size === 0
          ? 'no grant covers it: there, its requests are denied with 403 host_not_granted'
          : `${owned.grants.join(', ')} gives ${owned.pattern} to ${[...owned.namespaces].sort().join(', ')}, whose policies decide there`;
      reportFor(ref)({
        severity: 'warning',
        field: 'spec.targets',
        reason: DIAGNOSTIC_REASONS.HostNotGranted,
        message: `host ${host} is not granted to namespace ${namespace}: this policy decides requests the proxy reports as namespace ${namespace}'s, not a shared gateway's (${instead}); a JWTHostGrant or an HTTPRoute a Gateway accepted grants it`,
      });
    }
  }
}
