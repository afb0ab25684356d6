// Router and workloadSelector: a matching selector beats none at equal route specificity, a
// selector that does not match never applies, and an unknown workload skips selector policies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRouter, type RouteRequest } from '../../../authz/match/router.ts';
import type { PolicyScope, SnapshotPolicy, Target } from '../../../snapshot/types.ts';
import { routePolicy } from '../../../dev/fixtures/policies.ts';

const makePolicy = (
  id: string,
  target: Partial<Target>,
  workloadSelector?: Record<string, string>,
  scope: PolicyScope = { kind: 'namespaced', namespace: 'shop' },
): SnapshotPolicy => routePolicy(id, target, { scope, workloadSelector });

const ORDERS = { app: 'orders', tier: 'api', version: 'v2' };
const api = { paths: [{ kind: 'prefix' as const, value: '/api' }] };

function matchId(policies: SnapshotPolicy[], request: Partial<RouteRequest>): string | undefined {
  return buildRouter(policies).match({ host: 'orders.test', path: '/api/x', method: 'GET', namespace: 'shop', ...request })?.policy?.id;
}

test('precedence table with workload selectors', async (t) => {
  const rows: [name: string, policies: SnapshotPolicy[], request: Partial<RouteRequest>, winner: string | undefined][] = [
    [
      'a matching selector beats none on the same route (id order would pick the other)',
      [makePolicy('a-plain', api), makePolicy('z-selected', api, { app: 'orders' })],
      { workloadLabels: ORDERS },
      'z-selected',
    ],
    [
      'a selector matches when all its labels are on the workload',
      [makePolicy('a-plain', api), makePolicy('z-selected', api, { app: 'orders', tier: 'api' })],
      { workloadLabels: ORDERS },
      'z-selected',
    ],
    [
      'one label missing: the selector does not apply',
      [makePolicy('a-plain', api), makePolicy('z-selected', api, { app: 'orders', tier: 'web' })],
      { workloadLabels: ORDERS },
      'a-plain',
    ],
    [
      'a non-matching selector never applies, even alone',
      [makePolicy('selected', api, { app: 'billing' })],
      { workloadLabels: ORDERS },
      undefined,
    ],
    ['the value must be equal, not a prefix', [makePolicy('selected', api, { version: 'v' })], { workloadLabels: ORDERS }, undefined],
    [
      'unknown workload (central mode): selector policies are skipped',
      [makePolicy('a-plain', api), makePolicy('z-selected', api, { app: 'orders' })],
      {},
      'a-plain',
    ],
    ['unknown workload, only a selector policy: nothing applies', [makePolicy('selected', api, { app: 'orders' })], {}, undefined],
    ['a workload without labels matches no selector', [makePolicy('selected', api, { app: 'orders' })], { workloadLabels: {} }, undefined],
    [
      'a label named __proto__ is compared as a label, not looked up on the prototype',
      [makePolicy('selected', api, { ['__proto__']: 'x' })],
      { workloadLabels: { app: 'orders' } },
      undefined,
    ],
    [
      'route specificity first: an exact path without selector beats a prefix with one',
      [makePolicy('exact', { paths: [{ kind: 'exact', value: '/api/x' }] }), makePolicy('selected', api, { app: 'orders' })],
      { workloadLabels: ORDERS },
      'exact',
    ],
    [
      'method first: a target listing the method beats a selector on a method-less target',
      [makePolicy('get', { ...api, methods: ['GET'] }), makePolicy('selected', api, { app: 'orders' })],
      { workloadLabels: ORDERS },
      'get',
    ],
    [
      'a selector beats none at the same method too',
      [makePolicy('a-get', { ...api, methods: ['GET'] }), makePolicy('z-get', { ...api, methods: ['GET'] }, { app: 'orders' })],
      { workloadLabels: ORDERS },
      'z-get',
    ],
    [
      'two matching selectors: policy id decides',
      [makePolicy('b', api, { tier: 'api' }), makePolicy('a', api, { app: 'orders' })],
      { workloadLabels: ORDERS },
      'a',
    ],
    [
      'a cluster override still beats a matching namespaced selector (scope first)',
      [
        makePolicy('selected', api, { app: 'orders' }),
        makePolicy('override', api, undefined, { kind: 'cluster', enforcement: 'override' }),
      ],
      { workloadLabels: ORDERS },
      'override',
    ],
    [
      'a matching namespaced selector beats a cluster default',
      [makePolicy('selected', api, { app: 'orders' }), makePolicy('default', api, undefined, { kind: 'cluster', enforcement: 'default' })],
      { workloadLabels: ORDERS },
      'selected',
    ],
    [
      'a non-matching selector falls through to the cluster default',
      [makePolicy('selected', api, { app: 'billing' }), makePolicy('default', api, undefined, { kind: 'cluster', enforcement: 'default' })],
      { workloadLabels: ORDERS },
      'default',
    ],
    [
      "another namespace's selector never applies, even when the labels match",
      [makePolicy('other', api, { app: 'orders' }, { kind: 'namespaced', namespace: 'billing' })],
      { workloadLabels: ORDERS },
      undefined,
    ],
  ];
  for (const [name, policies, request, winner] of rows) {
    await t.test(name, () => assert.equal(matchId(policies, request), winner));
  }
});

test('host-only lookups (namespace unknown, host granted) skip selector policies that name the host', () => {
  const hosted = { hosts: ['orders.test'], ...api };
  const grants = [{ id: 'JWTHostGrant/orders', hosts: ['orders.test'], namespaces: ['shop'] }];
  const route = (policies: SnapshotPolicy[]) =>
    buildRouter(policies, grants).match({ host: 'orders.test', path: '/api/x', method: 'GET' })?.policy?.id;
  assert.equal(route([makePolicy('selected', hosted, { app: 'orders' })]), undefined);
  assert.equal(route([makePolicy('selected', hosted, { app: 'orders' }), makePolicy('plain', hosted)]), 'plain');
});
