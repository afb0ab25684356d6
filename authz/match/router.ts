/**
 * Picks the one policy that decides a request. Built once per snapshot (regexes compiled, routes
 * indexed), then only read; a lookup costs a host-index walk plus the candidates of the matching
 * hosts, never a scan of every policy.
 *
 * Precedence — the first rule that separates two candidates decides:
 * 1. Scope: a `ClusterJWTPolicy` with enforcement `override` beats a namespaced `JWTPolicy`,
 *    which beats a `ClusterJWTPolicy` with enforcement `default`.
 * 2. Host: an exact host beats a wildcard, a longer wildcard suffix beats a shorter one
 *    (`*.eu.example.com` before `*.example.com`), and both beat a target without hosts.
 * 3. Path: exact beats prefix, a longer prefix beats a shorter one, prefix beats regex, and all
 *    beat a target without paths. A prefix is segment-aware: `/api` matches `/api` and `/api/x`
 *    but not `/apix`; a prefix ending in '/' (`/api/`) matches any path that starts with it.
 *    Paths are compared after {@link normalizePath} and are case-sensitive, unless the path match
 *    is `caseInsensitive` (Envoy's `case_sensitive: false`): then ASCII letters are folded, for
 *    exact, prefix and regex alike (escapes such as `%C3%A9` and the letters they encode are
 *    not). A case-insensitive match ranks with case-sensitive ones of its kind and length.
 * 4. Method: a target listing the method beats a target without methods. Methods are compared in
 *    upper case, so `delete` cannot slip past a rule written for `DELETE`.
 * 5. Workload: a policy whose `workloadSelector` matches the destination workload beats one
 *    without a selector. A selector matches when every one of its labels is on the workload.
 * 6. Policy id (code-unit order), then target order: deterministic; the compiler already refuses
 *    two policies with identical routes and selectors.
 *
 * Tenancy (DESIGN.md "Tenants"): a namespaced policy applies when the request's destination
 * namespace is its own. When the proxy reports no namespace (a gateway that only knows the host),
 * the snapshot's grants say whose traffic the host is ({@link hostOwners}):
 * - one namespace owns it: the request is decided as that namespace's traffic;
 * - several do: by their policies that name the host explicitly; when policies of two of them
 *   match equally well, nothing but names could order them, so the request is refused
 *   (`route_contested`);
 * - none does: no namespaced policy decides it; if one names the host and matches, the request
 *   is refused (`host_not_granted`) rather than left to a cluster default or to `unmatched`,
 *   which might be weaker than what its author meant (a snapshot compiled before grants existed
 *   fails closed this way).
 * A cluster policy with a `namespaces` list applies only when every namespace the request can
 * belong to (the one reported, or the host's owners) is listed; without a list, everywhere.
 * A policy with a `workloadSelector` applies only when the workload is known (sidecar mode) and
 * matches: it can only narrow its namespace's routes, never reach a workload it cannot see.
 *
 * @example
 * ```ts
 * const router = buildRouter(snapshot.policies, snapshot.grants);
 * const hit = router.match({ host: 'api.example.com', path: '/api/users', method: 'GET', namespace: 'shop' });
 * hit?.policy?.id; // 'JWTPolicy/shop/api'
 * ```
 */
import { hostOwners } from '../../snapshot/host-owners.ts';
import type { HostGrant, HostPattern, PathMatch, SnapshotPolicy, Target } from '../../snapshot/types.ts';
import { HostIndex } from './host-index.ts';

export interface RouteRequest {
  /** Host without port. */
  host: string;
  /** Path from {@link normalizePath}. */
  path: string;
  method: string;
  /** Destination namespace, when the proxy told us; undefined in host-only gateway mode. */
  namespace?: string;
  /** The destination workload's labels, known in sidecar mode only; undefined = unknown workload. */
  workloadLabels?: Readonly<Record<string, string>>;
}

export interface RouteMatch {
  policy: SnapshotPolicy;
  /** The target of the policy that matched. */
  target: Target;
  refusal?: undefined;
}

