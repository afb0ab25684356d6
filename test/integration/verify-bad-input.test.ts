// Integration: the full bad-input table at verify level, each row asserting its exact reason code.
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { IssuerKeys } from '../../authz/keys/issuer-keys.ts';
import { createLogger } from '../../common/log.ts';
import { createMetrics } from '../../authz/metrics.ts';
import type { ReasonCode } from '../../authz/reasons.ts';
import type { SnapshotIssuer } from '../../snapshot/types.ts';
import { TokenCache } from '../../authz/verify/token-cache.ts';
import { verifyToken, type VerifyCandidate } from '../../authz/verify/verify-token.ts';
import {
  TEST_AUDIENCE,
  TEST_ISSUER,
  craftToken,
  generateTestKey,
  issuerConfig,
  segment,
  signHmacWith,
  signToken,
  standardClaims,
  type TestKey,
} from '../../dev/fixtures/tokens.ts';
import { assertDenied } from '../support/assert-denied.ts';

const metrics = createMetrics({ defaultMetrics: false });
const deps = { metrics, log: createLogger('silent') };
const now = () => Math.floor(Date.now() / 1000);

describe('verifyToken refuses bad input with the exact reason', () => {
  let key: TestKey;
  let other: TestKey;
  let candidate: VerifyCandidate;
  /** `audience.accepted: undefined` waives the audience check. */
  const candidateFor = (
    overrides: Partial<SnapshotIssuer>,
    audience: { accepted: string[] | undefined } = { accepted: [TEST_AUDIENCE] },
  ): VerifyCandidate => {
    const config = issuerConfig({ keySource: { kind: 'static', jwks: { keys: [key.jwk] } }, ...overrides });
    return { keys: new IssuerKeys(config, deps), config, audiences: audience.accepted };
  };
  const sign = (claims = standardClaims(), header: Record<string, unknown> = {}) => signToken(key, claims, header);
  const verify = (token: string, c: VerifyCandidate = candidate) => verifyToken(token, [c]);

  before(async () => {
    [key, other] = await Promise.all([generateTestKey('RS256', 'k1'), generateTestKey('RS256', 'k2')]);
    candidate = candidateFor({});
  });

  it('allows the well-formed baseline token (so every row below fails for its own reason)', async () => {
    assert.equal((await verify(await sign())).claims.sub, 'alice');
  });

  const shapes: [string, () => Promise<string>, ReasonCode][] = [
    ['1 part', async () => segment({ alg: 'RS256' }), 'token_malformed'],
    ['2 parts', async () => (await sign()).split('.').slice(0, 2).join('.'), 'token_malformed'],
    ['4 parts', async () => `${await sign()}.AAAA`, 'token_malformed'],
    ['5 parts (JWE)', async () => 'eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..aXY.Y2lwaGVy.dGFn', 'token_malformed'],
    ['bad base64url characters', async () => (await sign()).replace('.', '.*'), 'token_malformed'],
    ['base64url that is not JSON (header)', async () => `AAAA.${(await sign()).split('.').slice(1).join('.')}`, 'header_invalid'],
    ['bad JSON header', async () => craftToken('{"alg":"RS256",', standardClaims()), 'header_invalid'],
    ['bad JSON payload', async () => craftToken({ alg: 'RS256', kid: 'k1' }, '{"iss":'), 'payload_invalid'],
    ['oversized token', async () => sign(standardClaims({ padding: 'x'.repeat(9000) })), 'token_too_large'],
    [
      'crit header',
      async () => craftToken({ alg: 'RS256', kid: 'k1', crit: ['b64'], b64: false }, standardClaims()),
      'header_crit_unsupported',
    ],
  ];
  for (const [name, make, code] of shapes)
    it(`${name} → ${code}`, async () => {
      await assertDenied(verify(await make()), code);
    });

  for (const alg of ['none', 'None', 'NONE']) {
    it(`alg ${alg} → alg_none`, async () => {
      await assertDenied(verify(craftToken({ alg }, standardClaims(), '')), 'alg_none');
    });
  }

  for (const name of ['jku', 'x5u', 'jwk', 'x5c']) {
    it(`a validly signed token with ${name} → header_key_source_forbidden`, async () => {
      const value = name === 'jwk' ? other.jwk : name === 'x5c' ? ['MIIB'] : 'https://attacker.example/keys';
      await assertDenied(verify(await sign(standardClaims(), { [name]: value })), 'header_key_source_forbidden');
    });
  }

  describe('HS256 signed with the issuer RSA public key as the HMAC secret (RFC 8725 §2.1)', () => {
    const secrets = () => {
      const pem = createPublicKey({ key: key.jwk as never, format: 'jwk' })
        .export({ type: 'spki', format: 'pem' })
        .toString();
      return { pem, jwkJson: JSON.stringify(key.jwk) };
    };
    it('PEM form → alg_not_allowed', async () => {
      await assertDenied(verify(await signHmacWith(secrets().pem, standardClaims(), 'k1')), 'alg_not_allowed');
    });
    it('JWK JSON form → alg_not_allowed', async () => {
      await assertDenied(verify(await signHmacWith(secrets().jwkJson, standardClaims(), 'k1')), 'alg_not_allowed');
    });
    it('even with HS256 pinned too, an RSA key is never an HMAC secret → kid_unknown', async () => {
      const both = candidateFor({ algorithms: ['RS256', 'HS256'] });
      await assertDenied(verify(await signHmacWith(secrets().pem, standardClaims(), 'k1'), both), 'kid_unknown');
    });
  });

  const claims: [string, () => Promise<string>, ReasonCode][] = [
    ['unknown kid', async () => sign(standardClaims(), { kid: 'nope' }), 'kid_unknown'],
    ['signed by another key under our kid', async () => signToken({ ...other, kid: 'k1' }, standardClaims()), 'signature_invalid'],
    [
      'tampered payload',
      async () => {
        const [h, , s] = (await sign()).split('.');
        return `${h}.${segment(standardClaims({ sub: 'admin' }))}.${s}`;
      },
      'signature_invalid',
    ],
    ['expired', async () => sign(standardClaims({ exp: now() - 10 })), 'token_expired'],
    ['not yet valid', async () => sign(standardClaims({ nbf: now() + 120 })), 'token_not_yet_valid'],
    ['wrong iss', async () => sign(standardClaims({ iss: 'https://evil.test' })), 'issuer_untrusted'],
    ['iss with a trailing slash', async () => sign(standardClaims({ iss: `${TEST_ISSUER}/` })), 'issuer_untrusted'],
    ['missing iss', async () => sign(standardClaims({ iss: undefined })), 'issuer_missing'],
    ['non-string iss', async () => sign(standardClaims({ iss: 42 })), 'claim_invalid'],
    ['wrong aud', async () => sign(standardClaims({ aud: 'api://billing' })), 'audience_mismatch'],
    ['missing aud', async () => sign(standardClaims({ aud: undefined })), 'claim_missing'],
    ['missing exp', async () => sign(standardClaims({ exp: undefined })), 'claim_missing'],
    ['exp not a number', async () => sign(standardClaims({ exp: 'tomorrow' })), 'claim_invalid'],
  ];
  for (const [name, make, code] of claims)
    it(`${name} → ${code}`, async () => {
      await assertDenied(verify(await make()), code);
    });

  it('an iat in the future beyond the skew is token_not_yet_valid when a max age is set (else iat is informational, RFC 7519 §4.1.6)', async () => {
    await assertDenied(
      verify(await sign(standardClaims({ iat: now() + 120 })), candidateFor({ maxTokenAgeSeconds: 600 })),
      'token_not_yet_valid',
    );
  });

  it('a token older than maxTokenAgeSeconds → token_too_old', async () => {
    const old = candidateFor({ maxTokenAgeSeconds: 60 });
    await assertDenied(verify(await sign(standardClaims({ iat: now() - 120 })), old), 'token_too_old');
    assert.ok(await verify(await sign(standardClaims({ iat: now() - 30 })), old));
  });

  it('clock skew tolerates a just-expired token, and the given clock is used', async () => {
    const token = await sign(standardClaims({ exp: now() - 10 }));
    assert.ok(await verify(token, candidateFor({ clockSkewSeconds: 30 })));
    await assertDenied(verifyToken(await sign(), [candidate], { now: new Date(Date.now() + 3600_000) }), 'token_expired');
  });

  it('required claims must be present', async () => {
    await assertDenied(verify(await sign(), candidateFor({ requiredClaims: ['tenant'] })), 'claim_missing');
    assert.ok(await verify(await sign(standardClaims({ tenant: 't1' })), candidateFor({ requiredClaims: ['tenant'] })));
  });

  it('exp may be absent only when requireExpiration is false', async () => {
    assert.ok(await verify(await sign(standardClaims({ exp: undefined })), candidateFor({ requireExpiration: false })));
  });

  it('typ is compared case-insensitively with an optional application/ prefix (RFC 8725 §3.11)', async () => {
    const typed = candidateFor({ tokenType: 'at+jwt' });
    for (const typ of ['at+jwt', 'AT+JWT', 'application/at+jwt'])
      assert.ok(await verify(await sign(standardClaims(), { typ }), typed), typ);
    await assertDenied(verify(await sign(standardClaims(), { typ: 'JWT' }), typed), 'typ_invalid');
    await assertDenied(verify(await sign(), typed), 'typ_invalid');
  });

  it('a waived audience check accepts any aud; an empty accepted list accepts none', async () => {
    assert.ok(await verify(await sign(standardClaims({ aud: 'anything' })), candidateFor({}, { accepted: undefined })));
    await assertDenied(verify(await sign(), candidateFor({}, { accepted: [] })), 'audience_mismatch');
  });

  it('any one accepted audience is enough, with aud as a string or an array', async () => {
    const two = candidateFor({}, { accepted: ['api://billing', TEST_AUDIENCE] });
    assert.ok(await verify(await sign(standardClaims({ aud: [TEST_AUDIENCE, 'x'] })), two));
    assert.ok(await verify(await sign(standardClaims({ aud: 'api://billing' })), two));
  });

  it('caches a verified token and returns a frozen result', async () => {
    const cache = new TokenCache({ metrics });
    const token = await sign();
    const first = await verifyToken(token, [candidate], { cache });
    const second = await verifyToken(token, [candidate], { cache });
    assert.equal(second, first, 'the second call is served from the cache');
    assert.ok(Object.isFrozen(first.claims));
    await assertDenied(verifyToken(token, [candidateFor({}, { accepted: ['api://billing'] })], { cache }), 'audience_mismatch');
  });
});
