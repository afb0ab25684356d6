/**
 * Decides which policy holds each route, by incumbency, never by name or file order
 * (DESIGN.md "Integrity of the policy set"):
 *
 Within one scope (namespace + workload selector, or cluster enforcement with intersecting
 * namespaces), a host × path × method key belongs to the policy that held it in the last good
 * snapshot; two claims of which neither held it are contested. Policies of two namespaces never
 * compete (DESIGN.md "Tenants"): each decides its own namespace's traffic, and which namespace
 * a shared gateway's host belongs to is granted (compile-grant.ts), not claimed.
 *
 * A policy that loses a host or a route is refused, one that is contested or failed to compile
 * cannot be enforced either: such a policy is held in mode `invalid` (503 policy_invalid) on
 * every route it claims now or held before, except the routes another policy holds. Holding
 * the routes held before can take a route back from a newcomer, which can refuse it in turn:
 * the resolution repeats until nothing changes (claims only grow, so it ends).
 *
 * ```
 *   claim of K by P ─ P held K before? ── yes ─▶ P keeps K; newcomers on K are refused
 *                                     └─ no ──▶ another holder? ── yes ─▶ P refused on K
 *                                                                 └─ no ──▶ alone? ── yes ─▶ P gets K
 *                                                                                  └─ no ──▶ contested: K denied
 * ```
 *
 * @example
 * ```ts
 * const claims = resolveClaims(claimants, previous?.policies ?? [], (ref) => reporterFor(ref, diagnostics));
 * claims.filter((c) => c.enforced); // the policies that decide as written
 * ```
 */
import type { PolicyScope, SnapshotPolicy, Target } from '../snapshot/types.ts';
import { DIAGNOSTIC_REASONS, type Report, type ResourceRef } from './diagnostics.ts';
import { ANY, routeKeys, routesOverlap, scopeKey, scopesMeet, targetsOf, type RouteKey } from './route-keys.ts';

/** A policy asking for routes. */
export interface Claimant {
  id: string;
  ref: ResourceRef;
  scope: PolicyScope;
  workloadSelector?: Record<string, string>;
  /** The routes its manifest claims now; undefined when they cannot be read. */
  current: Target[] | undefined;
  /** The routes it held in the last good snapshot (empty when it was not in it). */
  previous: Target[];
  /** It failed to compile: it can only hold its routes closed. */
  broken: boolean;
}

/** What a claimant gets. */
export interface Claim {
  claimant: Claimant;
  /** Enforced as compiled: no error and no conflict. */
  enforced: boolean;
  /** When not enforced: the routes it holds in mode invalid (possibly none). */
  held: Target[];
}

/** Per claimant, what one judging pass found. */
interface Verdict {
  lostKeys: Set<string>;
  contested: boolean;
  /** Diagnostics, keyed so that each rival is named once per kind. */
  reports: Map<string, { ref: ResourceRef; severity: 'error' | 'warning'; message: string }>;
}

/**
 * @example
 * ```ts
 * resolveClaims([{ id: 'JWTPolicy/shop/a', ref, scope, current: targets, previous: [], broken: false }], [], report);
 * // [{ claimant, enforced: true, held: [] }]
 * ```
 */
export function resolveClaims(
  claimants: readonly Claimant[],
  previous: readonly SnapshotPolicy[],
  reportFor: (ref: ResourceRef) => Report,
): Claim[] {
  const sorted = [...claimants].sort((a, b) => compare(a.id, b.id));
  const history = indexPrevious(previous);
  let unhealthy = new Set(sorted.filter((c) => c.broken || c.current === undefined));
  for (;;) {
    const keys = new Map(sorted.map((c) => [c, claimedKeys(c, unhealthy.has(c))]));
    const verdicts = judge(sorted, keys, history);
    const next = new Set(
      sorted.filter((c) => {
        const v = verdicts.get(c) as Verdict;
        return unhealthy.has(c) || v.contested || v.lostKeys.size > 0;
      }),
    );
    if (next.size === unhealthy.size) {
      for (const v of verdicts.values())
        for (const r of v.reports.values())
          reportFor(r.ref)({ severity: r.severity, field: 'spec.targets', reason: DIAGNOSTIC_REASONS.RouteConflict, message: r.message });
      return sorted.map((c) => {
        if (!unhealthy.has(c)) return { claimant: c, enforced: true, held: [] };
        const v = verdicts.get(c) as Verdict;
        const kept = (keys.get(c) as RouteKey[]).filter((k) => !v.lostKeys.has(k.key));
        return { claimant: c, enforced: false, held: targetsOf(kept) };
      });
    }
    unhealthy = next;
  }
}

