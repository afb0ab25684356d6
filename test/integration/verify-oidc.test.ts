// Integration: an access token from a real OpenID Connect provider (oidc-provider), obtained with a
// real client_credentials POST, verified through OIDC discovery with typ at+jwt (RFC 9068).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { IssuerKeys } from '../../authz/keys/issuer-keys.ts';
import { createLogger } from '../../common/log.ts';
import { createMetrics } from '../../authz/metrics.ts';
import type { SnapshotIssuer } from '../../snapshot/types.ts';
import { verifyToken, type VerifyCandidate } from '../../authz/verify/verify-token.ts';
import { OIDC_AUDIENCE, startOidcProvider, type OidcProvider } from '../support/oidc.ts';
import { issuerConfig } from '../../dev/fixtures/tokens.ts';
import { assertDenied } from '../support/assert-denied.ts';

describe('tokens from a real OpenID Connect provider', () => {
  let op: OidcProvider;
  let keys: IssuerKeys;
  let config: SnapshotIssuer;
  const candidate = (audiences: string[]): VerifyCandidate => ({ keys, config, audiences });

  before(async () => {
    op = await startOidcProvider();
    config = issuerConfig({
      id: 'idp/op',
      issuer: op.issuer,
      audiences: [OIDC_AUDIENCE],
      algorithms: ['RS256'],
      keySource: { kind: 'discovery', discoveryUrl: op.discoveryUrl },
      tokenType: 'at+jwt',
      requiredClaims: ['client_id', 'scope'],
    });
    keys = new IssuerKeys(config, { metrics: createMetrics({ defaultMetrics: false }), log: createLogger('silent') });
    await keys.start();
  });
  after(async () => {
    keys.close();
    await op.close();
  });

  it('loads the provider keys through discovery', () => {
    assert.deepEqual(
      { ready: keys.status().ready, keyCount: keys.status().keyCount, lastError: keys.status().lastError },
      { ready: true, keyCount: 1, lastError: undefined },
    );
  });

  it('verifies an at+jwt access token with its audience and scope', async () => {
    const verified = await verifyToken(await op.getAccessToken('orders:read orders:write'), [candidate([OIDC_AUDIENCE])]);
    assert.equal(verified.header.typ, 'at+jwt');
    assert.equal(verified.claims.iss, op.issuer);
    assert.equal(verified.claims.client_id, 'jwtgate-test');
    assert.equal(verified.claims.scope, 'orders:read orders:write');
  });

  it('refuses the same token for another audience', async () => {
    await assertDenied(verifyToken(await op.getAccessToken(), [candidate(['https://billing.api.test'])]), 'audience_mismatch');
  });

  it('refuses it when a plain JWT type is required instead', async () => {
    const jwtOnly = { ...candidate([OIDC_AUDIENCE]), config: { ...config, tokenType: 'JWT' } };
    await assertDenied(verifyToken(await op.getAccessToken(), [jwtOnly]), 'typ_invalid');
  });
});
