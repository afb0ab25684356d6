/**
 * The compiler: jwtgate resources (plus the Secrets and Namespaces they refer to) in, one
 * {@link Snapshot} and per-resource diagnostics out. A pure function — no Kubernetes client, no
 * network, no files (the CRD schemas come in compiled, as `schema`) — called by the operator and by `jwtgate serve --policies DIR` alike, so a
 * manifest means the same thing on a cluster and on a laptop.
 *
 * A bad resource never takes the good ones down, and never opens what it protected: a policy
 * that cannot be enforced as written (invalid, duplicated, a missing issuer, a conflict) holds
 * every route it names, or held in the `previous` snapshot, closed (mode `invalid`, 503
 * policy_invalid), and routes keep the policy that held them (resolve-claims.ts). When a broken
 * policy's routes cannot be read at all, `refusal` says so. Output is sorted, so equal input
 * gives an equal `sha256`.
 *
 * @example
 * ```ts
 * const schema = createSchemaValidator(readCrds()); // once, at start-up
 * const { snapshot, diagnostics } = compile({ schema, resources, secrets, namespaces, generation: 7, now: new Date() });
 * if (diagnostics.some((d) => d.severity === 'error')) console.error(diagnostics.map(formatDiagnostic).join('\n'));
 * ```
 */
import { snapshotDigest } from '../snapshot/digest.ts';
import {
  SNAPSHOT_SCHEMA_VERSION,
  type HostGrant,
  type Snapshot,
  type SnapshotIssuer,
  type SnapshotPolicy,
  type SnapshotSettings,
} from '../snapshot/types.ts';
import { compileGrant, loneNamespaceGrant, reportUngrantedHosts, type ValidGrant } from './compile-grant.ts';
import { compileIssuer } from './compile-issuer.ts';
import { compilePolicy, heldPolicy, policyId, type ValidPolicy } from './compile-policy.ts';
import { DIAGNOSTIC_REASONS, formatResourceName, reporterFor, type Diagnostic, type ResourceRef } from './diagnostics.ts';
import { mergeCopies, readBrokenPolicy, type BrokenPolicy } from './read-broken-policy.ts';
import { resolveClaims, type Claimant } from './resolve-claims.ts';
import { compileTargetRefs } from './compile-route-refs.ts';
import { indexGatewayApi } from './gateway-api.ts';
import { judgeAncestors, type PolicyAttachment, type RefAncestor } from './policy-ancestors.ts';
import type { GatewayInput, HTTPRouteInput, NamespaceInput, Resource, SecretInput, TargetRefSpec } from './resources.ts';
import type { SchemaValidator } from './schema.ts';
import { resourceRef, validateResource, type ValidResource } from './validate.ts';

export type { Diagnostic } from './diagnostics.ts';

export interface CompileInput {
  /** The CRD schemas every resource is validated against (compiler/schema.ts). */
  schema: SchemaValidator;
  resources: Resource[];
  /** Secrets that JWTIssuer secretRefs may name. */
  secrets?: SecretInput[];
  /** Namespaces with their labels, for ClusterJWTPolicy selectors; absent = unknown (selectors then match nothing). */
  namespaces?: NamespaceInput[];
  /**
   * Gateway API HTTPRoutes, with their status, for JWTPolicy targetRefs (compile-route-refs.ts);
   * absent = the Gateway API is not known (not installed, or not read), so every ref to a route is
   * not found.
   */
  httpRoutes?: HTTPRouteInput[];
  /** Gateway API Gateways: the parents that accept routes, and targets themselves; absent = not known. */
  gateways?: GatewayInput[];
  /** Snapshot generation (default 1). */
  generation?: number;
  /** The compile time: `createdAt`, and the clock certificate expiry is judged by (default: now). */
  now?: Date;
  /** Service-wide settings (default: unmatched requests are denied). */
  settings?: SnapshotSettings;
  /**
   * Standalone mode: when no JWTHostGrant is given and the namespaced policies all live in one
   * namespace, that namespace is granted the hosts they name (compile-grant.ts). Never on a cluster.
   */
  grantLoneNamespace?: boolean;
  /**
   * The last good snapshot (published, or in force): who holds which route (incumbency) and
   * which routes a policy that no longer compiles claimed. Absent on a cold start.
   */
  previous?: Snapshot;
}

export interface CompileResult {
  snapshot: Snapshot;
  /** Sorted by resource; errors mean the resource is not (fully) in the snapshot. */
  diagnostics: Diagnostic[];
  /**
   * Why this snapshot must not replace the last good one, when it must not: a policy whose
   * routes cannot be read from its manifest nor from `previous`. Standalone mode refuses the
   * reload; the snapshot is still returned for diagnostics.
   */
  refusal?: string;
  /**
   * GEP-713 status of each JWTPolicy with targetRefs: the ancestors (Gateways, listeners, or a
   * route that names none) its refs take effect under, and whether it is accepted at each
   * (policy-ancestors.ts). Sorted by resource; not part of the snapshot.
   */
  attachments: PolicyAttachment[];
}

