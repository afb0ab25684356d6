// Reading a manifests folder: recursion, multi-document YAML, JSON, Lists, Secrets,
// Namespaces, unknown kinds, parse errors and the default namespace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { compile } from '../../../compiler/compile.ts';
import { formatDiagnostic } from '../../../compiler/diagnostics.ts';
import { loadManifests, parseManifests } from '../../../cli/load-manifests.ts';
import { NOW } from '../compiler/builders.ts';
import { schema } from '../../support/schema.ts';

const DIR = join(import.meta.dirname, '../../fixtures/manifests/folder');
const loaded = await loadManifests(DIR);

test('resources come from every .yaml/.yml/.json file below the folder, each with its file', () => {
  assert.deepEqual(
    loaded.resources.map((r) => [r.kind, r.metadata.namespace, r.metadata.name, r.file]),
    [
      ['JWTIssuer', 'shop', 'idp', join(DIR, 'issuers.yaml')],
      ['JWTPolicy', 'default', 'public', join(DIR, 'nested/no-namespace.yaml')],
      ['JWTPolicy', 'shop', 'orders', join(DIR, 'policies.yml')],
      ['JWTPolicy', 'shop', 'broken', join(DIR, 'policies.yml')],
    ],
  );
});

test('Secrets (data and stringData) and Namespaces (also from a List) are collected', () => {
  assert.deepEqual(
    loaded.secrets.map((s) => [
      s.namespace,
      s.name,
      Object.fromEntries(Object.entries(s.data).map(([k, v]) => [k, Buffer.from(v).toString()])),
    ]),
    [['shop', 'hmac', { encoded: 'hello', plain: 'world' }]],
  );
  assert.deepEqual(loaded.namespaces, [
    { name: 'shop', labels: { team: 'shop' } },
    { name: 'other', labels: {} },
  ]);
});

test('parse errors and unknown kinds are reported; hidden folders and other files are skipped', () => {
  assert.deepEqual(
    loaded.diagnostics.map((d) => [d.severity, d.reason, d.resource.kind, d.resource.name, d.resource.file]),
    [
      ['error', 'ParseError', 'Document', '#1', join(DIR, 'broken.yaml')],
      ['warning', 'UnknownKind', 'Deployment', 'web', join(DIR, 'issuers.yaml')],
    ],
  );
});

test('the broken policy is reported with file, resource and field; its routes cannot be read, so the reload is refused', () => {
  const { snapshot, diagnostics, refusal } = compile({ schema, ...loaded, now: NOW });
  assert.match(refusal ?? '', /JWTPolicy\/shop\/broken: its routes cannot be read/);
  assert.deepEqual(diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic), [
    `error: ${join(DIR, 'policies.yml')}: JWTPolicy shop/broken: spec.issuer: unknown field [InvalidSpec]`,
    `error: ${join(DIR, 'policies.yml')}: JWTPolicy shop/broken: spec.targets[0].paths[1]: exactly one of exact, prefix or regex must be set [InvalidSpec]`,
    `error: ${join(DIR, 'policies.yml')}: JWTPolicy shop/broken: spec.targets: its routes cannot be read and the last good snapshot holds none for it, so nothing can be held closed in its place: standalone mode refuses this reload, the operator leaves this policy out [RoutesUnknown]`,
  ]);
  // Nothing to hold it by: the policy is out, and `refusal` tells standalone mode to keep the last good snapshot.
  assert.deepEqual(
    snapshot.policies.map((p) => `${p.id} ${p.mode}`),
    ['JWTPolicy/default/public disabled', 'JWTPolicy/shop/orders required'],
  );
});

test('bad Secret data and non-mapping documents are errors', () => {
  const parsed = parseManifests('apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: "not base64!"}\n---\n- a list\n', 'x.yaml');
  assert.deepEqual(parsed.secrets, []);
  assert.deepEqual(
    parsed.diagnostics.map((d) => [d.reason, d.field, d.resource.name]),
    [
      ['InvalidSpec', 'data.k', 's'],
      ['ParseError', undefined, '#2'],
    ],
  );
});

test('manifests are read as YAML 1.1, like kubectl: an unquoted n key is a boolean, and the error says to quote it', () => {
  const text = `apiVersion: jwtgate.dev/v1alpha1
kind: JWTIssuer
metadata: { name: idp, namespace: shop }
spec:
  issuer: https://idp.example
  audiences: [api]
  algorithms: [RS256]
  jwks: { keys: [{ kty: RSA, n: AQAB, e: AQAB }] }
`;
  const loaded = parseManifests(text, 'issuer.yaml');
  const { diagnostics } = compile({ schema, resources: loaded.resources, secrets: [] });
  const unknown = diagnostics.find((d) => d.field === 'spec.jwks.keys[0].false');
  assert.ok(unknown, JSON.stringify(diagnostics));
  assert.match(unknown.message, /quote it, e\.g\. "n"/);
});

