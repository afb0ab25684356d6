// Integration: real keys of every supported family verify through verifyToken, and a token signed
// with another key of the same family is refused; keys without kid are tried one by one.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IssuerKeys } from '../../authz/keys/issuer-keys.ts';
import { createLogger } from '../../common/log.ts';
import { createMetrics } from '../../authz/metrics.ts';
import type { Algorithm, JwkSet } from '../../snapshot/types.ts';
import { verifyToken } from '../../authz/verify/verify-token.ts';
import { TEST_AUDIENCE, generateTestKey, issuerConfig, signToken, standardClaims, type TestAlgorithm } from '../../dev/fixtures/tokens.ts';
import { assertDenied } from '../support/assert-denied.ts';

const deps = { metrics: createMetrics({ defaultMetrics: false }), log: createLogger('silent') };

function staticCandidate(algorithms: Algorithm[], jwks: JwkSet) {
  const config = issuerConfig({ algorithms, keySource: { kind: 'static', jwks } });
  return { keys: new IssuerKeys(config, deps), config, audiences: [TEST_AUDIENCE] };
}

describe('verifyToken per algorithm', () => {
  for (const alg of ['RS256', 'PS256', 'ES256', 'EdDSA', 'HS256'] satisfies TestAlgorithm[]) {
    it(`${alg}: allows a token signed with the issuer's key`, async () => {
      const key = await generateTestKey(alg, 'k1');
      const candidate = staticCandidate([alg], { keys: [key.jwk] });
      const verified = await verifyToken(await signToken(key, standardClaims()), [candidate]);
      assert.equal(verified.issuerId, 'test/issuer');
      assert.equal(verified.claims.sub, 'alice');
      assert.equal(verified.header.alg, alg);
    });

    it(`${alg}: refuses a token signed with another key under the same kid`, async () => {
      const [key, impostor] = await Promise.all([generateTestKey(alg, 'k1'), generateTestKey(alg, 'k1')]);
      const candidate = staticCandidate([alg], { keys: [key.jwk] });
      await assertDenied(verifyToken(await signToken(impostor, standardClaims()), [candidate]), 'signature_invalid');
    });
  }

  it('refuses a token whose alg is not pinned for its issuer, before any key lookup', async () => {
    const es = await generateTestKey('ES256', 'k1');
    const candidate = staticCandidate(['RS256'], { keys: [es.jwk] });
    await assertDenied(verifyToken(await signToken(es, standardClaims()), [candidate]), 'alg_not_allowed');
  });

  it('chooses the candidate whose issuer equals iss', async () => {
    const [a, b] = await Promise.all([generateTestKey('ES256', 'a'), generateTestKey('EdDSA', 'b')]);
    const first = staticCandidate(['ES256'], { keys: [a.jwk] });
    const secondConfig = issuerConfig({
      id: 'test/second',
      issuer: 'https://second.test',
      algorithms: ['EdDSA'],
      keySource: { kind: 'static', jwks: { keys: [b.jwk] } },
    });
    const second = { keys: new IssuerKeys(secondConfig, deps), config: secondConfig, audiences: [TEST_AUDIENCE] };
    const verified = await verifyToken(await signToken(b, standardClaims({ iss: 'https://second.test' })), [first, second]);
    assert.equal(verified.issuerId, 'test/second');
  });

  describe('keys without kid', () => {
    it('tries each matching key: a token signed with the second of two RSA keys is allowed', async () => {
      const [one, two] = await Promise.all([generateTestKey('RS256'), generateTestKey('RS256')]);
      const jwks = { keys: [one.jwk, two.jwk].map(({ kid: _kid, ...jwk }) => jwk) };
      const token = await signToken(two, standardClaims(), { kid: undefined });
      assert.equal((await verifyToken(token, [staticCandidate(['RS256'], jwks)])).claims.sub, 'alice');
    });

    it('refuses with signature_invalid when no key verifies', async () => {
      const [one, two, unrelated] = await Promise.all([generateTestKey('RS256'), generateTestKey('RS256'), generateTestKey('RS256')]);
      const jwks = { keys: [one.jwk, two.jwk].map(({ kid: _kid, ...jwk }) => jwk) };
      const token = await signToken(unrelated, standardClaims(), { kid: undefined });
      await assertDenied(verifyToken(token, [staticCandidate(['RS256'], jwks)]), 'signature_invalid');
    });

    it('does the same for HMAC secrets', async () => {
      const [one, two] = await Promise.all([generateTestKey('HS256'), generateTestKey('HS256')]);
      const candidate = staticCandidate(['HS256'], { keys: [one.jwk, two.jwk].map(({ kid: _kid, ...jwk }) => jwk) });
      assert.ok(await verifyToken(await signToken(two, standardClaims(), { kid: undefined }), [candidate]));
    });
  });
});
