// Tenancy by grant (issue 10): JWTHostGrants compile into the snapshot's grants, a namespaced
// policy never refuses or overrides another namespace's, and the attack manifests of the issue
// (an older claim, a wildcard, an unrelated path, all in another namespace) change nothing for
// the namespace the host is granted to. The router's side is in test/unit/match/router-grants.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRouter } from '../../../authz/match/router.ts';
import { compile } from '../../../compiler/compile.ts';
import { API_VERSION, type Resource } from '../../../compiler/resources.ts';
import { NOW, errorsOf, issuer, jwksUriIssuer, modesOf, policy, requiredPolicy } from './builders.ts';
import { schema } from '../../support/schema.ts';

const issuers = ['shop', 'evil'].map((ns) => issuer('idp', jwksUriIssuer(), ns));
const NAMESPACES = [
  { name: 'shop', labels: { team: 'shop' } },
  { name: 'evil', labels: { team: 'evil' } },
  { name: 'shop-eu', labels: { team: 'shop' } },
];

function grant(name: string, spec: Record<string, unknown>): Resource {
  return { apiVersion: API_VERSION, kind: 'JWTHostGrant', metadata: { name }, spec };
}

const run = (resources: Resource[], extra: Partial<Parameters<typeof compile>[0]> = {}) =>
  compile({ schema, resources: [...issuers, ...resources], namespaces: NAMESPACES, now: NOW, ...extra });

test('a grant names namespaces, selects them by label, or both; hosts and namespaces sorted and unique', () => {
  const { snapshot, diagnostics } = run([
    grant('shop', {
      hostnames: ['shop.example.com', '*.shop.example.com'],
      namespaces: ['legacy'],
      namespaceSelector: { matchLabels: { team: 'shop' } },
    }),
  ]);
  assert.deepEqual(errorsOf(diagnostics), []);
  assert.deepEqual(snapshot.grants, [
    { id: 'JWTHostGrant/shop', hosts: ['*.shop.example.com', 'shop.example.com'], namespaces: ['legacy', 'shop', 'shop-eu'] },
  ]);
});

test('an empty selector grants nothing, and says so; a grant with neither names nor selector is invalid', () => {
  const empty = run([grant('all', { hostnames: ['a.example.com'], namespaceSelector: {} })]);
  assert.deepEqual(empty.snapshot.grants, [{ id: 'JWTHostGrant/all', hosts: ['a.example.com'], namespaces: [] }]);
  assert.match(empty.diagnostics.find((d) => d.resource.name === 'all')?.message ?? '', /an empty namespaceSelector grants nothing/);
  const none = run([grant('none', { hostnames: ['a.example.com'] })]);
  assert.deepEqual(errorsOf(none.diagnostics), ['InvalidSpec spec']);
  assert.deepEqual([none.snapshot.grants, none.refusal], [[], 'JWTHostGrant none: a grant that does not compile and was never in force']);
});

test('a grant that stops compiling keeps its last good version, so its hosts never fall to a broader grant', () => {
  const wide = grant('wide', { hostnames: ['*.example.com'], namespaces: ['evil'] });
  const before = run([wide, grant('api', { hostnames: ['api.example.com'], namespaces: ['shop'] })]);
  const after = run([wide, grant('api', { hostnames: ['API!'], namespaces: ['shop'] })], { previous: before.snapshot });
  assert.deepEqual(after.snapshot.grants, before.snapshot.grants);
  assert.deepEqual(errorsOf(after.diagnostics), ['InvalidSpec spec.hostnames[0]']);
});

// The attack of issue 10: namespace evil creates its policy first (an older creationTimestamp),
// for the same route, for a wildcard over the host, or for an unrelated path on it.
const ATTACKS: [string, Record<string, unknown>][] = [
  ['the same route', requiredPolicy('api.example.com', { mode: 'Disabled' })],
  ['a wildcard over the host', requiredPolicy('*.example.com', { mode: 'Disabled' })],
  [
    'an unrelated path on the host',
    requiredPolicy('api.example.com', { mode: 'Disabled', targets: [{ hosts: ['api.example.com'], paths: [{ prefix: '/other' }] }] }),
  ],
];

