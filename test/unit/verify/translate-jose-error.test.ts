// Unit tests of the single jose-error → reason-code boundary, table-driven.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errors } from 'jose';
import { KeyFetchError } from '../../../common/keys/fetch-json.ts';
import { DenyError, REASONS, type ReasonCode } from '../../../authz/reasons.ts';
import { translateJoseError } from '../../../authz/verify/translate-jose-error.ts';

const claimFailed = (claim: string, reason: string) => new errors.JWTClaimValidationFailed(`${claim} ${reason}`, {}, claim, reason);

const table: [string, unknown, ReasonCode][] = [
  ['JWKSNoMatchingKey', new errors.JWKSNoMatchingKey(), 'kid_unknown'],
  ['JWSSignatureVerificationFailed', new errors.JWSSignatureVerificationFailed(), 'signature_invalid'],
  ['JWTExpired exp', new errors.JWTExpired('"exp" claim timestamp check failed', {}, 'exp', 'check_failed'), 'token_expired'],
  ['JWTExpired iat (maxTokenAge)', new errors.JWTExpired('"iat" too far in the past', {}, 'iat', 'check_failed'), 'token_too_old'],
  ['nbf check failed', claimFailed('nbf', 'check_failed'), 'token_not_yet_valid'],
  ['iat in the future', claimFailed('iat', 'check_failed'), 'token_not_yet_valid'],
  ['iat not a number', claimFailed('iat', 'invalid'), 'claim_invalid'],
  ['aud check failed', claimFailed('aud', 'check_failed'), 'audience_mismatch'],
  ['iss check failed', claimFailed('iss', 'check_failed'), 'issuer_untrusted'],
  ['typ check failed', claimFailed('typ', 'check_failed'), 'typ_invalid'],
  ['required claim missing', claimFailed('tenant', 'missing'), 'claim_missing'],
  ['aud missing', claimFailed('aud', 'missing'), 'claim_missing'],
  ['exp not a number', claimFailed('exp', 'invalid'), 'claim_invalid'],
  ['JOSEAlgNotAllowed', new errors.JOSEAlgNotAllowed('alg'), 'alg_not_allowed'],
  ['JWSInvalid', new errors.JWSInvalid('bad'), 'token_malformed'],
  ['JWTInvalid', new errors.JWTInvalid('bad'), 'token_malformed'],
  ['JWKSTimeout', new errors.JWKSTimeout(), 'keys_unavailable'],
  ['JWKSInvalid', new errors.JWKSInvalid('bad set'), 'keys_unavailable'],
  ['JWKInvalid', new errors.JWKInvalid('bad key'), 'keys_unavailable'],
  ['KeyFetchError', new KeyFetchError('http_error', 'HTTP 500'), 'keys_unavailable'],
  ['KeyFetchError cooling down', new KeyFetchError('cooling_down', 'wait'), 'keys_unavailable'],
  ['an unknown Error', new TypeError('boom'), 'internal_error'],
  ['a thrown string', 'boom', 'internal_error'],
  ['JOSENotSupported', new errors.JOSENotSupported('nope'), 'internal_error'],
];

describe('translateJoseError', () => {
  for (const [name, error, code] of table) {
    it(`maps ${name} to ${code}`, () => assert.equal(translateJoseError(error).code, code));
  }

  it('passes a DenyError through unchanged', () => {
    const deny = new DenyError('alg_none');
    assert.equal(translateJoseError(deny), deny);
  });

  it('keeps jose messages in detail, never in the public description', () => {
    const denied = translateJoseError(new KeyFetchError('http_error', 'http://10.0.0.7/jwks answered HTTP 500'));
    assert.equal(denied.description, REASONS.keys_unavailable.description);
    assert.match(denied.detail ?? '', /10\.0\.0\.7/);
  });

  it('names the missing claim in the description', () => {
    assert.equal(translateJoseError(claimFailed('tenant', 'missing')).description, 'token lacks the required tenant claim');
  });

  it('maps key unavailability to a 503, not a 401', () => {
    assert.equal(REASONS[translateJoseError(new errors.JWKSTimeout()).code].status, 503);
  });
});
