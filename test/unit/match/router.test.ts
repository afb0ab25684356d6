// Router: precedence (scope, host, path, method, id), segment-aware prefixes, regexes, tenancy, scale.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRouter, buildRouterInSlices, type RouteRequest } from '../../../authz/match/router.ts';
import type { PathMatch, PolicyScope, SnapshotPolicy, Target } from '../../../snapshot/types.ts';
import { routePolicy } from '../../../dev/fixtures/policies.ts';

const NAMESPACED_A: PolicyScope = { kind: 'namespaced', namespace: 'a' };

const makePolicy = (id: string, target: Partial<Target>, scope: PolicyScope = NAMESPACED_A): SnapshotPolicy =>
  routePolicy(id, target, { scope });

const exact = (value: string): PathMatch => ({ kind: 'exact', value });
const prefix = (value: string): PathMatch => ({ kind: 'prefix', value });
const regex = (value: string): PathMatch => ({ kind: 'regex', value });

function matchId(policies: SnapshotPolicy[], request: Partial<RouteRequest>): string | undefined {
  const full: RouteRequest = { host: 'api.example.com', path: '/', method: 'GET', namespace: 'a', ...request };
  return buildRouter(policies).match(full)?.policy?.id;
}

test('precedence table: the first differing rule decides', async (t) => {
  const rows: [name: string, policies: SnapshotPolicy[], request: Partial<RouteRequest>, winner: string | undefined][] = [
    [
      'exact host beats wildcard',
      [makePolicy('w', { hosts: ['*.example.com'] }), makePolicy('x', { hosts: ['api.example.com'] })],
      {},
      'x',
    ],
    [
      'longer wildcard beats shorter',
      [makePolicy('short', { hosts: ['*.com'] }), makePolicy('long', { hosts: ['*.example.com'] })],
      {},
      'long',
    ],
    ['wildcard beats any host', [makePolicy('any', {}), makePolicy('w', { hosts: ['*.example.com'] })], {}, 'w'],
    [
      'host beats path',
      [makePolicy('path', { hosts: ['*.example.com'], paths: [exact('/x')] }), makePolicy('host', { hosts: ['api.example.com'] })],
      { path: '/x' },
      'host',
    ],
    [
      'exact path beats prefix',
      [makePolicy('p', { paths: [prefix('/x')] }), makePolicy('e', { paths: [exact('/x')] })],
      { path: '/x' },
      'e',
    ],
    [
      'longer prefix beats shorter',
      [makePolicy('p1', { paths: [prefix('/api')] }), makePolicy('p2', { paths: [prefix('/api/v1')] })],
      { path: '/api/v1/users' },
      'p2',
    ],
    [
      'prefix beats regex',
      [makePolicy('r', { paths: [regex('/api/.*')] }), makePolicy('p', { paths: [prefix('/api')] })],
      { path: '/api/x' },
      'p',
    ],
    ['regex beats any path', [makePolicy('any', {}), makePolicy('r', { paths: [regex('/api/[0-9]+')] })], { path: '/api/42' }, 'r'],
    [
      'listed method beats any method',
      [makePolicy('any', { paths: [exact('/x')] }), makePolicy('get', { paths: [exact('/x')], methods: ['GET'] })],
      { path: '/x' },
      'get',
    ],
    [
      'path beats method',
      [makePolicy('m', { paths: [prefix('/x')], methods: ['GET'] }), makePolicy('e', { paths: [exact('/x')] })],
      { path: '/x' },
      'e',
    ],
    [
      'methods are compared in upper case',
      [makePolicy('any', {}), makePolicy('del', { methods: ['DELETE'] })],
      { method: 'delete' },
      'del',
    ],
    ['unlisted method falls through', [makePolicy('any', {}), makePolicy('get', { methods: ['GET'] })], { method: 'POST' }, 'any'],
    ['ties go to the smaller policy id', [makePolicy('JWTPolicy/a/b', {}), makePolicy('JWTPolicy/a/a', {})], {}, 'JWTPolicy/a/a'],
    [
      'override cluster beats namespaced',
      [
        makePolicy('ns', { hosts: ['api.example.com'], paths: [exact('/')] }),
        makePolicy('ov', {}, { kind: 'cluster', enforcement: 'override' }),
      ],
      {},
      'ov',
    ],
    [
      'namespaced beats default cluster',
      [
        makePolicy('def', { hosts: ['api.example.com'], paths: [exact('/')] }, { kind: 'cluster', enforcement: 'default' }),
        makePolicy('ns', {}),
      ],
      {},
      'ns',
    ],
    [
      'default cluster applies when nothing else does',
      [makePolicy('ns', { paths: [exact('/x')] }), makePolicy('def', {}, { kind: 'cluster', enforcement: 'default' })],
      { path: '/y' },
      'def',
    ],
    ['nothing matches', [makePolicy('x', { hosts: ['other.example.com'] })], {}, undefined],
  ];
  for (const [name, policies, request, winner] of rows) {
    await t.test(name, () => {
      assert.equal(matchId(policies, request), winner);
      assert.equal(matchId([...policies].reverse(), request), winner, 'order of the input must not matter');
    });
  }
});

