// Unit tests of keyWeakness: the minimum strength every verification key must have.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { keyWeakness } from '../../../../common/keys/key-strength.ts';
import type { Jwk } from '../../../../snapshot/types.ts';

const rsa = (bits: number) => generateKeyPairSync('rsa', { modulusLength: bits }).publicKey.export({ format: 'jwk' }) as Jwk;
const rsa2048 = rsa(2048);
const oct = (bytes: number): Jwk => ({ kty: 'oct', k: Buffer.alloc(bytes, 1).toString('base64url') });

describe('keyWeakness', () => {
  const acceptable: [string, Jwk][] = [
    ['RSA 2048', rsa2048],
    ['RSA 2048 with use sig and key_ops verify', { ...rsa2048, use: 'sig', key_ops: ['verify'] }],
    ['EC P-256', { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }],
    ['EC P-521', { kty: 'EC', crv: 'P-521', x: 'x', y: 'y' }],
    ['OKP Ed25519', { kty: 'OKP', crv: 'Ed25519', x: 'x' }],
    ['a 32-byte HMAC secret', oct(32)],
  ];
  for (const [name, jwk] of acceptable) it(`accepts ${name}`, () => assert.equal(keyWeakness(jwk), undefined));

  const refused: [string, Jwk, RegExp][] = [
    ['RSA 1024', rsa(1024), /1024 bits/],
    ['an even RSA exponent', { ...rsa2048, e: Buffer.from([0x01, 0x00, 0x00]).toString('base64url') }, /exponent/],
    ['RSA exponent 1', { ...rsa2048, e: 'AQ' }, /exponent 1 /],
    ['RSA without n', { kty: 'RSA', e: 'AQAB' }, /lacks n or e/],
    ['an encryption key', { ...rsa2048, use: 'enc' }, /use is "enc"/],
    ['key_ops without verify', { ...rsa2048, key_ops: ['encrypt'] }, /key_ops/],
    ['key_ops as a string, not an array (RFC 7517 §4.3)', { ...rsa2048, key_ops: 'verify' as unknown as string[] }, /key_ops/],
    ['a published private key', { ...rsa2048, d: 'secret' }, /private key/],
    ['EC secp256k1', { kty: 'EC', crv: 'secp256k1', x: 'x', y: 'y' }, /curve secp256k1/],
    ['OKP X25519', { kty: 'OKP', crv: 'X25519', x: 'x' }, /curve X25519/],
    ['a 16-byte HMAC secret', oct(16), /16 bytes/],
    ['an HMAC key without k', { kty: 'oct' }, /0 bytes/],
    ['an unknown kty', { kty: 'AKP' }, /not supported/],
  ];
  for (const [name, jwk, reason] of refused) it(`refuses ${name}`, () => assert.match(keyWeakness(jwk) ?? '', reason));
});
