/**
 * The compiler: jwtgate resources (plus the Secrets and Namespaces they refer to) in, one
 * {@link Snapshot} and per-resource diagnostics out. A pure function — no Kubernetes client, no
 * network, no files — called by the operator and by `jwtgate serve --policies DIR` alike, so a
 * manifest means the same thing on a cluster and on a laptop.
 *
 * A bad resource never takes the good ones down: it is left out with error diagnostics. A
 * policy whose issuer is missing or broken is left out too; its routes then fall to the
 * unmatched default (deny), which fails closed. Output is sorted, so equal input gives an equal
 * `sha256`.
 *
 * @example
 * ```ts
 * const { snapshot, diagnostics } = compile({ resources, secrets, namespaces, generation: 7, now: new Date() });
 * if (diagnostics.some((d) => d.severity === 'error')) console.error(diagnostics.map(formatDiagnostic).join('\n'));
 * ```
 */
import { snapshotDigest } from '../authz/snapshot/digest.ts';
import { SNAPSHOT_SCHEMA_VERSION, type Snapshot, type SnapshotIssuer, type SnapshotSettings } from '../authz/snapshot/types.ts';
import { compileIssuer } from './compile-issuer.ts';
import { compilePolicy } from './compile-policy.ts';
import { detectConflicts, type ConflictCandidate } from './detect-conflicts.ts';
import { DIAGNOSTIC_REASONS, formatResourceName, reporterFor, type Diagnostic, type ResourceRef } from './diagnostics.ts';
import type { NamespaceInput, Resource, SecretInput } from './resources.ts';
import { resourceRef, validateResource, type ValidResource } from './validate.ts';

export type { Diagnostic } from './diagnostics.ts';

export interface CompileInput {
  resources: Resource[];
  /** Secrets that JWTIssuer secretRefs may name. */
  secrets?: SecretInput[];
  /** Namespaces with their labels, for ClusterJWTPolicy selectors; absent = unknown (selectors then match nothing). */
  namespaces?: NamespaceInput[];
  /** Snapshot generation (default 1). */
  generation?: number;
  /** The compile time: `createdAt`, and the clock certificate expiry is judged by (default: now). */
  now?: Date;
  /** Service-wide settings (default: unmatched requests are denied). */
  settings?: SnapshotSettings;
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
}

/**
 * Compiles resources into a snapshot.
 *
 * @example
 * ```ts
 * compile({ resources: [] }).snapshot.policies; // [] — every request is unmatched, so denied
 * ```
 */
export function compile(input: CompileInput): CompileResult {
  const diagnostics: Diagnostic[] = [];
  const now = input.now ?? new Date();
  const unique = dropDuplicates(input.resources, diagnostics);
  const valid: ValidResource[] = [];
  for (const resource of unique) {
    const result = validateResource(resource);
    diagnostics.push(...result.diagnostics);
    if (result.valid !== undefined) valid.push(result.valid);
  }
  valid.sort((a, b) => compareRefs(a.ref, b.ref));

  const secrets = new Map((input.secrets ?? []).map((s) => [`${s.namespace}/${s.name}`, s]));
  const issuers = new Map<string, SnapshotIssuer>();
  for (const resource of valid) {
    if (resource.kind !== 'JWTIssuer') continue;
    const issuer = compileIssuer(resource, secrets, now, reporterFor(resource.ref, diagnostics));
    if (issuer !== undefined) issuers.set(issuer.id, issuer);
  }
  const declared = new Set(unique.filter((r) => r.kind === 'JWTIssuer').map((r) => formatResourceName(resourceRef(r))));
  const candidates: ConflictCandidate[] = [];
  for (const resource of valid) {
    if (resource.kind === 'JWTIssuer') continue;
    const policy = compilePolicy(resource, { declared, compiled: issuers }, input.namespaces, reporterFor(resource.ref, diagnostics));
    if (policy === undefined) continue;
    const createdAt = resource.metadata.creationTimestamp;
    candidates.push(typeof createdAt === 'string' ? { policy, ref: resource.ref, createdAt } : { policy, ref: resource.ref });
  }
  const policies = detectConflicts(candidates, (ref) => reporterFor(ref, diagnostics)).map((c) => c.policy);

  const body = {
    settings: input.settings ?? { unmatched: 'deny' as const },
    issuers: Object.fromEntries([...issuers].sort(([a], [b]) => (a < b ? -1 : 1))),
    policies: policies.sort((a, b) => (a.id < b.id ? -1 : 1)),
  };
  const snapshot: Snapshot = {
    schemaVersion: SNAPSHOT_SCHEMA_VERSION,
    generation: input.generation ?? 1,
    createdAt: now.toISOString(),
    sha256: snapshotDigest(body),
    ...body,
  };
  return { snapshot, diagnostics: diagnostics.sort((a, b) => compareRefs(a.resource, b.resource)) };
}

/** Keeps the first resource of each kind/namespace/name; the others get `DuplicateResource`. */
function dropDuplicates(resources: Resource[], diagnostics: Diagnostic[]): Resource[] {
  const first = new Map<string, ResourceRef>();
  return resources.filter((resource) => {
    const ref = resourceRef(resource);
    const key = `${ref.kind}/${formatResourceName(ref)}`;
    const kept = first.get(key);
    if (kept === undefined) { first.set(key, ref); return true; }
    diagnostics.push({ resource: ref, severity: 'error', reason: DIAGNOSTIC_REASONS.DuplicateResource, message: `${key} is already defined${kept.file === undefined ? '' : ` in ${kept.file}`}; this copy is ignored` });
    return false;
  });
}

function compareRefs(a: ResourceRef, b: ResourceRef): number {
  const key = (r: ResourceRef): string => `${r.kind}\u0000${r.namespace ?? ''}\u0000${r.name}`;
  return key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
}
