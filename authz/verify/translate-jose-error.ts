/**
 * The one boundary where errors from jose (and from key loading under it) become our
 * {@link DenyError} codes. Nothing else in the service inspects a jose error.
 *
 * @example
 * ```ts
 * try { await jwtVerify(token, getKey, options); }
 * catch (error) { throw translateJoseError(error); }
 * ```
 */
import { errors } from 'jose';
import { KeyFetchError } from '../../common/keys/fetch-json.ts';
import { DenyError, type DenyReason } from '../reasons.ts';

/**
 * Maps a failure of `jwtVerify` to a deny reason. Keys that cannot be obtained are
 * `keys_unavailable` (503): an unreachable IdP is never the client's fault, so never a 401.
 * Unknown errors are `internal_error` (503, fail closed). `description` stays generic (safe for
 * the client); jose's message goes to `detail` for the log.
 *
 * @example
 * ```ts
 * translateJoseError(new errors.JWTExpired('"exp" claim timestamp check failed', {})).code; // 'token_expired'
 * ```
 */
export function translateJoseError(error: unknown): DenyError {
  if (error instanceof DenyError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  if (error instanceof KeyFetchError) return new DenyError('keys_unavailable', undefined, detail);
  if (error instanceof errors.JWTExpired) {
    // jose reports maxTokenAge (`iat` too far in the past) as JWTExpired with claim `iat`.
    return new DenyError(error.claim === 'iat' ? 'token_too_old' : 'token_expired', undefined, detail);
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    const code = claimFailureCode(error);
    return new DenyError(code, describeClaimFailure(code, error.claim), detail);
  }
  if (error instanceof errors.JWKSNoMatchingKey) return new DenyError('kid_unknown', undefined, detail);
  if (error instanceof errors.JWSSignatureVerificationFailed) return new DenyError('signature_invalid', undefined, detail);
  if (error instanceof errors.JOSEAlgNotAllowed) return new DenyError('alg_not_allowed', undefined, detail);
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return new DenyError('token_malformed', undefined, detail);
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || error instanceof errors.JWKInvalid) {
    return new DenyError('keys_unavailable', undefined, detail);
  }
  return new DenyError('internal_error', undefined, `unexpected verification error: ${detail}`);
}

function claimFailureCode(error: InstanceType<typeof errors.JWTClaimValidationFailed>): DenyReason {
  if (error.reason === 'missing') return 'claim_missing';
  switch (error.claim) {
    case 'nbf':
      return 'token_not_yet_valid';
    // An `iat` in the future (beyond the clock skew) is a token not yet valid; a non-number one
    // (reason `invalid`) is just an invalid claim.
    case 'iat':
      return error.reason === 'check_failed' ? 'token_not_yet_valid' : 'claim_invalid';
    case 'aud':
      return 'audience_mismatch';
    case 'iss':
      return 'issuer_untrusted';
    case 'typ':
      return 'typ_invalid';
    default:
      return 'claim_invalid';
  }
}

/** Names the claim (never its value) where the code alone does not say which claim failed. */
function describeClaimFailure(code: DenyReason, claim: string): string | undefined {
  if (code === 'claim_missing') return `token lacks the required ${claim} claim`;
  if (code === 'claim_invalid') return `token has an invalid ${claim} claim`;
  return undefined;
}
