// The router's side of tenancy by grant (DESIGN.md "Tenants", issue 10): when the proxy reports
// no namespace, the most specific grant covering the host says whose traffic the request is.
// One owner: that namespace's policies decide (hostless ones too). Several: their host-naming
// policies, and an equal match from two of them is route_contested. None: a namespaced policy
// that matches makes it host_not_granted, never a cluster default's or `unmatched`'s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRouter, type RouteRequest } from '../../../authz/match/router.ts';
import type { HostGrant, PathMatch, PolicyScope, SnapshotPolicy, Target } from '../../../snapshot/types.ts';
import { routePolicy } from '../../../dev/fixtures/policies.ts';

const inNs = (namespace: string): PolicyScope => ({ kind: 'namespaced', namespace });
const policy = (id: string, target: Partial<Target>, scope: PolicyScope = inNs(id.split('/')[1] as string)): SnapshotPolicy =>
  routePolicy(id, target, { scope });
const prefix = (value: string): PathMatch => ({ kind: 'prefix', value });
const grant = (id: string, hosts: string[], namespaces: string[]): HostGrant => ({ id, hosts, namespaces });

function decide(policies: SnapshotPolicy[], grants: HostGrant[], request: Partial<RouteRequest> = {}): string | undefined {
  const hit = buildRouter(policies, grants).match({ host: 'api.example.com', path: '/orders/1', method: 'GET', ...request });
  return hit === undefined ? undefined : (hit.policy?.id ?? hit.refusal);
}

const A_ORDERS = policy('JWTPolicy/a/orders', { hosts: ['api.example.com'], paths: [prefix('/orders')] });
const A_HOSTLESS = policy('JWTPolicy/a/all', {});
const B_ORDERS = policy('JWTPolicy/b/orders', { hosts: ['api.example.com'], paths: [prefix('/orders')] });
const B_WILD = policy('JWTPolicy/b/wild', { hosts: ['*.example.com'] });
const B_OTHER = policy('JWTPolicy/b/other', { hosts: ['api.example.com'], paths: [prefix('/other')] });
const TO_A = grant('JWTHostGrant/api', ['api.example.com'], ['a']);

test('one owner: the request is its traffic; another namespace naming the host, older or broader, does not count', () => {
  for (const rival of [B_ORDERS, B_WILD, B_OTHER]) {
    assert.equal(decide([rival, A_ORDERS], [TO_A]), 'JWTPolicy/a/orders', rival.id);
    assert.equal(decide([rival], [TO_A]), undefined, `${rival.id} alone: the owner has no policy there, so unmatched`);
    assert.equal(decide([rival, A_ORDERS], [TO_A], { path: '/other' }), undefined, `${rival.id}: /other is a's too`);
  }
  assert.equal(decide([A_HOSTLESS], [TO_A], { path: '/x' }), 'JWTPolicy/a/all', "the owner's hostless policies apply too");
});

test("a reported namespace wins over grants: its own policies, never the owner's", () => {
  assert.equal(decide([A_ORDERS, B_ORDERS], [TO_A], { namespace: 'b' }), 'JWTPolicy/b/orders');
  assert.equal(decide([A_ORDERS], [TO_A], { namespace: 'b' }), undefined);
});

test('the most specific grant decides: exact, then the longest wildcard, then *', () => {
  const grants = [
    grant('JWTHostGrant/wide', ['*.example.com'], ['b']),
    TO_A,
    grant('JWTHostGrant/eu', ['*.eu.example.com'], ['c']),
    grant('standalone', ['*'], ['d']),
  ];
  const all = [A_HOSTLESS, policy('JWTPolicy/b/all', {}), policy('JWTPolicy/c/all', {}), policy('JWTPolicy/d/all', {})];
  assert.equal(decide(all, grants), 'JWTPolicy/a/all');
  assert.equal(decide(all, grants, { host: 'x.example.com' }), 'JWTPolicy/b/all');
  assert.equal(decide(all, grants, { host: 'x.y.example.com' }), 'JWTPolicy/b/all', 'a wildcard covers one or more labels');
  assert.equal(decide(all, grants, { host: 'x.eu.example.com' }), 'JWTPolicy/c/all');
  assert.equal(decide(all, grants, { host: 'example.com' }), 'JWTPolicy/d/all', '*.example.com does not cover example.com');
  assert.equal(decide(all, grants, { host: 'API.Example.COM.' }), 'JWTPolicy/a/all', 'case and one trailing dot do not matter');
});

