// Unit tests of the HMAC key resolver: jose's selection rules and errors, RFC 7518 §3.2 lengths.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errors } from 'jose';
import { createSecretKeySet, isHmacAlgorithm } from '../../../authz/keys/secret-key-set.ts';

const secret = (kid: string | undefined, bytes: number, extra: Record<string, unknown> = {}) => ({
  kty: 'oct',
  ...(kid === undefined ? {} : { kid }),
  k: Buffer.alloc(bytes, kid ?? 'x').toString('base64url'),
  ...extra,
});

describe('createSecretKeySet', () => {
  it('resolves the secret named by kid as an HMAC CryptoKey for the header alg', async () => {
    const key = await createSecretKeySet({ keys: [secret('a', 32), secret('b', 32)] })({ alg: 'HS256', kid: 'b' });
    assert.equal(key.algorithm.name, 'HMAC');
    assert.equal((key.algorithm as unknown as { hash: { name: string } }).hash.name, 'SHA-256');
  });

  it('throws JWKSNoMatchingKey for an unknown kid, a non-HMAC alg, or a key pinned to another alg', async () => {
    const set = createSecretKeySet({ keys: [secret('a', 64, { alg: 'HS512' })] });
    await assert.rejects(set({ alg: 'HS256', kid: 'zz' }), errors.JWKSNoMatchingKey);
    await assert.rejects(set({ alg: 'RS256', kid: 'a' }), errors.JWKSNoMatchingKey);
    await assert.rejects(set({ alg: 'HS256', kid: 'a' }), errors.JWKSNoMatchingKey);
    assert.ok(await set({ alg: 'HS512', kid: 'a' }));
  });

  it('never offers a secret shorter than the hash output (RFC 7518 §3.2)', async () => {
    const set = createSecretKeySet({ keys: [secret('a', 32)] });
    assert.ok(await set({ alg: 'HS256', kid: 'a' }));
    await assert.rejects(set({ alg: 'HS384', kid: 'a' }), errors.JWKSNoMatchingKey);
  });

  it('yields every candidate through JWKSMultipleMatchingKeys when the token has no kid', async () => {
    const set = createSecretKeySet({ keys: [secret('a', 32), secret('b', 32)] });
    const error = await set({ alg: 'HS256' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof errors.JWKSMultipleMatchingKeys);
    const yielded = [];
    for await (const key of error) yielded.push(key);
    assert.equal(yielded.length, 2);
  });

  it('knows which algorithms are HMAC', () => {
    assert.deepEqual(['HS256', 'HS384', 'HS512', 'RS256', 'none', undefined].map(isHmacAlgorithm), [true, true, true, false, false, false]);
  });
});