/** No policy may decide the request, and it must be denied whatever `unmatched` says. */
export interface RouteRefusal {
  refusal: 'host_not_granted' | 'route_contested';
  /** For the log: which policies and grants. */
  detail: string;
  policy?: undefined;
  target?: undefined;
}

export interface Router {
  /** The deciding policy for a request, a refusal, or undefined when no policy applies. */
  match(request: RouteRequest): RouteMatch | RouteRefusal | undefined;
}

/** One (policy, target, host, path) combination, as stored in the index. */
interface Candidate {
  policy: SnapshotPolicy;
  target: Target;
  /** Undefined = any method. */
  methods: ReadonlySet<string> | undefined;
  /** Cluster policies: undefined = every namespace. */
  namespaces: ReadonlySet<string> | undefined;
  /** Namespaced policies: their namespace. */
  owner: string | undefined;
  /** The policy's workloadSelector as label pairs; undefined = any workload. */
  selector: readonly (readonly [string, string])[] | undefined;
  /** Only for regex paths: compiled once at build time. */
  regex?: RegExp;
  /** Tie-breaker after the policy id. */
  order: number;
}

/** The candidates of one host pattern, grouped by path kind. */
interface PathBucket {
  exact: Map<string, Candidate[]>;
  prefix: Map<string, Candidate[]>;
  /** `caseInsensitive` exact and prefix matches, keyed by {@link foldCase} of their value. */
  exactFolded: Map<string, Candidate[]>;
  prefixFolded: Map<string, Candidate[]>;
  regex: Candidate[];
  anyPath: Candidate[];
}

/** The three scopes, most authoritative first. */
interface Tiers {
  override: HostIndex<PathBucket>;
  /** Namespaced policies, per namespace (namespace known). */
  byNamespace: Map<string, HostIndex<PathBucket>>;
  /** Namespaced policies with explicit hosts (namespace unknown). */
  byHostOnly: HostIndex<PathBucket>;
  fallback: HostIndex<PathBucket>;
}

/**
 * Indexes `policies` for {@link Router.match}. Throws a `SyntaxError` naming the policy when a
 * path regex does not compile (the compiler refuses those first; a hand-edited snapshot must not
 * load).
 *
 * @example
 * ```ts
 * const router = buildRouter([policy], grants);
 * router.match({ host: 'a.example.com', path: '/', method: 'GET' });
 * ```
 */
export function buildRouter(policies: readonly SnapshotPolicy[], grants: readonly HostGrant[] = []): Router {
  const steps = routerSteps(policies, grants);
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}

/**
 * {@link buildRouter} in slices of at most `sliceMs` of CPU, yielding to the event loop between
 * them, so a reload of thousands of policies never holds up the checks answered on the same
 * thread (issue 8: a 12,000-policy router takes ~100 ms to build in one go).
 *
 * @example
 * ```ts
 * const router = await buildRouterInSlices(snapshot.policies, snapshot.grants);
 * ```
 */
export async function buildRouterInSlices(policies: readonly SnapshotPolicy[], grants: readonly HostGrant[], sliceMs = 4): Promise<Router> {
  const steps = routerSteps(policies, grants);
  let sliceStarted = performance.now();
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
    if (performance.now() - sliceStarted >= sliceMs) {
      await new Promise((resolve) => setImmediate(resolve));
      sliceStarted = performance.now();
    }
  }
}

/** The build as steps: it pauses after each policy and each sorted bucket, and returns the router. */
function* routerSteps(policies: readonly SnapshotPolicy[], grants: readonly HostGrant[]): Generator<void, Router> {
  const tiers: Tiers = {
    override: new HostIndex(),
    byNamespace: new Map(),
    byHostOnly: new HostIndex(),
    fallback: new HostIndex(),
  };
  const sorted = [...policies].sort((a, b) => compareStrings(a.id, b.id));
  let order = 0;
  for (const policy of sorted) {
    for (const target of policy.targets) {
      const methods = target.methods.length === 0 ? undefined : new Set(target.methods.map((m) => m.toUpperCase()));
      const hosts: (HostPattern | undefined)[] = target.hosts.length === 0 ? [undefined] : target.hosts;
      const paths: (PathMatch | undefined)[] = target.paths.length === 0 ? [undefined] : target.paths;
      for (const host of hosts) {
        for (const path of paths) {
          const candidate = createCandidate(policy, target, methods, path, order++);
          for (const index of indexesFor(tiers, policy, host)) addCandidate(index, host, path, candidate);
        }
      }
    }
    yield;
  }
  for (const index of allIndexes(tiers)) {
    for (const bucket of index.values()) {
      sortBucket(bucket);
      yield;
    }
  }
  const owners = hostOwners(grants);
  return { match: (request) => matchRequest(tiers, owners, request) };
}