test('several owners: their host-naming policies decide; equal matches from two namespaces are route_contested', () => {
  const shared = [grant('JWTHostGrant/shared', ['api.example.com'], ['a', 'b'])];
  assert.equal(decide([A_ORDERS, B_OTHER], shared), 'JWTPolicy/a/orders');
  assert.equal(decide([A_ORDERS, B_OTHER], shared, { path: '/other/x' }), 'JWTPolicy/b/other');
  assert.equal(decide([A_ORDERS, B_ORDERS], shared), 'route_contested');
  assert.equal(decide([A_HOSTLESS, B_OTHER], shared, { path: '/x' }), undefined, 'hostless policies do not apply to a shared host');
  const deeper = policy('JWTPolicy/b/deep', { hosts: ['api.example.com'], paths: [prefix('/orders/1')] });
  assert.equal(decide([A_ORDERS, deeper], shared), 'JWTPolicy/b/deep', 'a more specific route is not a contest');
  const get = policy('JWTPolicy/b/get', { hosts: ['api.example.com'], paths: [prefix('/orders')], methods: ['GET'] });
  assert.equal(decide([A_ORDERS, get], shared), 'JWTPolicy/b/get', 'a listed method is more specific');
  assert.equal(decide([A_ORDERS, B_ORDERS, policy('JWTPolicy/c/orders', B_ORDERS.targets[0] as Target)], shared), 'route_contested');
  const sameNs = policy('JWTPolicy/a/twin', { hosts: ['api.example.com'], paths: [prefix('/orders')] });
  assert.equal(decide([A_ORDERS, sameNs], shared), 'JWTPolicy/a/orders', 'one namespace is judged by the compiler, not here');
});

test('no owner: a namespaced policy naming the host makes it host_not_granted, never a weaker cluster default', () => {
  const fallback = policy('ClusterJWTPolicy/open', {}, { kind: 'cluster', enforcement: 'default' });
  assert.equal(decide([A_ORDERS], []), 'host_not_granted');
  assert.equal(decide([A_ORDERS, fallback], []), 'host_not_granted');
  assert.equal(decide([A_ORDERS, fallback], [], { path: '/elsewhere' }), 'ClusterJWTPolicy/open', 'only where the policy matches');
  assert.equal(decide([A_HOSTLESS, fallback], []), 'ClusterJWTPolicy/open', 'a hostless policy names no host');
  assert.equal(decide([A_ORDERS], [grant('JWTHostGrant/empty', ['api.example.com'], [])]), 'host_not_granted', 'a grant to nobody');
  const override = policy('ClusterJWTPolicy/strict', {}, { kind: 'cluster', enforcement: 'override' });
  assert.equal(decide([A_ORDERS, override], []), 'ClusterJWTPolicy/strict', 'an override still comes first');
});

test('cluster policies with a namespaces list reach the owners of a host: all of them must be listed', () => {
  const listed = policy('ClusterJWTPolicy/listed', {}, { kind: 'cluster', enforcement: 'override', namespaces: ['a'] });
  assert.equal(decide([listed], [TO_A]), 'ClusterJWTPolicy/listed');
  assert.equal(decide([listed], []), undefined);
  assert.equal(decide([listed], [grant('JWTHostGrant/shared', ['api.example.com'], ['a', 'b'])]), undefined, 'b is not listed');
  const both = policy('ClusterJWTPolicy/both', {}, { kind: 'cluster', enforcement: 'override', namespaces: ['a', 'b'] });
  assert.equal(decide([both], [grant('JWTHostGrant/shared', ['api.example.com'], ['a', 'b'])]), 'ClusterJWTPolicy/both');
});
