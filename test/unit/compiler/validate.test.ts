// Validation: schema violations and every CEL cross-field rule, each located by file, resource
// and field path; defaults applied; the input never modified.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CROSS_FIELD_MESSAGES as M } from '../../../compiler/cross-field-rules.ts';
import { formatDiagnostic } from '../../../compiler/diagnostics.ts';
import { validateResource } from '../../../compiler/validate.ts';
import type { Resource } from '../../../compiler/resources.ts';
import { clusterPolicy, issuer, jwksUriIssuer, policy, requiredPolicy } from './builders.ts';
import { schema } from '../../support/schema.ts';

const problems = (resource: Resource): string[] => validateResource(resource, schema).diagnostics.map((d) => `${d.field} ${d.message}`);

test('a schema error names the file, the resource and the field path', () => {
  const resource = {
    ...policy('orders', requiredPolicy('shop.example.com', { targets: [{ paths: [{ prefix: '/a' }, { regex: '' }] }] })),
    file: 'policies/orders.yaml',
  };
  const { valid, diagnostics } = validateResource(resource, schema);
  assert.equal(valid, undefined);
  assert.deepEqual(diagnostics.map(formatDiagnostic), [
    'error: policies/orders.yaml: JWTPolicy shop/orders: spec.targets[0].paths[1].regex: must NOT have fewer than 1 characters [InvalidSpec]',
  ]);
});

test('unknown fields, enums, patterns, bounds and required fields are all reported at once', () => {
  assert.deepEqual(
    problems(
      issuer('idp', { issuer: 'https://idp', audience: ['x'], algorithms: ['none'], jwksUri: 'https://idp/jwks', clockSkewSeconds: 301 }),
    ),
    [
      'spec.audience unknown field',
      'spec.algorithms[0] must be one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519, HS256, HS384, HS512',
      'spec.clockSkewSeconds must be <= 300',
    ],
  );
  assert.deepEqual(problems(policy('p', { targets: [{ hosts: ['Shop.example.com:443'], methods: ['GET', 'GET'] }], mode: 'Sometimes' })), [
    'spec.targets[0].hosts[0] must match pattern "^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"',
    'spec.targets[0].methods must NOT have duplicate items (items ## 1 and 0 are identical)',
    'spec.mode must be one of Required, Optional, Disabled',
  ]);
  // targets is optional beside targetRefs: "exactly one" is a cross-field rule (CEL in the CRD).
  assert.deepEqual(problems(policy('p', {})), [
    'spec issuers are required unless mode is Disabled',
    'spec exactly one of targets or targetRefs must be set',
  ]);
  assert.deepEqual(problems({ apiVersion: 'jwtgate.dev/v1alpha1', kind: 'JWTPolicy', metadata: { name: 'p' } }), ['spec is required']);
});

test('metadata and apiVersion are checked like the API server does', () => {
  const bad = { ...policy('Bad_Name', requiredPolicy(), 'Shop'), apiVersion: 'jwtgate.dev/v1' };
  assert.deepEqual(problems(bad), [
    'apiVersion must be jwtgate.dev/v1alpha1',
    'metadata.name must be a lower-case RFC 1123 subdomain of at most 253 characters',
    'metadata.namespace must be a lower-case RFC 1123 label of at most 63 characters',
  ]);
  const { diagnostics } = validateResource({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }, schema);
  assert.deepEqual(
    diagnostics.map((d) => [d.severity, d.reason]),
    [['warning', 'UnknownKind']],
  );
});

test('defaults from the schema are applied to a copy; the input is left alone', () => {
  const resource = policy('p', requiredPolicy());
  const before = structuredClone(resource);
  const { valid } = validateResource(resource, schema);
  assert.deepEqual(resource, before);
  assert.equal(valid?.kind, 'JWTPolicy');
  if (valid?.kind !== 'JWTPolicy') return;
  assert.equal(valid.spec.mode, 'Required');
  assert.deepEqual(valid.spec.tokenSources, [{ header: { name: 'Authorization', prefix: 'Bearer ' } }]);
  assert.deepEqual(valid.spec.forward, { token: 'Strip' });
  assert.deepEqual(valid.spec.deny, { realm: 'jwtgate', exposeReason: true });
  const idp = validateResource(issuer('idp', jwksUriIssuer()), schema).valid;
  assert.ok(idp?.kind === 'JWTIssuer');
  assert.deepEqual(
    [idp.spec.clockSkewSeconds, idp.spec.requireExpiration, idp.spec.remote],
    [60, true, { refreshSeconds: 300, cooldownSeconds: 30, timeoutMs: 5000 }],
  );
});

