// The compiler as a whole: isolation of bad resources, determinism, duplicates, the digest,
// and the shipped examples.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { snapshotDigest } from '../../../snapshot/digest.ts';
import { SNAPSHOT_SCHEMA_VERSION } from '../../../snapshot/types.ts';
import { compile } from '../../../compiler/compile.ts';
import { formatDiagnostic } from '../../../compiler/diagnostics.ts';
import { loadManifests } from '../../../cli/load-manifests.ts';
import type { Resource } from '../../../compiler/resources.ts';
import { NOW, errorsOf, issuer, jwksUriIssuer, policy, requiredPolicy } from './builders.ts';
import { schema } from '../../support/schema.ts';

const ROOT = join(import.meta.dirname, '../../..');

const good = [
  issuer('idp', jwksUriIssuer()),
  policy('orders', requiredPolicy('shop.example.com')),
  policy('health', { mode: 'Disabled', targets: [{ paths: [{ exact: '/healthz' }] }] }),
];

test('a bad resource never drops the good ones; a broken policy holds only its own routes, denying them', () => {
  const bad: Resource[] = [
    issuer('broken-idp', { issuer: 'https://x', algorithms: ['RS256'] }),
    policy('broken', requiredPolicy('other.example.com', { rules: [{ claim: 'sub', regex: '(' }] })),
    policy('orphan', requiredPolicy('orphan.example.com', { issuers: { anyOf: [{ name: 'broken-idp' }] } })),
    { apiVersion: 'jwtgate.dev/v1alpha1', kind: 'JWTPolicy', metadata: undefined as never, spec: null },
  ];
  const { snapshot, diagnostics } = compile({ schema, resources: [...bad, ...good], now: NOW });
  assert.deepEqual(Object.keys(snapshot.issuers), ['shop/idp']);
  assert.deepEqual(
    snapshot.policies.map((p) => [p.id, p.mode]),
    [
      ['JWTPolicy/shop/broken', 'invalid'],
      ['JWTPolicy/shop/health', 'disabled'],
      ['JWTPolicy/shop/orders', 'required'],
      ['JWTPolicy/shop/orphan', 'invalid'],
    ],
  );
  assert.deepEqual(errorsOf(diagnostics), [
    'InvalidSpec spec',
    'InvalidSpec metadata.name',
    'InvalidSpec spec',
    'InvalidRegex spec.rules[0].regex',
    'IssuerNotReady spec.issuers.anyOf[0]',
  ]);
});

test('the same input in any order gives the same snapshot and sha256', () => {
  const a = compile({ schema, resources: good, now: NOW });
  const b = compile({ schema, resources: [...good].reverse(), now: new Date('2027-01-01T00:00:00Z'), generation: 9 });
  assert.equal(a.snapshot.sha256, b.snapshot.sha256);
  assert.deepEqual(a.snapshot.policies, b.snapshot.policies);
  assert.equal(a.snapshot.sha256, snapshotDigest(a.snapshot));
  assert.deepEqual(
    [a.snapshot.schemaVersion, a.snapshot.generation, a.snapshot.createdAt, b.snapshot.generation],
    [SNAPSHOT_SCHEMA_VERSION, 1, NOW.toISOString(), 9],
  );
  assert.deepEqual(a.snapshot.settings, { unmatched: 'deny' });
  const changed = compile({ schema, resources: [good[0] as Resource, policy('orders', requiredPolicy('shop2.example.com'))], now: NOW });
  assert.notEqual(changed.snapshot.sha256, a.snapshot.sha256);
});

test('a duplicate resource: no copy wins (never the first file); the routes of every copy are held closed', () => {
  const first = { ...policy('orders', requiredPolicy('a.example')), file: 'a.yaml' };
  const second = { ...policy('orders', requiredPolicy('b.example')), file: 'b.yaml' };
  const { snapshot, diagnostics } = compile({
    schema,
    resources: [good[0] as Resource, first, second],
    now: NOW,
    grantLoneNamespace: true,
  });
  assert.deepEqual(
    snapshot.policies.map((p) => [p.mode, p.targets.flatMap((t) => t.hosts)]),
    [['invalid', ['a.example', 'b.example']]],
  );
  assert.deepEqual(diagnostics.map(formatDiagnostic), [
    'error: a.yaml: JWTPolicy shop/orders: JWTPolicy/shop/orders is defined 2 times (a.yaml, b.yaml); none of the copies is enforced until only one is left [DuplicateResource]',
    'error: b.yaml: JWTPolicy shop/orders: JWTPolicy/shop/orders is defined 2 times (a.yaml, b.yaml); none of the copies is enforced until only one is left [DuplicateResource]',
  ]);
});

test('no resources: an empty snapshot, so every request is unmatched and denied', () => {
  const { snapshot, diagnostics } = compile({ schema, resources: [], now: NOW });
  assert.deepEqual([snapshot.issuers, snapshot.policies, diagnostics], [{}, [], []]);
});

for (const folder of ['examples/policies', 'examples/policies-hmac']) {
  test(`${folder} compiles with no error and no warning (standalone: its lone namespace needs no grant)`, async () => {
    const loaded = await loadManifests(join(ROOT, folder));
    const { snapshot, diagnostics } = compile({ schema, ...loaded, now: NOW, grantLoneNamespace: true });
    assert.deepEqual([...loaded.diagnostics, ...diagnostics].map(formatDiagnostic), []);
    assert.ok(snapshot.policies.length > 0 && Object.keys(snapshot.issuers).length > 0);
  });
}

test('the example covers a required /api route with scope and headers, a Disabled /healthz and an Optional route', async () => {
  const { snapshot } = compile({ schema, ...(await loadManifests(join(ROOT, 'examples/policies'))), now: NOW });
  const byName = new Map(snapshot.policies.map((p) => [p.id, p]));
  const orders = byName.get('JWTPolicy/demo/orders-api');
  assert.equal(orders?.mode, 'required');
  assert.deepEqual(
    orders?.rules.map((r) => r.op === 'containsAll' && r.values),
    [['orders:read']],
  );
  assert.ok((orders?.forward.claimHeaders.length ?? 0) > 0);
  assert.equal(byName.get('JWTPolicy/demo/healthz')?.mode, 'disabled');
  assert.equal(byName.get('JWTPolicy/demo/catalog')?.mode, 'optional');
});
