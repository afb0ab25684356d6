// Issue 10 in standalone mode, through a real `jwtgate serve --policies` process whose unmatched
// requests are *allowed*: namespace a is granted api.example.com; namespace b's attack manifests
// (the same route, a wildcard over the host, another path on it, all Disabled) never decide a's
// traffic, on a shared gateway (no namespace reported) or when the proxy reports a; b decides
// only the traffic reported as b's. Without a grant the host is nobody's: 403 host_not_granted.
// The same on a cluster: cluster-tenancy.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { httpCheckRequest } from '../../cli/grpc-client.ts';
import { joinManifests, jwtHostGrant, jwtIssuer, jwtPolicy } from '../../dev/fixtures/manifests.ts';
import { startStandalone, type StandaloneService } from '../../dev/standalone-service.ts';
import { generateTestKey, jwksOf, signToken, standardClaims, TEST_AUDIENCE, TEST_ISSUER } from '../../dev/fixtures/tokens.ts';
import { waitFor } from '../support/wait-for.ts';

const HOST = 'api.example.com';
const ATTACKS: Record<string, { hosts: string[]; paths?: { prefix: string }[] }> = {
  'the same route': { hosts: [HOST], paths: [{ prefix: '/orders' }] },
  'a wildcard over the host': { hosts: ['*.example.com'] },
  'another path on the host': { hosts: [HOST], paths: [{ prefix: '/other' }] },
};

describe("standalone: a host granted to namespace a stays a's, whatever namespace b writes", { timeout: 60_000 }, () => {
  let standalone: StandaloneService;
  let token: string;

  const check = async (path: string, namespace?: string, withToken = false): Promise<string> => {
    const response = await standalone.client.check(
      httpCheckRequest({
        method: 'GET',
        host: HOST,
        path,
        headers: withToken ? { authorization: `Bearer ${token}` } : {},
        ...(namespace === undefined ? {} : { contextExtensions: { namespace } }),
      }),
    );
    return response.http_response === 'ok_response' ? 'allow' : response.status.message;
  };
  const waitForOutcome = (path: string, namespace: string | undefined, expected: string): Promise<string> =>
    waitFor(
      `${path} (${namespace ?? 'no namespace'}) → ${expected}`,
      async () => ((await check(path, namespace)) === expected ? expected : undefined),
      10_000,
    );

  before(async () => {
    const key = await generateTestKey('ES256', 'k1');
    token = await signToken(key, standardClaims());
    const issuer = (namespace: string) =>
      jwtIssuer({
        name: 'idp',
        namespace,
        spec: { issuer: TEST_ISSUER, audiences: [TEST_AUDIENCE], algorithms: ['ES256'], jwks: jwksOf(key) },
      });
    standalone = await startStandalone(
      {
        'issuers.yaml': joinManifests(issuer('a'), issuer('b')),
        'a.yaml': jwtPolicy({
          name: 'orders',
          namespace: 'a',
          spec: { targets: [{ hosts: [HOST], paths: [{ prefix: '/orders' }] }], issuers: { anyOf: [{ name: 'idp' }] } },
        }),
        'grant.yaml': jwtHostGrant('api', { hostnames: [HOST], namespaces: ['a'] }),
      },
      {},
      ['--unmatched', 'allow'],
    );
    assert.equal(await check('/orders'), 'token_missing');
    assert.equal(await check('/orders', undefined, true), 'allow');
  });
  after(() => standalone?.close());

  /**
   * Namespace b's manifests, with a Required marker route of b's: the reload that carries (or
   * drops) them shows as the marker's answer, which unmatched requests (allowed here) never give.
   */
  const writeB = (...targets: { hosts?: string[]; paths?: { prefix?: string }[] }[]): Promise<void> =>
    standalone.writeFile(
      'b.yaml',
      joinManifests(
        jwtPolicy({ name: 'grab', namespace: 'b', spec: { targets, mode: 'Disabled' } }),
        jwtPolicy({
          name: 'marker',
          namespace: 'b',
          spec: { targets: [{ hosts: [HOST], paths: [{ exact: '/marker' }] }], issuers: { anyOf: [{ name: 'idp' }] } },
        }),
      ),
    );
  const removeB = async (): Promise<void> => {
    await rm(join(standalone.dir, 'b.yaml'));
    await waitForOutcome('/marker', 'b', 'allow');
  };

  for (const [what, target] of Object.entries(ATTACKS)) {
    test(`b's Disabled policy for ${what} decides only b's traffic`, async () => {
      await writeB(target);
      await waitForOutcome('/marker', 'b', 'token_missing');
      for (const namespace of [undefined, 'a']) {
        assert.equal(await check('/orders', namespace), 'token_missing', `namespace ${namespace ?? 'unknown'}`);
        assert.equal(await check('/orders', namespace, true), 'allow');
      }
      if (what !== 'another path on the host') assert.equal(await check('/orders', 'b'), 'allow', "b's own traffic");
      await removeB();
    });
  }

  test("without the grant the host is nobody's on a shared gateway: 403 host_not_granted despite --unmatched allow", async () => {
    await rm(join(standalone.dir, 'grant.yaml'));
    // A lone namespace would be granted its hosts by default: b's policy makes the folder two namespaces.
    await writeB(ATTACKS['the same route'] as { hosts: string[] });
    await waitForOutcome('/orders', undefined, 'host_not_granted');
    assert.equal(await check('/orders', undefined, true), 'host_not_granted');
    assert.equal(await check('/orders', 'a'), 'token_missing', 'a reported namespace needs no grant');
    assert.equal(await check('/orders', 'b'), 'allow');
    assert.equal(await check('/elsewhere'), 'allow', 'unmatched where no policy names the route');
    await removeB();
    await waitForOutcome('/orders', undefined, 'token_missing'); // a lone namespace again: its hosts are granted by default
  });
});