test('prefixes are segment-aware; a trailing slash makes a plain prefix', async (t) => {
  const policies = [makePolicy('api', { paths: [prefix('/api')] }), makePolicy('docs', { paths: [prefix('/docs/')] })];
  const rows: [path: string, winner: string | undefined][] = [
    ['/api', 'api'],
    ['/api/', 'api'],
    ['/api/x/y', 'api'],
    ['/apix', undefined],
    ['/API', undefined],
    ['/docs/', 'docs'],
    ['/docs/a', 'docs'],
    ['/docs', undefined],
    ['/docsx', undefined],
  ];
  for (const [path, winner] of rows) {
    await t.test(path, () => assert.equal(matchId(policies, { path }), winner));
  }
});

test('caseInsensitive folds ASCII letters for exact, prefix and regex; escapes and other matches keep exact case', async (t) => {
  const folded = (path: PathMatch): PathMatch => ({ ...path, caseInsensitive: true });
  const policies = [
    makePolicy('exact', { paths: [folded(exact('/Admin'))] }),
    makePolicy('prefix', { paths: [folded(prefix('/API/v1'))] }),
    makePolicy('regex', { paths: [folded(regex('/reports/[a-z]+'))] }),
    makePolicy('cafe', { paths: [folded(exact('/caf%C3%A9'))] }),
    makePolicy('strict', { paths: [prefix('/Strict')] }),
  ];
  const rows: [path: string, winner: string | undefined][] = [
    ['/admin', 'exact'],
    ['/ADMIN', 'exact'],
    ['/Admin', 'exact'],
    ['/admin/x', undefined],
    ['/api/v1', 'prefix'],
    ['/Api/V1/users', 'prefix'],
    ['/api/v1x', undefined],
    ['/api/v', undefined],
    ['/reports/Weekly', 'regex'],
    ['/REPORTS/daily', 'regex'],
    ['/reports/42', undefined],
    ['/CAF%C3%A9', 'cafe'],
    ['/caf%C3%89', undefined], // É is not é: only ASCII letters fold
    ['/Strict/x', 'strict'],
    ['/strict/x', undefined],
    ['/STRICT', undefined],
  ];
  for (const [path, winner] of rows) {
    await t.test(path, () => assert.equal(matchId(policies, { path }), winner));
  }
});

test('a case-insensitive match ranks with case-sensitive ones of its kind and length', async (t) => {
  const folded = (path: PathMatch): PathMatch => ({ ...path, caseInsensitive: true });
  const rows: [name: string, policies: SnapshotPolicy[], request: Partial<RouteRequest>, winner: string][] = [
    [
      'exact (folded) beats prefix',
      [makePolicy('p', { paths: [prefix('/x')] }), makePolicy('e', { paths: [folded(exact('/X'))] })],
      { path: '/x' },
      'e',
    ],
    [
      'longer prefix (folded) beats shorter',
      [makePolicy('short', { paths: [prefix('/api')] }), makePolicy('long', { paths: [folded(prefix('/API/V2'))] })],
      { path: '/api/v2/x' },
      'long',
    ],
    [
      'longer prefix beats shorter (folded)',
      [makePolicy('short', { paths: [folded(prefix('/api'))] }), makePolicy('long', { paths: [prefix('/api/v2')] })],
      { path: '/api/v2/x' },
      'long',
    ],
    [
      'same path: a listed method decides',
      [makePolicy('a', { paths: [exact('/x')] }), makePolicy('b', { paths: [folded(exact('/X'))], methods: ['GET'] })],
      { path: '/x' },
      'b',
    ],
    [
      'same path, same methods: the smaller policy id',
      [makePolicy('b', { paths: [exact('/x')] }), makePolicy('a', { paths: [folded(exact('/X'))] })],
      { path: '/x' },
      'a',
    ],
    [
      'same path, same methods: the smaller policy id (folded last)',
      [makePolicy('a', { paths: [exact('/x')] }), makePolicy('b', { paths: [folded(exact('/X'))] })],
      { path: '/x' },
      'a',
    ],
  ];
  for (const [name, policies, request, winner] of rows) {
    await t.test(name, () => {
      assert.equal(matchId(policies, request), winner);
      assert.equal(matchId([...policies].reverse(), request), winner, 'order of the input must not matter');
    });
  }
});

