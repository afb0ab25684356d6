/**
 * Turns verified claims into the request headers sent upstream (`forward.claimHeaders` and
 * `forward.payloadHeader`). Every configured header is either set from the token or removed, so
 * a client can never smuggle its own `x-user-id` past us; a value that cannot be a safe header
 * value denies the request (`header_value_invalid`) instead of being mangled.
 *
 * @example
 * ```ts
 * claimHeaders({ sub: 'u1' }, { claimHeaders: [
 *   { claim: ['sub'], header: 'x-user-id', encoding: 'json' },
 *   { claim: ['email'], header: 'x-user-email', encoding: 'json' },
 * ], stripToken: false, metadataClaims: [] });
 * // { set: [{ name: 'x-user-id', value: 'u1' }], remove: ['x-user-email'] }
 * ```
 */
import type { HeaderToSet } from '../decision.ts';
import { DenyError } from '../reasons.ts';
import type { ForwardSettings, HeaderEncoding } from '../../snapshot/types.ts';
import { readClaim, type Claims } from '../authorize/claims.ts';
import { FRAMING_HEADERS } from '../../common/framing-headers.ts';

/** Largest header value we set, in UTF-8 bytes; many servers refuse 8 KiB+ header lines. */
export const MAX_HEADER_VALUE_BYTES = 8 * 1024;

export interface ClaimHeaderResult {
  /** Headers to set with overwrite semantics. */
  set: HeaderToSet[];
  /** Configured headers with no value this time: removed so the client's own copy is dropped. */
  remove: string[];
}

/** RFC 9110 §5.6.2 token characters, lower-case only (HTTP/2 and Envoy use lower-case names). */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
/** C0 controls (CR, LF, NUL, …), DEL and C1 controls (U+0085 is a line break to some parsers). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: this pattern exists to find control characters.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * The headers to set and remove for `claims` under `forward`. Strings are sent as they are,
 * numbers and booleans as their JSON text, arrays and objects in the header's `encoding`:
 * `json` (JSON text), `csv` (array of scalars joined with ','; refused for objects, nested
 * values and strings containing ','), `base64json` (base64url of the JSON text, always ASCII).
 * A missing or null claim sets nothing and removes the header. `payloadHeader` receives the
 * base64url of `payloadJson`, and is removed when there is none (an anonymous request).
 *
 * Throws `DenyError('header_value_invalid')` for an invalid or reserved header name, a value
 * with a control character, or a value over {@link MAX_HEADER_VALUE_BYTES}.
 *
 * @example
 * ```ts
 * claimHeaders({ groups: ['a', 'b'] }, { claimHeaders: [{ claim: ['groups'], header: 'x-groups', encoding: 'csv' }],
 *   payloadHeader: 'x-jwt-payload', stripToken: true, metadataClaims: [] }, '{"groups":["a","b"]}');
 * // { set: [{ name: 'x-groups', value: 'a,b' }, { name: 'x-jwt-payload', value: 'eyJncm91cHMiOlsiYSIsImIiXX0' }], remove: [] }
 * ```
 */
export function claimHeaders(claims: Claims, forward: ForwardSettings, payloadJson?: string): ClaimHeaderResult {
  const result: ClaimHeaderResult = { set: [], remove: [] };
  for (const { claim, header, encoding } of forward.claimHeaders) {
    const name = checkName(header);
    const value = readClaim(claims, claim);
    if (value === undefined || value === null) result.remove.push(name);
    else result.set.push({ name, value: checkValue(name, encodeClaim(name, value, encoding)) });
  }
  if (forward.payloadHeader !== undefined) {
    const name = checkName(forward.payloadHeader);
    if (payloadJson === undefined) result.remove.push(name);
    else result.set.push({ name, value: checkValue(name, Buffer.from(payloadJson, 'utf8').toString('base64url')) });
  }
  return result;
}

function encodeClaim(name: string, value: unknown, encoding: HeaderEncoding): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  switch (encoding) {
    case 'json':
      return JSON.stringify(value);
    case 'base64json':
      return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
    case 'csv':
      return encodeCsv(name, value);
  }
}

function encodeCsv(name: string, value: unknown): string {
  if (!Array.isArray(value)) throw refuse(name, 'csv encoding needs an array claim');
  return value
    .map((item: unknown) => {
      if (typeof item === 'number' || typeof item === 'boolean') return String(item);
      if (typeof item !== 'string') throw refuse(name, 'csv encoding needs an array of strings, numbers or booleans');
      if (item.includes(',')) throw refuse(name, 'an array item contains ","; use json or base64json encoding');
      return item;
    })
    .join(',');
}

function checkName(name: string): string {
  if (!HEADER_NAME.test(name) || FRAMING_HEADERS.has(name)) {
    throw new DenyError('header_value_invalid', undefined, `header name "${name}" is not a lower-case token or is reserved`);
  }
  return name;
}

function checkValue(name: string, value: string): string {
  if (CONTROL.test(value)) throw refuse(name, 'value contains a control character');
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > MAX_HEADER_VALUE_BYTES) throw refuse(name, `value is ${bytes} bytes; at most ${MAX_HEADER_VALUE_BYTES}`);
  return value;
}

/** The detail names the header, never the claim value (it may be personal data). */
function refuse(name: string, why: string): DenyError {
  return new DenyError('header_value_invalid', undefined, `${name}: ${why}`);
}
