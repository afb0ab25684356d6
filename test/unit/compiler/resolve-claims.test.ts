// Who holds a route: incumbency from the last good snapshot, never name or file order; claims
// with no incumbent are contested and held closed; policies of two namespaces never compete
// (tenancy by grant: compile-grant.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile } from '../../../compiler/compile.ts';
import type { Resource } from '../../../compiler/resources.ts';
import type { Snapshot } from '../../../snapshot/types.ts';
import { NOW, clusterPolicy, errorsOf, issuer, jwksUriIssuer, modesOf, policy, requiredPolicy } from './builders.ts';
import { schema } from '../../support/schema.ts';

const issuers = ['shop', 'evil', 'other'].map((ns) => issuer('idp', jwksUriIssuer(), ns));
const run = (resources: Resource[], previous?: Snapshot) =>
  compile({
    schema,
    resources: [...issuers, ...resources],
    namespaces: [
      { name: 'shop', labels: {} },
      { name: 'other', labels: {} },
    ],
    now: NOW,
    ...(previous === undefined ? {} : { previous }),
  });
/** Compiles `before`, then `after` with the first result as the last good snapshot. */
const edit = (before: Resource[], after: Resource[]) => run(after, run(before).snapshot);
const conflicts = (diagnostics: ReturnType<typeof run>['diagnostics']) =>
  diagnostics.filter((d) => d.reason === 'RouteConflict').map((d) => `${d.severity} ${d.resource.namespace}/${d.resource.name}`);

const admin = (mode?: string) =>
  requiredPolicy('shop.example.com', {
    targets: [{ hosts: ['shop.example.com'], paths: [{ prefix: '/admin' }] }],
    ...(mode === undefined ? {} : { mode }),
  });

test('a newcomer claiming a held route is refused, whatever its name; the holder keeps the route and is told', () => {
  for (const name of ['aaa-open', 'zzz-open']) {
    const { snapshot, diagnostics } = edit([policy('admin', admin())], [policy('admin', admin()), policy(name, admin('Disabled'))]);
    assert.deepEqual(modesOf(snapshot), ['JWTPolicy/shop/admin required'], name);
    assert.deepEqual(
      conflicts(diagnostics),
      [`warning shop/admin`, `error shop/${name}`].sort((a, b) => (a.split(' ')[1]! < b.split(' ')[1]! ? -1 : 1)),
    );
    const refused = diagnostics.find((d) => d.severity === 'error');
    assert.match(
      refused?.message ?? '',
      /route host=shop\.example\.com path=prefix \/admin method=any is held by JWTPolicy\/shop\/admin: this policy is refused/,
    );
    assert.match(
      diagnostics.find((d) => d.severity === 'warning' && d.reason === 'RouteConflict')?.message ?? '',
      new RegExp(`JWTPolicy/shop/${name} also claims .* and was refused; this policy keeps it`),
    );
  }
});

test('two new claims with no incumbent are contested: both are held closed until one goes', () => {
  const both = [policy('b', admin()), policy('a', admin('Disabled'))];
  const cold = run(both);
  assert.deepEqual(modesOf(cold.snapshot), ['JWTPolicy/shop/a invalid', 'JWTPolicy/shop/b invalid']);
  assert.deepEqual(conflicts(cold.diagnostics), ['error shop/a', 'error shop/b']);
  assert.match(
    cold.diagnostics.find((d) => d.reason === 'RouteConflict')?.message ?? '',
    /no policy held it before: it is denied \(503 policy_invalid\)/,
  );
  // Still contested on the next reload: a contested hold is no incumbency.
  assert.deepEqual(modesOf(run(both, cold.snapshot).snapshot), ['JWTPolicy/shop/a invalid', 'JWTPolicy/shop/b invalid']);
  // One goes: the other gets the route.
  assert.deepEqual(modesOf(run([policy('a', admin('Disabled'))], cold.snapshot).snapshot), ['JWTPolicy/shop/a disabled']);
});

