// End to end with real identity providers: one `jwtgate serve` child process, one issuer per
// algorithm (RS256, PS256, ES256 and EdDSA on their own JWKS servers, HS256 from a Secret
// manifest), a real OpenID Connect provider through discovery, key rotation and an IdP outage,
// every decision read from a real gRPC Check.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { headerRecord, httpCheckRequest, type DecodedCheckResponse, type GrpcClient } from '../../cli/grpc-client.ts';
import { denied } from '../support/decisions.ts';
import {
  jwtIssuer,
  jwtPolicy,
  joinManifests,
  k8sSecret,
  type IssuerManifestSpec,
  type PolicyManifestSpec,
} from '../../dev/fixtures/manifests.ts';
import type { ServeProcess } from '../../dev/serve-process.ts';
import { startStandalone, type StandaloneService } from '../../dev/standalone-service.ts';
import { startJwksServer, type JwksServer } from '../support/jwks-server.ts';
import { OIDC_AUDIENCE, startOidcProvider, type OidcProvider } from '../support/oidc.ts';
import {
  generateTestKey,
  jwksOf,
  signToken,
  standardClaims,
  TEST_AUDIENCE,
  type TestAlgorithm,
  type TestKey,
} from '../../dev/fixtures/tokens.ts';
import { waitFor } from '../support/wait-for.ts';

const HOST = 'api.test';
const NAMESPACE = 'shop';
/**
 * The issuers' `remote.cooldownSeconds` (the CRD minimum): an unknown kid may refetch once per
 * second. The tests never wait it out by the clock: they repeat the check until the service
 * refetches, and count the IdP's requests (none inside the cooldown, one after it).
 */
const COOLDOWN_MS = 1000;
const REMOTE_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const satisfies TestAlgorithm[];
const ALGORITHMS = [...REMOTE_ALGORITHMS, 'HS256'] as const satisfies TestAlgorithm[];
type RemoteAlgorithm = (typeof REMOTE_ALGORITHMS)[number];

/** Per-algorithm names: issuer `iss`, resource name, policy path prefix. */
const issuerUrl = (alg: TestAlgorithm) => `https://${alg.toLowerCase()}.idp.test`;
const issuerName = (alg: TestAlgorithm) => `idp-${alg.toLowerCase()}`;
const pathOf = (alg: TestAlgorithm) => `/${alg.toLowerCase()}`;

/** A JWTIssuer with the test timings (no clock skew, {@link COOLDOWN_MS}); `spec` says who it is. */
function issuerManifest(name: string, spec: IssuerManifestSpec): string {
  return jwtIssuer({
    name,
    namespace: NAMESPACE,
    spec: { ...spec, clockSkewSeconds: 0, remote: { cooldownSeconds: COOLDOWN_MS / 1000, timeoutMs: 1500 } },
  });
}

/** A JWTPolicy for one issuer on `prefix`, forwarding `sub` as `x-user-id`. */
function policyManifest(name: string, issuer: string, prefix: string, rules?: PolicyManifestSpec['rules']): string {
  return jwtPolicy({
    name,
    namespace: NAMESPACE,
    spec: {
      targets: [{ hosts: [HOST], paths: [{ prefix }] }],
      issuers: { anyOf: [{ name: issuer }] },
      rules,
      forward: { claimsToHeaders: [{ claim: 'sub', header: 'x-user-id' }] },
    },
  });
}

const request = (path: string, token: string) =>
  httpCheckRequest({ method: 'GET', host: HOST, path, headers: { authorization: `Bearer ${token}` } });

/** The `x-user-id` an allow sets; fails on a denial. */
function allowedUser(response: DecodedCheckResponse): string | undefined {
  assert.equal(
    response.http_response,
    'ok_response',
    `expected an allow, got ${JSON.stringify(response.denied_response?.body ?? response)}`,
  );
  return headerRecord(response.ok_response!.headers ?? [])['x-user-id'];
}

