/**
 * What the Gateways admitted: for an HTTPRoute, the hostnames under which a parent Gateway
 * accepted it, read from the route's status and the Gateway's listeners; for a Gateway, its
 * listeners' hostnames. This is the grant a JWTPolicy's targetRefs rest on (DESIGN.md
 * "Tenants"): a route counts only where the cluster's Gateway said yes, so a tenant who writes
 * an HTTPRoute for someone else's hostname gets nothing from it.
 *
 * A route is admitted through a parent when all of these hold:
 * ```
 *  status.parents[i]  parentRef is one of spec.parentRefs, names a Gateway that exists,
 *                     condition Accepted=True, observedGeneration ≥ the route's generation
 *        │
 *        ▼
 *  Gateway listeners  the parentRef's sectionName / port pick them; protocol HTTP or HTTPS;
 *                     allowedRoutes admits the route's namespace (Same | All | Selector) and kind
 *        │
 *        ▼
 *  hostnames          route.spec.hostnames ∩ listener.hostname (absent on either side = any)
 * ```
 * The listeners are checked here too, not only the status: a Gateway controller accepts a route
 * when ANY listener admits it, so the status alone would let a route that a `*.tenant-b` listener
 * admits also claim an `api.example.com` listener reserved for another namespace.
 *
 * Besides the union, {@link admittedRoute} says for each Gateway the route names whether that one
 * admitted it, and why not: a policy's status lists them as its GEP-713 ancestors
 * (policy-ancestors.ts).
 *
 * Nothing here is trusted to be well-formed (jwtgate validates no Gateway API schema): a field
 * that cannot be read counts as absent, and absence never admits more.
 *
 * @example
 * ```ts
 * const api = indexGatewayApi({ httpRoutes, gateways, namespaces });
 * const admitted = admittedRoute(api, api.route('shop', 'orders') as HTTPRouteInput);
 * // { accepted: true, hosts: ['api.example.com'] }  (hosts: 'any' when nothing narrows them)
 * ```
 */
import { coveringPatterns } from '../snapshot/host-owners.ts';
import { selectNamespaces } from './select-namespaces.ts';
import {
  GATEWAY_API_GROUP,
  type GatewayCondition,
  type GatewayInput,
  type GatewayListenerSpec,
  type GatewayParentRef,
  type HTTPRouteInput,
  type LabelSelector,
  type NamespaceInput,
} from './resources.ts';

/** Every host (a listener without hostname and a route without hostnames). */
export const ANY_HOST = 'any';
export type AdmittedHosts = typeof ANY_HOST | string[];

/** The Gateway API objects one compile reads, by namespace and name. */
export interface GatewayApi {
  /** False when the input carried no Gateway API objects at all (the CRDs are absent or not read). */
  known: boolean;
  route(namespace: string, name: string): HTTPRouteInput | undefined;
  gateway(namespace: string, name: string): GatewayInput | undefined;
  namespaces: NamespaceInput[] | undefined;
}

/** Whether a route counts, and under which hostnames; `why` says what is missing when it does not. */
export type Admission = ({ accepted: true; hosts: AdmittedHosts } | { accepted: false; why: string }) & {
  /** Each Gateway the route names in spec.parentRefs, and whether it admitted the route (GEP-713 ancestors). */
  parents: ParentAdmission[];
};

/** One parent Gateway of a route, as spec.parentRefs names it (the API's defaults applied), and its verdict. */
export type ParentAdmission = { parentRef: FullParentRef } & ({ accepted: true } | { accepted: false; why: string });

/**
 * @example
 * ```ts
 * indexGatewayApi({ httpRoutes: undefined, gateways: undefined, namespaces: undefined }).known; // false
 * ```
 */
export function indexGatewayApi(input: {
  httpRoutes: readonly HTTPRouteInput[] | undefined;
  gateways: readonly GatewayInput[] | undefined;
  namespaces: NamespaceInput[] | undefined;
}): GatewayApi {
  const byName = <T extends { metadata: { name: string; namespace?: string } }>(items: readonly T[] | undefined): Map<string, T> => {
    const map = new Map<string, T>();
    for (const item of items ?? []) {
      const { name, namespace } = item.metadata ?? {};
      // Both kinds are namespaced; one without a readable namespace or name cannot be referred to.
      if (typeof name === 'string' && typeof namespace === 'string') map.set(`${namespace}/${name}`, item);
    }
    return map;
  };
  const routes = byName(input.httpRoutes);
  const gateways = byName(input.gateways);
  return {
    known: input.httpRoutes !== undefined || input.gateways !== undefined,
    route: (namespace, name) => routes.get(`${namespace}/${name}`),
    gateway: (namespace, name) => gateways.get(`${namespace}/${name}`),
    namespaces: input.namespaces,
  };
}