for (const [what, spec] of ATTACKS) {
  test(`an older policy of another namespace for ${what} neither refuses nor overrides the granted namespace's`, () => {
    const evil = policy('grab', spec, 'evil', '2020-01-01T00:00:00Z');
    const shop = policy('orders', requiredPolicy('api.example.com'), 'shop', '2026-01-01T00:00:00Z');
    const granted = grant('api', { hostnames: ['api.example.com'], namespaces: ['shop'] });
    for (const resources of [
      [evil, shop, granted],
      [shop, evil, granted],
    ]) {
      const { snapshot, diagnostics } = run(resources);
      assert.deepEqual(modesOf(snapshot), ['JWTPolicy/evil/grab disabled', 'JWTPolicy/shop/orders required']);
      assert.deepEqual(errorsOf(diagnostics), []);
      assert.deepEqual(
        diagnostics.filter((d) => d.resource.namespace === 'shop'),
        [],
        'nothing is said about shop, which did nothing',
      );
      assert.match(
        diagnostics.find((d) => d.reason === 'HostNotGranted')?.message ?? '',
        what === 'a wildcard over the host'
          ? /^host \*\.example\.com is not granted to namespace evil: .*no grant covers it/
          : /^host api\.example\.com is not granted to namespace evil: .*JWTHostGrant\/api gives api\.example\.com to shop, whose policies decide there/,
      );
      const router = buildRouter(snapshot.policies, snapshot.grants);
      for (const namespace of [undefined, 'shop']) {
        const hit = router.match({ host: 'api.example.com', path: '/api/orders', method: 'GET', ...(namespace ? { namespace } : {}) });
        assert.equal(hit?.policy?.id, 'JWTPolicy/shop/orders', `namespace ${namespace ?? 'unknown'}`);
      }
      assert.equal(
        router.match({ host: 'api.example.com', path: '/api/orders', method: 'GET', namespace: 'evil' })?.policy?.id,
        what === 'an unrelated path on the host' ? undefined : 'JWTPolicy/evil/grab',
        "evil's own traffic is evil's to decide",
      );
    }
  });
}

test("without a grant the host is nobody's on a shared gateway: every policy naming it gets HostNotGranted, none is refused", () => {
  const { snapshot, diagnostics } = run([
    policy('orders', requiredPolicy('api.example.com'), 'shop'),
    policy('grab', requiredPolicy('api.example.com'), 'evil'),
  ]);
  assert.deepEqual(modesOf(snapshot), ['JWTPolicy/evil/grab required', 'JWTPolicy/shop/orders required']);
  assert.deepEqual(
    diagnostics.map((d) => `${d.severity} ${d.reason} ${d.resource.namespace}/${d.resource.name}`),
    ['warning HostNotGranted evil/grab', 'warning HostNotGranted shop/orders'],
  );
  assert.match(diagnostics[0]?.message ?? '', /no grant covers it: there, its requests are denied with 403 host_not_granted/);
});

test('standalone: a lone namespace is granted the hosts it names, unless the folder declares grants or spans namespaces', () => {
  const orders = policy('orders', requiredPolicy('api.example.com'), 'shop');
  const wild = policy('wild', requiredPolicy('*.example.org'), 'shop');
  const hostless = policy('all', requiredPolicy('x', { targets: [{ paths: [{ prefix: '/' }] }] }), 'shop');
  assert.deepEqual(run([orders, wild, hostless], { grantLoneNamespace: true }).snapshot.grants, [
    { id: 'standalone', hosts: ['*.example.org', 'api.example.com'], namespaces: ['shop'] },
  ]);
  assert.deepEqual(run([hostless], { grantLoneNamespace: true }).snapshot.grants, [], 'no host named, nothing granted');
  assert.deepEqual(run([orders]).snapshot.grants, [], 'never on a cluster');
  assert.deepEqual(run([orders, policy('grab', requiredPolicy(), 'evil')], { grantLoneNamespace: true }).snapshot.grants, []);
  const declared = run([orders, grant('g', { hostnames: ['x.example.com'], namespaces: ['evil'] })], { grantLoneNamespace: true });
  assert.deepEqual(
    declared.snapshot.grants.map((g) => g.id),
    ['JWTHostGrant/g'],
  );
});
