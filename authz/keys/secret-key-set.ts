/**
 * Resolves HMAC (`HS*`) verification keys from a static JWK set. jose's `createLocalJWKSet`
 * refuses symmetric algorithms by design, so shared secrets (from a Kubernetes Secret or a
 * local file) get this small resolver with the same selection rules and the same errors.
 *
 * @example
 * ```ts
 * const secrets = createSecretKeySet({ keys: [{ kty: 'oct', kid: 'a', k: '…' }] });
 * const key = await secrets({ alg: 'HS256', kid: 'a' });
 * ```
 */
import { errors, type CryptoKey, type JWSHeaderParameters } from 'jose';
import type { Jwk, JwkSet } from '../../snapshot/types.ts';

/** Hash length in bytes per HMAC algorithm (RFC 7518 §3.2). */
const HMAC_HASHES: Readonly<Record<string, { hash: string; bytes: number }>> = {
  HS256: { hash: 'SHA-256', bytes: 32 },
  HS384: { hash: 'SHA-384', bytes: 48 },
  HS512: { hash: 'SHA-512', bytes: 64 },
};

/**
 * Whether `alg` is an HMAC algorithm, i.e. needs a shared secret rather than a public key.
 *
 * @example
 * ```ts
 * isHmacAlgorithm('HS256'); // true
 * isHmacAlgorithm('RS256'); // false
 * ```
 */
export function isHmacAlgorithm(alg: unknown): boolean {
  return typeof alg === 'string' && Object.hasOwn(HMAC_HASHES, alg);
}

export type SecretKeySet = (header: JWSHeaderParameters) => Promise<CryptoKey>;

/**
 * Builds the resolver. Selection, like jose's local set: `kty` is `oct`, the header's `kid` (when
 * present) equals the key's, the key's `alg` (when present) equals the header's. A secret
 * shorter than the hash output is never a candidate (RFC 7518 §3.2 "MUST"). No candidate →
 * `JWKSNoMatchingKey`; several → `JWKSMultipleMatchingKeys` whose async iterator yields each,
 * exactly as jose's own key sets do, so the verifier has one rule for both.
 *
 * @example
 * ```ts
 * await createSecretKeySet({ keys: [] })({ alg: 'HS256' }); // throws JWKSNoMatchingKey
 * ```
 */
export function createSecretKeySet(jwks: JwkSet): SecretKeySet {
  const secrets = jwks.keys.filter((jwk) => jwk.kty === 'oct' && typeof jwk.k === 'string');
  const imported = new Map<string, Promise<CryptoKey>>();
  const importSecret = (jwk: Jwk, index: number, alg: string, hash: string): Promise<CryptoKey> => {
    const cacheKey = `${index}:${alg}`;
    let key = imported.get(cacheKey);
    if (key === undefined) {
      key = crypto.subtle.importKey('raw', Buffer.from(String(jwk.k), 'base64url'), { name: 'HMAC', hash }, false, ['verify']);
      imported.set(cacheKey, key);
    }
    return key;
  };
  return async (header) => {
    const { alg, kid } = header;
    const spec = typeof alg === 'string' ? HMAC_HASHES[alg] : undefined;
    if (alg === undefined || spec === undefined) throw new errors.JWKSNoMatchingKey();
    const candidates = secrets
      .map((jwk, index) => ({ jwk, index }))
      .filter(
        ({ jwk }) =>
          (kid === undefined || jwk.kid === kid) &&
          (jwk.alg === undefined || jwk.alg === alg) &&
          Buffer.from(String(jwk.k), 'base64url').length >= spec.bytes,
      );
    const [first] = candidates;
    if (first === undefined) throw new errors.JWKSNoMatchingKey();
    if (candidates.length === 1) return importSecret(first.jwk, first.index, alg, spec.hash);
    const error = new errors.JWKSMultipleMatchingKeys();
    error[Symbol.asyncIterator] = async function* yieldCandidates() {
      for (const { jwk, index } of candidates) yield await importSecret(jwk, index, alg, spec.hash);
    };
    throw error;
  };
}