/**
 * Whether `route` is accepted by at least one parent Gateway that exists, and the hostnames it
 * is admitted under (the union over every admitting listener).
 *
 * @example
 * ```ts
 * admittedRoute(api, route); // { accepted: false, why: 'no parent Gateway has accepted it …' }
 * ```
 */
export function admittedRoute(api: GatewayApi, route: HTTPRouteInput): Admission {
  const namespace = route.metadata.namespace as string;
  const generation = route.metadata.generation;
  const declared = list(route.spec?.parentRefs).flatMap((r) => readParentRef(r, namespace) ?? []);
  const gatewayParents = declared.filter(
    (d, i) => d.group === GATEWAY_API_GROUP && d.kind === 'Gateway' && declared.findIndex((e) => sameParent(d, e)) === i,
  );
  /** Per Gateway parent: admitted (true), or why not (the last refusal; an admission through any status entry wins). */
  const verdicts = new Map<FullParentRef, true | string>();
  const refused: string[] = [];
  let hosts: Set<string> | typeof ANY_HOST | undefined;
  for (const parent of list(route.status?.parents)) {
    const ref = readParentRef(isObject(parent) ? parent.parentRef : undefined, namespace);
    if (ref === undefined || ref.group !== GATEWAY_API_GROUP || ref.kind !== 'Gateway') continue;
    const at = describeParent(ref);
    const mine = gatewayParents.find((d) => sameParent(d, ref));
    if (mine === undefined) continue; // a stale entry for a parentRef the route no longer has
    const refuse = (why: string): void => {
      refused.push(why);
      if (verdicts.get(mine) !== true) verdicts.set(mine, why);
    };
    const gateway = api.gateway(ref.namespace, ref.name);
    if (gateway === undefined) {
      refuse(`${at} does not exist`);
      continue;
    }
    const accepted = list(isObject(parent) ? parent.conditions : undefined).find(
      (c): c is GatewayCondition => isObject(c) && c.type === 'Accepted',
    );
    if (accepted?.status !== 'True') {
      refuse(`${at} has not accepted it${accepted?.reason === undefined ? '' : ` (${String(accepted.reason)})`}`);
      continue;
    }
    if (typeof generation === 'number' && typeof accepted.observedGeneration === 'number' && accepted.observedGeneration < generation) {
      refuse(
        `${at} accepted generation ${accepted.observedGeneration}, not the current ${generation} (waiting for the Gateway controller)`,
      );
      continue;
    }
    const listeners = list(gateway.spec?.listeners)
      .filter(isListener)
      .filter((l) => (ref.sectionName === undefined || l.name === ref.sectionName) && (ref.port === undefined || l.port === ref.port))
      .filter((l) => admitsRoute(l, gateway, namespace, api.namespaces));
    const admitted = listeners.map((l) => intersectHosts(route.spec?.hostnames, l.hostname));
    if (admitted.every((a) => a !== ANY_HOST && a.length === 0)) {
      refuse(`no HTTP listener of ${at} admits namespace ${namespace} for the route's hostnames`);
      continue;
    }
    verdicts.set(mine, true);
    for (const a of admitted) {
      if (hosts === ANY_HOST || a === ANY_HOST) hosts = ANY_HOST;
      else hosts = new Set([...(hosts ?? []), ...a]);
    }
  }
  const parents = gatewayParents.map((parentRef): ParentAdmission => {
    const verdict = verdicts.get(parentRef) ?? `${describeParent(parentRef)} has not reported on it yet (no status.parents entry)`;
    return verdict === true ? { parentRef, accepted: true } : { parentRef, accepted: false, why: verdict };
  });
  if (hosts === undefined) {
    const why = refused.length > 0 ? refused.join('; ') : 'no parent Gateway has accepted it (status.parents has no Accepted=True entry)';
    return { accepted: false, why, parents };
  }
  return { accepted: true, hosts: hosts === ANY_HOST ? ANY_HOST : [...hosts].sort(), parents };
}

/** `Gateway infra/public listener api`, as messages name a parent. */
function describeParent(ref: FullParentRef): string {
  return `Gateway ${ref.namespace}/${ref.name}${ref.sectionName === undefined ? '' : ` listener ${ref.sectionName}`}`;
}

/**
 * The HTTP listeners of `gateway` (only the one named `sectionName`, when given).
 *
 * @example
 * ```ts
 * httpListeners(gateway, 'https').map((l) => l.hostname); // ['*.example.com']
 * ```
 */