test('a refused newcomer holds its other routes closed; a held route is never taken from the holder', () => {
  const wide = requiredPolicy('shop.example.com', {
    mode: 'Disabled',
    targets: [{ hosts: ['shop.example.com'], paths: [{ prefix: '/admin' }, { prefix: '/new' }] }],
  });
  const { snapshot } = edit([policy('admin', admin())], [policy('admin', admin()), policy('open', wide)]);
  assert.deepEqual(modesOf(snapshot), ['JWTPolicy/shop/admin required', 'JWTPolicy/shop/open invalid']);
  assert.deepEqual(snapshot.policies[1]?.targets, [
    { hosts: ['shop.example.com'], paths: [{ kind: 'prefix', value: '/new' }], methods: [] },
  ]);
});

test('the holder stays the holder while broken (a missing issuer) and after an edit that keeps the route', () => {
  const broken = policy('admin', { ...admin(), issuers: { anyOf: [{ name: 'gone' }] } });
  const { snapshot } = edit([policy('admin', admin())], [broken, policy('open', admin('Disabled'))]);
  assert.deepEqual(modesOf(snapshot), ['JWTPolicy/shop/admin invalid']);
  const edited = edit([policy('admin', admin())], [policy('admin', admin('Optional')), policy('aaa', admin('Disabled'))]);
  assert.deepEqual(modesOf(edited.snapshot), ['JWTPolicy/shop/admin optional']);
});

test('a policy refused after an edit holds the routes it held before, too', () => {
  const other = policy(
    'other',
    requiredPolicy('shop.example.com', { targets: [{ hosts: ['shop.example.com'], paths: [{ prefix: '/b' }] }] }),
  );
  const movedToB = policy(
    'admin',
    requiredPolicy('shop.example.com', { targets: [{ hosts: ['shop.example.com'], paths: [{ prefix: '/b' }] }] }),
  );
  const { snapshot } = edit([policy('admin', admin()), other], [movedToB, other]);
  assert.deepEqual(modesOf(snapshot), ['JWTPolicy/shop/admin invalid', 'JWTPolicy/shop/other required']);
  assert.deepEqual(
    snapshot.policies[0]?.targets.flatMap((t) => t.paths),
    [{ kind: 'prefix', value: '/admin' }],
  );
});

test('deleting the holder releases the route; a compile error with routes unreadable holds the old ones', () => {
  assert.deepEqual(modesOf(edit([policy('admin', admin())], [policy('open', admin('Disabled'))]).snapshot), [
    'JWTPolicy/shop/open disabled',
  ]);
  const typo: Resource = {
    ...policy('admin', {}),
    spec: { targetz: [{ hosts: ['shop.example.com'] }], issuers: { anyOf: [{ name: 'idp' }] } },
  };
  const held = edit([policy('admin', admin())], [typo]);
  assert.deepEqual(modesOf(held.snapshot), ['JWTPolicy/shop/admin invalid']);
  assert.equal(held.refusal, undefined);
  assert.deepEqual(
    held.snapshot.policies[0]?.targets.flatMap((t) => t.paths),
    [{ kind: 'prefix', value: '/admin' }],
  );
  assert.deepEqual(errorsOf(held.diagnostics), ['InvalidSpec spec.targetz']);
});

test('one shared triple is enough to compete; different methods or paths do not', () => {
  const target = (paths: unknown[], methods: string[]) =>
    requiredPolicy('shop.example.com', { targets: [{ hosts: ['shop.example.com'], paths, methods }] });
  assert.equal(
    conflicts(run([policy('a', target([{ prefix: '/api' }], ['GET'])), policy('b', target([{ prefix: '/api' }], ['POST']))]).diagnostics)
      .length,
    0,
  );
  assert.equal(
    conflicts(run([policy('a', target([{ prefix: '/api' }], [])), policy('b', target([{ exact: '/api' }], []))]).diagnostics).length,
    0,
  );
  assert.deepEqual(
    conflicts(
      run([policy('a', target([{ prefix: '/x' }, { prefix: '/api' }], ['GET'])), policy('b', target([{ prefix: '/api' }], ['GET', 'PUT']))])
        .diagnostics,
    ),
    ['error shop/a', 'error shop/b'],
  );
});

