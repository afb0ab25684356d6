/**
 * The compiler's inputs: jwtgate resources as Kubernetes stores them, the Secrets and Namespaces
 * they refer to, and the typed specs a resource has once it passed its CRD schema (defaults
 * applied). Field names mirror crds/*.yaml, which is the source of truth.
 *
 * @example
 * ```ts
 * const r: Resource = { apiVersion: API_VERSION, kind: 'JWTIssuer',
 *   metadata: { name: 'idp', namespace: 'shop' }, spec: { issuer: 'https://idp.example', … } };
 * ```
 */
import type { Algorithm } from '../snapshot/types.ts';

/** The API group and version of every jwtgate resource. */
export const API_VERSION = 'jwtgate.dev/v1alpha1';

/** The kinds the compiler reads, with whether they live in a namespace. */
export const RESOURCE_KINDS = { JWTIssuer: true, JWTPolicy: true, ClusterJWTPolicy: false, JWTHostGrant: false } as const;
export type ResourceKind = keyof typeof RESOURCE_KINDS;

/** The namespace Kubernetes assumes when a namespaced manifest names none. */
export const DEFAULT_NAMESPACE = 'default';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  /** RFC 3339; informational (ownership is never decided by it). */
  creationTimestamp?: string;
  generation?: number;
  [field: string]: unknown;
}

/** A jwtgate resource as read from a manifest or from the API server; `spec` is not trusted yet. */
export interface Resource {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: unknown;
  status?: unknown;
  /** The manifest file it came from (standalone mode), for diagnostics. */
  file?: string;
}

/** A Kubernetes Secret, its values already base64-decoded. */
export interface SecretInput {
  namespace: string;
  name: string;
  data: Record<string, Uint8Array>;
}

/** A Kubernetes Namespace's labels, for ClusterJWTPolicy namespaceSelectors. */
export interface NamespaceInput {
  name: string;
  labels: Record<string, string>;
}

export interface SecretKeyRef {
  name: string;
  key: string;
  format: 'JWKS' | 'PEM' | 'HMAC';
  /** Format HMAC only: the secret's `kid`. */
  keyId?: string;
}

/** JWTIssuer.spec after schema defaults. */
export interface JWTIssuerSpec {
  issuer: string;
  audiences?: string[];
  algorithms: Algorithm[];
  jwksUri?: string;
  discovery?: { url?: string };
  jwks?: { keys: Record<string, unknown>[] };
  secretRef?: SecretKeyRef;
  clockSkewSeconds: number;
  maxTokenAgeSeconds?: number;
  requireExpiration: boolean;
  requiredClaims?: string[];
  tokenType?: string;
  remote: { refreshSeconds: number; cooldownSeconds: number; timeoutMs: number };
  claimMappings?: { from: string; to: string }[];
}

export interface PathSpec {
  exact?: string;
  prefix?: string;
  regex?: string;
  caseInsensitive?: boolean;
}

export interface TargetSpec {
  hosts?: string[];
  paths?: PathSpec[];
  methods?: string[];
}

export interface TokenSourceSpec {
  header?: { name: string; prefix?: string };
  query?: string;
  cookie?: string;
}

export interface IssuerRefSpec {
  name: string;
  /** Only on ClusterJWTPolicy, where it is required. */
  namespace?: string;
  audiences?: string[];
  skipAudienceCheck?: boolean;
  tokenSources?: TokenSourceSpec[];
}

export interface RuleSpec {
  claim: string;
  equals?: unknown;
  in?: unknown[];
  notIn?: unknown[];
  exists?: boolean;
  containsAll?: string[];
  containsAny?: string[];
  regex?: string;
  description?: string;
}

/**
 * A GEP-713 `LocalPolicyTargetReferenceWithSectionName`: a Gateway API object in the policy's own
 * namespace (there is no namespace field), optionally one HTTPRoute rule or Gateway listener.
 */
export interface TargetRefSpec {
  group: 'gateway.networking.k8s.io';
  kind: 'HTTPRoute' | 'Gateway';
  name: string;
  sectionName?: string;
}

