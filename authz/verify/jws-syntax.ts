/**
 * The first verification step: refuses anything that is not a plausible compact JWS before a
 * byte of it reaches crypto, key lookup or jose. Everything it returns is UNVERIFIED.
 *
 * @example
 * ```ts
 * const jws = parseUnverifiedJws(token, 8192);
 * jws.unverifiedPayload.iss; // only to choose the issuer; never trusted before jwtVerify
 * ```
 */
import { DenyError } from '../reasons.ts';

/** Tokens larger than this are refused unread (a header line is not a place for megabytes). */
export const DEFAULT_MAX_TOKEN_BYTES = 8 * 1024;

/**
 * Strict compact serialization (RFC 7515 §7.1): three base64url segments without padding
 * (RFC 7515 §2 forbids `=`), no whitespace, no standard-base64 `+` or `/`. The signature may be
 * empty only so that `alg: none` tokens get their own reason code below.
 */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * Header parameters through which a token names its own verification key. A token must never
 * choose where its key comes from (RFC 8725 §3.10, the classic `jku`/`jwk` injection attacks):
 * keys come from the issuer's configured source only.
 */
const KEY_SOURCE_PARAMETERS = ['jku', 'x5u', 'jwk', 'x5c'] as const;

/** A compact JWS whose segments decoded to JSON objects. Nothing in it is verified yet. */
export interface UnverifiedJws {
  unverifiedHeader: Record<string, unknown>;
  unverifiedPayload: Record<string, unknown>;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Checks size, syntax and header rules of a compact JWS, and decodes its header and payload.
 * Throws a {@link DenyError} with a specific code for every defect; never anything else.
 *
 * @example
 * ```ts
 * parseUnverifiedJws('a.b', 8192); // throws DenyError('token_malformed')
 * parseUnverifiedJws(token, 8192).unverifiedHeader.alg; // 'RS256'
 * ```
 */
export function parseUnverifiedJws(token: string, maxTokenBytes: number = DEFAULT_MAX_TOKEN_BYTES): UnverifiedJws {
  // String length is a lower bound of the UTF-8 size; any non-ASCII character fails the syntax
  // check below, so for every token that gets further the two are equal.
  if (token.length > maxTokenBytes) {
    throw new DenyError('token_too_large', undefined, `token is ${token.length} bytes; limit ${maxTokenBytes}`);
  }
  const segments = token.split('.');
  if (segments.length === 5) {
    // RFC 7516 §7.1: five segments is a compact JWE. We only verify signatures.
    throw new DenyError('token_malformed', 'encrypted tokens (JWE) are not accepted', 'token has 5 segments (JWE)');
  }
  if (segments.length !== 3 || !COMPACT_JWS.test(token)) {
    throw new DenyError('token_malformed', undefined, `token has ${segments.length} segment(s) or characters outside base64url`);
  }
  const [headerSegment = '', payloadSegment = '', signatureSegment = ''] = segments;
  checkCanonical(headerSegment, 'header');
  checkCanonical(payloadSegment, 'payload');
  checkCanonical(signatureSegment, 'signature');
  const header = decodeJsonObject(headerSegment);
  if (header === undefined) throw new DenyError('header_invalid');
  const payload = decodeJsonObject(payloadSegment);
  if (payload === undefined) throw new DenyError('payload_invalid');
  checkHeader(header);
  return { unverifiedHeader: header, unverifiedPayload: payload };
}

/** The value (0–63) of each base64url character (RFC 4648 §5, table 2). */
const BASE64URL_VALUE: ReadonlyMap<string, number> = new Map(
  [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'].map((char, value) => [char, value]),
);

/**
 * Refuses a segment that is not the one encoding of its bytes. Decoders (Buffer, jose) ignore
 * what cannot be bytes, so without this check a token has several spellings that all verify:
 * - a length of 4n+1: one character of 6 bits cannot complete a byte; the decoder drops it
 *   (RFC 4648 §5 encodings have lengths 4n, 4n+2 and 4n+3 only);
 * - non-zero pad bits: in a 4n+2 (4n+3) segment only the top 2 (4) bits of the last character
 *   belong to a byte; RFC 4648 §3.5 requires encoders to set the rest to zero and lets decoders
 *   refuse otherwise. Flipping them (`…A` → `…B`) would give a second spelling of the same
 *   signature: a token that hashes differently (the verified-token cache, replay lists, logs)
 *   yet verifies.
 * Both are malleability, not damage, so they are `token_malformed` rather than an invalid
 * signature. Every character is already known to be base64url here.
 */
function checkCanonical(segment: string, part: 'header' | 'payload' | 'signature'): void {
  const remainder = segment.length % 4;
  if (remainder === 1) {
    throw new DenyError(
      'token_malformed',
      `token ${part} has an impossible base64url length`,
      `${part} segment is ${segment.length} characters (4n+1)`,
    );
  }
  if (remainder === 0) return;
  const padBits = remainder === 2 ? 0b1111 : 0b11;
  const last = BASE64URL_VALUE.get(segment.at(-1) ?? '') ?? 0;
  if ((last & padBits) !== 0) {
    throw new DenyError(
      'token_malformed',
      `token ${part} is not canonical base64url (non-zero pad bits)`,
      `${part} segment ends in ${JSON.stringify(segment.at(-1))}`,
    );
  }
}

/** Base64url → UTF-8 → JSON object, or undefined when any step fails. */
function decodeJsonObject(segment: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(Buffer.from(segment, 'base64url')));
  } catch {
    return undefined;
  }
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function checkHeader(header: Record<string, unknown>): void {
  const { alg } = header;
  if (alg === undefined || (typeof alg === 'string' && alg.toLowerCase() === 'none')) {
    // RFC 8725 §3.1/§3.2: an unsecured JWT is never acceptable here, whatever its letter case.
    throw new DenyError('alg_none', undefined, `alg is ${JSON.stringify(alg)}`);
  }
  if (typeof alg !== 'string') throw new DenyError('header_invalid', 'token header alg is not a string');
  for (const name of ['kid', 'typ', 'cty'] as const) {
    if (header[name] !== undefined && typeof header[name] !== 'string') {
      throw new DenyError('header_invalid', `token header ${name} is not a string`);
    }
  }
  const keySource = KEY_SOURCE_PARAMETERS.find((name) => Object.hasOwn(header, name));
  if (keySource !== undefined) {
    throw new DenyError('header_key_source_forbidden', undefined, `header carries "${keySource}"`);
  }
  if (Object.hasOwn(header, 'crit')) {
    // RFC 7515 §4.1.11: a recipient must reject a token whose critical extensions it does not
    // implement. We implement none, including `b64` (RFC 7797 unencoded payloads).
    throw new DenyError('header_crit_unsupported', undefined, `crit is ${JSON.stringify(header.crit)}`);
  }
}
