/**
 * The snapshot: the only contract between the compiler (run by the operator or by standalone
 * mode) and the authz service. It is plain JSON so it can travel through a ConfigMap or a file.
 *
 * Everything in it is already validated and resolved: the authz service never reads a CRD,
 * a Secret or a manifest. Field names here are stable across minor versions; a change that an
 * older authz could misread bumps {@link SNAPSHOT_SCHEMA_VERSION}.
 *
 * @example
 * ```ts
 * import type { Snapshot } from './types.ts';
 * const empty: Snapshot = {
 *   schemaVersion: 2, generation: 1, createdAt: '2026-01-01T00:00:00Z', sha256: '…',
 *   settings: { unmatched: 'deny' }, issuers: {}, policies: [], grants: [],
 * };
 * ```
 */
import type { Jwk, JwkSet } from '../common/keys/jwk.ts';
import type { PathParameters } from '../common/normalize-path.ts';

export type { Jwk, JwkSet, PathParameters };

/** Version of the snapshot format; authz refuses a snapshot with another major version. */
export const SNAPSHOT_SCHEMA_VERSION = 2 as const;

/** JWS algorithms jwtgate verifies. `none` is deliberately absent and can never be configured. */
export const ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
  'HS256',
  'HS384',
  'HS512',
] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

/** Where an issuer's keys come from, after the compiler resolved it. */
export type KeySource =
  /** Keys fixed at compile time: inline JWKS, PEM keys, certificates, HMAC secrets. */
  | { kind: 'static'; jwks: JwkSet }
  /** A JWKS URL, fetched and cached with jose's remote JWK set. */
  | { kind: 'jwksUri'; jwksUri: string }
  /** OIDC discovery: the document's `issuer` must equal the issuer, its `jwks_uri` is used. */
  | { kind: 'discovery'; discoveryUrl: string };

/** Tuning for remote key sets (`jwksUri` and `discovery`). */
export interface RemoteKeySettings {
  /** Background refresh period. Keys are never refetched on the request path for age alone. */
  refreshSeconds: number;
  /** Minimum time between two fetches triggered by an unknown `kid`. */
  cooldownSeconds: number;
  /** Timeout of one HTTP fetch. */
  timeoutMs: number;
}

/** A remote claim copied to a local name before rules and headers read the claims. */
export interface ClaimMapping {
  /** Claim path in the token (see {@link ClaimPath}). */
  from: ClaimPath;
  /** Top-level claim name it is copied to. */
  to: string;
}

/**
 * A claim path: the segments of a nested claim, e.g. `['realm_access', 'roles']`.
 * The compiler splits the manifest's dotted form (`realm_access.roles`, `\.` for a literal dot).
 */
export type ClaimPath = string[];

/** A trusted token issuer, compiled from a `JWTIssuer`. */
export interface SnapshotIssuer {
  /** `namespace/name` of the JWTIssuer resource. */
  id: string;
  /** Must equal the token's `iss` exactly. */
  issuer: string;
  /** Audiences accepted by default; a policy may narrow or replace them. Empty = see `audienceWaived`. */
  audiences: string[];
  /** Pinned algorithms; never empty, never `none`. */
  algorithms: Algorithm[];
  keySource: KeySource;
  /**
   * Last good public keys for a remote source, embedded by the operator so a new replica can verify
   * while the IdP is down. Absent in standalone mode.
   */
  cachedKeys?: { jwks: JwkSet; fetchedAt: string };
  remote: RemoteKeySettings;
  clockSkewSeconds: number;
  /** Reject tokens whose `iat` is older than this (requires `iat`). */
  maxTokenAgeSeconds?: number;
  /** `exp` must be present (default true). */
  requireExpiration: boolean;
  /** Claims that must be present (beyond `iss`, `exp`, and `aud` when audiences are checked). */
  requiredClaims: string[];
  /** Expected JOSE `typ` header, compared case-insensitively without an `application/` prefix (RFC 8725 §3.11). */
  tokenType?: string;
  claimMappings: ClaimMapping[];
}

