// The destination namespace over real gRPC (`jwtgate serve --policies`, central mode): the
// `namespace` context extension and the SPIFFE destination principal decide which tenant's policy
// applies; client headers never do; contradicting or malformed claims are refused with their own
// reasons, and the log names both contradicting values.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { httpCheckRequest, structToJson, type HttpCheckInput } from '../../cli/grpc-client.ts';
import { denied } from '../support/decisions.ts';
import { jwtIssuer, jwtPolicy, joinManifests } from '../../dev/fixtures/manifests.ts';
import { startStandalone, type StandaloneService } from '../../dev/standalone-service.ts';
import { generateTestKey, jwksOf, TEST_AUDIENCE, TEST_ISSUER } from '../../dev/fixtures/tokens.ts';

const HOST = 'api.test';
const spiffe = (ns: string): string => `spiffe://cluster.local/ns/${ns}/sa/api`;
/** Headers a client could send to pose as another namespace's traffic. */
const FORGED = {
  'x-namespace': 'shop',
  namespace: 'shop',
  'x-forwarded-client-cert': `By=${spiffe('shop')};URI=${spiffe('shop')}`,
  'x-envoy-peer-metadata-id': 'sidecar~10.0.0.1~api.shop~shop.svc.cluster.local',
};

describe('the destination namespace over gRPC', () => {
  let standalone: StandaloneService;
  const check = (input: Partial<HttpCheckInput>) =>
    standalone.client.check(httpCheckRequest({ method: 'GET', host: HOST, path: '/api', ...input }));

  before(async () => {
    const key = await generateTestKey('RS256', 'k1');
    // Hostless targets: each policy applies only to traffic known to be its namespace's. shop
    // opens /api; billing requires a token on it.
    standalone = await startStandalone({
      'all.yaml': joinManifests(
        jwtPolicy({ name: 'open', namespace: 'shop', spec: { mode: 'Disabled', targets: [{ paths: [{ prefix: '/api' }] }] } }),
        jwtIssuer({
          name: 'idp',
          namespace: 'billing',
          spec: { issuer: TEST_ISSUER, audiences: [TEST_AUDIENCE], jwks: jwksOf(key), algorithms: ['RS256'] },
        }),
        jwtPolicy({
          name: 'guard',
          namespace: 'billing',
          spec: { targets: [{ paths: [{ prefix: '/api' }] }], issuers: { anyOf: [{ name: 'idp' }] } },
        }),
      ),
    });
  });

  after(async () => {
    await standalone?.close();
  });

  test("the context extension or the destination principal selects that namespace's policy", async () => {
    for (const input of [{ contextExtensions: { namespace: 'shop' } }, { destinationPrincipal: spiffe('shop') }]) {
      const response = await check(input);
      assert.equal(response.http_response, 'ok_response', JSON.stringify(input));
      assert.equal(structToJson(response.dynamic_metadata!).policy, 'JWTPolicy/shop/open');
    }
    assert.equal(denied(await check({ contextExtensions: { namespace: 'billing' } })).body.reason, 'token_missing');
  });

  test('client headers never name the namespace: no claim, no policy; billing stays billing', async () => {
    assert.equal(denied(await check({ headers: FORGED })).body.reason, 'no_policy');
    const billing = denied(await check({ headers: FORGED, contextExtensions: { namespace: 'billing' } }));
    assert.equal(billing.body.reason, 'token_missing');
  });

  test('extension and principal disagree: 400 namespace_conflict, logged with both values', async () => {
    const denial = denied(await check({ contextExtensions: { namespace: 'shop' }, destinationPrincipal: spiffe('billing') }));
    assert.equal(denial.status, 'BadRequest');
    assert.equal(denial.body.reason, 'namespace_conflict');
    const line = await standalone.svc.waitForLog((l) => l.reason === 'namespace_conflict');
    assert.equal(
      line.detail,
      'context extension namespace "shop" contradicts destination principal "spiffe://cluster.local/ns/billing/sa/api" namespace "billing"',
    );
  });

  test('malformed claims: 400 namespace_invalid', async () => {
    const rows: Partial<HttpCheckInput>[] = [
      { contextExtensions: { namespace: 'Shop' } },
      { contextExtensions: { namespace: '' } },
      { destinationPrincipal: 'spiffe://cluster.local/ns/shop/ns/billing/sa/api' },
      { destinationPrincipal: 'spiffe://cluster.local/ns/../sa/api' },
    ];
    for (const input of rows) {
      const denial = denied(await check(input));
      assert.equal(denial.status, 'BadRequest', JSON.stringify(input));
      assert.equal(denial.body.reason, 'namespace_invalid', JSON.stringify(input));
    }
  });
});
