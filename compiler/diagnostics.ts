/**
 * Diagnostics: what the compiler says about each resource. They become status conditions and
 * Events in the operator and lines on stderr in standalone mode, so every one names the
 * resource, the field and a stable CamelCase reason.
 *
 * @example
 * ```ts
 * const d: Diagnostic = { resource: { kind: 'JWTPolicy', namespace: 'shop', name: 'api' },
 *   severity: 'error', field: 'spec.rules[0].regex', reason: DIAGNOSTIC_REASONS.InvalidRegex,
 *   message: 'invalid regular expression' };
 * formatDiagnostic(d); // 'error: JWTPolicy shop/api: spec.rules[0].regex: invalid regular expression [InvalidRegex]'
 * ```
 */

/**
 * Every diagnostic reason: one closed set of CamelCase values, used as condition reasons
 * (Kubernetes API conventions) and in tests.
 */
export const DIAGNOSTIC_REASONS = {
  /** A manifest file or document could not be parsed. */
  ParseError: 'ParseError',
  /** A document of a kind the compiler does not read (warning). */
  UnknownKind: 'UnknownKind',
  /** Two resources with the same kind, namespace and name; none of them is enforced. */
  DuplicateResource: 'DuplicateResource',
  /** The resource breaks its CRD schema or a cross-field rule. */
  InvalidSpec: 'InvalidSpec',
  /** A claim path cannot be split (empty or reserved segment, bad escape). */
  InvalidClaimPath: 'InvalidClaimPath',
  /** An exact or prefix path that requests could never carry after normalization (dot-segments, `//`, encoded `/`). */
  InvalidPath: 'InvalidPath',
  /** A regular expression does not compile or may backtrack catastrophically. */
  InvalidRegex: 'InvalidRegex',
  /** A header name is reserved for the proxy or the protocol. */
  ReservedHeader: 'ReservedHeader',
  /** The referenced Secret does not exist. */
  SecretNotFound: 'SecretNotFound',
  /** The referenced Secret lacks the data key. */
  SecretKeyNotFound: 'SecretKeyNotFound',
  /** Key material that cannot be read (bad JSON, PEM, JWK). */
  InvalidKey: 'InvalidKey',
  /** A key refused as too weak or not meant for signatures; it is dropped (warning). */
  WeakKey: 'WeakKey',
  /** A certificate whose validity has ended; its key is still used (warning). */
  ExpiredCertificate: 'ExpiredCertificate',
  /** No key survived screening. */
  NoUsableKey: 'NoUsableKey',
  /** The pinned algorithms and the keys do not fit each other. */
  AlgorithmMismatch: 'AlgorithmMismatch',
  /** A policy names a JWTIssuer that does not exist. */
  IssuerNotFound: 'IssuerNotFound',
  /** A policy names a JWTIssuer that exists but did not compile. */
  IssuerNotReady: 'IssuerNotReady',
  /** A policy accepts two JWTIssuers with the same `issuer` (`iss`); a token could only ever select one. */
  DuplicateIssuer: 'DuplicateIssuer',
  /** No audience to check and no explicit waiver. */
  MissingAudience: 'MissingAudience',
  /** Another policy of the same scope already holds this route, or claims it too (a warning on the holder). */
  RouteConflict: 'RouteConflict',
  /** A JWTPolicy targetRef names an HTTPRoute, Gateway, rule or listener that does not exist. */
  TargetNotFound: 'TargetNotFound',
  /** A JWTPolicy targetRef names an HTTPRoute that no parent Gateway accepted (for its current generation). */
  TargetNotAccepted: 'TargetNotAccepted',
  /**
   * A JWTPolicy's targetRefs take effect under more Gateways or listeners than the 16 GEP-713
   * `status.ancestors` can list; the policy is refused rather than applied where its status is silent.
   */
  TooManyAncestors: 'TooManyAncestors',
  /**
   * A targeted HTTPRoute match jwtgate cannot express (headers, query parameters): dropped with a
   * warning when that protects more (Required), an error when it would open more.
   */
  UnsupportedMatch: 'UnsupportedMatch',
  /** A namespaced policy names a host that no grant gives its namespace (warning). */
  HostNotGranted: 'HostNotGranted',
  /** A policy that cannot be enforced and whose routes cannot be read, now or from the last good snapshot. */
  RoutesUnknown: 'RoutesUnknown',
  /** A field that has no effect in this configuration (warning). */
  IgnoredField: 'IgnoredField',
  /** A namespaceSelector could not be resolved because no Namespaces were given (warning). */
  NamespacesUnknown: 'NamespacesUnknown',
} as const;

export type DiagnosticReason = (typeof DIAGNOSTIC_REASONS)[keyof typeof DIAGNOSTIC_REASONS];

/** Which resource a diagnostic is about. `kind: 'Document'` marks a manifest that could not be read. */
export interface ResourceRef {
  kind: string;
  namespace?: string;
  name: string;
  file?: string;
}

export interface Diagnostic {
  resource: ResourceRef;
  severity: 'error' | 'warning';
  /** Field path such as `spec.targets[0].paths[1].regex`. */
  field?: string;
  reason: DiagnosticReason;
  message: string;
}

/** A diagnostic before it is attached to its resource. */
export type Finding = Omit<Diagnostic, 'resource'>;

/** Receives the findings about one resource. */
export type Report = (finding: Finding) => void;

/** The outcome of a check that either yields a value or explains why not. */
export type Checked<T> = { ok: true; value: T } | { ok: false; problem: string };

/**
 * One line for a human: severity, file, resource, field, message and reason.
 *
 * @example
 * ```ts
 * formatDiagnostic({ resource: { kind: 'JWTIssuer', namespace: 'a', name: 'b', file: 'x.yaml' },
 *   severity: 'error', field: 'spec.issuer', reason: 'InvalidSpec', message: 'is required' });
 * // 'error: x.yaml: JWTIssuer a/b: spec.issuer: is required [InvalidSpec]'
 * ```
 */
export function formatDiagnostic(d: Diagnostic): string {
  const parts = [`${d.severity}:`];
  if (d.resource.file !== undefined) parts.push(`${d.resource.file}:`);
  parts.push(`${d.resource.kind} ${formatResourceName(d.resource)}:`);
  if (d.field !== undefined) parts.push(`${d.field}:`);
  parts.push(`${d.message} [${d.reason}]`);
  return parts.join(' ');
}

/**
 * `namespace/name`, or `name` for a cluster-scoped resource.
 *
 * @example
 * ```ts
 * formatResourceName({ kind: 'JWTPolicy', namespace: 'shop', name: 'api' }); // 'shop/api'
 * ```
 */
export function formatResourceName(ref: ResourceRef): string {
  return ref.namespace === undefined ? ref.name : `${ref.namespace}/${ref.name}`;
}

/**
 * Binds findings to their resource, collecting them into `sink`.
 *
 * @example
 * ```ts
 * const out: Diagnostic[] = [];
 * const report = reporterFor({ kind: 'JWTIssuer', namespace: 'a', name: 'b' }, out);
 * report({ severity: 'warning', reason: 'WeakKey', message: 'RSA modulus is 1024 bits' });
 * ```
 */
export function reporterFor(resource: ResourceRef, sink: Diagnostic[]): Report {
  return (finding) => {
    sink.push({ resource, ...finding });
  };
}