function createCandidate(
  policy: SnapshotPolicy,
  target: Target,
  methods: ReadonlySet<string> | undefined,
  path: PathMatch | undefined,
  order: number,
): Candidate {
  const namespaces =
    policy.scope.kind === 'cluster' && policy.scope.namespaces !== undefined ? new Set(policy.scope.namespaces) : undefined;
  const owner = policy.scope.kind === 'namespaced' ? policy.scope.namespace : undefined;
  const selector = policy.workloadSelector === undefined ? undefined : Object.entries(policy.workloadSelector);
  const candidate: Candidate = { policy, target, methods, namespaces, owner, selector, order };
  if (path?.kind === 'regex') {
    try {
      candidate.regex = new RegExp(`^(?:${path.value})$`, path.caseInsensitive === true ? 'iu' : 'u');
    } catch (error) {
      throw new SyntaxError(`${policy.id}: path regex ${JSON.stringify(path.value)} does not compile`, { cause: error });
    }
  }
  return candidate;
}

/** The indexes a policy's (host) route goes into, from its scope and the tenancy rules. */
function indexesFor(tiers: Tiers, policy: SnapshotPolicy, host: HostPattern | undefined): HostIndex<PathBucket>[] {
  const { scope } = policy;
  if (scope.kind === 'cluster') return [scope.enforcement === 'override' ? tiers.override : tiers.fallback];
  let own = tiers.byNamespace.get(scope.namespace);
  if (own === undefined) {
    own = new HostIndex();
    tiers.byNamespace.set(scope.namespace, own);
  }
  return host === undefined ? [own] : [own, tiers.byHostOnly];
}

function allIndexes(tiers: Tiers): HostIndex<PathBucket>[] {
  return [tiers.override, tiers.byHostOnly, tiers.fallback, ...tiers.byNamespace.values()];
}

function addCandidate(
  index: HostIndex<PathBucket>,
  host: HostPattern | undefined,
  path: PathMatch | undefined,
  candidate: Candidate,
): void {
  const bucket = index.upsert(host, () => ({
    exact: new Map(),
    prefix: new Map(),
    exactFolded: new Map(),
    prefixFolded: new Map(),
    regex: [],
    anyPath: [],
  }));
  if (path === undefined) bucket.anyPath.push(candidate);
  else if (path.kind === 'regex') bucket.regex.push(candidate);
  else {
    const folded = path.caseInsensitive === true;
    const byPath = folded ? bucket[path.kind === 'exact' ? 'exactFolded' : 'prefixFolded'] : bucket[path.kind];
    const key = folded ? foldCase(path.value) : path.value;
    const list = byPath.get(key);
    if (list === undefined) byPath.set(key, [candidate]);
    else list.push(candidate);
  }
}

/** Within one host and path: listed methods first, then a workload selector, then policy id, then declaration order. */
function byMethodThenOrder(a: Candidate, b: Candidate): number {
  return (
    (a.methods === undefined ? 1 : 0) - (b.methods === undefined ? 1 : 0) ||
    (a.selector === undefined ? 1 : 0) - (b.selector === undefined ? 1 : 0) ||
    a.order - b.order
  );
}

function sortBucket(bucket: PathBucket): void {
  for (const map of [bucket.exact, bucket.prefix, bucket.exactFolded, bucket.prefixFolded]) {
    for (const list of map.values()) list.sort(byMethodThenOrder);
  }
  bucket.regex.sort(byMethodThenOrder);
  bucket.anyPath.sort(byMethodThenOrder);
}

