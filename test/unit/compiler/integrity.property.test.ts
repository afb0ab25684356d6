// The integrity invariant of the policy set (DESIGN.md), searched for counterexamples with
// fast-check: random folders of policies and random sequences of edits (typos, conflicts,
// duplicates, renames, deletions, mode changes), each reloaded the way `serve --policies` does
// (compiled against the last good snapshot; a refused reload keeps it). After every reload, a
// request without a token that was denied is still denied, unless the policy that denied it was
// deleted, set to Disabled or Optional, or no longer names that route (with targetRefs: its route,
// still admitted by the Gateway, no longer matches it).
//
// The folder also holds what the platform owns beside the tenants' policies (issue 10): the
// cluster admin's JWTHostGrants (none, or a choice of who owns the host on a shared gateway); a
// Gateway whose one listener for the host admits routes from a choice of namespaces; and
// HTTPRoutes of either namespace for the host, with the status their Gateway controller wrote
// (Accepted=True or False, and True where the listener does not admit the namespace: a status
// alone must not count). Policies name their routes with `targets`, or attach to an HTTPRoute of
// their namespace with `targetRefs`. Edits move the grants, the Gateway's allowedRoutes, a
// route's acceptance and paths, add and delete routes, and switch policies between the two.
// A route that loses admission must hold what its policy decided closed (503 policy_invalid); and
// a tenancy property checks that one namespace's manifests, routes included, never change a
// decision for another's traffic, nor its policies' statuses.
//
// Unmatched requests are *allowed* here, so any route that loses its policy shows as an allow.
// JWTGATE_PROPERTY_RUNS sets the number of folders (default 1000; `npm run test:properties` runs more).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildRouter, type RouteMatch, type RouteRefusal, type Router } from '../../../authz/match/router.ts';
import { hostOwners } from '../../../snapshot/host-owners.ts';
import type { Snapshot } from '../../../snapshot/types.ts';
import { compile } from '../../../compiler/compile.ts';
import { DIAGNOSTIC_REASONS } from '../../../compiler/diagnostics.ts';
import { parseManifests, type LoadedManifests } from '../../../cli/load-manifests.ts';
import { API_VERSION, GATEWAY_API_GROUP } from '../../../compiler/resources.ts';
import { jwksUriIssuer } from './builders.ts';
import { schema } from '../../support/schema.ts';

const RUNS = Number(process.env.JWTGATE_PROPERTY_RUNS ?? 1000);
const HOST = 'a.example';
const NAMESPACES = ['shop', 'other'] as const;
const PATHS = ['/admin', '/public'] as const;
const MODES = ['Required', 'Optional', 'Disabled'] as const;
/**
 * Ways a manifest goes wrong: an unknown field hiding the targets (or targetRefs), a wrong type, a
 * missing issuer, an unsafe regex (with targetRefs: a second ref, to a route that does not exist).
 */
const FAULTS = ['targetz', 'mode7', 'missingIssuer', 'badRegex'] as const;
const ROUTE_NAMES = ['r1', 'r2'] as const;

type Namespace = (typeof NAMESPACES)[number];
type Path = (typeof PATHS)[number];
type RouteName = (typeof ROUTE_NAMES)[number];

interface PolicyDoc {
  name: string;
  namespace: Namespace;
  paths: Path[];
  mode: (typeof MODES)[number];
  fault?: (typeof FAULTS)[number];
  /** Attached by targetRefs to this HTTPRoute of its own namespace, instead of `targets` (`paths` then unused). */
  route?: RouteName | undefined;
}

/** An HTTPRoute on the shared Gateway for HOST, with the Accepted condition its controller wrote. */
interface RouteDoc {
  name: RouteName;
  namespace: Namespace;
  paths: Path[];
  accepted: boolean;
}

/** The grants the admin may have applied: who owns HOST when the proxy reports no namespace. */
const GRANTS = {
  none: [],
  shop: [{ name: 'shop', hostnames: [HOST], namespaces: ['shop'] }],
  other: [{ name: 'other', hostnames: [HOST], namespaces: ['other'] }],
  both: [{ name: 'both', hostnames: [HOST], namespaces: ['shop', 'other'] }],
  narrower: [
    { name: 'wide', hostnames: ['*.example'], namespaces: ['other'] },
    { name: 'narrow', hostnames: [HOST], namespaces: ['shop'] },
  ],
} as const;
type GrantChoice = keyof typeof GRANTS;
const grantChoice = fc.constantFrom(...(Object.keys(GRANTS) as GrantChoice[]));

