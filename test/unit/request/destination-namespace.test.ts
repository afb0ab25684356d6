// The destination namespace (issue 10): only the proxy's `namespace` context extension and the
// destination's SPIFFE principal name it, never a header; two claims that disagree, or a claim
// that is malformed, are refused; a fast-check property over (extension, principal, headers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { namespaceFromPrincipal, resolveDestinationNamespace } from '../../../authz/request/destination-namespace.ts';
import { readAttributes, type CheckRequestLike } from '../../../authz/request/attributes.ts';
import { DenyError, type DenyReason } from '../../../authz/reasons.ts';

const principal = (ns: string): string => `spiffe://cluster.local/ns/${ns}/sa/api`;

function request(attributes: Record<string, unknown>, headers: Record<string, string> = {}): CheckRequestLike {
  return { attributes: { request: { http: { method: 'GET', host: 'api.test', path: '/', headers } }, ...attributes } };
}

function assertDenied(fn: () => unknown, code: DenyReason, detail?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof DenyError, String(error));
    assert.equal(error.code, code);
    if (detail !== undefined) assert.match(error.detail ?? '', detail);
    return true;
  });
}

test('nothing names a namespace: undefined', () => {
  assert.equal(resolveDestinationNamespace({}), undefined);
  assert.equal(resolveDestinationNamespace({ context_extensions: {}, destination: { principal: '' } }), undefined);
  assert.equal(resolveDestinationNamespace({ context_extensions: null, destination: null }), undefined);
});

test('the context extension alone, or the principal alone, names it', () => {
  assert.equal(resolveDestinationNamespace({ context_extensions: { namespace: 'shop' } }), 'shop');
  assert.equal(resolveDestinationNamespace({ destination: { principal: principal('shop') } }), 'shop');
  assert.equal(resolveDestinationNamespace({ destination: { principal: 'spiffe://td/ns/a-b/sa/x' } }), 'a-b');
  // A namespace and a service account may be called `ns` or `sa`: the layout, not the words, decides.
  assert.equal(namespaceFromPrincipal('spiffe://td/ns/ns/sa/ns'), 'ns');
  assert.equal(namespaceFromPrincipal(`spiffe://td/ns/${'a'.repeat(63)}/sa/x`), 'a'.repeat(63));
});

test('both present and equal: that namespace', () => {
  assert.equal(
    resolveDestinationNamespace({ context_extensions: { namespace: 'shop' }, destination: { principal: principal('shop') } }),
    'shop',
  );
});

test('both present and different: namespace_conflict, the log detail names both, neither is used', () => {
  assertDenied(
    () => readAttributes(request({ context_extensions: { namespace: 'billing' }, destination: { principal: principal('shop') } })),
    'namespace_conflict',
    /^context extension namespace "billing" contradicts destination principal "spiffe:\/\/cluster\.local\/ns\/shop\/sa\/api" namespace "shop"$/,
  );
});

test('principals that name no namespace are not claims: undefined', () => {
  for (const p of [
    'https://accounts.google.com/123',
    'spiffe://example.org/workload/api',
    'spiffe://ns/sa/x',
    'cluster.local/ns/shop/sa/x',
  ]) {
    assert.equal(namespaceFromPrincipal(p), undefined, p);
  }
  // ...so the context extension decides alone.
  assert.equal(
    resolveDestinationNamespace({
      context_extensions: { namespace: 'shop' },
      destination: { principal: 'spiffe://example.org/workload/api' },
    }),
    'shop',
  );
});