const pathRule = (paths: unknown[]): Resource => policy('p', requiredPolicy('a.example', { targets: [{ paths }] }));
const hmacSecret = { name: 's', key: 'k', format: 'HMAC' };

/** Each CEL rule: one resource that breaks it, and where. */
const CROSS_FIELD_CASES: [string, Resource, string][] = [
  ['no key source', issuer('i', { issuer: 'https://idp', algorithms: ['RS256'] }), `spec ${M.oneKeySource}`],
  ['two key sources', issuer('i', jwksUriIssuer({ discovery: {} })), `spec ${M.oneKeySource}`],
  ['HS256 without a secretRef', issuer('i', jwksUriIssuer({ algorithms: ['HS256'] })), `spec ${M.hmacNeedsSecretRef}`],
  [
    'HS256 mixed with RS256',
    issuer('i', { issuer: 'https://idp', algorithms: ['HS256', 'RS256'], secretRef: { name: 's', key: 'k', format: 'JWKS' } }),
    `spec ${M.noMixedAlgorithms}`,
  ],
  [
    'HMAC secret for RS256',
    issuer('i', { issuer: 'https://idp', algorithms: ['RS256'], secretRef: hmacSecret }),
    `spec ${M.hmacFormatOnlyHs}`,
  ],
  [
    'keyId on a JWKS secretRef',
    issuer('i', { issuer: 'https://idp', algorithms: ['RS256'], secretRef: { ...hmacSecret, format: 'JWKS', keyId: 'k1' } }),
    `spec.secretRef ${M.keyIdOnlyHmac}`,
  ],
  [
    'discovery with a non-URL issuer',
    issuer('i', { issuer: 'idp', algorithms: ['RS256'], discovery: {} }),
    `spec ${M.discoveryNeedsUrlIssuer}`,
  ],
  [
    'discovery with an http issuer',
    issuer('i', { issuer: 'http://idp.example.com', algorithms: ['RS256'], discovery: {} }),
    `spec ${M.discoveryNeedsUrlIssuer}`,
  ],
  ['plain http jwksUri', issuer('i', jwksUriIssuer({ jwksUri: 'http://idp.example.com/jwks' })), `spec.jwksUri ${M.secureUrl}`],
  [
    'plain http discovery url',
    issuer('i', jwksUriIssuer({ jwksUri: undefined, discovery: { url: 'http://10.0.0.1/.well-known/openid-configuration' } })),
    `spec.discovery.url ${M.secureUrl}`,
  ],
  [
    'a mapping onto sub',
    issuer('i', jwksUriIssuer({ claimMappings: [{ from: 'uid', to: 'sub' }] })),
    `spec.claimMappings[0] ${M.noRegisteredClaimMapping}`,
  ],
  ['no issuers in Required mode', policy('p', { targets: [{}] }), `spec ${M.issuersUnlessDisabled}`],
  [
    'anyOf and allOf',
    policy('p', requiredPolicy('a.example', { issuers: { anyOf: [{ name: 'a' }], allOf: [{ name: 'b' }] } })),
    `spec.issuers ${M.oneIssuerList}`,
  ],
  ['neither anyOf nor allOf', policy('p', requiredPolicy('a.example', { issuers: {} })), `spec.issuers ${M.oneIssuerList}`],
  [
    'audiences with a waiver',
    policy('p', requiredPolicy('a.example', { issuers: { allOf: [{ name: 'a', audiences: ['x'], skipAudienceCheck: true }] } })),
    `spec.issuers.allOf[0] ${M.audiencesOrWaiver}`,
  ],
  [
    'a token source with two kinds',
    policy('p', requiredPolicy('a.example', { tokenSources: [{ query: 't', cookie: 't' }] })),
    `spec.tokenSources[0] ${M.oneTokenSource}`,
  ],
  [
    'an issuer token source with none',
    policy('p', requiredPolicy('a.example', { issuers: { anyOf: [{ name: 'a', tokenSources: [{}] }] } })),
    `spec.issuers.anyOf[0].tokenSources[0] ${M.oneTokenSource}`,
  ],
  [
    'a rule with two operators',
    policy('p', requiredPolicy('a.example', { rules: [{ claim: 'a', equals: 'x', in: ['y'] }] })),
    `spec.rules[0] exactly one of equals, in, notIn, exists, containsAll, containsAny, regex must be set`,
  ],
  [
    'a rule with no operator',
    policy('p', requiredPolicy('a.example', { rules: [{ claim: 'a' }] })),
    `spec.rules[0] exactly one of equals, in, notIn, exists, containsAll, containsAny, regex must be set`,
  ],
  [
    'targets and targetRefs',
    policy('p', requiredPolicy('a.example', { targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'r' }] })),
    `spec ${M.oneTargetKind}`,
  ],
  ['neither targets nor targetRefs', policy('p', { mode: 'Disabled' }), `spec ${M.oneTargetKind}`],
  [
    'targetRefs with a workloadSelector',
    policy('p', {
      mode: 'Disabled',
      targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'r' }],
      workloadSelector: { matchLabels: { app: 'a' } },
    }),
    `spec ${M.noSelectorWithTargetRefs}`,
  ],
  ['a path with two match kinds', pathRule([{ exact: '/a', prefix: '/a' }]), `spec.targets[0].paths[0] ${M.onePathMatch}`],
  ['a path with no match kind', pathRule([{ exact: '/a' }, {}]), `spec.targets[0].paths[1] ${M.onePathMatch}`],
  [
    'In without values',
    clusterPolicy(
      'c',
      requiredPolicy('a.example', {
        issuers: { anyOf: [{ name: 'a', namespace: 'n' }] },
        namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'In' }] },
      }),
    ),
    `spec.namespaceSelector.matchExpressions[0] ${M.selectorValues}`,
  ],
  [
    'Exists with values',
    clusterPolicy(
      'c',
      requiredPolicy('a.example', {
        issuers: { anyOf: [{ name: 'a', namespace: 'n' }] },
        namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'Exists', values: ['x'] }] },
      }),
    ),
    `spec.namespaceSelector.matchExpressions[0] ${M.selectorValues}`,
  ],
];