/** The Gateway gw/public: absent, or one HTTP listener for HOST whose allowedRoutes admit these namespaces. */
const GATEWAYS: Record<'absent' | 'shop' | 'other' | 'both', readonly Namespace[] | undefined> = {
  absent: undefined,
  shop: ['shop'],
  other: ['other'],
  both: ['shop', 'other'],
};
type GatewayChoice = keyof typeof GATEWAYS;
/** Mostly a Gateway that admits someone, so that targetRefs policies have routes to decide. */
const gatewayChoice = fc.constantFrom<GatewayChoice>('both', 'both', 'shop', 'shop', 'other', 'absent');

/** What the cluster admin and the Gateway controller own beside the tenants' policy files. */
interface Platform {
  grant: GrantChoice;
  gateway: GatewayChoice;
  routes: RouteDoc[];
}

/** Policy files by name, and the platform's objects (rendered as grants.yaml, gateway.yaml, routes.yaml). */
interface Folder {
  files: Map<string, PolicyDoc[]>;
  platform: Platform;
}

const paths = fc.subarray([...PATHS], { minLength: 1 });
const routeName = fc.constantFrom(...ROUTE_NAMES);
/** Mostly accepted: a route that was never admitted gives its policy nothing to protect, so nothing to lose. */
const routeDoc = fc.record({
  name: routeName,
  namespace: fc.constantFrom(...NAMESPACES),
  paths,
  accepted: fc.constantFrom(true, true, true, false),
});
/** Each of a namespace's routes, three times in four: at most one per namespace and name, as on a cluster. */
const routesIn = (namespace: Namespace) =>
  fc
    .tuple(
      ...ROUTE_NAMES.map((name) =>
        fc.option(
          routeDoc.map((r) => ({ ...r, namespace, name })),
          { freq: 4, nil: undefined },
        ),
      ),
    )
    .map((routes) => routes.filter((r) => r !== undefined));
const anyPlatform = fc.record({
  grant: grantChoice,
  gateway: gatewayChoice,
  routes: fc.tuple(routesIn('shop'), routesIn('other')).map((routes) => routes.flat()),
});

const policyDoc = fc.record(
  {
    name: fc.constantFrom('admin', 'open', 'aaa', 'zzz'),
    namespace: fc.constantFrom(...NAMESPACES),
    paths,
    mode: fc.constantFrom(...MODES),
    fault: fc.option(fc.constantFrom(...FAULTS), { nil: undefined, freq: 4 }),
    route: fc.constantFrom(undefined, undefined, ...ROUTE_NAMES),
  },
  { requiredKeys: ['name', 'namespace', 'paths', 'mode', 'route'] },
);
const fileName = fc.constantFrom('00-copy.yaml', 'a.yaml', 'b.yaml', 'z.yaml', 'sub/x.yaml');
const placed = (doc: fc.Arbitrary<PolicyDoc>) => fc.record({ file: fileName, doc });
type Placed = { file: string; doc: PolicyDoc };

/** A starting folder, and the edits made to it. */
const history = (maxInitial: number, edits: { minLength: number; maxLength: number }) =>
  [anyPlatform, fc.array(placed(policyDoc), { maxLength: maxInitial }), fc.array(edit(), edits)] as const;

/**
 * A folder of policies without faults, one manifest per name, half of them attached by targetRefs,
 * and edits by the platform alone: here most targetRefs policies are enforced and have a route to
 * lose, where in {@link history}'s folders most are refused first (faults, duplicates).
 */
const platformHistory = (maxInitial: number, edits: { minLength: number; maxLength: number }) =>
  [
    anyPlatform,
    fc.uniqueArray(placed(policyDoc.map(({ fault: _, ...doc }) => doc)), {
      selector: ({ doc }) => `${doc.namespace}/${doc.name}`,
      maxLength: maxInitial,
    }),
    fc.array(platformEdit(), edits),
  ] as const;

