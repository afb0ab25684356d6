// readAttributes in sidecar mode: the workload's namespace is the destination, a proxy naming
// another one is refused (namespace_conflict), and the workload's labels travel with the request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readAttributes, type CheckRequestLike } from '../../../authz/request/attributes.ts';
import type { Workload } from '../../../authz/request/workload.ts';
import { DenyError } from '../../../authz/reasons.ts';

const workload: Workload = { namespace: 'shop', labels: { app: 'orders' } };

function request(attributes: Record<string, unknown> = {}): CheckRequestLike {
  return { attributes: { request: { http: { method: 'GET', host: 'orders.test', path: '/', headers: {} } }, ...attributes } };
}

test('without a workload (central mode) nothing is assumed: no namespace, no labels', () => {
  const attrs = readAttributes(request());
  assert.equal(attrs.destinationNamespace, undefined);
  assert.equal(attrs.workloadLabels, undefined);
});

test("the workload's namespace is the destination when the proxy sends none, and its labels are attached", () => {
  const attrs = readAttributes(request(), { workload });
  assert.equal(attrs.destinationNamespace, 'shop');
  assert.deepEqual(attrs.workloadLabels, { app: 'orders' });
});

test('a proxy that reports the same namespace (context extension or SPIFFE principal) is accepted', () => {
  assert.equal(readAttributes(request({ context_extensions: { namespace: 'shop' } }), { workload }).destinationNamespace, 'shop');
  const principal = { destination: { principal: 'spiffe://cluster.local/ns/shop/sa/orders' } };
  assert.equal(readAttributes(request(principal), { workload }).destinationNamespace, 'shop');
});

test('a proxy that reports another namespace is refused: namespace_conflict, the detail names both', async (t) => {
  const rows: [string, Record<string, unknown>, RegExp][] = [
    ['context extension', { context_extensions: { namespace: 'billing' } }, /^context extension namespace "billing" contradicts/],
    [
      'SPIFFE principal',
      { destination: { principal: 'spiffe://cluster.local/ns/billing/sa/api' } },
      /^destination principal "spiffe:\/\/cluster.local\/ns\/billing\/sa\/api" namespace "billing" contradicts/,
    ],
    [
      'both, agreeing with each other',
      { context_extensions: { namespace: 'billing' }, destination: { principal: 'spiffe://cluster.local/ns/billing/sa/api' } },
      /namespace "billing" contradicts/,
    ],
  ];
  for (const [name, attributes, detail] of rows) {
    await t.test(name, () =>
      assert.throws(
        () => readAttributes(request(attributes), { workload }),
        (e: unknown) =>
          e instanceof DenyError &&
          e.code === 'namespace_conflict' &&
          detail.test(e.detail ?? '') &&
          / contradicts sidecar workload namespace "shop"$/.test(e.detail ?? ''),
      ),
    );
  }
});
