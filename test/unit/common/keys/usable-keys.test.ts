// Unit tests of key-set filtering: weak keys, private keys and published secrets never get through.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { selectUsableKeys } from '../../../../common/keys/usable-keys.ts';
import { generateTestKey, weakRsaToken } from '../../../../dev/fixtures/tokens.ts';

describe('selectUsableKeys', async () => {
  const rsa = await generateTestKey('RS256', 'rsa');
  const hmac = await generateTestKey('HS256', 'hmac');
  const weak = weakRsaToken('weak', {}).jwk;

  it('keeps strong public keys and drops weak ones with a reason', () => {
    const result = selectUsableKeys({ keys: [rsa.jwk, weak] }, { allowSecrets: false });
    assert.deepEqual(
      result?.jwks.keys.map((k) => k.kid),
      ['rsa'],
    );
    assert.deepEqual(
      result?.rejected.map((r) => r.kid),
      ['weak'],
    );
    assert.match(result?.rejected[0]?.reason ?? '', /1024 bits/);
  });

  it('drops HMAC secrets from remote sets but keeps them for static ones', () => {
    assert.deepEqual(
      selectUsableKeys({ keys: [hmac.jwk] }, { allowSecrets: false })?.rejected.map((r) => r.kid),
      ['hmac'],
    );
    assert.deepEqual(
      selectUsableKeys({ keys: [hmac.jwk] }, { allowSecrets: true })?.jwks.keys.map((k) => k.kid),
      ['hmac'],
    );
  });

  it('drops non-objects, keys without kty and encryption keys', () => {
    const result = selectUsableKeys(
      { keys: [null, 'x', { kid: 'no-kty' }, { ...rsa.jwk, kid: 'enc', use: 'enc' }] },
      { allowSecrets: false },
    );
    assert.equal(result?.jwks.keys.length, 0);
    assert.equal(result?.rejected.length, 4);
  });

  it('returns undefined for something that is not a JWK set', () => {
    for (const value of [null, [], 'keys', { keys: 'nope' }, {}]) assert.equal(selectUsableKeys(value, { allowSecrets: true }), undefined);
  });
});
