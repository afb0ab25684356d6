// The integrity invariant of the policy set (DESIGN.md), searched for counterexamples with
// fast-check: random folders of policies and random sequences of edits (typos, conflicts,
// duplicates, renames, deletions, mode changes), each reloaded the way `serve --policies` does
// (compiled against the last good snapshot; a refused reload keeps it). After every reload, a
// request without a token that was denied is still denied, unless the policy that denied it was
// deleted, set to Disabled or Optional, or no longer names that route.
//
// The folder also holds the cluster admin's JWTHostGrants (none, or a choice of who owns the
// host on a shared gateway), which edits change too; and a tenancy property checks that one
// namespace's manifests never change a decision for another's traffic, nor refuse its policies.
//
// Unmatched requests are *allowed* here, so any route that loses its policy shows as an allow.
// JWTGATE_PROPERTY_RUNS sets the number of folders (default 1000; `npm run test:properties` runs more).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildRouter, type RouteMatch, type RouteRefusal } from '../../../authz/match/router.ts';
import { hostOwners } from '../../../snapshot/host-owners.ts';
import type { Snapshot } from '../../../snapshot/types.ts';
import { compile } from '../../../compiler/compile.ts';
import { parseManifests, type LoadedManifests } from '../../../cli/load-manifests.ts';
import { API_VERSION } from '../../../compiler/resources.ts';
import { jwksUriIssuer } from './builders.ts';
import { schema } from '../../support/schema.ts';

const RUNS = Number(process.env.JWTGATE_PROPERTY_RUNS ?? 1000);
const HOST = 'a.example';
const NAMESPACES = ['shop', 'other'] as const;
const PATHS = ['/admin', '/public'] as const;
const MODES = ['Required', 'Optional', 'Disabled'] as const;
/** Ways a manifest goes wrong: an unknown field hiding the targets, a wrong type, a missing issuer, an unsafe regex. */
const FAULTS = ['targetz', 'mode7', 'missingIssuer', 'badRegex'] as const;

interface PolicyDoc {
  name: string;
  namespace: (typeof NAMESPACES)[number];
  paths: (typeof PATHS)[number][];
  mode: (typeof MODES)[number];
  fault?: (typeof FAULTS)[number];
}
type Folder = Map<string, PolicyDoc[]>;

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

const policyDoc = fc.record(
  {
    name: fc.constantFrom('admin', 'open', 'aaa', 'zzz'),
    namespace: fc.constantFrom(...NAMESPACES),
    paths: fc.subarray([...PATHS], { minLength: 1 }),
    mode: fc.constantFrom(...MODES),
    fault: fc.option(fc.constantFrom(...FAULTS), { nil: undefined, freq: 4 }),
  },
  { requiredKeys: ['name', 'namespace', 'paths', 'mode'] },
);
const fileName = fc.constantFrom('00-copy.yaml', 'a.yaml', 'b.yaml', 'z.yaml', 'sub/x.yaml');

/** A starting folder, and the edits made to it. */
const history = (maxInitial: number, edits: { minLength: number; maxLength: number }) =>
  [fc.array(fc.record({ file: fileName, doc: policyDoc }), { maxLength: maxInitial }), fc.array(edit(), edits)] as const;

type Edit =
  | { kind: 'add'; file: string; doc: PolicyDoc }
  | { kind: 'deleteFile'; pick: number }
  | { kind: 'renameFile'; pick: number; to: string }
  | { kind: 'copyDoc'; pick: number; to: string }
  | { kind: 'change'; pick: number; change: Partial<PolicyDoc> & { clearFault?: true } }
  | { kind: 'grant'; choice: GrantChoice };