/**
 * Compiles resources into a snapshot.
 *
 * @example
 * ```ts
 * compile({ schema, resources: [] }).snapshot.policies; // [] — every request is unmatched, so denied
 * ```
 */
export function compile(input: CompileInput): CompileResult {
  const diagnostics: Diagnostic[] = [];
  const now = input.now ?? new Date();
  const previous = new Map((input.previous?.policies ?? []).map((p) => [p.id, p]));
  const refusals: string[] = [];
  const issuerResources: Extract<ValidResource, { kind: 'JWTIssuer' }>[] = [];
  const grantResources: ValidGrant[] = [];
  const policyResources: ValidPolicy[] = [];
  const broken: (BrokenPolicy & { ref: ResourceRef })[] = [];
  const keptGrants: HostGrant[] = [];
  const gatewayApi = indexGatewayApi({ httpRoutes: input.httpRoutes, gateways: input.gateways, namespaces: input.namespaces });
  /** What the Gateways' acceptance of targeted HTTPRoutes grants, by grant id (several policies may target one route). */
  const routeGrants = new Map<string, HostGrant>();
  const addRouteGrants = (grants: readonly HostGrant[]): void => {
    for (const g of grants) routeGrants.set(g.id, g);
  };
  /** Where each policy's targetRefs reach, by policy id, for its GEP-713 ancestors. */
  const reached = new Map<string, { ref: ResourceRef; ancestors: RefAncestor[] }>();
  const addReached = (ref: ResourceRef, ancestors: readonly RefAncestor[]): void => {
    const id = policyId(ref);
    reached.set(id, { ref, ancestors: [...(reached.get(id)?.ancestors ?? []), ...ancestors] });
  };
  // A policy that cannot be enforced still holds the routes its targetRefs name closed; the refs
  // are read as a Required policy's would be (header matches broadened), since it denies anyway.
  const readTargetRefs = (refs: readonly TargetRefSpec[], namespace: string, ref: ResourceRef) => {
    const read = compileTargetRefs(
      refs,
      namespace,
      'Required',
      gatewayApi,
      () => {},
      () => {},
    );
    addRouteGrants(read.grants);
    addReached(ref, read.ancestors);
    return read.targets;
  };
  for (const copies of groupCopies(input.resources, diagnostics)) {
    const checked = copies.map((resource) => ({ resource, ref: resourceRef(resource), ...validateResource(resource, input.schema) }));
    for (const c of checked) diagnostics.push(...c.diagnostics);
    const [only] = checked;
    if (checked.length === 1 && only?.valid !== undefined) {
      if (only.valid.kind === 'JWTIssuer') issuerResources.push(only.valid);
      else if (only.valid.kind === 'JWTHostGrant') grantResources.push(only.valid);
      else policyResources.push(only.valid);
      continue;
    }
    if (only?.resource.kind === 'JWTHostGrant') {
      // A grant that does not compile keeps its last good version: dropping it could hand its
      // hosts to a broader grant's namespaces.
      const kept = input.previous?.grants.find((g) => g.id === policyId(only.ref));
      if (kept === undefined) refusals.push(`${describeRef(only.ref)}: a grant that does not compile and was never in force`);
      else keptGrants.push(kept);
      continue;
    }
    if (only === undefined || !isPolicyKind(only.resource.kind)) continue;
    // Invalid or duplicated: the policy cannot be enforced; read what it names so it holds that closed.
    const read = mergeCopies(
      checked.map((c) =>
        readBrokenPolicy(
          c.resource,
          c.ref,
          c.diagnostics,
          input.namespaces,
          previous.get(policyId(c.ref)),
          reporterFor(c.ref, diagnostics),
          (refs, namespace) => readTargetRefs(refs, namespace, c.ref),
        ),
      ),
    );
    if (read === undefined) refusals.push(`${describeRef(only.ref)}: a policy whose name cannot be read`);
    else broken.push({ ...read, ref: only.ref });
  }
  issuerResources.sort((a, b) => compareRefs(a.ref, b.ref));

  const secrets = new Map((input.secrets ?? []).map((s) => [`${s.namespace}/${s.name}`, s]));
  const issuers = new Map<string, SnapshotIssuer>();
  for (const resource of issuerResources) {
    const issuer = compileIssuer(resource, secrets, now, reporterFor(resource.ref, diagnostics));
    if (issuer !== undefined) issuers.set(issuer.id, issuer);
  }
  const declared = new Set(input.resources.filter((r) => r.kind === 'JWTIssuer').map((r) => formatResourceName(resourceRef(r))));
  const claimants: Claimant[] = [];
  const compiled = new Map<string, SnapshotPolicy>();
  for (const resource of policyResources) {
    const result = compilePolicy(
      resource,
      { declared, compiled: issuers },
      input.namespaces,
      reporterFor(resource.ref, diagnostics),
      gatewayApi,
    );
    addRouteGrants(result.grants);
    if (result.ancestors !== undefined) addReached(resource.ref, result.ancestors);
    const { id, scope, workloadSelector } = result.policy;
    if (!result.broken) compiled.set(id, result.policy);
    claimants.push({
      id,
      ref: resource.ref,
      scope,
      ...(workloadSelector === undefined ? {} : { workloadSelector }),
      current: result.targetsReadable ? result.policy.targets : undefined,
      previous: previous.get(id)?.targets ?? [],
      broken: result.broken,
    });
  }
  for (const b of broken) claimants.push({ ...b, current: b.targets, previous: previous.get(b.id)?.targets ?? [], broken: true });
  for (const c of claimants) {
    if (c.current !== undefined || c.previous.length > 0) continue;
    refusals.push(`${c.id}: its routes cannot be read, and the last good snapshot holds none for it`);
    reporterFor(
      c.ref,
      diagnostics,
    )({
      severity: 'error',
      field: 'spec.targets',
      reason: DIAGNOSTIC_REASONS.RoutesUnknown,
      message:
        'its routes cannot be read and the last good snapshot holds none for it, so nothing can be held closed in its place: standalone mode refuses this reload, the operator leaves this policy out',
    });
  }
  const resolved = resolveClaims(claimants, input.previous?.policies ?? [], (ref) => reporterFor(ref, diagnostics)).flatMap((claim) => {
    const { claimant } = claim;
    if (claim.enforced) return [{ policy: compiled.get(claimant.id) as SnapshotPolicy, ref: claimant.ref }];
    return claim.held.length === 0 ? [] : [{ policy: heldPolicy(claimant, claim.held), ref: claimant.ref }];
  });
  const policies = resolved.map((r) => r.policy);

  const declaresGrants = input.resources.some((r) => r.kind === 'JWTHostGrant');
  const lone = input.grantLoneNamespace === true && !declaresGrants ? loneNamespaceGrant(policies) : undefined;
  const grants = [
    ...grantResources.map((g) => compileGrant(g, input.namespaces, reporterFor(g.ref, diagnostics))),
    ...keptGrants,
    ...(lone === undefined ? [] : [lone]),
    ...routeGrants.values(),
  ];
  reportUngrantedHosts(resolved, grants, (ref) => reporterFor(ref, diagnostics));

  const body = {
    settings: input.settings ?? { unmatched: 'deny' as const },
    issuers: Object.fromEntries([...issuers].sort(([a], [b]) => (a < b ? -1 : 1))),
    policies: policies.sort((a, b) => (a.id < b.id ? -1 : 1)),
    grants: grants.sort((a, b) => (a.id < b.id ? -1 : 1)),
  };
  const snapshot: Snapshot = {
    schemaVersion: SNAPSHOT_SCHEMA_VERSION,
    generation: input.generation ?? 1,
    createdAt: now.toISOString(),
    sha256: snapshotDigest(body),
    ...body,
  };
  // Last: every diagnostic is in (conflicts and RoutesUnknown included), and each verdict reads them.
  const attachments = [...reached.values()]
    .sort((a, b) => compareRefs(a.ref, b.ref))
    .map(({ ref, ancestors }) =>
      judgeAncestors(
        ref,
        ancestors,
        diagnostics.filter((d) => sameResource(d.resource, ref)),
      ),
    );
  return {
    snapshot,
    diagnostics: diagnostics.sort((a, b) => compareRefs(a.resource, b.resource)),
    ...(refusals.length === 0 ? {} : { refusal: refusals.join('; ') }),
    attachments,
  };
}