for (const [name, resource, expected] of CROSS_FIELD_CASES) {
  test(`cross-field rule: ${name}`, () => {
    assert.deepEqual(problems(resource), [expected]);
  });
}

test('cross-field rules accept what they should', () => {
  const ok = [
    issuer('i', jwksUriIssuer({ jwksUri: 'http://127.0.0.1:8080/jwks' })),
    issuer('i', jwksUriIssuer({ jwksUri: 'http://[::1]:8080/jwks' })),
    issuer('i', { issuer: 'http://localhost:4000', algorithms: ['RS256'], discovery: {} }),
    issuer('i', { issuer: 'https://idp', algorithms: ['HS256', 'HS512'], secretRef: hmacSecret }),
    issuer('i', { issuer: 'https://idp', algorithms: ['HS256'], secretRef: { ...hmacSecret, keyId: 'hs-1' } }),
    policy('p', { targets: [{}], mode: 'Disabled' }),
    policy('p', {
      targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'g', sectionName: 'https' }],
      mode: 'Disabled',
    }),
    clusterPolicy(
      'c',
      requiredPolicy('a.example', {
        issuers: { anyOf: [{ name: 'a', namespace: 'n' }] },
        namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'Exists' }] },
      }),
    ),
  ];
  for (const resource of ok) assert.deepEqual(problems(resource), [], JSON.stringify(resource.spec));
});

test('a ClusterJWTPolicy issuer reference needs its namespace', () => {
  assert.deepEqual(problems(clusterPolicy('c', requiredPolicy())), ['spec.issuers.anyOf[0].namespace is required']);
});