export function httpListeners(gateway: GatewayInput, sectionName: string | undefined): GatewayListenerSpec[] {
  return list(gateway.spec?.listeners)
    .filter(isListener)
    .filter((l) => (sectionName === undefined || l.name === sectionName) && isHttp(l));
}

/**
 * The hostnames a route gets on one listener (Gateway API "HTTPRoute hostnames"): a wildcard
 * covers one or more labels, and of two patterns where one covers the other the narrower is
 * kept; none in common = not admitted there (an empty list).
 *
 * @example
 * ```ts
 * intersectHosts(['a.example.com', 'b.other.org'], '*.example.com'); // ['a.example.com']
 * intersectHosts(['*.example.com'], 'api.example.com');               // ['api.example.com']
 * intersectHosts(undefined, undefined);                               // 'any'
 * ```
 */
export function intersectHosts(routeHosts: unknown, listenerHost: string | undefined): AdmittedHosts {
  // Hostnames are lower-case in the API; a manifest that is not gets the reading the router uses.
  const hosts = list(routeHosts).flatMap((h) => (typeof h === 'string' ? [h.toLowerCase()] : []));
  const listener = listenerHost?.toLowerCase();
  if (hosts.length === 0) return listener === undefined ? ANY_HOST : [listener];
  if (listener === undefined) return [...new Set(hosts)].sort();
  const out = new Set<string>();
  for (const host of hosts) {
    if (covers(listener, host)) out.add(host);
    else if (covers(host, listener)) out.add(listener);
  }
  return [...out].sort();
}

/** `pattern` matches every host `host` matches (`*.example.com` covers `a.example.com`, `*.a.example.com`). */
function covers(pattern: string, host: string): boolean {
  for (const covering of coveringPatterns(host)) if (covering === pattern) return true;
  return false;
}

function admitsRoute(
  listener: GatewayListenerSpec,
  gateway: GatewayInput,
  namespace: string,
  namespaces: NamespaceInput[] | undefined,
): boolean {
  if (!isHttp(listener)) return false;
  const allowed = isObject(listener.allowedRoutes) ? listener.allowedRoutes : {};
  const kinds = list(allowed.kinds);
  // Absent or empty kinds: the protocol's kinds, which are HTTPRoute for HTTP and HTTPS.
  if (kinds.length > 0 && !kinds.some((k) => isObject(k) && k.kind === 'HTTPRoute' && (k.group ?? GATEWAY_API_GROUP) === GATEWAY_API_GROUP))
    return false;
  const from = isObject(allowed.namespaces) ? allowed.namespaces : {};
  switch (from.from ?? 'Same') {
    case 'All':
      return true;
    case 'Same':
      return namespace === gateway.metadata.namespace;
    case 'Selector': {
      // A selector that is absent or unreadable selects nothing here (the API requires one for Selector).
      if (!isObject(from.selector)) return false;
      const selection = selectNamespaces(from.selector as LabelSelector, namespaces);
      return selection.namespaces?.includes(namespace) ?? false;
    }
    default:
      return false;
  }
}

function isHttp(listener: GatewayListenerSpec): boolean {
  return listener.protocol === 'HTTP' || listener.protocol === 'HTTPS';
}

function isListener(value: unknown): value is GatewayListenerSpec {
  if (!isObject(value) || typeof value.name !== 'string') return false;
  return (
    (value.hostname === undefined || typeof value.hostname === 'string') && (value.port === undefined || typeof value.port === 'number')
  );
}

/** A Gateway API ParentReference with its defaults applied: what a GEP-713 `ancestorRef` holds. */
export type FullParentRef = Required<Pick<GatewayParentRef, 'group' | 'kind' | 'namespace' | 'name'>> &
  Pick<GatewayParentRef, 'sectionName' | 'port'>;

/** A parentRef with the API's defaults applied (group gateway.networking.k8s.io, kind Gateway, the route's namespace). */
function readParentRef(value: unknown, routeNamespace: string): FullParentRef | undefined {
  if (!isObject(value) || typeof value.name !== 'string') return undefined;
  const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  return {
    // An explicit empty group is the core group, not the default.
    group: value.group === undefined ? GATEWAY_API_GROUP : String(value.group),
    kind: text(value.kind) ?? 'Gateway',
    namespace: text(value.namespace) ?? routeNamespace,
    name: value.name,
    ...(text(value.sectionName) === undefined ? {} : { sectionName: value.sectionName as string }),
    ...(typeof value.port === 'number' ? { port: value.port } : {}),
  };
}

function sameParent(a: FullParentRef, b: FullParentRef): boolean {
  return (
    a.group === b.group &&
    a.kind === b.kind &&
    a.namespace === b.namespace &&
    a.name === b.name &&
    a.sectionName === b.sectionName &&
    a.port === b.port
  );
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