/** Host match: exact (`api.example.com`) or a leading wildcard label (`*.example.com`), lower-case, no port. */
export type HostPattern = string;

/**
 * Hosts given to namespaces, for requests whose namespace the proxy does not report (a shared
 * gateway that knows only the host): a `JWTHostGrant` of the cluster admin, an HTTPRoute a
 * Gateway accepted, or standalone mode's default. For a request host the most specific pattern
 * of all grants decides (exact, then the longest wildcard suffix, then `*`), and the namespaces
 * of every grant with that pattern own it (DESIGN.md "Tenants"):
 * - one namespace: the request is decided as that namespace's traffic;
 * - several: by their policies that name the host, and a request two namespaces' policies match
 *   equally well is refused (503 route_contested), since nothing but names could order them;
 * - none (no grant covers the host): no namespaced policy decides it, and one that names the
 *   host makes it a denial (403 host_not_granted) rather than a weaker policy's or unmatched.
 */
export interface HostGrant {
  /** Where the grant comes from: `JWTHostGrant/name`, `HTTPRoute/namespace/name`, or `standalone`. */
  id: string;
  /** Host patterns; `*` = every host. Never empty. */
  hosts: (HostPattern | '*')[];
  /** Sorted namespace names; empty when a selector matched none. */
  namespaces: string[];
}

export type PathMatch = (
  | { kind: 'exact'; value: string }
  /** Segment-aware prefix: `/api` matches `/api` and `/api/x`, never `/apix`. */
  | { kind: 'prefix'; value: string }
  /** An ECMAScript regex anchored at both ends, matched against the decision path (common/normalize-path.ts). */
  | { kind: 'regex'; value: string }
) & {
  /**
   * Compare ASCII letters without regard to case (Envoy's `case_sensitive: false`), for upstreams
   * that fold case; other characters, escapes included, still compare exactly. Absent = exact
   * case, so snapshots written before this field keep their digest.
   */
  caseInsensitive?: true;
};

export interface Target {
  /** Empty = any host. */
  hosts: HostPattern[];
  /** Empty = any path. */
  paths: PathMatch[];
  /** Upper-case HTTP methods; empty = any method. */
  methods: string[];
}

/** Where a token is read from, in order. */
export type TokenSource =
  /** A request header; `prefix` is compared case-insensitively (e.g. `Bearer `). */
  { kind: 'header'; name: string; prefix?: string } | { kind: 'query'; name: string } | { kind: 'cookie'; name: string };

/** How a route treats tokens. */
export type AuthMode =
  /** A valid token is required (the default). */
  | 'required'
  /** Anonymous requests pass; a token that is present must still be valid. */
  | 'optional'
  /** No check at all: every request is allowed and nothing is forwarded. */
  | 'disabled'
  /**
   * The policy failed to compile (its status says why): every request on its routes is denied
   * with 503 `policy_invalid`. Fail closed: a broken policy must not hand its routes to a weaker,
   * less specific one. Only policies whose targets compiled can hold their routes this way.
   */
  | 'invalid';

/** One accepted issuer in a policy, with per-policy overrides. */
export interface IssuerRequirement {
  /** Key into {@link Snapshot.issuers}. */
  issuerId: string;
  /** Replaces the issuer's audiences for this policy when set. */
  audiences?: string[];
  /** Explicitly waive the audience check (never implicit). */
  audienceWaived: boolean;
  /** Token sources for this issuer; falls back to the policy's. */
  tokenSources?: TokenSource[];
}

export type RuleOperator =
  | { op: 'equals'; value: string | number | boolean }
  | { op: 'in'; values: (string | number | boolean)[] }
  | { op: 'notIn'; values: (string | number | boolean)[] }
  | { op: 'exists'; value: boolean }
  /** For arrays, or space-separated strings such as `scope`. */
  | { op: 'containsAll'; values: string[] }
  | { op: 'containsAny'; values: string[] }
  /** ECMAScript regex, unanchored, tested against a string claim. */
  | { op: 'regex'; value: string };