test('a SPIFFE principal with a malformed or repeated /ns/ segment: namespace_invalid', () => {
  const rows: [string, RegExp][] = [
    ['spiffe://cluster.local/ns/shop/sa/cart/extra', /is not spiffe:/],
    ['spiffe://cluster.local/ns//sa/cart', /not an RFC 1123 label/],
    ['spiffe://cluster.local/ns/../sa/cart', /not an RFC 1123 label/],
    ['spiffe://cluster.local/ns/Shop/sa/cart', /not an RFC 1123 label/],
    ['spiffe://cluster.local/ns/shop%2Fx/sa/cart', /not an RFC 1123 label/],
    [`spiffe://cluster.local/ns/${'a'.repeat(64)}/sa/x`, /not an RFC 1123 label/],
    ['spiffe:///ns/shop/sa/cart', /is not spiffe:/],
    ['SPIFFE://cluster.local/ns/shop/sa/cart', /is not spiffe:/],
    ['spiffe://cluster.local/NS/shop/sa/cart', /is not spiffe:/],
    ['spiffe://cluster.local/sa/cart/ns/shop', /is not spiffe:/],
    ['spiffe://cluster.local/ns/shop', /is not spiffe:/],
    ['spiffe://td/ns/shop/sa/x\n', /is not spiffe:/],
    ['spiffe://cluster.local/ns/shop/ns/billing/sa/cart', /repeats \/ns\//],
    ['spiffe://cluster.local/ns/shop/sa/cart/ns/billing', /repeats \/ns\//],
    [`spiffe://${'a'.repeat(5000)}/ns/shop/sa/x`, /exceeds 2048/],
  ];
  for (const [p, detail] of rows) {
    assertDenied(() => resolveDestinationNamespace({ destination: { principal: p } }), 'namespace_invalid', detail);
  }
});

test('a namespace context extension that is not an RFC 1123 label: namespace_invalid', () => {
  for (const ns of ['', 'Shop', 'not_a_label', '../kube-system', '-shop', 'shop-', 'a'.repeat(64), 'shop.billing', ' shop']) {
    assertDenied(
      () => resolveDestinationNamespace({ context_extensions: { namespace: ns }, destination: { principal: principal('shop') } }),
      'namespace_invalid',
      /^context extension namespace ".*" is not an RFC 1123 label$/,
    );
  }
  // Other context extensions are not namespace claims.
  assert.equal(resolveDestinationNamespace({ context_extensions: { Namespace: 'Shop', ns: '..' } }), undefined);
});

test('fields of the wrong type: request_invalid', () => {
  const rows: Record<string, unknown>[] = [
    { context_extensions: ['namespace', 'shop'] },
    { context_extensions: { namespace: 7 } },
    { destination: 'spiffe://cluster.local/ns/shop/sa/api' },
    { destination: { principal: 12 } },
    { destination: { principal: { toString: () => principal('shop') } } },
  ];
  for (const attributes of rows) assertDenied(() => resolveDestinationNamespace(attributes), 'request_invalid');
});

test('no request header names the namespace, whatever it says', () => {
  const forged = {
    'x-namespace': 'billing',
    namespace: 'billing',
    'x-forwarded-client-cert': `By=${principal('billing')};URI=${principal('billing')}`,
    'x-envoy-peer-metadata-id': 'sidecar~10.0.0.1~api.billing~billing.svc.cluster.local',
    'x-k8s-namespace': 'billing',
    ':authority': 'api.billing.svc.cluster.local',
  };
  assert.equal(readAttributes(request({}, forged)).destinationNamespace, undefined);
  assert.equal(readAttributes(request({ context_extensions: { namespace: 'shop' } }, forged)).destinationNamespace, 'shop');
  assert.equal(readAttributes(request({ destination: { principal: principal('shop') } }, forged)).destinationNamespace, 'shop');
  // The *source* principal is the client's identity, not the destination's.
  assert.equal(readAttributes(request({ source: { principal: principal('billing') } }, forged)).destinationNamespace, undefined);
});

// Namespaces the generators draw from: a few valid names (some equal to the words of the layout)
// and, for the extension, strings of any shape.
const validNamespace = fc.constantFrom('shop', 'billing', 'kube-system', 'ns', 'sa', 'a');
const extension = fc.option(fc.oneof(validNamespace, fc.string({ maxLength: 12 }), fc.stringMatching(/^[a-z0-9-]{1,8}$/)), {
  nil: undefined,
});
/** A principal and the namespace it was built to name (undefined: it names none, or is malformed). */
const destination = fc.option(
  fc.oneof(
    validNamespace.map((ns) => ({ principal: principal(ns), names: ns as string | undefined })),
    fc.constantFrom('https://idp.test/1', 'spiffe://example.org/workload/x', '').map((p) => ({ principal: p, names: undefined })),
    fc
      .tuple(validNamespace, validNamespace)
      .map(([a, b]) => ({ principal: `spiffe://td/ns/${a}/ns/${b}/sa/x`, names: undefined as string | undefined })),
    fc.string({ maxLength: 30 }).map((tail) => ({ principal: `spiffe://td/ns/${tail}`, names: undefined as string | undefined })),
  ),
  { nil: undefined },
);
/** Headers that try to name a namespace: the usual suspects, with valid names and SPIFFE IDs as values. */
const headers = fc.dictionary(
  fc.constantFrom('x-namespace', 'namespace', 'x-forwarded-client-cert', 'x-k8s-namespace', 'x-envoy-peer-metadata-id', 'x-destination'),
  fc.oneof(validNamespace, validNamespace.map(principal)),
  { maxKeys: 6 },
);

/** The outcome of one read: the namespace, or the denial's code. */
function outcome(attributes: Record<string, unknown>, h: Record<string, string>): { namespace?: string; denied?: string } {
  try {
    const ns = readAttributes(request(attributes, h)).destinationNamespace;
    return ns === undefined ? {} : { namespace: ns };
  } catch (error) {
    if (error instanceof DenyError) return { denied: error.code };
    throw error;
  }
}

test("property: the namespace is undefined, the extension or the principal's, never a header's; disagreement is a denial", () => {
  fc.assert(
    fc.property(extension, destination, headers, (ext, dest, h) => {
      const attributes: Record<string, unknown> = {};
      if (ext !== undefined) attributes.context_extensions = { namespace: ext };
      if (dest !== undefined) attributes.destination = { principal: dest.principal };

      const result = outcome(attributes, h);
      // Headers change nothing: the same claims without them give the same outcome.
      assert.deepEqual(result, outcome(attributes, {}));
      if (result.namespace !== undefined) {
        assert.ok(result.namespace === ext || result.namespace === dest?.names, `${result.namespace} came from neither claim`);
        if (ext !== undefined && dest?.names !== undefined) assert.equal(ext, dest.names);
      }
      if (result.denied !== undefined) assert.ok(['namespace_invalid', 'namespace_conflict'].includes(result.denied), result.denied);
      // Two well-formed claims that disagree are always refused as a conflict.
      const extIsValid = ext !== undefined && /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/.test(ext);
      if (extIsValid && dest?.names !== undefined && ext !== dest.names) assert.deepEqual(result, { denied: 'namespace_conflict' });
    }),
    { numRuns: 2000 },
  );
});