/** What a request may belong to, and how namespaced candidates are judged for it. */
interface Reach {
  /** The namespace the proxy reported. */
  reported: string | undefined;
  /** Otherwise: the host's owners (empty when nobody owns it). */
  owners: ReadonlySet<string>;
  /** Namespace not reported: only host-naming candidates apply, and equal ones from two namespaces contest. */
  shared: boolean;
  workloadLabels: Readonly<Record<string, string>> | undefined;
}

const NO_NAMESPACES: ReadonlySet<string> = new Set();

/** Stands for "any namespace" when looking for a namespaced policy that names an ungranted host. */
const ANY_OWNER: ReadonlySet<string> = new (class extends Set<string> {
  override has(): boolean {
    return true;
  }
})();

function matchRequest(tiers: Tiers, owners: ReturnType<typeof hostOwners>, request: RouteRequest): RouteMatch | RouteRefusal | undefined {
  const method = request.method.toUpperCase();
  const { path, host, namespace } = request;
  const owned = namespace === undefined ? owners(host) : undefined;
  const reach: Reach = {
    reported: namespace,
    owners: owned?.namespaces ?? NO_NAMESPACES,
    shared: namespace === undefined,
    workloadLabels: request.workloadLabels,
  };
  const override = firstIn(tiers.override, host, path, method, reach);
  if (override !== undefined) return result(override, owned?.grants);
  if (namespace !== undefined) {
    const own = firstIn(tiers.byNamespace.get(namespace), host, path, method, reach);
    if (own !== undefined) return result(own, owned?.grants);
  } else if (reach.owners.size === 1) {
    // The host is one namespace's: its traffic, so all that namespace's policies decide.
    const [only] = reach.owners;
    const own = firstIn(tiers.byNamespace.get(only as string), host, path, method, { ...reach, reported: only, shared: false });
    if (own !== undefined) return result(own, owned?.grants);
  } else if (reach.owners.size > 1) {
    const shared = firstIn(tiers.byHostOnly, host, path, method, reach);
    if (shared !== undefined) return result(shared, owned?.grants);
  } else {
    // Nobody owns the host: a namespaced policy that names it and matches must not be silently
    // replaced by a cluster default or by `unmatched` (which could be weaker than it).
    const stray = firstIn(tiers.byHostOnly, host, path, method, { ...reach, owners: ANY_OWNER, shared: false });
    if (stray !== undefined && !(stray instanceof Contest)) {
      return {
        refusal: 'host_not_granted',
        detail: `no grant gives host ${host} to a namespace, and ${stray.policy.id} names it: grant the host (JWTHostGrant) to the policy's namespace, or have the proxy report the namespace`,
      };
    }
  }
  const fallback = firstIn(tiers.fallback, host, path, method, reach);
  return fallback === undefined ? undefined : result(fallback, owned?.grants);
}

/** The first hit in `index`, most specific host first. */
function firstIn(
  index: HostIndex<PathBucket> | undefined,
  host: string,
  path: string,
  method: string,
  reach: Reach,
): Candidate | Contest | undefined {
  if (index === undefined) return undefined;
  for (const bucket of index.lookup(host)) {
    const hit = matchBucket(bucket, path, method, reach);
    if (hit !== undefined) return hit;
  }
  return undefined;
}

/** Two owners' policies that match a request equally well. */
class Contest {
  readonly a: Candidate;
  readonly b: Candidate;
  constructor(a: Candidate, b: Candidate) {
    this.a = a;
    this.b = b;
  }
}

function result(hit: Candidate | Contest, grants: readonly string[] | undefined): RouteMatch | RouteRefusal {
  if (!(hit instanceof Contest)) return { policy: hit.policy, target: hit.target };
  return {
    refusal: 'route_contested',
    detail: `${hit.a.policy.id} and ${hit.b.policy.id} match this request equally well, and their namespaces share the host (${(grants ?? []).join(', ')}): the cluster admin must narrow a grant or one of the policies`,
  };
}