export type Rule = { claim: ClaimPath; description?: string } & RuleOperator;

/** How non-scalar claim values become header values. */
export type HeaderEncoding =
  /** JSON text. */
  | 'json'
  /** Array items joined with `,` (strings must not contain a comma). */
  | 'csv'
  /** Base64url of the JSON text. */
  | 'base64json';

export interface ClaimHeader {
  claim: ClaimPath;
  header: string;
  /** Encoding for arrays and objects; scalars are written as text. */
  encoding: HeaderEncoding;
}

export interface ForwardSettings {
  claimHeaders: ClaimHeader[];
  /** Header that receives the base64url of the verified payload, when set. */
  payloadHeader?: string;
  /** Remove the token from the request sent upstream. */
  stripToken: boolean;
  /** Claims copied into dynamic metadata (besides `sub`, `iss` and the policy id). */
  metadataClaims: ClaimPath[];
}

export interface DenySettings {
  /** `realm` of `WWW-Authenticate`. */
  realm: string;
  /** Include the machine-readable reason code and description in the JSON body (default true). */
  exposeReason: boolean;
  /** Extra headers sent with every denial of this policy. */
  headers: { name: string; value: string }[];
}

/** Who owns a policy, which decides precedence and tenancy. */
export type PolicyScope =
  /** A `JWTPolicy`: only for traffic whose destination namespace is `namespace`. */
  | { kind: 'namespaced'; namespace: string }
  /**
   * A `ClusterJWTPolicy`. `namespaces` is the list of namespaces its selector matched at compile
   * time (undefined = all). `override` policies beat namespaced ones; `default` ones lose to them.
   */
  | { kind: 'cluster'; enforcement: 'default' | 'override'; namespaces?: string[] };

export interface SnapshotPolicy {
  /** `Kind/namespace/name` (or `Kind/name` for cluster-scoped). */
  id: string;
  scope: PolicyScope;
  targets: Target[];
  /**
   * Only for namespaced policies: the policy applies only to requests whose destination workload
   * carries every one of these labels (label key → value). Known only in sidecar mode, where the
   * service is told its workload's labels; when the workload is unknown the policy never applies.
   * Absent = any workload. Never empty.
   */
  workloadSelector?: Record<string, string>;
  mode: AuthMode;
  /** At least one unless mode is `disabled`. */
  issuers: IssuerRequirement[];
  /** `anyOf`: one token from any listed issuer; `allOf`: a valid token from each. */
  issuerMatch: 'anyOf' | 'allOf';
  tokenSources: TokenSource[];
  rules: Rule[];
  forward: ForwardSettings;
  deny: DenySettings;
}

/** Service-wide behaviour carried in the snapshot. */
export interface SnapshotSettings {
  /** What a request that no policy matches gets. */
  unmatched: 'deny' | 'allow';
  /**
   * `;` path parameters (`/admin;x=1`): absent or `reject` = such a request is refused (400
   * `request_invalid`); `ignore` = each segment is matched without them, as Spring and Tomcat
   * read it (dot segments hidden by parameters, `/..;/`, stay refused). See common/normalize-path.ts.
   * Absent rather than `reject` by default, so snapshots written before it keep their digest.
   */
  pathParameters?: PathParameters;
}

export interface Snapshot {
  schemaVersion: typeof SNAPSHOT_SCHEMA_VERSION;
  /** Monotonic counter set by the publisher; informational for authz. */
  generation: number;
  createdAt: string;
  /** sha256 (hex) of the canonical JSON of `settings`, `issuers`, `policies` and `grants`. */
  sha256: string;
  settings: SnapshotSettings;
  issuers: Record<string, SnapshotIssuer>;
  policies: SnapshotPolicy[];
  /** Sorted by id. */
  grants: HostGrant[];
}
