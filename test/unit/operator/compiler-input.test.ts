// API objects → compiler input: base64 Secret data to bytes, only referenced Secrets, metadata trimmed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toCompileInput } from '../../../operator/compiler-input.ts';

test('referenced Secrets only, decoded; resources trimmed; namespaces labelled', () => {
  const input = toCompileInput({
    resources: [
      {
        apiVersion: 'jwtgate.dev/v1alpha1',
        kind: 'JWTIssuer',
        metadata: { name: 'idp', namespace: 'shop', uid: 'u1', generation: 2, creationTimestamp: new Date('2026-01-01T00:00:00Z') },
        spec: { secretRef: { name: 'keys', key: 'k', format: 'HMAC' } },
        status: { conditions: [] },
      },
    ],
    secrets: [
      { metadata: { name: 'keys', namespace: 'shop' }, data: { k: Buffer.from('s3cret').toString('base64') } },
      { metadata: { name: 'keys', namespace: 'other' }, data: { k: 'eA==' } },
      { metadata: { name: 'unrelated', namespace: 'shop' }, data: { k: 'eA==' } },
    ],
    namespaces: [{ metadata: { name: 'shop', labels: { team: 'a' } } }],
  });
  assert.deepEqual(input.resources, [
    {
      apiVersion: 'jwtgate.dev/v1alpha1',
      kind: 'JWTIssuer',
      metadata: { name: 'idp', namespace: 'shop', creationTimestamp: '2026-01-01T00:00:00.000Z', generation: 2 },
      spec: { secretRef: { name: 'keys', key: 'k', format: 'HMAC' } },
    },
  ]);
  assert.equal(input.secrets.length, 1);
  assert.equal(Buffer.from(input.secrets[0]!.data.k!).toString(), 's3cret');
  assert.deepEqual(input.namespaces, [{ name: 'shop', labels: { team: 'a' } }]);
});

test('Gateway API objects pass with spec, status and generation; absent lists stay absent (the Gateway API is unknown)', () => {
  const route = {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'orders', namespace: 'shop', generation: 3, uid: 'u', resourceVersion: '9' },
    spec: { hostnames: ['api.example.com'] },
    status: { parents: [] },
  };
  const input = toCompileInput({ resources: [], secrets: [], namespaces: [], httpRoutes: [route], gateways: [] });
  assert.deepEqual(input.httpRoutes, [
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'orders', namespace: 'shop', generation: 3 },
      spec: { hostnames: ['api.example.com'] },
      status: { parents: [] },
    },
  ]);
  assert.deepEqual(input.gateways, []);
  const unknown = toCompileInput({ resources: [], secrets: [], namespaces: [] });
  assert.deepEqual(['httpRoutes' in unknown, 'gateways' in unknown], [false, false]);
});
