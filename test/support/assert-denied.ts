// The assertion the verifier's tests share: a promise rejects with exactly one of our reasons.
import assert from 'node:assert/strict';
import { DenyError, type ReasonCode } from '../../authz/reasons.ts';

/**
 * Asserts that `promise` rejects with a {@link DenyError} of exactly `code`; returns the error.
 *
 * @example
 * ```ts
 * await assertDenied(verifyToken(expired, candidates), 'token_expired');
 * ```
 */
export async function assertDenied(promise: Promise<unknown>, code: ReasonCode): Promise<DenyError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(error instanceof DenyError, `expected DenyError ${code}, got ${error === undefined ? 'success' : String(error)}`);
  assert.equal(error.code, code, `${error.code}: ${error.detail ?? ''}`);
  return error;
}