test('a document meant as a jwtgate resource but unreadable as one is a ParseError (the reload is refused), not an ignored kind', () => {
  const doc = (apiVersion: string, kind: string) =>
    `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata: {name: p, namespace: shop}\nspec: {}\n`;
  for (const [apiVersion, kind] of [
    ['jwtgate.dev/v1alpha1', 'JWTPolicyy'],
    ['jwtgate.dev/v1alpha1', 'jwtpolicy'],
    ['jwtgate.de/v1alpha1', 'JWTPolicy'],
    ['v1', 'JwtPolicy'],
  ] as const) {
    const parsed = parseManifests(doc(apiVersion, kind), 'p.yaml');
    assert.deepEqual(parsed.resources, [], `${apiVersion} ${kind}`);
    assert.deepEqual(
      parsed.diagnostics.map((d) => [d.severity, d.reason]),
      [['error', 'ParseError']],
      `${apiVersion} ${kind}`,
    );
    assert.match(parsed.diagnostics[0]?.message ?? '', /looks like a jwtgate resource but is not one .*the reload is refused/);
  }
  // Another group's kinds are still only a warning.
  assert.deepEqual(
    parseManifests(doc('apps/v1', 'Deployment'), 'd.yaml').diagnostics.map((d) => [d.severity, d.reason]),
    [['warning', 'UnknownKind']],
  );
});

test('Gateway API HTTPRoutes and Gateways (v1, v1beta1) are read with their status, for JWTPolicy targetRefs; other versions are ignored kinds', () => {
  const text = [
    'apiVersion: gateway.networking.k8s.io/v1',
    'kind: Gateway',
    'metadata: {name: public, namespace: infra}',
    'spec: {gatewayClassName: eg, listeners: [{name: api, protocol: HTTP, port: 80, hostname: api.example.com, allowedRoutes: {namespaces: {from: All}}}]}',
    '---',
    'apiVersion: gateway.networking.k8s.io/v1beta1',
    'kind: HTTPRoute',
    'metadata: {name: orders, generation: 2}',
    'spec: {parentRefs: [{name: public, namespace: infra}], rules: [{matches: [{path: {type: PathPrefix, value: /orders}}]}]}',
    'status: {parents: [{parentRef: {name: public, namespace: infra}, controllerName: x/y, conditions: [{type: Accepted, status: "True", observedGeneration: 2}]}]}',
    '---',
    'apiVersion: gateway.networking.k8s.io/v1alpha2',
    'kind: HTTPRoute',
    'metadata: {name: old}',
    '---',
    'apiVersion: jwtgate.dev/v1alpha1',
    'kind: JWTPolicy',
    'metadata: {name: orders}',
    'spec: {mode: Disabled, targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: orders}]}',
  ].join('\n');
  const parsed = parseManifests(text, 'routes.yaml');
  assert.deepEqual(
    parsed.gateways.map((g) => [g.kind, g.metadata.namespace, g.metadata.name, g.file]),
    [['Gateway', 'infra', 'public', 'routes.yaml']],
  );
  assert.deepEqual(
    parsed.httpRoutes.map((r) => [r.kind, r.metadata.namespace, r.metadata.name, r.metadata.generation]),
    [['HTTPRoute', 'default', 'orders', 2]],
  );
  assert.deepEqual(
    parsed.diagnostics.map((d) => `${d.severity} ${d.reason} ${d.resource.name}`),
    ['warning UnknownKind old'],
  );
  // The same folder compiles as the operator would: the route is accepted, so the policy holds it.
  const { snapshot, diagnostics } = compile({ schema, now: NOW, ...parsed });
  assert.deepEqual(diagnostics.map(formatDiagnostic), []);
  assert.deepEqual(
    snapshot.policies.map((p) => [p.id, p.mode, p.targets]),
    [
      [
        'JWTPolicy/default/orders',
        'disabled',
        [{ hosts: ['api.example.com'], paths: [{ kind: 'prefix', value: '/orders' }], methods: [] }],
      ],
    ],
  );
  assert.deepEqual(snapshot.grants, [{ id: 'HTTPRoute/default/orders', hosts: ['api.example.com'], namespaces: ['default'] }]);
  assert.deepEqual(loaded.httpRoutes, [], 'a folder without routes knows it has none');
});
