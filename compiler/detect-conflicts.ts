/**
 * Finds policies that would make the decision for a request ambiguous or let one namespace
 * take over another's traffic, and leaves the later one out with a `RouteConflict` error:
 *
 * 1. Host claims (tenancy, DESIGN.md "Tenants"): when only the host is known, a host belongs to
 *    the first namespace whose JWTPolicy names it — first by `creationTimestamp`, then by
 *    namespace/name. A later JWTPolicy in another namespace naming an overlapping host
 *    (`*.example.com` overlaps `api.example.com`) is refused, so it cannot weaken the owner.
 * 2. Identical routes in one scope: two policies of the same namespace (or two cluster
 *    policies of the same enforcement whose namespaces intersect) that both name the same
 *    host + path + method triple with the same `workloadSelector` (or both none); the later by
 *    id loses. Different selectors on one route are not a conflict: the router prefers a
 *    matching selector over none (and the policy id among several matching ones).
 *
 * @example
 * ```ts
 * const kept = detectConflicts(candidates, (ref) => reporterFor(ref, diagnostics));
 * ```
 */
import type { SnapshotPolicy } from '../authz/snapshot/types.ts';
import { DIAGNOSTIC_REASONS, type Report, type ResourceRef } from './diagnostics.ts';

export interface ConflictCandidate {
  policy: SnapshotPolicy;
  ref: ResourceRef;
  /** metadata.creationTimestamp (RFC 3339), when known. */
  createdAt?: string;
}

/** Returns the candidates that keep their routes, in input order. */
export function detectConflicts(candidates: ConflictCandidate[], reportFor: (ref: ResourceRef) => Report): ConflictCandidate[] {
  const lost = new Set<ConflictCandidate>();
  const refuse = (loser: ConflictCandidate, message: string): void => {
    lost.add(loser);
    reportFor(loser.ref)({ severity: 'error', field: 'spec.targets', reason: DIAGNOSTIC_REASONS.RouteConflict, message });
  };
  claimHosts(candidates, refuse);
  claimRoutes(candidates.filter((c) => !lost.has(c)), refuse);
  return candidates.filter((c) => !lost.has(c));
}

type Refuse = (loser: ConflictCandidate, message: string) => void;

/** First claim wins: timestamped resources in time order, then the rest, ties by id. */
function byClaimOrder(a: ConflictCandidate, b: ConflictCandidate): number {
  const at = a.createdAt === undefined ? Infinity : Date.parse(a.createdAt);
  const bt = b.createdAt === undefined ? Infinity : Date.parse(b.createdAt);
  return at !== bt ? (at < bt ? -1 : 1) : compareIds(a, b);
}

function compareIds(a: ConflictCandidate, b: ConflictCandidate): number {
  return a.policy.id < b.policy.id ? -1 : a.policy.id > b.policy.id ? 1 : 0;
}

/**
 * Whether two host patterns can match the same host. A wildcard covers every host with its
 * suffix (one or more labels), which is the reading that refuses more.
 */
function hostsOverlap(a: string, b: string): boolean {
  const under = (pattern: string, host: string): boolean => pattern.startsWith('*.') && host.endsWith(pattern.slice(1));
  return a === b || under(a, b) || under(b, a);
}

function claimHosts(candidates: ConflictCandidate[], refuse: Refuse): void {
  const claims: { host: string; namespace: string; by: string }[] = [];
  for (const candidate of candidates.filter((c) => c.policy.scope.kind === 'namespaced').sort(byClaimOrder)) {
    const namespace = candidate.ref.namespace;
    const hosts = [...new Set(candidate.policy.targets.flatMap((t) => t.hosts))];
    const taken = hosts.flatMap((host) => claims.filter((c) => c.namespace !== namespace && hostsOverlap(c.host, host)).map((c) => ({ host, claim: c })));
    const first = taken[0];
    if (first !== undefined) {
      refuse(candidate, `host ${first.host} overlaps ${first.claim.host}, which belongs to namespace ${first.claim.namespace} (claimed first by ${first.claim.by})`);
      continue;
    }
    for (const host of hosts) claims.push({ host, namespace: namespace as string, by: candidate.policy.id });
  }
}

/** Every host × path × method triple a policy names; `*` for an empty (any) list. */
function routeKeys(policy: SnapshotPolicy): string[] {
  return policy.targets.flatMap((t) =>
    (t.hosts.length > 0 ? t.hosts : ['*']).flatMap((host) =>
      (t.paths.length > 0 ? t.paths.map((p) => `${p.kind}:${p.value}`) : ['*']).flatMap((path) =>
        (t.methods.length > 0 ? t.methods : ['*']).map((method) => JSON.stringify([host, path, method])))));
}

function namespacesOverlap(a: string[] | undefined, b: string[] | undefined): boolean {
  if (a === undefined) return b === undefined || b.length > 0;
  if (b === undefined) return a.length > 0;
  return a.some((ns) => b.includes(ns));
}

function claimRoutes(candidates: ConflictCandidate[], refuse: Refuse): void {
  const owners = new Map<string, ConflictCandidate[]>();
  const scopeOf = ({ policy: { scope, workloadSelector } }: ConflictCandidate): string =>
    scope.kind === 'namespaced'
      ? `namespace ${scope.namespace} workload ${JSON.stringify(Object.entries(workloadSelector ?? {}).sort())}`
      : `cluster ${scope.enforcement}`;
  const clash = (a: ConflictCandidate, b: ConflictCandidate): boolean =>
    a.policy.scope.kind === 'namespaced' || b.policy.scope.kind === 'namespaced' ||
    namespacesOverlap(a.policy.scope.namespaces, b.policy.scope.namespaces);
  for (const candidate of [...candidates].sort(compareIds)) {
    const keys = [...new Set(routeKeys(candidate.policy))].map((route) => ({ route, key: `${scopeOf(candidate)} ${route}` }));
    const conflict = keys.map(({ route, key }) => ({ route, owner: owners.get(key)?.find((o) => clash(o, candidate)) })).find((k) => k.owner !== undefined);
    if (conflict?.owner !== undefined) {
      const [host, path, method] = JSON.parse(conflict.route) as string[];
      refuse(candidate, `route host=${host} path=${path} method=${method} is already claimed by ${conflict.owner.policy.id} in the same scope`);
      continue;
    }
    for (const { key } of keys) owners.set(key, [...(owners.get(key) ?? []), candidate]);
  }
}