const edit = (): fc.Arbitrary<Edit> =>
  fc.oneof(
    fc.record({ kind: fc.constant('add' as const), file: fileName, doc: policyDoc }),
    fc.record({ kind: fc.constant('deleteFile' as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant('renameFile' as const), pick: fc.nat(), to: fileName }),
    fc.record({ kind: fc.constant('copyDoc' as const), pick: fc.nat(), to: fileName }),
    fc.record({ kind: fc.constant('grant' as const), choice: grantChoice }),
    fc.record({
      kind: fc.constant('change' as const),
      pick: fc.nat(),
      change: fc.oneof(
        fc.record({ mode: fc.constantFrom(...MODES) }),
        fc.record({ fault: fc.constantFrom(...FAULTS) }),
        fc.record({ clearFault: fc.constant(true as const) }),
        fc.record({ name: fc.constantFrom('admin', 'open', 'renamed') }),
        fc.record({ paths: fc.subarray([...PATHS], { minLength: 1 }) }),
      ),
    }),
  );

function applyEdit(folder: Folder, e: Edit): Folder {
  const next: Folder = new Map([...folder].map(([f, docs]) => [f, docs.map((d) => ({ ...d }))]));
  // The admin's grants live beside the folder (grants.yaml), in GRANT_OF.
  GRANT_OF.set(next, e.kind === 'grant' ? e.choice : (GRANT_OF.get(folder) ?? 'none'));
  const files = [...next.keys()].sort();
  const docs = files.flatMap((f) => (next.get(f) as PolicyDoc[]).map((doc, i) => ({ f, i, doc })));
  switch (e.kind) {
    case 'add':
      next.set(e.file, [...(next.get(e.file) ?? []), e.doc]);
      break;
    case 'deleteFile':
      if (files.length > 0) next.delete(files[e.pick % files.length] as string);
      break;
    case 'renameFile': {
      const from = files[e.pick % Math.max(files.length, 1)];
      if (from === undefined || from === e.to) break;
      next.set(e.to, [...(next.get(e.to) ?? []), ...(next.get(from) as PolicyDoc[])]);
      next.delete(from);
      break;
    }
    case 'copyDoc': {
      const picked = docs[e.pick % Math.max(docs.length, 1)];
      if (picked !== undefined) next.set(e.to, [...(next.get(e.to) ?? []), { ...picked.doc }]);
      break;
    }
    case 'grant':
      break;
    case 'change': {
      const picked = docs[e.pick % Math.max(docs.length, 1)];
      if (picked === undefined) break;
      const doc = (next.get(picked.f) as PolicyDoc[])[picked.i] as PolicyDoc;
      const { clearFault, ...change } = e.change;
      Object.assign(doc, change);
      if (clearFault) delete doc.fault;
      break;
    }
  }
  return next;
}

/** Which grants each folder carries (grants.yaml). */
const GRANT_OF = new WeakMap<Folder, GrantChoice>();

function folderOf(initial: readonly { file: string; doc: PolicyDoc }[], grant: GrantChoice = 'none'): Folder {
  const start: Folder = new Map();
  GRANT_OF.set(start, grant);
  return initial.reduce<Folder>((folder, { file, doc }) => applyEdit(folder, { kind: 'add', file, doc }), start);
}

function renderGrants(choice: GrantChoice): string[] {
  return GRANTS[choice].map(({ name, ...spec }) =>
    JSON.stringify({ apiVersion: API_VERSION, kind: 'JWTHostGrant', metadata: { name }, spec }),
  );
}

function render(doc: PolicyDoc): Record<string, unknown> {
  const targets = [
    { hosts: [HOST], paths: [...doc.paths.map((p) => ({ exact: p })), ...(doc.fault === 'badRegex' ? [{ regex: '/(a+)+$' }] : [])] },
  ];
  const spec: Record<string, unknown> = {
    [doc.fault === 'targetz' ? 'targetz' : 'targets']: targets,
    mode: doc.fault === 'mode7' ? 7 : doc.mode,
    issuers: { anyOf: [{ name: doc.fault === 'missingIssuer' ? 'nowhere' : 'idp' }] },
  };
  return { apiVersion: API_VERSION, kind: 'JWTPolicy', metadata: { name: doc.name, namespace: doc.namespace }, spec };
}

const ISSUERS = NAMESPACES.map((namespace) =>
  JSON.stringify({ apiVersion: API_VERSION, kind: 'JWTIssuer', metadata: { name: 'idp', namespace }, spec: jwksUriIssuer() }),
).join('\n---\n');

/** What `serve --policies` reads from the folder: every file in path order, through the real parser. */
function load(folder: Folder): LoadedManifests {
  const loaded: LoadedManifests = { resources: [], secrets: [], diagnostics: [] };
  const files: [string, string][] = [
    ['issuers.yaml', ISSUERS],
    ['grants.yaml', renderGrants(GRANT_OF.get(folder) ?? 'none').join('\n---\n')],
    ...[...folder].map(([f, docs]): [string, string] => [f, docs.map((d) => JSON.stringify(render(d))).join('\n---\n')]),
  ];
  for (const [file, text] of files.sort(([a], [b]) => (a < b ? -1 : 1))) {
    const parsed = parseManifests(text, file);
    loaded.resources.push(...parsed.resources);
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

/** The decision for a request without a token: the deciding policy, and whether it denies. */
function decideAnonymous(snapshot: Snapshot | undefined, probe: Probe): { denied: boolean; policy?: string; mode?: string } {
  if (snapshot === undefined) return { denied: true };
  const hit: RouteMatch | RouteRefusal | undefined = buildRouter(snapshot.policies, snapshot.grants).match({
    host: HOST,
    path: probe.path,
    method: 'GET',
    ...(probe.namespace === undefined ? {} : { namespace: probe.namespace }),
  });
  if (hit === undefined) return { denied: snapshot.settings.unmatched === 'deny' };
  if (hit.refusal !== undefined) return { denied: true, policy: hit.refusal, mode: 'refused' };
  return { denied: hit.policy.mode === 'required' || hit.policy.mode === 'invalid', policy: hit.policy.id, mode: hit.policy.mode };
}

/** Whether the folder itself took the protection away: the policy is gone, opened, or no longer names the route. */
function releasedBy(folder: Folder, policyId: string, probe: Probe): boolean {
  const copies = [...folder.values()].flat().filter((d) => `JWTPolicy/${d.namespace}/${d.name}` === policyId);
  const [only] = copies;
  if (only === undefined) return true;
  if (copies.length > 1 || only.fault === 'mode7') return false;
  return only.mode !== 'Required' || !only.paths.includes(probe.path as PolicyDoc['paths'][number]);
}

test('no sequence of edits opens a protected route unless its own policy releases it', () => {
  fc.assert(
    fc.property(grantChoice, ...history(5, { minLength: 1, maxLength: 10 }), (grant, initial, edits) => {
      let folder = folderOf(initial, grant);
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
          // made; and which namespace a shared gateway's host belongs to is the admin's to move.
          if (before.policy === undefined || before.mode === 'refused') continue;
          if (probe.namespace === undefined && grantsMoved(good, next)) continue;
          assert.ok(
            releasedBy(folder, before.policy, probe),
            `${probe.path} (namespace ${probe.namespace ?? 'unknown'}) was denied by ${before.policy} and is now allowed by ${after.policy ?? 'the unmatched default'} after ${JSON.stringify(e)}`,
          );
        }
        good = next;
      }
    }),
    { numRuns: RUNS },
  );
});

/** The manifests that define a policy, as text: equal when the folder's edit left the policy alone. */
function copiesOf(folder: Folder, policyId: string): string {
  return JSON.stringify(
    [...folder.values()]
      .flat()
      .filter((d) => `JWTPolicy/${d.namespace}/${d.name}` === policyId)
      .map((d) => JSON.stringify(d))
      .sort(),
  );
}

test('a policy that is left alone keeps deciding its routes, whatever else changes (incumbency, tenancy)', () => {
  fc.assert(
    fc.property(grantChoice, ...history(5, { minLength: 1, maxLength: 10 }), (grant, initial, edits) => {
      let folder = folderOf(initial, grant);
      let good = reload(folder, undefined);
      // The folder the snapshot in force was compiled from: a refused reload leaves both as they were.
      let goodFolder = folder;
      for (const e of edits) {
        const edited = applyEdit(folder, e);
        const next = reload(edited, good);
        for (const probe of PROBES) {
          const before = decideAnonymous(good, probe);
          // On a shared gateway the host is decided by its owners: an admin's grant edit moves it,
          // and co-owners' policies may contest a route (route_contested) by design.
          if (probe.namespace === undefined && (grantsMoved(good, next) || soleOwner(next) === undefined)) continue;
          if (
            before.policy === undefined ||
            before.mode === 'invalid' ||
            before.mode === 'refused' ||
            copiesOf(goodFolder, before.policy) !== copiesOf(edited, before.policy)
          )
            continue;
          const after = decideAnonymous(next, probe);
          assert.deepEqual(
            [after.policy, after.mode],
            [before.policy, before.mode],
            `${probe.path} (namespace ${probe.namespace ?? 'unknown'}) was decided by ${before.policy} (${before.mode}), untouched, and now by ${after.policy ?? 'nothing'} (${after.mode ?? '-'}) after ${JSON.stringify(e)}`,
          );
        }
        folder = edited;
        if (next !== good) goodFolder = edited;
        good = next;
      }
    }),
    { numRuns: RUNS },
  );
});

/** Whether the grants in force changed (a grant edit lands with the first reload that is not refused). */
function grantsMoved(before: Snapshot | undefined, after: Snapshot | undefined): boolean {
  return JSON.stringify(before?.grants) !== JSON.stringify(after?.grants);
}

/** The one namespace that owns HOST on a shared gateway under a snapshot's grants, if exactly one does. */
function soleOwner(snapshot: Snapshot | undefined): string | undefined {
  const owners = hostOwners(snapshot?.grants ?? [])(HOST);
  return owners?.namespaces.size === 1 ? [...owners.namespaces][0] : undefined;
}

test("a namespace's manifests never change a decision for another namespace's traffic, nor refuse its policies", () => {
  const docsIn = (namespace: PolicyDoc['namespace']) =>
    fc.array(fc.record({ file: fileName, doc: policyDoc.map((doc) => ({ ...doc, namespace })) }), { maxLength: 4 });
  fc.assert(
    fc.property(
      docsIn('shop'),
      docsIn('other'),
      docsIn('other'),
      grantChoice,
      fc.array(fc.record({ file: fileName, doc: policyDoc }), { maxLength: 5 }),
      (shop, otherA, otherB, grant, past) => {
        // Any history: the snapshot in force came from some earlier folder (incumbency is per namespace).
        const previous = reload(folderOf(past, grant), undefined);
        const a = compileFolder(folderOf([...shop, ...otherA], grant), previous);
        const b = compileFolder(folderOf([...shop, ...otherB], grant), previous);
        const shopOwnsHost = soleOwner(a.snapshot) === 'shop';
        for (const probe of PROBES) {
          if (probe.namespace === 'other' || (probe.namespace === undefined && !shopOwnsHost)) continue;
          assert.deepEqual(
            decideAnonymous(b.snapshot, probe),
            decideAnonymous(a.snapshot, probe),
            `${probe.path} (namespace ${probe.namespace ?? 'unknown'}) changed with namespace other's manifests`,
          );
        }
        const shopDiagnostics = (r: typeof a): string[] =>
          r.diagnostics.filter((d) => d.resource.namespace === 'shop').map((d) => `${d.severity} ${d.resource.name} ${d.message}`);
        assert.deepEqual(shopDiagnostics(b), shopDiagnostics(a), "namespace shop's statuses changed with namespace other's manifests");
      },
    ),
    { numRuns: RUNS },
  );
});

test('the compiler never throws and every snapshot it makes loads into a router', () => {
  fc.assert(
    fc.property(...history(8, { minLength: 0, maxLength: 6 }), (initial, edits) => {
      let folder = folderOf(initial);
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
