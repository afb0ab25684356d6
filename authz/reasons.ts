/**
 * Every reason a check can end with: one closed set of stable, machine-readable codes used
 * in the deny body, the log line and the `reason` metric label. The table below is the only
 * place a code becomes an HTTP status and an RFC 6750 error.
 *
 * @example
 * ```ts
 * throw new DenyError('token_expired', 'token expired 42s ago');
 * ```
 */

/** What the client sees in `WWW-Authenticate` (RFC 6750 §3.1), or nothing. */
export type BearerError = 'invalid_request' | 'invalid_token' | 'insufficient_scope' | undefined;

interface ReasonInfo<Status extends number = number> {
  /** 200 makes the code an {@link AllowReason}; any other status a {@link DenyReason}. */
  status: Status;
  bearerError: BearerError;
  /** Send `WWW-Authenticate`: every 401, and any status with an RFC 6750 error (§3: "MAY include it in response to other conditions"). */
  challenge: boolean;
  /** Safe public description when the thrower gives none. */
  description: string;
}

/** One row; the status stays a literal type so the allow/deny split below can be derived. */
const r = <Status extends number>(status: Status, bearerError: BearerError, description: string): ReasonInfo<Status> => ({
  status,
  bearerError,
  challenge: status === 401 || bearerError !== undefined,
  description,
});

/**
 * Reason code → status, with the pairs RFC 6750 §3.1 fixes: `invalid_token` is always 401,
 * `invalid_request` is 400, `insufficient_scope` is 403. So a token for another audience is 401:
 * it is "invalid for other reasons" (§3.1) here, and the client's remedy is a token for this
 * resource, which a 401 challenge asks for. Envoy's jwt_authn answers 403 for it; we follow the
 * RFC that clients implement, and keep 403 for a valid token the rules refuse.
 * Otherwise: 401 for a missing or unusable token, 403 for a request that may not pass (rules, no
 * policy), 400 for a request we cannot read, 413 for one too large to read, 503 when the answer
 * cannot be known (never an allow).
 */
export const REASONS = {
  allowed: r(200, undefined, 'allowed'),
  anonymous: r(200, undefined, 'no token; anonymous access allowed'),
  check_disabled: r(200, undefined, 'checks disabled for this route'),
  unmatched_allowed: r(200, undefined, 'no policy matched; unmatched requests are allowed'),

  token_missing: r(401, undefined, 'a bearer token is required'),
  token_ambiguous: r(400, 'invalid_request', 'more than one token in the request'),
  credentials_malformed: r(400, 'invalid_request', 'the header must carry exactly one credential'),
  token_too_large: r(401, 'invalid_token', 'token exceeds the size limit'),
  token_malformed: r(401, 'invalid_token', 'token is not a compact JWS'),
  header_invalid: r(401, 'invalid_token', 'token header is not valid base64url JSON'),
  payload_invalid: r(401, 'invalid_token', 'token payload is not valid base64url JSON'),
  alg_none: r(401, 'invalid_token', 'unsigned tokens are not accepted'),
  alg_not_allowed: r(401, 'invalid_token', 'token algorithm is not allowed for this issuer'),
  header_key_source_forbidden: r(401, 'invalid_token', 'token header may not name its own key (jku, x5u, jwk, x5c)'),
  header_crit_unsupported: r(401, 'invalid_token', 'token header has an unsupported critical parameter'),
  typ_invalid: r(401, 'invalid_token', 'token type is not accepted'),
  issuer_missing: r(401, 'invalid_token', 'token has no iss claim'),
  issuer_untrusted: r(401, 'invalid_token', 'token issuer is not trusted here'),
  kid_unknown: r(401, 'invalid_token', 'no key matches the token'),
  signature_invalid: r(401, 'invalid_token', 'token signature is invalid'),
  token_expired: r(401, 'invalid_token', 'token is expired'),
  token_not_yet_valid: r(401, 'invalid_token', 'token is not yet valid'),
  token_too_old: r(401, 'invalid_token', 'token was issued too long ago'),
  claim_missing: r(401, 'invalid_token', 'token lacks a required claim'),
  claim_invalid: r(401, 'invalid_token', 'token has an invalid claim'),
  audience_mismatch: r(401, 'invalid_token', 'token audience is not accepted here'),

  rule_failed: r(403, 'insufficient_scope', 'token does not grant access to this resource'),
  header_value_invalid: r(403, undefined, 'a claim cannot be forwarded safely'),
  no_policy: r(403, undefined, 'no policy covers this request'),
  // A policy names the host, but no grant gives the host to its namespace (and the proxy reported
  // none): 403 like no_policy, whatever `unmatched` says, since the named policy may be stricter.
  host_not_granted: r(403, undefined, 'this host is not granted to the namespace whose policy names it'),

  request_invalid: r(400, undefined, 'the check request could not be read'),
  // The proxy's namespace claims: 400 like request_invalid (the request cannot be attributed to a
  // tenant, so no policy can read it), not 403 (no rule refused it) and no challenge (no token fixes it).
  namespace_invalid: r(400, undefined, 'the destination namespace the proxy reports is malformed'),
  namespace_conflict: r(400, undefined, 'the proxy reports contradicting destination namespaces'),
  request_too_large: r(413, undefined, 'the request is too large to check'),
  keys_unavailable: r(503, undefined, 'signing keys are unavailable; try again later'),
  policy_invalid: r(503, undefined, 'the policy for this route is invalid; its owner must fix it'),
  route_contested: r(503, undefined, 'policies of two namespaces sharing this host claim this route; the cluster admin must resolve it'),
  not_ready: r(503, undefined, 'no policy snapshot is loaded yet'),
  internal_error: r(503, undefined, 'internal error'),
} as const satisfies Record<string, ReasonInfo>;

