// End to end, an HMAC secret with a key id (JWTIssuer secretRef.keyId): through the real
// `jwtgate serve` CLI over real gRPC, a token naming that kid verifies, a token naming another
// kid is kid_unknown, a token with no kid still matches, and without keyId a token that names a
// kid matches nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { SecretKeyRef } from '../../compiler/resources.ts';
import { headerRecord, httpCheckRequest, type DecodedCheckResponse } from '../../cli/grpc-client.ts';
import { denied } from '../support/decisions.ts';
import { jwtIssuer, jwtPolicy, joinManifests, k8sSecret } from '../../dev/fixtures/manifests.ts';
import { startStandalone, type StandaloneService } from '../../dev/standalone-service.ts';
import { generateTestKey, signToken, standardClaims, TEST_AUDIENCE, type TestKey } from '../../dev/fixtures/tokens.ts';

const HOST = 'hmac.test';
const NAMESPACE = 'shop';
const KEY_ID = 'hs-2026-05';
/** `iss` of the issuer whose secretRef carries {@link KEY_ID}, and of the one without a keyId. */
const KEYED_ISSUER = 'https://keyed.idp.test';
const PLAIN_ISSUER = 'https://plain.idp.test';

/** The raw secret bytes a `format: HMAC` Secret holds: the `oct` JWK's `k`. */
const rawSecret = (key: TestKey): Uint8Array => Buffer.from(String(key.jwk.k), 'base64url');

function manifests(keyed: TestKey, plain: TestKey): string {
  const issuer = (name: string, iss: string, secretRef: SecretKeyRef) =>
    jwtIssuer({
      name,
      namespace: NAMESPACE,
      spec: { issuer: iss, audiences: [TEST_AUDIENCE], algorithms: ['HS256'], clockSkewSeconds: 0, secretRef },
    });
  return joinManifests(
    k8sSecret({ name: 'hmac', namespace: NAMESPACE, data: { keyed: rawSecret(keyed), plain: rawSecret(plain) } }),
    issuer('keyed', KEYED_ISSUER, { name: 'hmac', key: 'keyed', format: 'HMAC', keyId: KEY_ID }),
    issuer('plain', PLAIN_ISSUER, { name: 'hmac', key: 'plain', format: 'HMAC' }),
    jwtPolicy({
      name: 'hmac',
      namespace: NAMESPACE,
      spec: {
        targets: [{ hosts: [HOST] }],
        issuers: { anyOf: [{ name: 'keyed' }, { name: 'plain' }] },
        forward: { claimsToHeaders: [{ claim: 'sub', header: 'x-user-id' }] },
      },
    }),
  );
}

describe('jwtgate serve: an HMAC secret with a key id', () => {
  let standalone: StandaloneService;
  let keyed: TestKey;
  let plain: TestKey;
  /** Another secret, to sign under the right kid with the wrong bytes. */
  let stranger: TestKey;

  const check = (token: string): Promise<DecodedCheckResponse> =>
    standalone.client.check(httpCheckRequest({ method: 'GET', host: HOST, path: '/', headers: { authorization: `Bearer ${token}` } }));
  /** A token unique per call (fresh `jti`), so the verified-token cache never answers. */
  const sign = (key: TestKey, iss: string, header: Record<string, unknown>) =>
    signToken(key, standardClaims({ iss, sub: 'svc-a', jti: randomUUID() }), header);
  const reasonOf = async (token: string) => denied(await check(token)).body.reason;

  before(async () => {
    [keyed, plain, stranger] = await Promise.all([
      generateTestKey('HS256', KEY_ID),
      generateTestKey('HS256', 'plain'),
      generateTestKey('HS256', KEY_ID),
    ]);
    standalone = await startStandalone({ 'all.yaml': manifests(keyed, plain) });
  });

  after(async () => {
    await standalone?.close();
  });

  test('a token whose kid is the keyId verifies', async () => {
    const response = await check(await sign(keyed, KEYED_ISSUER, { kid: KEY_ID }));
    assert.equal(response.http_response, 'ok_response', JSON.stringify(response.denied_response?.body));
    assert.equal(headerRecord(response.ok_response!.headers ?? [])['x-user-id'], 'svc-a');
  });

  test('a token without a kid still matches the keyed secret', async () => {
    assert.equal((await check(await sign(keyed, KEYED_ISSUER, { kid: undefined }))).http_response, 'ok_response');
  });

  test('a token naming another kid, signed with the right secret, is kid_unknown', async () => {
    assert.equal(await reasonOf(await sign(keyed, KEYED_ISSUER, { kid: 'hs-2025-11' })), 'kid_unknown');
  });

  test('the right kid with another secret is signature_invalid', async () => {
    assert.equal(await reasonOf(await sign(stranger, KEYED_ISSUER, { kid: KEY_ID })), 'signature_invalid');
  });

  test('without keyId the secret has no kid: a token without one verifies, a token naming one is kid_unknown', async () => {
    assert.equal((await check(await sign(plain, PLAIN_ISSUER, { kid: undefined }))).http_response, 'ok_response');
    assert.equal(await reasonOf(await sign(plain, PLAIN_ISSUER, { kid: 'plain' })), 'kid_unknown');
  });
});
