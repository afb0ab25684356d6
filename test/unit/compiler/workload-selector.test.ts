// JWTPolicy.spec.workloadSelector through the compiler: the schema (label syntax, sizes), the CEL
// key rule re-checked in standalone mode, the compiled snapshot field, and route conflicts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile } from '../../../compiler/compile.ts';
import { isLabelKey, LABEL_KEY_PATTERN } from '../../../compiler/check-label-key.ts';
import { readCrds } from '../../../common/crds.ts';
import type { Resource } from '../../../compiler/resources.ts';
import { NOW, clusterPolicy, errorsOf, issuer, jwksUriIssuer, modesOf, policy, requiredPolicy } from './builders.ts';
import { schema } from '../../support/schema.ts';

const run = (...resources: Resource[]) =>
  compile({ schema, resources: [issuer('idp', jwksUriIssuer()), ...resources], namespaces: [{ name: 'shop', labels: {} }], now: NOW });
/** `field: message` of every error, to match messages against. */
const errorText = (diagnostics: ReturnType<typeof run>['diagnostics']): string =>
  diagnostics
    .filter((d) => d.severity === 'error')
    .map((d) => `${d.field}: ${d.message}`)
    .join('\n');
const selected = (name: string, matchLabels: Record<string, unknown> | undefined) =>
  policy(name, requiredPolicy('shop.example.com', matchLabels === undefined ? {} : { workloadSelector: { matchLabels } }));

test('compiles matchLabels into the snapshot, keys sorted so the digest does not depend on their order', () => {
  const a = run(selected('orders', { tier: 'api', app: 'orders' }));
  const b = run(selected('orders', { app: 'orders', tier: 'api' }));
  assert.deepEqual(errorsOf(a.diagnostics), []);
  assert.deepEqual(Object.entries(a.snapshot.policies[0]?.workloadSelector ?? {}), [
    ['app', 'orders'],
    ['tier', 'api'],
  ]);
  assert.equal(a.snapshot.sha256, b.snapshot.sha256);
  assert.equal('workloadSelector' in (run(selected('plain', undefined)).snapshot.policies[0] ?? {}), false);
});

test('label keys and values must have Kubernetes label syntax; otherwise the policy holds its routes closed, for every workload', async (t) => {
  const good: Record<string, string>[] = [
    { 'app.kubernetes.io/name': 'orders' },
    { app: '' },
    { a: 'A.b_c-9' },
    { ['x'.repeat(63)]: 'y'.repeat(63) },
    { [`${'d'.repeat(63)}.example.com/n`]: 'v' },
  ];
  for (const matchLabels of good) {
    await t.test(`accepts ${JSON.stringify(matchLabels).slice(0, 60)}`, () => {
      const { snapshot, diagnostics } = run(selected('p', matchLabels));
      assert.deepEqual(errorsOf(diagnostics), []);
      assert.equal(snapshot.policies.length, 1);
    });
  }
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ '-app': 'x' }, /spec\.workloadSelector\.matchLabels: label keys must be \[prefix\/\]name/],
    [{ 'app-': 'x' }, /label keys must be/],
    [{ 'Example.com/app': 'x' }, /label keys must be/],
    [{ 'a/b/c': 'x' }, /label keys must be/],
    [{ '/app': 'x' }, /label keys must be/],
    [{ 'example.com/': 'x' }, /label keys must be/],
    [{ ['x'.repeat(64)]: 'y' }, /label keys must be/],
    [{ 'app key': 'x' }, /label keys must be/],
    [{ app: '-orders' }, /spec\.workloadSelector\.matchLabels\.app/],
    [{ app: 'a b' }, /spec\.workloadSelector\.matchLabels\.app/],
    [{ app: 'x'.repeat(64) }, /spec\.workloadSelector\.matchLabels\.app/],
    [{ app: 7 }, /spec\.workloadSelector\.matchLabels\.app/],
    [{}, /spec\.workloadSelector\.matchLabels/],
    [Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])), /spec\.workloadSelector\.matchLabels/],
  ];
  for (const [matchLabels, message] of bad) {
    await t.test(`refuses ${JSON.stringify(matchLabels).slice(0, 60)}`, () => {
      const { snapshot, diagnostics } = run(selected('p', matchLabels));
      assert.deepEqual(modesOf(snapshot), ['JWTPolicy/shop/p invalid']);
      assert.equal(snapshot.policies[0]?.workloadSelector, undefined);
      assert.match(errorText(diagnostics), message);
    });
  }
  await t.test('refuses a workloadSelector without matchLabels', () => {
    const { snapshot, diagnostics } = run(policy('p', requiredPolicy('shop.example.com', { workloadSelector: {} })));
    assert.deepEqual(modesOf(snapshot), ['JWTPolicy/shop/p invalid']);
    assert.match(errorText(diagnostics), /spec\.workloadSelector/);
  });
});

