/**
 * Routes as keys: a policy's targets expanded into the host × path × method triples they name,
 * so the compiler can ask "who holds this route" of the current manifests and of the last good
 * snapshot alike, and give a refused policy exactly the routes it may still hold.
 *
 * ```
 *  target { hosts: [a, b], paths: [exact /x], methods: [] }
 *     ─▶ ["a", "exact:/x", "*"]  ["b", "exact:/x", "*"]        ('*' = the list was empty: any)
 *     ─▶ back to one target per key, which matches exactly the same requests
 * ```
 * Hosts are folded to lower case and methods to upper case, as the router compares them; a
 * case-insensitive path match is keyed by its lower-cased value and marked, so it never equals
 * a case-sensitive key, and routes whose paths differ only in case share a `group`.
 *
 * @example
 * ```ts
 * routeKeys([{ hosts: ['api.example.com'], paths: [{ kind: 'prefix', value: '/admin' }], methods: [] }]);
 * // [{ host: 'api.example.com', path: { kind: 'prefix', value: '/admin' }, method: '*', key: '["api.example.com","prefix:/admin","*"]', group: … }]
 * ```
 */
import type { PathMatch, PolicyScope, Target } from '../snapshot/types.ts';

/** Any host, any path or any method: the target's list was empty. */
export const ANY = '*';

export interface RouteKey {
  host: string;
  path: PathMatch | typeof ANY;
  method: string;
  /** The canonical text of the triple: equal keys name the same requests. */
  key: string;
  /**
   * The key with the path's case folded: routes in one group may overlap (a case-insensitive
   * `/admin` and a case-sensitive `/Admin` both match `/Admin`); see {@link routesOverlap}.
   */
  group: string;
}

function pathKey(path: PathMatch | typeof ANY, fold: boolean): string {
  if (path === ANY) return ANY;
  const folded = path.caseInsensitive === true;
  return `${path.kind}${folded && !fold ? '/i' : ''}:${folded || fold ? path.value.toLowerCase() : path.value}`;
}

/**
 * Whether two routes of one group can match the same request: always when either ignores case,
 * otherwise only when they are the same route.
 *
 * @example
 * ```ts
 * routesOverlap(ciAdmin, csAdminUpper); // true
 * ```
 */
export function routesOverlap(a: RouteKey, b: RouteKey): boolean {
  const ignoresCase = (k: RouteKey): boolean => k.path !== ANY && k.path.caseInsensitive === true;
  return a.key === b.key || (a.group === b.group && (ignoresCase(a) || ignoresCase(b)));
}

/**
 * Every route a list of targets names, without repeats, in a stable order.
 *
 * @example
 * ```ts
 * routeKeys([{ hosts: [], paths: [], methods: ['get'] }]).map((k) => k.key); // ['["*","*","GET"]']
 * ```
 */
export function routeKeys(targets: readonly Target[]): RouteKey[] {
  const keys = new Map<string, RouteKey>();
  for (const target of targets) {
    const hosts = target.hosts.length > 0 ? target.hosts.map((h) => h.toLowerCase()) : [ANY];
    const paths: (PathMatch | typeof ANY)[] = target.paths.length > 0 ? target.paths : [ANY];
    const methods = target.methods.length > 0 ? target.methods.map((m) => m.toUpperCase()) : [ANY];
    for (const host of hosts) {
      for (const path of paths) {
        for (const method of methods) {
          const key = JSON.stringify([host, pathKey(path, false), method]);
          if (!keys.has(key)) keys.set(key, { host, path, method, key, group: JSON.stringify([host, pathKey(path, true), method]) });
        }
      }
    }
  }
  return [...keys.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * One target per key: the same requests as the keys name, for a policy held in mode invalid.
 *
 * @example
 * ```ts
 * targetsOf(routeKeys(targets)); // matches exactly what `targets` matched
 * ```
 */
export function targetsOf(keys: readonly RouteKey[]): Target[] {
  return keys.map(({ host, path, method }) => ({
    hosts: host === ANY ? [] : [host],
    paths: path === ANY ? [] : [path],
    methods: method === ANY ? [] : [method],
  }));
}

/**
 * Where two policies compete for a route: namespaced policies per namespace and workload
 * selector, cluster policies per enforcement. Policies in different scopes never compete; the
 * router's precedence orders them.
 *
 * @example
 * ```ts
 * scopeKey({ kind: 'namespaced', namespace: 'shop' }, undefined); // 'namespace shop workload []'
 * ```
 */
export function scopeKey(scope: PolicyScope, workloadSelector: Readonly<Record<string, string>> | undefined): string {
  return scope.kind === 'namespaced'
    ? `namespace ${scope.namespace} workload ${JSON.stringify(Object.entries(workloadSelector ?? {}).sort())}`
    : `cluster ${scope.enforcement}`;
}

/**
 * Whether two policies of one scope key can both apply to a request: always for namespaced
 * policies, for cluster policies when their namespace lists intersect (undefined = all).
 *
 * @example
 * ```ts
 * scopesMeet({ kind: 'cluster', enforcement: 'default', namespaces: ['a'] }, { kind: 'cluster', enforcement: 'default', namespaces: ['b'] }); // false
 * ```
 */
export function scopesMeet(a: PolicyScope, b: PolicyScope): boolean {
  if (a.kind === 'namespaced' || b.kind === 'namespaced') return true;
  if (a.namespaces === undefined) return b.namespaces === undefined || b.namespaces.length > 0;
  if (b.namespaces === undefined) return a.namespaces.length > 0;
  return a.namespaces.some((ns) => b.namespaces?.includes(ns));
}