/** JWTPolicy.spec after schema defaults. */
export interface JWTPolicySpec {
  /** Exactly one of targets and targetRefs (JWTPolicy); a ClusterJWTPolicy always has targets. */
  targets?: TargetSpec[];
  /** JWTPolicy only: the Gateway API routes or Gateways whose requests it covers (compile-route-refs.ts). */
  targetRefs?: TargetRefSpec[];
  /** JWTPolicy only (the ClusterJWTPolicy schema has no such field). */
  workloadSelector?: { matchLabels: Record<string, string> };
  mode: 'Required' | 'Optional' | 'Disabled';
  issuers?: { anyOf?: IssuerRefSpec[]; allOf?: IssuerRefSpec[] };
  tokenSources: TokenSourceSpec[];
  rules?: RuleSpec[];
  forward: {
    claimsToHeaders?: { claim: string; header: string; encoding: 'json' | 'csv' | 'base64json' }[];
    payloadHeader?: string;
    token: 'Strip' | 'Keep';
    metadataClaims?: string[];
  };
  deny: { realm: string; exposeReason: boolean; headers?: { name: string; value: string }[] };
}

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

/** metav1.LabelSelector. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

/** ClusterJWTPolicy.spec after schema defaults. */
export interface ClusterJWTPolicySpec extends Omit<JWTPolicySpec, 'targets' | 'targetRefs'> {
  targets: TargetSpec[];
  namespaceSelector?: LabelSelector;
  enforcement: 'Default' | 'Override';
}

/** JWTHostGrant.spec after schema defaults. */
export interface JWTHostGrantSpec {
  hostnames: string[];
  namespaces?: string[];
  namespaceSelector?: LabelSelector;
}

/**
 * The Gateway API group whose HTTPRoutes and Gateways a JWTPolicy's targetRefs name
 * (gateway.networking.k8s.io/v1, standard channel).
 */
export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';

/**
 * An HTTPRoute or Gateway as the API server or a manifest has it. jwtgate does not own these
 * kinds and validates them against no schema of its own, so every field below is what the
 * Gateway API defines but may be missing or malformed: the compiler reads them defensively
 * (compiler/gateway-api.ts) and treats what it cannot read as not there.
 */
export interface GatewayApiObject<Spec, Status = unknown> {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; generation?: number };
  spec?: Partial<Spec>;
  status?: Partial<Status>;
  /** The manifest file it came from (standalone mode), for diagnostics. */
  file?: string;
}

/** `ParentReference` (HTTPRoute `spec.parentRefs[]`, `status.parents[].parentRef`); group and kind default to a Gateway. */
export interface GatewayParentRef {
  group?: string;
  kind?: string;
  namespace?: string;
  name: string;
  sectionName?: string;
  port?: number;
}

/** `metav1.Condition` as a Gateway controller writes it. */
export interface GatewayCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  observedGeneration?: number;
}

export interface HTTPRouteMatchSpec {
  /** Absent = `{ type: PathPrefix, value: '/' }`. */
  path?: { type?: 'Exact' | 'PathPrefix' | 'RegularExpression'; value?: string };
  headers?: { type?: string; name: string; value: string }[];
  queryParams?: { type?: string; name: string; value: string }[];
  method?: string;
}

export interface HTTPRouteRuleSpec {
  /** GEP-995: what a policy's `sectionName` names. */
  name?: string;
  /** Absent or empty = one match, every path. */
  matches?: HTTPRouteMatchSpec[];
}

/** An HTTPRoute (gateway.networking.k8s.io/v1). */
export type HTTPRouteInput = GatewayApiObject<
  { parentRefs: GatewayParentRef[]; hostnames: string[]; rules: HTTPRouteRuleSpec[] },
  { parents: { parentRef: GatewayParentRef; controllerName?: string; conditions?: GatewayCondition[] }[] }
>;

export interface GatewayListenerSpec {
  name: string;
  /** Absent = every host. */
  hostname?: string;
  port?: number;
  protocol?: string;
  allowedRoutes?: {
    /** `from` defaults to Same. */
    namespaces?: { from?: 'All' | 'Same' | 'Selector'; selector?: LabelSelector };
    /** Absent or empty = the protocol's route kinds (HTTPRoute for HTTP and HTTPS). */
    kinds?: { group?: string; kind: string }[];
  };
}

/** A Gateway (gateway.networking.k8s.io/v1). */
export type GatewayInput = GatewayApiObject<{ gatewayClassName: string; listeners: GatewayListenerSpec[] }>;