describe('jwtgate serve with real identity providers', () => {
  let standalone: StandaloneService;
  let svc: ServeProcess;
  let client: GrpcClient;
  let op: OidcProvider;
  const keys = new Map<TestAlgorithm, TestKey>();
  const servers = new Map<RemoteAlgorithm, JwksServer>();

  /**
   * A token for the `alg` issuer from `key` (default: the published one). Each carries a fresh
   * `jti`: RS256 and EdDSA signatures are deterministic, so without it two tokens minted in the
   * same second would be identical and the second check could be answered by the verified-token
   * cache instead of the keys under test.
   */
  const tokenFor = (alg: TestAlgorithm, key: TestKey = keys.get(alg)!, sub = `user-${alg}`) =>
    signToken(key, standardClaims({ iss: issuerUrl(alg), sub, jti: randomUUID() }), alg === 'HS256' ? { kid: undefined } : {});
  const check = async (alg: TestAlgorithm, token: string | Promise<string>) => client.check(request(`${pathOf(alg)}/items`, await token));
  const readyIssuers = async () => {
    const res = await fetch(`http://127.0.0.1:${svc.httpPort}/readyz`);
    assert.equal(res.status, 200);
    return ((await res.json()) as { detail: { issuers: Record<string, { ready: boolean; keyCount: number; lastError?: string }> } }).detail
      .issuers;
  };

  before(async () => {
    for (const alg of ALGORITHMS) keys.set(alg, await generateTestKey(alg, `${alg.toLowerCase()}-1`));
    for (const alg of REMOTE_ALGORITHMS) servers.set(alg, await startJwksServer({ jwks: jwksOf(keys.get(alg)!) }));
    op = await startOidcProvider();
    const files: Record<string, string> = {};
    for (const alg of REMOTE_ALGORITHMS) {
      files[`${alg}.yaml`] = joinManifests(
        issuerManifest(issuerName(alg), {
          issuer: issuerUrl(alg),
          audiences: [TEST_AUDIENCE],
          algorithms: [alg],
          jwksUri: servers.get(alg)!.jwksUrl,
        }),
        policyManifest(alg.toLowerCase(), issuerName(alg), pathOf(alg)),
      );
    }
    files['hs256.yaml'] = joinManifests(
      // The HMAC secret as the Secret's `data` carries it: the raw bytes of the `oct` JWK's `k`.
      k8sSecret({
        name: 'hmac-secret',
        namespace: NAMESPACE,
        data: { secret: Buffer.from(String(keys.get('HS256')!.jwk.k), 'base64url') },
      }),
      issuerManifest(issuerName('HS256'), {
        issuer: issuerUrl('HS256'),
        audiences: [TEST_AUDIENCE],
        algorithms: ['HS256'],
        secretRef: { name: 'hmac-secret', key: 'secret', format: 'HMAC' },
      }),
      policyManifest('hs256', issuerName('HS256'), pathOf('HS256')),
    );
    files['oidc.yaml'] = joinManifests(
      issuerManifest('idp-oidc', {
        issuer: op.issuer,
        audiences: [OIDC_AUDIENCE],
        algorithms: ['RS256'],
        discovery: {},
        tokenType: 'at+jwt',
      }),
      policyManifest('oidc', 'idp-oidc', '/oidc', [{ claim: 'scope', containsAll: ['orders:read'] }]),
    );
    standalone = await startStandalone(files);
    ({ svc, client } = standalone);
  });

  after(async () => {
    await standalone?.close();
    for (const server of servers.values()) await server.close();
    await op?.close();
  });

  test('compiles every manifest without an error diagnostic', () => {
    const errors = svc.logs.filter((l) => typeof l.level === 'number' && l.level >= 50);
    assert.deepEqual(errors, []);
  });

  test('/readyz reports each issuer with its key count, fetched once at load', async () => {
    const issuers = await readyIssuers();
    const summary = Object.fromEntries(Object.entries(issuers).map(([id, s]) => [id, { ready: s.ready, keyCount: s.keyCount }]));
    assert.deepEqual(summary, {
      'shop/idp-rs256': { ready: true, keyCount: 1 },
      'shop/idp-ps256': { ready: true, keyCount: 1 },
      'shop/idp-es256': { ready: true, keyCount: 1 },
      'shop/idp-eddsa': { ready: true, keyCount: 1 },
      'shop/idp-hs256': { ready: true, keyCount: 1 },
      'shop/idp-oidc': { ready: true, keyCount: 1 },
    });
    for (const alg of REMOTE_ALGORITHMS) assert.equal(servers.get(alg)!.requests.jwks, 1, alg);
    assert.equal(await client.health(''), 'SERVING');
  });

  for (const alg of ALGORITHMS) {
    test(`${alg}: a token signed with the issuer's key is allowed and its sub forwarded`, async () => {
      assert.equal(allowedUser(await check(alg, tokenFor(alg))), `user-${alg}`);
    });

    test(`${alg}: a token signed with another ${alg} key under the same kid (none for HS256) is refused with signature_invalid`, async () => {
      const impostor = await generateTestKey(alg, keys.get(alg)!.kid);
      const d = denied(await check(alg, tokenFor(alg, impostor)));
      assert.equal(d.body.reason, 'signature_invalid');
      assert.equal(d.status, 'Unauthorized');
    });
  }

  test("a token of one issuer is not accepted on another issuer's route", async () => {
    assert.equal(denied(await check('PS256', tokenFor('RS256'))).body.reason, 'issuer_untrusted');
  });

  test('OIDC discovery: a real at+jwt access token with orders:read is allowed', async () => {
    const token = await op.getAccessToken('orders:read');
    const response = await client.check(request('/oidc/orders', token));
    assert.equal(allowedUser(response), 'jwtgate-test'); // client_credentials: sub is the client id
  });

  test('OIDC discovery: a real access token with only orders:write gets 403 rule_failed', async () => {
    const d = denied(await client.check(request('/oidc/orders', await op.getAccessToken('orders:write'))));
    assert.equal(d.body.reason, 'rule_failed');
    assert.equal(d.status, 'Forbidden');
  });

  test('rotation: a new kid is fetched on first sight; once the old key is gone and keys were refetched, its kid is refused', async () => {
    const idp = servers.get('RS256')!;
    const [old, next] = [keys.get('RS256')!, await generateTestKey('RS256', 'rs256-2')];
    idp.setKeys(jwksOf(old, next));
    const before = idp.requests.jwks;
    // Inside the cooldown that follows the last fetch the new kid is refused without a fetch; the
    // first check after it refetches and is allowed.
    const response = await waitFor(
      'the new kid allowed after a refetch',
      async () => {
        const r = await check('RS256', tokenFor('RS256', next, 'rotated'));
        return r.http_response === 'ok_response' ? r : undefined;
      },
      10_000,
      100,
    );
    assert.equal(allowedUser(response), 'rotated');
    assert.equal(idp.requests.jwks, before + 1, 'the unknown kid triggered exactly one refetch');
    assert.equal(allowedUser(await check('RS256', tokenFor('RS256', old))), 'user-RS256');

    // refreshSeconds cannot go below 10 (CRD minimum), so an unknown kid drives the refetch.
    idp.setKeys(jwksOf(next));
    const stranger = await generateTestKey('RS256', 'rs256-never-published');
    await waitFor(
      'a refetch for the stranger kid',
      async () => {
        assert.equal(denied(await check('RS256', tokenFor('RS256', stranger))).body.reason, 'kid_unknown');
        return idp.requests.jwks > before + 1;
      },
      10_000,
      100,
    );
    assert.equal(idp.requests.jwks, before + 2, 'the stranger kid triggered one more refetch');
    assert.equal(denied(await check('RS256', tokenFor('RS256', old))).body.reason, 'kid_unknown');
    assert.equal(allowedUser(await check('RS256', tokenFor('RS256', next, 'rotated'))), 'rotated');
    assert.equal((await readyIssuers())['shop/idp-rs256']?.keyCount, 1);
    keys.set('RS256', next); // the published key from now on
  });

  test('IdP down after load: a failed refetch answers 503 keys_unavailable, and known kids still verify with the last good keys', async () => {
    const idp = servers.get('RS256')!;
    idp.failWith('status500');
    const before = idp.requests.jwks;
    const stranger = await generateTestKey('RS256', 'rs256-during-outage');
    // kid_unknown without a fetch inside the cooldown; then one fetch, which fails.
    const d = await waitFor(
      'the refetch for an unknown kid to fail',
      async () => {
        const r = denied(await check('RS256', tokenFor('RS256', stranger)));
        return r.body.reason === 'kid_unknown' ? undefined : r;
      },
      10_000,
      100,
    );
    assert.deepEqual([d.body.reason, d.status], ['keys_unavailable', 'ServiceUnavailable']);
    assert.equal(idp.requests.jwks, before + 1, 'the IdP was asked and failed');

    assert.equal(allowedUser(await check('RS256', tokenFor('RS256', keys.get('RS256')!, 'still-works'))), 'still-works');
    const status = (await readyIssuers())['shop/idp-rs256'];
    assert.equal(status?.keyCount, 1);
    assert.match(status?.lastError ?? '', /500/);
  });
});