function isPolicyKind(kind: string): kind is ValidPolicy['kind'] {
  return kind === 'JWTPolicy' || kind === 'ClusterJWTPolicy';
}

/**
 * Groups the resources by kind, namespace and name, in input order. Two or more copies of one
 * name are all refused (`DuplicateResource`): the first file never wins, since which file is
 * first is an accident of naming.
 */
function groupCopies(resources: Resource[], diagnostics: Diagnostic[]): Resource[][] {
  const groups = new Map<string, Resource[]>();
  for (const resource of resources) {
    const ref = resourceRef(resource);
    const key = `${ref.kind}/${formatResourceName(ref)}`;
    groups.set(key, [...(groups.get(key) ?? []), resource]);
  }
  for (const [key, copies] of groups) {
    if (copies.length < 2) continue;
    const files = copies.map((c) => c.file).filter((f) => f !== undefined);
    for (const copy of copies) {
      diagnostics.push({
        resource: resourceRef(copy),
        severity: 'error',
        reason: DIAGNOSTIC_REASONS.DuplicateResource,
        message: `${key} is defined ${copies.length} times${files.length > 0 ? ` (${files.join(', ')})` : ''}; none of the copies is enforced until only one is left`,
      });
    }
  }
  return [...groups.values()];
}

function describeRef(ref: ResourceRef): string {
  return `${ref.file === undefined ? '' : `${ref.file}: `}${ref.kind} ${formatResourceName(ref)}`;
}

function compareRefs(a: ResourceRef, b: ResourceRef): number {
  const key = (r: ResourceRef): string => `${r.kind}\u0000${r.namespace ?? ''}\u0000${r.name}`;
  return key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
}

/** The same resource (kind, namespace, name), whichever file it was read from. */
function sameResource(a: ResourceRef, b: ResourceRef): boolean {
  return a.kind === b.kind && a.namespace === b.namespace && a.name === b.name;
}