test('a ClusterJWTPolicy has no workloadSelector: its namespaceSelector covers that', () => {
  const { snapshot, diagnostics } = run(
    clusterPolicy('c', {
      ...requiredPolicy('shop.example.com'),
      issuers: { anyOf: [{ name: 'idp', namespace: 'shop' }] },
      workloadSelector: { matchLabels: { app: 'a' } },
    }),
  );
  assert.deepEqual(modesOf(snapshot), ['ClusterJWTPolicy/c invalid']);
  assert.match(errorText(diagnostics), /workloadSelector/);
});

test('the CEL rule in the CRD uses the same key regex as standalone mode', () => {
  const crd = readCrds().find((c) => c.spec.names.kind === 'JWTPolicy');
  const schema = crd?.spec.versions[0]?.schema.openAPIV3Schema as
    | { properties: { spec: { properties: Record<string, { properties: { matchLabels: Record<string, unknown> } }> } } }
    | undefined;
  const spec = schema?.properties.spec.properties.workloadSelector?.properties.matchLabels;
  const [rule] = (spec?.['x-kubernetes-validations'] ?? []) as { rule: string }[];
  // The CEL string literal doubles the regex's backslash.
  assert.ok(rule?.rule.includes(`'${LABEL_KEY_PATTERN.replaceAll('\\', '\\\\')}'`), rule?.rule);
  assert.ok(rule?.rule.includes('size(k) <= 317'));
  assert.equal(isLabelKey(`${'a'.repeat(253)}/${'b'.repeat(63)}`), true);
  assert.equal(isLabelKey(`${'a'.repeat(254)}/${'b'.repeat(63)}`), false);
});

test('conflicts: identical route and identical selector is a RouteConflict; different or no selector is not', async (t) => {
  const ids = (...resources: Resource[]) => {
    const { snapshot, diagnostics } = run(...resources);
    return {
      ids: snapshot.policies.map((p) => p.id),
      conflicts: diagnostics.filter((d) => d.reason === 'RouteConflict').map((d) => d.resource.name),
    };
  };
  await t.test('same selector (in another key order) → contested: neither is enforced, the route is held closed', () => {
    const { snapshot } = run(selected('b', { tier: 'api', app: 'orders' }), selected('a', { app: 'orders', tier: 'api' }));
    assert.deepEqual(modesOf(snapshot), ['JWTPolicy/shop/a invalid', 'JWTPolicy/shop/b invalid']);
    assert.deepEqual(ids(selected('b', { tier: 'api', app: 'orders' }), selected('a', { app: 'orders', tier: 'api' })).conflicts, [
      'a',
      'b',
    ]);
  });
  await t.test('one with a selector, one without → both kept', () => {
    assert.deepEqual(ids(selected('a', { app: 'orders' }), selected('b', undefined)).conflicts, []);
  });
  await t.test('different selectors → both kept', () => {
    assert.deepEqual(ids(selected('a', { app: 'orders' }), selected('b', { app: 'billing' })).conflicts, []);
    assert.deepEqual(ids(selected('a', { app: 'orders' }), selected('b', { app: 'orders', tier: 'api' })).conflicts, []);
  });
  await t.test('neither has a selector → still a conflict', () => {
    assert.deepEqual(ids(selected('a', undefined), selected('b', undefined)).conflicts, ['a', 'b']);
  });
});
