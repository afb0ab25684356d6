/**
 * Reading a decoded CheckResponse as a decision in tests: assert it is a denial and hand back
 * its HTTP status name, headers and JSON body for exact assertions.
 *
 * @example
 * ```ts
 * const d = denied(await client.check(request));
 * assert.equal(d.body.reason, 'token_missing');
 * ```
 */
import assert from 'node:assert/strict';
import { headerRecord, type DecodedCheckResponse } from '../../cli/grpc-client.ts';

/**
 * A denial as the tests assert on it.
 *
 * @example
 * ```ts
 * const d: Denial = { status: 'Unauthorized', headers: { 'www-authenticate': 'Bearer realm="x"' }, body: { reason: 'token_missing' } };
 * ```
 */
export interface Denial {
  /** The HTTP status name, e.g. `Unauthorized`. */
  status: string;
  /** Lower-case header names. */
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

/**
 * Asserts `response` is a denial (the message shows what came instead) and returns its parts.
 *
 * @example
 * ```ts
 * assert.equal(denied(await client.check(request('/elsewhere'))).body.reason, 'no_policy');
 * ```
 */
export function denied(response: DecodedCheckResponse): Denial {
  assert.equal(response.http_response, 'denied_response', `expected a denial, got ${JSON.stringify(response)}`);
  const d = response.denied_response!;
  return {
    status: String(d.status?.code),
    headers: headerRecord(d.headers ?? []),
    body: JSON.parse(d.body ?? '{}') as Record<string, unknown>,
  };
}
