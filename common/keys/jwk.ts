/**
 * The JSON Web Key and JWK set shapes (RFC 7517) as jwtgate handles them: a standard's types, not
 * ours, so they live with the key plumbing and the snapshot contract imports them.
 *
 * @example
 * ```ts
 * const jwks: JwkSet = { keys: [{ kty: 'EC', crv: 'P-256', x: '…', y: '…', kid: 'k1', alg: 'ES256' }] };
 * ```
 */

/** A JSON Web Key as published in a JWK set (RFC 7517); only public or HMAC keys appear here. */
export interface Jwk {
  kty: string;
  kid?: string;
  alg?: string;
  use?: string;
  key_ops?: string[];
  crv?: string;
  n?: string;
  e?: string;
  x?: string;
  y?: string;
  /** HMAC secret (kty `oct`), base64url. Only from a Kubernetes Secret or a local file. */
  k?: string;
  [extra: string]: unknown;
}

export interface JwkSet {
  keys: Jwk[];
}