type Edit =
  | { kind: 'add'; file: string; doc: PolicyDoc }
  | { kind: 'deleteFile'; pick: number }
  | { kind: 'renameFile'; pick: number; to: string }
  | { kind: 'copyDoc'; pick: number; to: string }
  | { kind: 'change'; pick: number; change: Partial<PolicyDoc> & { clearFault?: true; useTargets?: true } }
  // The platform's edits: the admin's grants, the Gateway's listener, the routes and their status.
  | { kind: 'grant'; choice: GrantChoice }
  | { kind: 'gateway'; choice: GatewayChoice }
  | { kind: 'putRoute'; route: RouteDoc }
  | { kind: 'deleteRoute'; pick: number }
  | { kind: 'accept'; pick: number; accepted: boolean }
  | { kind: 'routePaths'; pick: number; paths: Path[] };

/** A tenant's edit to the policy files, or (about half the time) the platform's. */
const edit = (): fc.Arbitrary<Edit> =>
  fc.oneof(
    fc.record({ kind: fc.constant('add' as const), file: fileName, doc: policyDoc }),
    fc.record({ kind: fc.constant('deleteFile' as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant('renameFile' as const), pick: fc.nat(), to: fileName }),
    fc.record({ kind: fc.constant('copyDoc' as const), pick: fc.nat(), to: fileName }),
    fc.record({
      kind: fc.constant('change' as const),
      pick: fc.nat(),
      change: fc.oneof(
        fc.record({ mode: fc.constantFrom(...MODES) }),
        fc.record({ fault: fc.constantFrom(...FAULTS) }),
        fc.record({ clearFault: fc.constant(true as const) }),
        fc.record({ name: fc.constantFrom('admin', 'open', 'renamed') }),
        fc.record({ paths }),
        fc.record({ route: routeName }),
        fc.record({ useTargets: fc.constant(true as const) }),
      ),
    }),
    { arbitrary: platformEdit(), weight: 5 },
  );

/** What the cluster admin (grants), the Gateway's owner (allowedRoutes) and the Gateway controller (route status) change. */
const platformEdit = (): fc.Arbitrary<Edit> =>
  fc.oneof(
    fc.record({ kind: fc.constant('grant' as const), choice: grantChoice }),
    fc.record({ kind: fc.constant('gateway' as const), choice: gatewayChoice }),
    fc.record({ kind: fc.constant('putRoute' as const), route: routeDoc }),
    fc.record({ kind: fc.constant('deleteRoute' as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant('accept' as const), pick: fc.nat(), accepted: fc.boolean() }),
    fc.record({ kind: fc.constant('routePaths' as const), pick: fc.nat(), paths }),
  );

function applyEdit(folder: Folder, e: Edit): Folder {
  const files = new Map([...folder.files].map(([f, docs]) => [f, docs.map((d) => ({ ...d }))]));
  const platform: Platform = { ...folder.platform, routes: folder.platform.routes.map((r) => ({ ...r })) };
  const names = [...files.keys()].sort();
  const docs = names.flatMap((f) => (files.get(f) as PolicyDoc[]).map((doc, i) => ({ f, i, doc })));
  const route = platform.routes[('pick' in e ? e.pick : 0) % Math.max(platform.routes.length, 1)];
  switch (e.kind) {
    case 'add':
      files.set(e.file, [...(files.get(e.file) ?? []), e.doc]);
      break;
    case 'deleteFile':
      if (names.length > 0) files.delete(names[e.pick % names.length] as string);
      break;
    case 'renameFile': {
      const from = names[e.pick % Math.max(names.length, 1)];
      if (from === undefined || from === e.to) break;
      files.set(e.to, [...(files.get(e.to) ?? []), ...(files.get(from) as PolicyDoc[])]);
      files.delete(from);
      break;
    }
    case 'copyDoc': {
      const picked = docs[e.pick % Math.max(docs.length, 1)];
      if (picked !== undefined) files.set(e.to, [...(files.get(e.to) ?? []), { ...picked.doc }]);
      break;
    }
    case 'change': {
      const picked = docs[e.pick % Math.max(docs.length, 1)];
      if (picked === undefined) break;
      const doc = (files.get(picked.f) as PolicyDoc[])[picked.i] as PolicyDoc;
      const { clearFault, useTargets, ...change } = e.change;
      Object.assign(doc, change);
      if (clearFault) delete doc.fault;
      if (useTargets) delete doc.route;
      break;
    }
    case 'grant':
      platform.grant = e.choice;
      break;
    case 'gateway':
      platform.gateway = e.choice;
      break;
    case 'putRoute':
      platform.routes = [...platform.routes.filter((r) => r.namespace !== e.route.namespace || r.name !== e.route.name), e.route];
      break;
    case 'deleteRoute':
      platform.routes = platform.routes.filter((r) => r !== route);
      break;
    case 'accept':
      if (route !== undefined) route.accepted = e.accepted;
      break;
    case 'routePaths':
      if (route !== undefined) route.paths = e.paths;
      break;
  }
  return { files, platform };
}

function folderOf(initial: readonly Placed[], platform: Platform): Folder {
  const start: Folder = { files: new Map(), platform };
  return initial.reduce<Folder>((folder, { file, doc }) => applyEdit(folder, { kind: 'add', file, doc }), start);
}

/** The route a targetRefs policy attaches to, if it exists. */
function routeOf(platform: Platform, doc: PolicyDoc): RouteDoc | undefined {
  return platform.routes.find((r) => r.namespace === doc.namespace && r.name === doc.route);
}

/**
 * What the product must conclude from the platform's objects, stated independently of
 * compiler/gateway-api.ts: a route counts when the Gateway exists, its controller says
 * Accepted=True, and the listener's allowedRoutes admit the route's namespace.
 */
function admitted(platform: Platform, route: RouteDoc | undefined): route is RouteDoc {
  return route?.accepted === true && GATEWAYS[platform.gateway]?.includes(route.namespace) === true;
}

function renderGrants(choice: GrantChoice): string[] {
  return GRANTS[choice].map(({ name, ...spec }) =>
    JSON.stringify({ apiVersion: API_VERSION, kind: 'JWTHostGrant', metadata: { name }, spec }),
  );
}

const PARENT = { name: 'public', namespace: 'gw' };

function renderGateway(choice: GatewayChoice): string[] {
  const from = GATEWAYS[choice];
  if (from === undefined) return [];
  const namespaces =
    from.length > 1 ? { from: 'All' } : { from: 'Selector', selector: { matchLabels: { 'kubernetes.io/metadata.name': from[0] } } };
  const listener = { name: 'http', protocol: 'HTTP', port: 80, hostname: HOST, allowedRoutes: { namespaces } };
  const spec = { gatewayClassName: 'example', listeners: [listener] };
  return [JSON.stringify({ apiVersion: `${GATEWAY_API_GROUP}/v1`, kind: 'Gateway', metadata: PARENT, spec })];
}

function renderRoute(route: RouteDoc): string {
  const condition = {
    type: 'Accepted',
    status: route.accepted ? 'True' : 'False',
    reason: route.accepted ? 'Accepted' : 'NotAllowedByListeners',
  };
  return JSON.stringify({
    apiVersion: `${GATEWAY_API_GROUP}/v1`,
    kind: 'HTTPRoute',
    metadata: { name: route.name, namespace: route.namespace },
    spec: {
      parentRefs: [PARENT],
      hostnames: [HOST],
      rules: [{ matches: route.paths.map((value) => ({ path: { type: 'Exact', value } })) }],
    },
    status: { parents: [{ parentRef: PARENT, controllerName: 'example.com/gateway', conditions: [condition] }] },
  });
}

function render(doc: PolicyDoc): Record<string, unknown> {
  const targets = [
    { hosts: [HOST], paths: [...doc.paths.map((p) => ({ exact: p })), ...(doc.fault === 'badRegex' ? [{ regex: '/(a+)+$' }] : [])] },
  ];
  const ref = (name: string) => ({ group: GATEWAY_API_GROUP, kind: 'HTTPRoute', name });
  const [field, value] =
    doc.route === undefined
      ? [doc.fault === 'targetz' ? 'targetz' : 'targets', targets]
      : [doc.fault === 'targetz' ? 'targetRefz' : 'targetRefs', [ref(doc.route), ...(doc.fault === 'badRegex' ? [ref('gone')] : [])]];
  const spec: Record<string, unknown> = {
    [field]: value,
    mode: doc.fault === 'mode7' ? 7 : doc.mode,
    issuers: { anyOf: [{ name: doc.fault === 'missingIssuer' ? 'nowhere' : 'idp' }] },
  };
  return { apiVersion: API_VERSION, kind: 'JWTPolicy', metadata: { name: doc.name, namespace: doc.namespace }, spec };
}

const ISSUERS = NAMESPACES.map((namespace) =>
  JSON.stringify({ apiVersion: API_VERSION, kind: 'JWTIssuer', metadata: { name: 'idp', namespace }, spec: jwksUriIssuer() }),
).join('\n---\n');
/** The Gateway's allowedRoutes selectors read the namespaces' labels. */
const NAMESPACE_DOCS = [...NAMESPACES, 'gw']
  .map((name) => JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }))
  .join('\n---\n');