type ReasonTable = typeof REASONS;

/** Every code: the keys of {@link REASONS}. */
export type ReasonCode = keyof ReasonTable;

/**
 * The codes that end in an allow: those with status 200 in {@link REASONS}. Derived from the
 * table, so an allow decision with a denial's code (or the reverse) does not compile.
 *
 * @example
 * ```ts
 * const reason: AllowReason = 'anonymous';
 * ```
 */
export type AllowReason = { [Code in ReasonCode]: ReasonTable[Code]['status'] extends 200 ? Code : never }[ReasonCode];

/**
 * Every other code: the reasons a check is denied.
 *
 * @example
 * ```ts
 * const reason: DenyReason = 'token_expired';
 * ```
 */
export type DenyReason = Exclude<ReasonCode, AllowReason>;

/**
 * The allow codes at run time, from the same table: for values the compiler cannot see (a decision
 * read back from the wire or built through a cast).
 *
 * @example
 * ```ts
 * ALLOW_REASONS.has('anonymous'); // true
 * ```
 */
export const ALLOW_REASONS: ReadonlySet<ReasonCode> = new Set(
  (Object.keys(REASONS) as ReasonCode[]).filter((code) => REASONS[code].status === 200),
);

/**
 * A denial raised anywhere in the check pipeline. `description` is safe to show the client;
 * `detail` goes to the log only (it may name keys, URLs or claim values). Only a
 * {@link DenyReason} is accepted: `new DenyError('allowed')` does not compile.
 *
 * @example
 * ```ts
 * throw new DenyError('kid_unknown', undefined, `kid ${kid} is not in the issuer's key set`);
 * ```
 */
export class DenyError extends Error {
  readonly code: DenyReason;
  readonly description: string;
  readonly detail: string | undefined;

  constructor(code: DenyReason, description?: string, detail?: string) {
    super(`${code}: ${description ?? REASONS[code].description}`);
    this.name = 'DenyError';
    this.code = code;
    this.description = description ?? REASONS[code].description;
    this.detail = detail;
  }
}
