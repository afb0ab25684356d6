// The README's resource examples are documentation users copy: they must pass the same
// validation and compiler as any manifest, with no diagnostics at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseManifests } from '../../../cli/load-manifests.ts';
import { compile, type CompileInput } from '../../../compiler/compile.ts';
import { formatDiagnostic } from '../../../compiler/diagnostics.ts';
import { schema } from '../../support/schema.ts';

const README = new URL('../../../README.md', import.meta.url);

const GROUP = 'gateway.networking.k8s.io';
const accepted = (generation: number) => ({
  parents: [
    {
      parentRef: { name: 'public' },
      controllerName: 'example.com/gateway-controller',
      conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', observedGeneration: generation }],
    },
  ],
});
/** The README's targetRefs example attaches to these: HTTPRoutes shop/orders and shop/admin, accepted by Gateway shop/public. */
const GATEWAY_API = {
  gateways: [
    {
      apiVersion: `${GROUP}/v1`,
      kind: 'Gateway',
      metadata: { name: 'public', namespace: 'shop' },
      spec: { gatewayClassName: 'eg', listeners: [{ name: 'api', protocol: 'HTTP', port: 80, hostname: 'api.example.com' }] },
    },
  ],
  httpRoutes: [
    {
      apiVersion: `${GROUP}/v1`,
      kind: 'HTTPRoute',
      metadata: { name: 'orders', namespace: 'shop', generation: 1 },
      spec: {
        parentRefs: [{ name: 'public' }],
        hostnames: ['api.example.com'],
        rules: [
          {
            matches: [
              { path: { type: 'PathPrefix', value: '/invoices' }, method: 'GET' },
              { path: { type: 'PathPrefix', value: '/invoices' }, method: 'POST' },
            ],
          },
        ],
      },
      status: accepted(1),
    },
    {
      apiVersion: `${GROUP}/v1`,
      kind: 'HTTPRoute',
      metadata: { name: 'admin', namespace: 'shop', generation: 1 },
      spec: {
        parentRefs: [{ name: 'public' }],
        rules: [
          { name: 'read-rules', matches: [{ path: { type: 'Exact', value: '/admin/users' }, method: 'GET' }] },
          { name: 'write-rules', matches: [{ path: { type: 'Exact', value: '/admin/users' }, method: 'POST' }] },
        ],
      },
      status: accepted(1),
    },
  ],
} as unknown as Pick<CompileInput, 'gateways' | 'httpRoutes'>;

test('every complete manifest in the README compiles without a diagnostic', () => {
  const blocks = [...readFileSync(README, 'utf8').matchAll(/```yaml\n([\s\S]*?)```/g)]
    .map((m) => m[1]!)
    .filter((yaml) => yaml.startsWith('apiVersion: jwtgate.dev/'));
  assert.ok(blocks.length >= 3, `expected the JWTIssuer, JWTPolicy and ClusterJWTPolicy examples, found ${blocks.length}`);
  const parsed = parseManifests(blocks.join('---\n'), 'README.md');
  const namespaces = [{ name: 'shop', labels: { 'jwtgate.dev/enforce': 'true' } }];
  const { snapshot, diagnostics } = compile({
    schema,
    resources: parsed.resources,
    secrets: [],
    namespaces,
    // What the cluster holds for the targetRefs example: a Gateway that accepted both routes.
    ...GATEWAY_API,
    generation: 1,
    now: new Date(0),
  });
  assert.deepEqual([...parsed.diagnostics, ...diagnostics].map(formatDiagnostic), []);
  assert.deepEqual(
    snapshot.policies.map((p) => p.id),
    ['ClusterJWTPolicy/require-corp-tokens', 'JWTPolicy/shop/orders', 'JWTPolicy/shop/orders-route'],
  );
  assert.deepEqual(Object.keys(snapshot.issuers), ['shop/corp-idp']);
  const routed = snapshot.policies.find((p) => p.id === 'JWTPolicy/shop/orders-route');
  assert.deepEqual(
    routed?.targets.map((t) => `${t.hosts.join(',')} ${t.paths.map((p) => `${p.kind}:${p.value}`).join(',')} ${t.methods.join(',')}`),
    ['api.example.com prefix:/invoices GET', 'api.example.com prefix:/invoices POST', 'api.example.com exact:/admin/users POST'],
  );
});