test('prefix "/" matches every path', () => {
  assert.equal(matchId([makePolicy('root', { paths: [prefix('/')] })], { path: '/a/b' }), 'root');
});

test('regexes are anchored at both ends and use the u flag', () => {
  const policies = [makePolicy('r', { paths: [regex('/users/\\d+')] })];
  assert.equal(matchId(policies, { path: '/users/42' }), 'r');
  assert.equal(matchId(policies, { path: '/x/users/42' }), undefined);
  assert.equal(matchId(policies, { path: '/users/42/delete' }), undefined);
  assert.equal(matchId([makePolicy('alt', { paths: [regex('/a|/b')] })], { path: '/bc' }), undefined, 'alternation stays anchored');
  assert.equal(matchId([makePolicy('u', { paths: [regex('/\\p{L}+')] })], { path: '/abc' }), 'u');
});

test('a regex that does not compile refuses the whole router, naming the policy', () => {
  assert.throws(
    () => buildRouter([makePolicy('JWTPolicy/a/bad', { paths: [regex('/(')] })]),
    (err: unknown) => err instanceof SyntaxError && err.message.includes('JWTPolicy/a/bad'),
  );
});

test('a target with several hosts, paths and methods matches on any combination; the matched target is returned', () => {
  const policy = makePolicy('multi', {
    hosts: ['a.example.com', 'b.example.com'],
    paths: [exact('/x'), prefix('/y')],
    methods: ['GET', 'HEAD'],
  });
  policy.targets.push({ hosts: ['c.example.com'], paths: [], methods: [] });
  const router = buildRouter([policy]);
  assert.equal(router.match({ host: 'b.example.com', path: '/y/z', method: 'HEAD', namespace: 'a' })?.target, policy.targets[0]);
  assert.equal(router.match({ host: 'c.example.com', path: '/q', method: 'PUT', namespace: 'a' })?.target, policy.targets[1]);
  assert.equal(router.match({ host: 'a.example.com', path: '/x', method: 'POST', namespace: 'a' }), undefined);
});

test('tenancy: namespaced policies', async (t) => {
  const inA = makePolicy('JWTPolicy/a/p', { hosts: ['b.example.com'] }, { kind: 'namespaced', namespace: 'a' });
  const anyHostInA = makePolicy('JWTPolicy/a/any', {}, { kind: 'namespaced', namespace: 'a' });
  await t.test('a policy in namespace a never applies to traffic for namespace b, even naming its host', () => {
    assert.equal(matchId([inA, anyHostInA], { host: 'b.example.com', namespace: 'b' }), undefined);
  });
  await t.test('it applies in its own namespace', () => {
    assert.equal(matchId([inA], { host: 'b.example.com', namespace: 'a' }), 'JWTPolicy/a/p');
  });
  await t.test('namespace unknown and no grant: a policy without hosts never applies (grants: router-grants.test.ts)', () => {
    assert.equal(matchId([anyHostInA], { host: 'b.example.com', namespace: undefined }), undefined);
  });
});

