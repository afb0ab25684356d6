/**
 * Refuses keys too weak to trust, wherever keys enter: the compiler (inline JWKS, Secrets) and
 * the remote key sets (every fetched JWKS is filtered before jose sees it).
 *
 * @example
 * ```ts
 * keyWeakness({ kty: 'RSA', n: '…1024 bits…', e: 'AQAB' }); // 'RSA modulus is 1024 bits; at least 2048 required'
 * keyWeakness({ kty: 'RSA', n: '…', e: 'AQAB', use: 'sig' }); // undefined
 * ```
 */
import type { Jwk } from './jwk.ts';

export const MIN_RSA_BITS = 2048;
/** HMAC secrets shorter than the hash output weaken HS256 (RFC 7518 §3.2). */
export const MIN_HMAC_BYTES = 32;

/** Why a key must not be used for verification, or undefined when it is acceptable. */
export function keyWeakness(jwk: Jwk): string | undefined {
  if (jwk.use !== undefined && jwk.use !== 'sig') return `key use is "${jwk.use}", not "sig"`;
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify')))
    return 'key_ops does not include "verify"';
  if ('d' in jwk || 'p' in jwk || 'q' in jwk) return 'a private key was published; refusing it';
  switch (jwk.kty) {
    case 'RSA': {
      if (typeof jwk.n !== 'string' || typeof jwk.e !== 'string') return 'RSA key lacks n or e';
      const n = Buffer.from(jwk.n, 'base64url');
      const bits = n.length * 8 - leadingZeroBits(n);
      if (bits < MIN_RSA_BITS) return `RSA modulus is ${bits} bits; at least ${MIN_RSA_BITS} required`;
      const e = BigInt(`0x${Buffer.from(jwk.e, 'base64url').toString('hex') || '0'}`);
      if (e < 3n || e % 2n === 0n) return `RSA public exponent ${e} is not acceptable`;
      return undefined;
    }
    case 'EC':
      return ['P-256', 'P-384', 'P-521'].includes(String(jwk.crv)) ? undefined : `EC curve ${String(jwk.crv)} is not supported`;
    case 'OKP':
      return jwk.crv === 'Ed25519' ? undefined : `OKP curve ${String(jwk.crv)} is not supported`;
    case 'oct': {
      const bytes = typeof jwk.k === 'string' ? Buffer.from(jwk.k, 'base64url').length : 0;
      return bytes >= MIN_HMAC_BYTES ? undefined : `HMAC secret is ${bytes} bytes; at least ${MIN_HMAC_BYTES} required`;
    }
    default:
      return `key type ${String(jwk.kty)} is not supported`;
  }
}

function leadingZeroBits(buf: Buffer): number {
  let bits = 0;
  for (const byte of buf) {
    if (byte === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}