test('the same route in two namespaces without hosts is fine: each applies to its own traffic', () => {
  const hostless = requiredPolicy('x', { targets: [{ paths: [{ prefix: '/api' }] }] });
  assert.deepEqual(modesOf(run([policy('a', hostless, 'shop'), policy('a', hostless, 'other')]).snapshot), [
    'JWTPolicy/other/a required',
    'JWTPolicy/shop/a required',
  ]);
});

test('several policies of one namespace may share its hosts', () => {
  const paths = (p: string) => requiredPolicy('shop.example.com', { targets: [{ hosts: ['shop.example.com'], paths: [{ prefix: p }] }] });
  assert.equal(run([policy('a', paths('/a')), policy('b', paths('/b'))]).snapshot.policies.length, 2);
});

test('cluster policies compete only with the same enforcement and overlapping namespaces', () => {
  const spec = (extra: Record<string, unknown>) =>
    requiredPolicy('a.example', { issuers: { anyOf: [{ name: 'idp', namespace: 'shop' }] }, ...extra });
  const onlyShop = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'shop' } } };
  const onlyOther = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'other' } } };
  assert.deepEqual(modesOf(run([clusterPolicy('a', spec({})), clusterPolicy('b', spec({}))]).snapshot), [
    'ClusterJWTPolicy/a invalid',
    'ClusterJWTPolicy/b invalid',
  ]);
  assert.deepEqual(modesOf(edit([clusterPolicy('b', spec({}))], [clusterPolicy('a', spec({})), clusterPolicy('b', spec({}))]).snapshot), [
    'ClusterJWTPolicy/b required',
  ]);
  assert.equal(conflicts(run([clusterPolicy('a', spec({})), clusterPolicy('b', spec({ enforcement: 'Override' }))]).diagnostics).length, 0);
  assert.equal(conflicts(run([clusterPolicy('a', spec(onlyShop)), clusterPolicy('b', spec(onlyOther))]).diagnostics).length, 0);
  assert.deepEqual(conflicts(run([clusterPolicy('a', spec(onlyShop)), clusterPolicy('b', spec({}))]).diagnostics), [
    'error undefined/a',
    'error undefined/b',
  ]);
  assert.equal(errorsOf(run([clusterPolicy('a', spec({})), policy('p', requiredPolicy('a.example'))]).diagnostics).length, 0);
});

test('paths that differ only in case compete when either ignores case, never otherwise', () => {
  const at = (path: Record<string, unknown>, mode?: string) =>
    requiredPolicy('shop.example.com', {
      targets: [{ hosts: ['shop.example.com'], paths: [path] }],
      ...(mode === undefined ? {} : { mode }),
    });
  assert.equal(conflicts(run([policy('a', at({ exact: '/admin' })), policy('b', at({ exact: '/Admin' }))]).diagnostics).length, 0);
  assert.deepEqual(
    conflicts(run([policy('a', at({ exact: '/admin', caseInsensitive: true })), policy('b', at({ exact: '/Admin' }))]).diagnostics),
    ['error shop/a', 'error shop/b'],
  );
  const { snapshot } = edit(
    [policy('a', at({ prefix: '/admin', caseInsensitive: true }))],
    [policy('a', at({ prefix: '/admin', caseInsensitive: true })), policy('b', at({ prefix: '/ADMIN' }, 'Disabled'))],
  );
  assert.deepEqual(modesOf(snapshot), ['JWTPolicy/shop/a required']);
});