test('tenancy: cluster policies', async (t) => {
  const listed = makePolicy('ClusterJWTPolicy/listed', {}, { kind: 'cluster', enforcement: 'override', namespaces: ['a', 'c'] });
  const everywhere = makePolicy('ClusterJWTPolicy/all', {}, { kind: 'cluster', enforcement: 'default' });
  await t.test('a namespaces list applies to listed namespaces', () => {
    assert.equal(matchId([listed, everywhere], { namespace: 'c' }), 'ClusterJWTPolicy/listed');
  });
  await t.test('not to other namespaces', () => {
    assert.equal(matchId([listed, everywhere], { namespace: 'b' }), 'ClusterJWTPolicy/all');
  });
  await t.test('not when the namespace is unknown', () => {
    assert.equal(matchId([listed, everywhere], { namespace: undefined }), 'ClusterJWTPolicy/all');
  });
  await t.test('an empty list applies nowhere', () => {
    const none = makePolicy('ClusterJWTPolicy/none', {}, { kind: 'cluster', enforcement: 'override', namespaces: [] });
    assert.equal(matchId([none], { namespace: 'a' }), undefined);
  });
  await t.test('a less specific cluster policy in scope beats a more specific one out of scope', () => {
    const specific = makePolicy(
      'ClusterJWTPolicy/specific',
      { hosts: ['api.example.com'], paths: [exact('/')] },
      { kind: 'cluster', enforcement: 'default', namespaces: ['z'] },
    );
    assert.equal(matchId([specific, everywhere], { namespace: 'a' }), 'ClusterJWTPolicy/all');
  });
});

test('10 000 policies: every route finds its own policy', () => {
  const policies: SnapshotPolicy[] = [];
  for (let i = 0; i < 10_000; i++) {
    const ns = `ns${i % 100}`;
    const scope: PolicyScope = { kind: 'namespaced', namespace: ns };
    if (i % 4 === 0) policies.push(makePolicy(`p${i}`, { hosts: [`svc${i}.example.com`] }, scope));
    else if (i % 4 === 1) policies.push(makePolicy(`p${i}`, { hosts: [`*.t${i}.example.com`], paths: [prefix(`/api/${i}`)] }, scope));
    else if (i % 4 === 2)
      policies.push(makePolicy(`p${i}`, { hosts: ['shared.example.com'], paths: [exact(`/items/${i}`)], methods: ['PUT'] }, scope));
    else policies.push(makePolicy(`p${i}`, { paths: [regex(`/r${i}/[a-z]+`)] }, scope));
  }
  const router = buildRouter(policies, [{ id: 'JWTHostGrant/svc0', hosts: ['svc0.example.com'], namespaces: ['ns0'] }]);
  for (let i = 0; i < 10_000; i++) {
    const namespace = `ns${i % 100}`;
    const request: RouteRequest =
      i % 4 === 0
        ? { host: `svc${i}.example.com`, path: '/anything', method: 'GET', namespace }
        : i % 4 === 1
          ? { host: `x.y.t${i}.example.com`, path: `/api/${i}/z`, method: 'GET', namespace }
          : i % 4 === 2
            ? { host: 'shared.example.com', path: `/items/${i}`, method: 'PUT', namespace }
            : { host: 'any.example.org', path: `/r${i}/abc`, method: 'GET', namespace };
    assert.equal(router.match(request)?.policy?.id, `p${i}`, JSON.stringify(request));
  }
  assert.equal(router.match({ host: 'shared.example.com', path: '/items/2', method: 'GET', namespace: 'ns2' }), undefined);
  assert.equal(router.match({ host: 'svc0.example.com', path: '/', method: 'GET', namespace: 'ns1' }), undefined, 'wrong namespace');
  assert.equal(
    router.match({ host: 'svc0.example.com', path: '/', method: 'GET' })?.policy?.id,
    'p0',
    'gateway mode: the host granted to ns0',
  );
});

test('built in slices: the event loop runs between slices, and the router decides exactly as one built at once', async () => {
  const policies = Array.from({ length: 2000 }, (_, i) =>
    makePolicy(`JWTPolicy/a/p${String(i).padStart(4, '0')}`, {
      hosts: [`h${i % 50}.example`],
      paths: [prefix(`/p${i % 7}`), exact(`/e${i}`)],
    }),
  );
  let ranMeanwhile = false;
  setImmediate(() => {
    ranMeanwhile = true;
  });
  const sliced = await buildRouterInSlices(policies, [], 0);
  assert.equal(ranMeanwhile, true, 'a macrotask queued before the build ran before it finished');
  const whole = buildRouter(policies);
  for (let i = 0; i < 200; i++) {
    const request = { host: `h${i % 50}.example`, path: i % 2 === 0 ? `/p${i % 7}/x` : `/e${i}`, method: 'GET', namespace: 'a' };
    assert.equal(sliced.match(request)?.policy?.id, whole.match(request)?.policy?.id);
  }
});