/** Whether a cluster policy's namespaces list covers the request: the reported namespace, or every owner. */
function listed(namespaces: ReadonlySet<string>, reach: Reach): boolean {
  if (reach.reported !== undefined) return namespaces.has(reach.reported);
  if (reach.owners.size === 0) return false;
  for (const ns of reach.owners) if (!namespaces.has(ns)) return false;
  return true;
}

function matchBucket(bucket: PathBucket, path: string, method: string, reach: Reach): Candidate | Contest | undefined {
  const labels = reach.workloadLabels;
  const accepts = (c: Candidate): boolean =>
    (c.methods === undefined || c.methods.has(method)) &&
    (c.owner === undefined || (reach.reported !== undefined ? c.owner === reach.reported : reach.owners.has(c.owner))) &&
    (c.namespaces === undefined || listed(c.namespaces, reach)) &&
    (c.selector === undefined ||
      (labels !== undefined && c.selector.every(([key, value]) => Object.hasOwn(labels, key) && labels[key] === value)));
  /** With several owners, a rival of another namespace in the same lists, as specific, makes a contest. */
  const contest = (
    hit: Candidate | undefined,
    a: readonly Candidate[] | undefined,
    b?: readonly Candidate[],
  ): Candidate | Contest | undefined => {
    if (hit === undefined || !reach.shared) return hit;
    const rivals = (c: Candidate): boolean =>
      c.owner !== hit.owner &&
      (c.methods === undefined) === (hit.methods === undefined) &&
      accepts(c) &&
      (c.regex === undefined || c.regex.test(path));
    const rival = a?.find(rivals) ?? b?.find(rivals);
    return rival === undefined ? hit : new Contest(hit, rival);
  };
  const exactCase = bucket.exact.get(path);
  const exactFolded = bucket.exactFolded.size === 0 ? undefined : bucket.exactFolded.get(foldCase(path));
  const exact = firstAccepted(accepts, exactCase, exactFolded);
  if (exact !== undefined) return contest(exact, exactCase, exactFolded);
  for (const prefix of prefixesOf(path)) {
    const prefixCase = bucket.prefix.get(prefix);
    const prefixFolded = bucket.prefixFolded.size === 0 ? undefined : bucket.prefixFolded.get(foldCase(prefix));
    const hit = firstAccepted(accepts, prefixCase, prefixFolded);
    if (hit !== undefined) return contest(hit, prefixCase, prefixFolded);
  }
  const regex = bucket.regex.find((c) => accepts(c) && (c.regex as RegExp).test(path));
  if (regex !== undefined) return contest(regex, bucket.regex);
  return contest(bucket.anyPath.find(accepts), bucket.anyPath);
}

/** The first accepted candidate of a case-sensitive and a case-insensitive list of one path, by bucket order. */
function firstAccepted(
  accepts: (c: Candidate) => boolean,
  exactCase: Candidate[] | undefined,
  folded: Candidate[] | undefined,
): Candidate | undefined {
  const a = exactCase?.find(accepts);
  const b = folded?.find(accepts);
  return a === undefined || b === undefined ? (a ?? b) : byMethodThenOrder(a, b) <= 0 ? a : b;
}

/** ASCII lower case only, as Envoy folds (`absl::AsciiStrToLower`): `/API` → `/api`, `%C3%89` → `%c3%89`. */
function foldCase(path: string): string {
  return path.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}

/**
 * Every prefix value that matches `path`, longest first: the path itself, then for each '/'
 * from the right the part up to and including it (`/a/`) and the part before it (`/a`).
 * A path has few segments, so this is cheaper than testing every prefix rule.
 */
function* prefixesOf(path: string): Generator<string> {
  yield path;
  for (let slash = path.lastIndexOf('/'); slash >= 0; slash = path.lastIndexOf('/', slash - 1)) {
    if (slash + 1 < path.length) yield path.slice(0, slash + 1);
    if (slash > 0) yield path.slice(0, slash);
    if (slash === 0) break;
  }
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