/**
 * The real parser, remembered by file and text: a reload re-reads mostly unchanged files, and
 * YAML parsing, not compiling, was most of this file's time. The result is deep-frozen, so a
 * compiler that wrote to its input would throw here rather than corrupt a later reload.
 */
const PARSED = new Map<string, ReturnType<typeof parseManifests>>();
function parseOnce(text: string, file: string): ReturnType<typeof parseManifests> {
  const key = `${file}\u0000${text}`;
  let parsed = PARSED.get(key);
  if (parsed === undefined) {
    if (PARSED.size >= 20_000) PARSED.clear();
    parsed = deepFreeze(parseManifests(text, file));
    PARSED.set(key, parsed);
  }
  return parsed;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** What `serve --policies` reads from the folder: every file in path order, through the real parser. */
function load(folder: Folder): LoadedManifests {
  const loaded: Required<LoadedManifests> = { resources: [], secrets: [], namespaces: [], httpRoutes: [], gateways: [], diagnostics: [] };
  const { grant, gateway, routes } = folder.platform;
  const files: [string, string][] = [
    ['issuers.yaml', ISSUERS],
    ['namespaces.yaml', NAMESPACE_DOCS],
    ['grants.yaml', renderGrants(grant).join('\n---\n')],
    ['gateway.yaml', renderGateway(gateway).join('\n---\n')],
    ['routes.yaml', routes.map(renderRoute).join('\n---\n')],
    ...[...folder.files].map(([f, docs]): [string, string] => [f, docs.map((d) => JSON.stringify(render(d))).join('\n---\n')]),
  ];
  for (const [file, text] of files.sort(([a], [b]) => (a < b ? -1 : 1))) {
    const parsed = parseOnce(text, file);
    loaded.resources.push(...parsed.resources);
    loaded.namespaces.push(...(parsed.namespaces ?? []));
    loaded.httpRoutes.push(...parsed.httpRoutes);
    loaded.gateways.push(...parsed.gateways);
    loaded.diagnostics.push(...parsed.diagnostics);
  }
  return loaded;
}

/** One reload as standalone mode does it: the last good snapshot stays when the folder is refused. */
function reload(folder: Folder, lastGood: Snapshot | undefined): Snapshot | undefined {
  const result = compileFolder(folder, lastGood);
  const unreadable = result.loaded.diagnostics.some((d) => d.severity === 'error');
  return unreadable || result.refusal !== undefined ? lastGood : result.snapshot;
}

function compileFolder(folder: Folder, lastGood: Snapshot | undefined): ReturnType<typeof compile> & { loaded: LoadedManifests } {
  const loaded = load(folder);
  const result = compile({
    schema,
    ...loaded,
    settings: { unmatched: 'allow' },
    ...(lastGood === undefined ? {} : { previous: lastGood }),
  });
  return { ...result, loaded };
}

interface Probe {
  path: string;
  namespace: string | undefined;
}
const PROBES: Probe[] = PATHS.flatMap((path) => [...NAMESPACES, undefined].map((namespace) => ({ path, namespace })));

/** One router per snapshot: every probe of a reload reads the same one. */
const ROUTERS = new WeakMap<Snapshot, Router>();

/** The decision for a request without a token: the deciding policy, and whether it denies. */
function decideAnonymous(snapshot: Snapshot | undefined, probe: Probe): { denied: boolean; policy?: string; mode?: string } {
  if (snapshot === undefined) return { denied: true };
  let router = ROUTERS.get(snapshot);
  if (router === undefined) {
    router = buildRouter(snapshot.policies, snapshot.grants);
    ROUTERS.set(snapshot, router);
  }
  const hit: RouteMatch | RouteRefusal | undefined = router.match({
    host: HOST,
    path: probe.path,
    method: 'GET',
    ...(probe.namespace === undefined ? {} : { namespace: probe.namespace }),
  });
  if (hit === undefined) return { denied: snapshot.settings.unmatched === 'deny' };
  if (hit.refusal !== undefined) return { denied: true, policy: hit.refusal, mode: 'refused' };
  return { denied: hit.policy.mode === 'required' || hit.policy.mode === 'invalid', policy: hit.policy.id, mode: hit.policy.mode };
}

const copiesIn = (folder: Folder, policyId: string): PolicyDoc[] =>
  [...folder.files.values()].flat().filter((d) => `JWTPolicy/${d.namespace}/${d.name}` === policyId);

/**
 * Whether the folder itself took the protection away: the policy is gone, opened, or no longer
 * names the route. A targetRefs policy names what its route matches, but only while a Gateway
 * admits the route: a route that is not admitted (deleted, not accepted, accepted by a status
 * the listener contradicts) releases nothing, since its policy holds what it protected closed.
 */
function releasedBy(folder: Folder, policyId: string, probe: Probe): boolean {
  const copies = copiesIn(folder, policyId);
  const [only] = copies;
  if (only === undefined) return true;
  if (copies.length > 1 || only.fault === 'mode7') return false;
  if (only.mode !== 'Required') return true;
  if (only.route === undefined) return !only.paths.includes(probe.path as Path);
  const route = routeOf(folder.platform, only);
  return admitted(folder.platform, route) && !route.paths.includes(probe.path as Path);
}

/** The first property's reload loop (asserts), for {@link history} and {@link platformHistory}. */
function noEditOpens(start: Platform, initial: Placed[], edits: Edit[]): void {
  let folder = folderOf(initial, start);
  let good = reload(folder, undefined);
  for (const e of edits) {
    folder = applyEdit(folder, e);
    const next = reload(folder, good);
    for (const probe of PROBES) {
      const before = decideAnonymous(good, probe);
      const after = decideAnonymous(next, probe);
      if (!before.denied || after.denied) continue;
      // Denied before by no policy means no snapshot was loaded yet: nothing was protected.
      // A refusal (host_not_granted, route_contested) stands in for a grant the admin has not
      // made; and which namespace a shared gateway's host belongs to is the admin's and the
      // Gateway's to move (a JWTHostGrant, an accepted route of a targetRefs policy).
      if (before.policy === undefined || before.mode === 'refused') continue;
      if (probe.namespace === undefined && ownersMoved(good, next)) continue;
      assert.ok(
        releasedBy(folder, before.policy, probe),
        `${probe.path} (namespace ${probe.namespace ?? 'unknown'}) was denied by ${before.policy} and is now allowed by ${after.policy ?? 'the unmatched default'} after ${JSON.stringify(e)}`,
      );
    }
    good = next;
  }
}

test('no sequence of edits opens a protected route unless its own policy releases it', () => {
  fc.assert(fc.property(...history(5, { minLength: 1, maxLength: 10 }), noEditOpens), { numRuns: RUNS });
});

/** A policy's manifests, as text: equal when the edit left them alone. */
function docsOf(folder: Folder, policyId: string): string {
  return JSON.stringify(
    copiesIn(folder, policyId)
      .map((d) => JSON.stringify(d))
      .sort(),
  );
}

/** What a policy is compiled from: its manifests and, with targetRefs, its route and whether a Gateway admits it. */
function inputsOf(folder: Folder, policyId: string): string {
  const routes = copiesIn(folder, policyId).flatMap((d) => {
    if (d.route === undefined) return [];
    const route = routeOf(folder.platform, d);
    return [JSON.stringify({ route: route ?? null, admitted: admitted(folder.platform, route) })];
  });
  return `${docsOf(folder, policyId)} ${JSON.stringify(routes.sort())}`;
}

/** The one targetRefs policy of that id whose route a Gateway admits in `before` and not in `after`. */
function lostAdmission(before: Folder, after: Folder, policyId: string): boolean {
  const [doc, ...more] = copiesIn(after, policyId);
  if (doc?.route === undefined || more.length > 0) return false;
  return admitted(before.platform, routeOf(before.platform, doc)) && !admitted(after.platform, routeOf(after.platform, doc));
}

/** The second property's reload loop (asserts), for {@link history} and {@link platformHistory}. */
function leftAloneKeepsDeciding(start: Platform, initial: Placed[], edits: Edit[]): void {
  let folder = folderOf(initial, start);
  let good = reload(folder, undefined);
  // The folder the snapshot in force was compiled from: a refused reload leaves both as they were.
  let goodFolder = folder;
  for (const e of edits) {
    const edited = applyEdit(folder, e);
    const next = reload(edited, good);
    for (const probe of PROBES) {
      const before = decideAnonymous(good, probe);
      // On a shared gateway the host is decided by its owners: the admin's grants and the
      // Gateway's acceptance of routes move it, and co-owners' policies may contest a route
      // (route_contested) by design.
      if (probe.namespace === undefined && (ownersMoved(good, next) || soleOwner(next) === undefined)) continue;
      if (before.policy === undefined || before.mode === 'invalid' || before.mode === 'refused') continue;
      const after = decideAnonymous(next, probe);
      const where = `${probe.path} (namespace ${probe.namespace ?? 'unknown'}) was decided by ${before.policy} (${before.mode})`;
      const now = `now by ${after.policy ?? 'nothing'} (${after.mode ?? '-'}) after ${JSON.stringify(e)}`;
      if (inputsOf(goodFolder, before.policy) === inputsOf(edited, before.policy)) {
        assert.deepEqual([after.policy, after.mode], [before.policy, before.mode], `${where}, untouched, and ${now}`);
      } else if (
        next !== good &&
        docsOf(goodFolder, before.policy) === docsOf(edited, before.policy) &&
        lostAdmission(goodFolder, edited, before.policy)
      ) {
        // Issue 10: "a route that loses acceptance loses its policy's hold and fails closed
        // where it was protected". The policy, unchanged, can no longer be enforced
        // (TargetNotAccepted, TargetNotFound) and holds what it decided: 503 policy_invalid.
        assert.deepEqual([after.policy, after.mode], [before.policy, 'invalid'], `${where}; its route lost admission, and ${now}`);
      }
    }
    folder = edited;
    if (next !== good) goodFolder = edited;
    good = next;
  }
}

test('a policy that is left alone keeps deciding its routes, whatever else changes (incumbency, tenancy); one whose route loses admission holds them closed', () => {
  fc.assert(fc.property(...history(5, { minLength: 1, maxLength: 10 }), leftAloneKeepsDeciding), { numRuns: RUNS });
});

test("the platform's edits (grants, the Gateway, routes and their status) open nothing a policy protects, and a route that loses admission is held closed by its policy", () => {
  fc.assert(
    fc.property(...platformHistory(4, { minLength: 1, maxLength: 8 }), (start, initial, edits) => {
      noEditOpens(start, initial, edits);
      leftAloneKeepsDeciding(start, initial, edits);
    }),
    // Half the runs: each checks both properties (two reload loops per history), on folders
    // where most targetRefs policies are enforced, so it costs what a general property does at
    // full count and keeps the unit lane's budget.
    { numRuns: Math.max(50, RUNS / 2) },
  );
});

/** The namespaces that own HOST on a shared gateway under a snapshot's grants (JWTHostGrants and admitted routes). */
function ownersOf(snapshot: Snapshot | undefined): string[] {
  return [...(hostOwners(snapshot?.grants ?? [])(HOST)?.namespaces ?? [])].sort();
}

/**
 * Whether the owners of HOST changed (a grant edit, or a route's admission, lands with the first
 * reload that is not refused). Which grants say so does not matter to a decision, only who owns.
 */
function ownersMoved(before: Snapshot | undefined, after: Snapshot | undefined): boolean {
  return ownersOf(before).join() !== ownersOf(after).join();
}

/** The one namespace that owns HOST on a shared gateway under a snapshot's grants, if exactly one does. */
function soleOwner(snapshot: Snapshot | undefined): string | undefined {
  const owners = ownersOf(snapshot);
  return owners.length === 1 ? owners[0] : undefined;
}

test("a namespace's manifests and routes never change a decision for another namespace's traffic, nor refuse its policies", () => {
  const docsIn = (namespace: Namespace) => fc.array(placed(policyDoc.map((doc) => ({ ...doc, namespace }))), { maxLength: 4 });
  fc.assert(
    fc.property(
      fc.record({
        shop: docsIn('shop'),
        shopRoutes: routesIn('shop'),
        otherA: docsIn('other'),
        routesA: routesIn('other'),
        otherB: docsIn('other'),
        routesB: routesIn('other'),
        grant: grantChoice,
        gateway: gatewayChoice,
        past: fc.array(placed(policyDoc), { maxLength: 5 }),
        pastPlatform: anyPlatform,
      }),
      ({ shop, shopRoutes, otherA, routesA, otherB, routesB, grant, gateway, past, pastPlatform }) => {
        // Any history: the snapshot in force came from some earlier folder (incumbency is per namespace).
        const previous = reload(folderOf(past, pastPlatform), undefined);
        const withRoutes = (routes: RouteDoc[]): Platform => ({ grant, gateway, routes: [...shopRoutes, ...routes] });
        const a = compileFolder(folderOf([...shop, ...otherA], withRoutes(routesA)), previous);
        const b = compileFolder(folderOf([...shop, ...otherB], withRoutes(routesB)), previous);
        // Where the listener admits namespace other for HOST, the platform has shared the host:
        // other's accepted routes make it a co-owner on a shared gateway. Where it does not, other's
        // routes (Accepted=True in their status or not) grant nothing at all.
        const otherAdmitted = GATEWAYS[gateway]?.includes('other') === true;
        if (!otherAdmitted) assert.deepEqual(b.snapshot.grants, a.snapshot.grants, "namespace other's unadmitted routes granted a host");
        // Shared-gateway traffic is shop's where shop alone owns HOST: with either of other's
        // variants where the listener does not admit other, with both where it does.
        const shopOwns = [a, b].map((r) => soleOwner(r.snapshot) === 'shop');
        const shopOwnsHost = otherAdmitted ? shopOwns.every(Boolean) : shopOwns.some(Boolean);
        for (const probe of PROBES) {
          if (probe.namespace === 'other' || (probe.namespace === undefined && !shopOwnsHost)) continue;
          assert.deepEqual(
            decideAnonymous(b.snapshot, probe),
            decideAnonymous(a.snapshot, probe),
            `${probe.path} (namespace ${probe.namespace ?? 'unknown'}) changed with namespace other's manifests`,
          );
        }
        // A HostNotGranted warning says whose the host is instead, which names other's route when
        // the Gateway shares the host; that it is not shop's cannot change.
        const shopDiagnostics = (r: typeof a): string[] =>
          r.diagnostics
            .filter((d) => d.resource.namespace === 'shop')
            .map((d) => {
              const message = otherAdmitted && d.reason === DIAGNOSTIC_REASONS.HostNotGranted ? d.message.split(' (')[0] : d.message;
              return `${d.severity} ${d.resource.name} ${d.reason} ${message}`;
            });
        assert.deepEqual(shopDiagnostics(b), shopDiagnostics(a), "namespace shop's statuses changed with namespace other's manifests");
        // And the GEP-713 ancestors of shop's targetRefs policies (status.ancestors).
        const shopAncestors = (r: typeof a) => r.attachments.filter((x) => x.resource.namespace === 'shop');
        assert.deepEqual(shopAncestors(b), shopAncestors(a), "namespace shop's policy ancestors changed with namespace other's manifests");
      },
    ),
    { numRuns: RUNS },
  );
});

test('the compiler never throws and every snapshot it makes loads into a router', () => {
  fc.assert(
    fc.property(...history(8, { minLength: 0, maxLength: 6 }), (start, initial, edits) => {
      let folder = folderOf(initial, start);
      let good: Snapshot | undefined;
      for (const e of [undefined, ...edits]) {
        if (e !== undefined) folder = applyEdit(folder, e);
        good = reload(folder, good);
        if (good !== undefined) buildRouter(good.policies, good.grants);
      }
    }),
    { numRuns: Math.max(100, RUNS / 5) },
  );
});
