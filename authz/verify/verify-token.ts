/**
 * Verifies one token against the issuers a policy accepts and returns its verified header and
 * claims, or throws a {@link DenyError}. The order of the steps is the security argument:
 *
 * 1. syntax, size and header rules ({@link parseUnverifiedJws}) before any crypto;
 * 2. the issuer is chosen by the UNVERIFIED `iss` (only to pick keys and settings; the same
 *    value is then checked again by jose against the signed payload);
 * 3. `alg` must be pinned for that issuer BEFORE any key is looked up, so an HS256 token
 *    "signed" with the issuer's RSA public key as an HMAC secret stops here (RFC 8725 §2.1);
 * 4. `jwtVerify` with algorithms, issuer, audiences, clock skew, max age, required claims and
 *    `typ` (RFC 8725 §3.11: jose compares it case-insensitively, `application/` optional).
 *
 * Keys without `kid`: when a token has no `kid` and several keys of the issuer fit its `alg`,
 * jose's key set throws `JWKSMultipleMatchingKeys`, which yields every candidate; we try each in
 * turn (jose's documented pattern) and accept the first whose signature verifies. None does →
 * `signature_invalid`.
 *
 * @example
 * ```ts
 * const verified = await verifyToken(token, [{ keys, config: issuer, audiences: ['api'] }], { cache });
 * verified.claims.sub;
 * ```
 */
import { errors, jwtVerify, type JWTVerifyOptions } from 'jose';
import type { IssuerKeys } from '../keys/issuer-keys.ts';
import { DenyError } from '../reasons.ts';
import type { SnapshotIssuer } from '../../snapshot/types.ts';
import { DEFAULT_MAX_TOKEN_BYTES, parseUnverifiedJws } from './jws-syntax.ts';
import type { TokenCache, VerifiedToken } from './token-cache.ts';
import { translateJoseError } from './translate-jose-error.ts';

export type { VerifiedToken } from './token-cache.ts';

/** One issuer a token may come from, with the audiences this policy accepts from it. */
export interface VerifyCandidate {
  keys: IssuerKeys;
  config: SnapshotIssuer;
  /** Accepted audiences (any one must be in `aud`); undefined = audience check explicitly waived. */
  audiences: readonly string[] | undefined;
}

export interface VerifyOptions {
  /** Size cap checked before anything else (default 8 KiB). */
  maxTokenBytes?: number;
  /** The clock, for tests and `jwtgate check`; default now. A given clock bypasses the cache. */
  now?: Date;
  /**
   * Verified-token cache; without one every call verifies the signature. Its lifetimes run on the
   * wall clock, so it is skipped when `now` is given.
   */
  cache?: TokenCache;
}

/**
 * Verifies `token` for one of `candidates` (see the module comment for the steps).
 *
 * @example
 * ```ts
 * await verifyToken('a.b', candidates); // rejects with DenyError('token_malformed')
 * ```
 */
export async function verifyToken(
  token: string,
  candidates: readonly VerifyCandidate[],
  options: VerifyOptions = {},
): Promise<VerifiedToken> {
  const { unverifiedHeader, unverifiedPayload } = parseUnverifiedJws(token, options.maxTokenBytes ?? DEFAULT_MAX_TOKEN_BYTES);
  const candidate = chooseCandidate(unverifiedPayload.iss, candidates);
  const { config, audiences } = candidate;
  if (!(config.algorithms as readonly unknown[]).includes(unverifiedHeader.alg)) {
    throw new DenyError(
      'alg_not_allowed',
      undefined,
      `alg ${String(unverifiedHeader.alg)} is not in [${config.algorithms.join(', ')}] for ${config.id}`,
    );
  }
  if (audiences !== undefined && audiences.length === 0) {
    // The compiler refuses an issuer with no audiences unless the check is waived; if one gets
    // here anyway, accepting any audience would be the wrong way to fail.
    throw new DenyError('audience_mismatch', undefined, `no audiences configured for ${config.id} and the check is not waived`);
  }
  const cache = options.now === undefined ? options.cache : undefined;
  const cached = cache?.lookup(token, config, audiences);
  if (cached !== undefined) return cached;

  const now = options.now ?? new Date();
  const verifyOptions: JWTVerifyOptions = {
    algorithms: config.algorithms,
    issuer: config.issuer,
    ...(audiences === undefined ? {} : { audience: [...audiences] }),
    clockTolerance: config.clockSkewSeconds,
    ...(config.maxTokenAgeSeconds === undefined ? {} : { maxTokenAge: config.maxTokenAgeSeconds }),
    requiredClaims: config.requireExpiration ? [...config.requiredClaims, 'exp'] : [...config.requiredClaims],
    ...(config.tokenType === undefined ? {} : { typ: config.tokenType }),
    currentDate: now,
  };
  let result: Awaited<ReturnType<typeof jwtVerify>>;
  try {
    result = await verifyWithEachCandidateKey(token, candidate.keys, verifyOptions);
  } catch (error) {
    throw translateJoseError(error);
  }
  const verified: VerifiedToken = deepFreeze({ issuerId: config.id, header: { ...result.protectedHeader }, claims: { ...result.payload } });
  cache?.remember(token, config, audiences, verified, now);
  return verified;
}

function chooseCandidate(iss: unknown, candidates: readonly VerifyCandidate[]): VerifyCandidate {
  if (iss === undefined) throw new DenyError('issuer_missing');
  if (typeof iss !== 'string') throw new DenyError('claim_invalid', 'token has an invalid iss claim');
  const candidate = candidates.find((c) => c.config.issuer === iss);
  if (candidate === undefined) throw new DenyError('issuer_untrusted', undefined, `iss ${JSON.stringify(iss)} is not accepted here`);
  return candidate;
}

/** `jwtVerify`, retried with each key when several fit a token without `kid` (module comment). */
async function verifyWithEachCandidateKey(token: string, keys: IssuerKeys, options: JWTVerifyOptions) {
  try {
    return await jwtVerify(token, keys.getKey, options);
  } catch (error) {
    if (!(error instanceof errors.JWKSMultipleMatchingKeys)) throw error;
    for await (const key of error) {
      try {
        return await jwtVerify(token, key, options);
      } catch (inner) {
        if (!(inner instanceof errors.JWSSignatureVerificationFailed)) throw inner;
      }
    }
    throw new errors.JWSSignatureVerificationFailed('no key without kid verified the signature');
  }
}

/** Verified results are shared through the cache, so nobody may change one after the fact. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
