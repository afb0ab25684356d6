/**
 * Validates one jwtgate resource the way the API server would: metadata names, the CRD schema
 * (with defaults applied) and the CEL cross-field rules. Every problem becomes an `InvalidSpec`
 * diagnostic naming the file, the resource and the field path.
 *
 * @example
 * ```ts
 * const { valid, diagnostics } = validateResource(resource, schema);
 * for (const d of diagnostics) console.error(formatDiagnostic(d));
 * // error: policies/api.yaml: JWTPolicy shop/api: spec.targets[0].paths[1].regex: is required [InvalidSpec]
 * ```
 */
import { DIAGNOSTIC_REASONS, type Diagnostic, type ResourceRef } from './diagnostics.ts';
import { crossFieldErrors } from './cross-field-rules.ts';
import type { SchemaValidator } from './schema.ts';
import {
  API_VERSION,
  DEFAULT_NAMESPACE,
  RESOURCE_KINDS,
  type ClusterJWTPolicySpec,
  type JWTHostGrantSpec,
  type JWTIssuerSpec,
  type JWTPolicySpec,
  type ObjectMeta,
  type Resource,
  type ResourceKind,
} from './resources.ts';

/** A resource that passed validation: typed, defaults applied, a private copy of the input. */
export type ValidResource =
  | { kind: 'JWTIssuer'; ref: ResourceRef; metadata: ObjectMeta; spec: JWTIssuerSpec }
  | { kind: 'JWTPolicy'; ref: ResourceRef; metadata: ObjectMeta; spec: JWTPolicySpec }
  | { kind: 'ClusterJWTPolicy'; ref: ResourceRef; metadata: ObjectMeta; spec: ClusterJWTPolicySpec }
  | { kind: 'JWTHostGrant'; ref: ResourceRef; metadata: ObjectMeta; spec: JWTHostGrantSpec };

/** RFC 1123 subdomain (object names) and label (namespaces), as Kubernetes validates them. */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Whether `kind` is one the compiler reads.
 *
 * @example
 * ```ts
 * isResourceKind('JWTPolicy'); // true
 * isResourceKind('Deployment'); // false
 * ```
 */
export function isResourceKind(kind: string): kind is ResourceKind {
  return Object.hasOwn(RESOURCE_KINDS, kind);
}

/**
 * How diagnostics name a resource: namespaced kinds get `default` when the manifest names no
 * namespace (as kubectl does), cluster-scoped kinds never carry one.
 *
 * @example
 * ```ts
 * resourceRef({ apiVersion: API_VERSION, kind: 'JWTPolicy', metadata: { name: 'a' } });
 * // { kind: 'JWTPolicy', namespace: 'default', name: 'a' }
 * ```
 */
export function resourceRef(resource: Resource): ResourceRef {
  // Typed input can still be malformed at run time (a hand-built object); never crash on it.
  const metadata: Partial<ObjectMeta> = resource.metadata ?? {};
  const namespaced = isResourceKind(resource.kind) ? RESOURCE_KINDS[resource.kind] : metadata.namespace !== undefined;
  const ref: ResourceRef = { kind: String(resource.kind), name: String(metadata.name) };
  if (namespaced) ref.namespace = String(metadata.namespace ?? DEFAULT_NAMESPACE);
  if (resource.file !== undefined) ref.file = resource.file;
  return ref;
}

/**
 * Validates a resource against `schema` (the CRDs, compiled once by the caller) and the
 * cross-field rules; `valid` is set only when there is no error. The input is not modified.
 *
 * @example
 * ```ts
 * const { valid } = validateResource(resource, schema);
 * if (valid?.kind === 'JWTIssuer') console.log(valid.spec.clockSkewSeconds); // 60 by default
 * ```
 */
export function validateResource(resource: Resource, schema: SchemaValidator): { valid?: ValidResource; diagnostics: Diagnostic[] } {
  const ref = resourceRef(resource);
  const diagnostics: Diagnostic[] = [];
  const fail = (field: string, message: string): void => {
    diagnostics.push({ resource: ref, severity: 'error', field, reason: DIAGNOSTIC_REASONS.InvalidSpec, message });
  };
  const { kind } = resource;
  if (!isResourceKind(kind)) {
    diagnostics.push({
      resource: ref,
      severity: 'warning',
      reason: DIAGNOSTIC_REASONS.UnknownKind,
      message: `kind ${kind} is not a jwtgate resource; ignored`,
    });
    return { diagnostics };
  }
  if (resource.apiVersion !== API_VERSION) fail('apiVersion', `must be ${API_VERSION}`);
  const name: unknown = resource.metadata?.name;
  if (typeof name !== 'string' || name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    fail('metadata.name', 'must be a lower-case RFC 1123 subdomain of at most 253 characters');
  }
  if (ref.namespace !== undefined && (ref.namespace.length > 63 || !DNS_LABEL.test(ref.namespace))) {
    fail('metadata.namespace', 'must be a lower-case RFC 1123 label of at most 63 characters');
  }
  const object = structuredClone({
    apiVersion: resource.apiVersion,
    kind,
    metadata: resource.metadata,
    spec: resource.spec,
    ...(resource.status === undefined ? {} : { status: resource.status }),
  });
  const schemaProblems = schema(kind, object);
  for (const e of schemaProblems) fail(e.field, e.message);
  if (schemaProblems.length === 0) for (const e of crossFieldErrors(kind, object.spec)) fail(e.field, e.message);
  if (diagnostics.length > 0) return { diagnostics };
  const metadata = { ...object.metadata, ...(ref.namespace === undefined ? {} : { namespace: ref.namespace }) };
  return { valid: { kind, ref, metadata, spec: object.spec } as ValidResource, diagnostics };
}
