// Conflicts: identical routes in one scope, and hosts claimed across namespaces (tenancy).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile } from '../../../compiler/compile.ts';
import type { Resource } from '../../../compiler/resources.ts';
import { NOW, clusterPolicy, errorsOf, issuer, jwksUriIssuer, policy, requiredPolicy } from './builders.ts';

const issuers = ['shop', 'evil', 'other'].map((ns) => issuer('idp', jwksUriIssuer(), ns));
const run = (resources: Resource[], namespaces = [{ name: 'shop', labels: {} }, { name: 'other', labels: {} }]) =>
  compile({ resources: [...issuers, ...resources], namespaces, now: NOW });
const ids = (resources: Resource[]): string[] => run(resources).snapshot.policies.map((p) => p.id);

test('two policies in one namespace naming the same host+path+method: the later (by name) is left out', () => {
  const { snapshot, diagnostics } = run([policy('b-second', requiredPolicy()), policy('a-first', requiredPolicy())]);
  assert.deepEqual(snapshot.policies.map((p) => p.id), ['JWTPolicy/shop/a-first']);
  assert.deepEqual(diagnostics.filter((d) => d.severity === 'error').map((d) => [d.resource.name, d.reason, d.field]), [['b-second', 'RouteConflict', 'spec.targets']]);
  assert.match(diagnostics.find((d) => d.reason === 'RouteConflict')?.message ?? '', /JWTPolicy\/shop\/a-first/);
});

test('one shared triple is enough; different methods or paths are not a conflict', () => {
  const target = (paths: unknown[], methods: string[]) => requiredPolicy('shop.example.com', { targets: [{ hosts: ['shop.example.com'], paths, methods }] });
  assert.deepEqual(ids([policy('a', target([{ prefix: '/api' }], ['GET'])), policy('b', target([{ prefix: '/api' }], ['POST']))]).length, 2);
  assert.deepEqual(ids([policy('a', target([{ prefix: '/api' }], [])), policy('b', target([{ exact: '/api' }], []))]).length, 2);
  assert.deepEqual(ids([policy('a', target([{ prefix: '/x' }, { prefix: '/api' }], ['GET'])), policy('b', target([{ prefix: '/api' }], ['GET', 'PUT']))]), ['JWTPolicy/shop/a']);
});

test('the same route in two namespaces without hosts is fine: each applies to its own traffic', () => {
  const hostless = requiredPolicy('x', { targets: [{ paths: [{ prefix: '/api' }] }] });
  assert.equal(ids([policy('a', hostless, 'shop'), policy('a', hostless, 'other')]).length, 2);
});

test('a host belongs to the first namespace that claims it, by creationTimestamp', () => {
  const { snapshot, diagnostics } = run([
    policy('grab', requiredPolicy('shop.example.com', { targets: [{ hosts: ['shop.example.com'], paths: [{ exact: '/admin' }] }] }), 'evil', '2026-01-02T00:00:00Z'),
    policy('orders', requiredPolicy(), 'shop', '2026-01-01T00:00:00Z'),
  ]);
  assert.deepEqual(snapshot.policies.map((p) => p.id), ['JWTPolicy/shop/orders']);
  const conflict = diagnostics.find((d) => d.reason === 'RouteConflict');
  assert.deepEqual([conflict?.resource.namespace, conflict?.resource.name, conflict?.field], ['evil', 'grab', 'spec.targets']);
  assert.match(conflict?.message ?? '', /belongs to namespace shop/);
});

test('without timestamps, the first claim is by namespace/name; timestamped claims come first', () => {
  assert.deepEqual(ids([policy('a', requiredPolicy(), 'shop'), policy('a', requiredPolicy(), 'evil')]), ['JWTPolicy/evil/a']);
  assert.deepEqual(ids([policy('a', requiredPolicy(), 'shop', '2030-01-01T00:00:00Z'), policy('a', requiredPolicy(), 'evil')]), ['JWTPolicy/shop/a']);
});

test('a wildcard host overlaps the hosts under it, in either order', () => {
  const wildcard = requiredPolicy('*.example.com');
  assert.deepEqual(ids([policy('w', wildcard, 'shop', '2026-01-01T00:00:00Z'), policy('a', requiredPolicy('api.example.com'), 'evil', '2026-01-02T00:00:00Z')]), ['JWTPolicy/shop/w']);
  assert.deepEqual(ids([policy('w', wildcard, 'evil', '2026-01-02T00:00:00Z'), policy('a', requiredPolicy('api.example.com'), 'shop', '2026-01-01T00:00:00Z')]), ['JWTPolicy/shop/a']);
  assert.equal(ids([policy('w', wildcard, 'shop'), policy('a', requiredPolicy('example.com'), 'evil')]).length, 2);
});

test('several policies of one namespace may share its hosts', () => {
  const paths = (p: string) => requiredPolicy('shop.example.com', { targets: [{ hosts: ['shop.example.com'], paths: [{ prefix: p }] }] });
  assert.equal(ids([policy('a', paths('/a')), policy('b', paths('/b'))]).length, 2);
});

test('cluster policies conflict only with the same enforcement and overlapping namespaces', () => {
  const spec = (extra: Record<string, unknown>) => requiredPolicy('a.example', { issuers: { anyOf: [{ name: 'idp', namespace: 'shop' }] }, ...extra });
  const onlyShop = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'shop' } } };
  const onlyOther = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'other' } } };
  assert.deepEqual(ids([clusterPolicy('a', spec({})), clusterPolicy('b', spec({}))]), ['ClusterJWTPolicy/a']);
  assert.equal(ids([clusterPolicy('a', spec({})), clusterPolicy('b', spec({ enforcement: 'Override' }))]).length, 2);
  assert.equal(ids([clusterPolicy('a', spec(onlyShop)), clusterPolicy('b', spec(onlyOther))]).length, 2);
  assert.deepEqual(ids([clusterPolicy('a', spec(onlyShop)), clusterPolicy('b', spec({}))]), ['ClusterJWTPolicy/a']);
  assert.equal(errorsOf(run([clusterPolicy('a', spec({})), policy('p', requiredPolicy('a.example'))]).diagnostics).length, 0);
});