/** What a claimant asks for: its manifest's routes, plus, once it cannot be enforced, the routes it held. */
function claimedKeys(c: Claimant, unhealthy: boolean): RouteKey[] {
  return routeKeys(unhealthy ? [...(c.current ?? []), ...c.previous] : (c.current ?? []));
}

interface History {
  /** scope key + route key → the ids that claimed it. */
  routes: Map<string, Set<string>>;
}

function indexPrevious(previous: readonly SnapshotPolicy[]): History {
  const routes = new Map<string, Set<string>>();
  for (const policy of previous) {
    const scope = scopeKey(policy.scope, policy.workloadSelector);
    for (const k of routeKeys(policy.targets)) {
      const at = `${scope} ${k.key}`;
      routes.set(at, (routes.get(at) ?? new Set()).add(policy.id));
    }
  }
  return { routes };
}

function judge(claimants: readonly Claimant[], keys: ReadonlyMap<Claimant, RouteKey[]>, history: History): Map<Claimant, Verdict> {
  const verdicts = new Map<Claimant, Verdict>(claimants.map((c) => [c, { lostKeys: new Set(), contested: false, reports: new Map() }]));
  const verdict = (c: Claimant): Verdict => verdicts.get(c) as Verdict;
  judgeRoutes(claimants, keys, history, verdict);
  return verdicts;
}

function judgeRoutes(
  claimants: readonly Claimant[],
  keys: ReadonlyMap<Claimant, RouteKey[]>,
  history: History,
  verdict: (c: Claimant) => Verdict,
): void {
  const byRoute = new Map<string, { claimant: Claimant; route: RouteKey; rank: number }[]>();
  for (const c of claimants) {
    const scope = scopeKey(c.scope, c.workloadSelector);
    for (const route of keys.get(c) as RouteKey[]) {
      const rank = history.routes.get(`${scope} ${route.key}`)?.has(c.id) === true ? 0 : 1;
      const group = `${scope} ${route.group}`;
      const entry = { claimant: c, route, rank };
      const list = byRoute.get(group);
      if (list === undefined) byRoute.set(group, [entry]);
      else list.push(entry);
    }
  }
  for (const entries of byRoute.values()) {
    if (entries.length < 2) continue;
    for (const entry of entries) {
      const rivals = entries.filter(
        (r) => r !== entry && routesOverlap(r.route, entry.route) && scopesMeet(r.claimant.scope, entry.claimant.scope),
      );
      const v = verdict(entry.claimant);
      const holder = rivals.find((r) => r.rank < entry.rank);
      const where = describeRoute(entry.route);
      if (holder !== undefined) {
        v.lostKeys.add(entry.route.key);
        note(v, entry.claimant, `lost ${holder.claimant.id}`, 'error', `${where} is held by ${holder.claimant.id}: ${REFUSED}`);
        note(
          verdict(holder.claimant),
          holder.claimant,
          `holds ${entry.claimant.id}`,
          'warning',
          `${entry.claimant.id} also claims ${where} and was refused; this policy keeps it`,
        );
        continue;
      }
      const peers = rivals.filter((r) => r.rank === entry.rank);
      if (peers.length > 0) {
        v.contested = true;
        note(
          v,
          entry.claimant,
          `contested ${peers.map((p) => p.claimant.id).join(' ')}`,
          'error',
          `${where} is also claimed by ${peers.map((p) => p.claimant.id).join(', ')} and no policy held it before: ${CONTESTED}`,
        );
      }
    }
  }
}

const REFUSED = 'this policy is refused, and its routes are denied (503 policy_invalid) until the conflict is resolved';
const CONTESTED = 'it is denied (503 policy_invalid) until only one policy claims it';

function note(v: Verdict, c: Claimant, key: string, severity: 'error' | 'warning', message: string): void {
  if (!v.reports.has(key)) v.reports.set(key, { ref: c.ref, severity, message });
}

function describeRoute({ host, path, method }: RouteKey): string {
  const p = path === ANY ? 'any' : `${path.kind} ${path.value}`;
  return `route host=${host === ANY ? 'any' : host} path=${p} method=${method === ANY ? 'any' : method}`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
