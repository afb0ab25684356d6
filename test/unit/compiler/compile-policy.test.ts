// Policies: issuer references, audiences, regexes, claim paths, headers, modes and cluster
// scope, each refusal with its own reason and field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile } from '../../../compiler/compile.ts';
import type { NamespaceInput, Resource } from '../../../compiler/resources.ts';
import { NOW, clusterPolicy, errorsOf, issuer, jwksUriIssuer, modesOf, policy, requiredPolicy } from './builders.ts';
import { schema } from '../../support/schema.ts';

const idp = issuer('idp', jwksUriIssuer());

function compilePolicies(resources: Resource[], namespaces?: NamespaceInput[]) {
  return compile({ schema, resources: [idp, ...resources], now: NOW, ...(namespaces === undefined ? {} : { namespaces }) });
}

test('a full policy compiles to the snapshot shape', () => {
  const { snapshot, diagnostics } = compilePolicies([
    policy('orders', {
      targets: [{ hosts: ['shop.example.com'], paths: [{ exact: '/a' }, { prefix: '/b' }, { regex: '/c/[0-9]+' }], methods: ['GET'] }],
      mode: 'Optional',
      issuers: { allOf: [{ name: 'idp', audiences: ['x'], tokenSources: [{ cookie: 'session' }] }] },
      tokenSources: [{ header: { name: 'X-Token' } }, { query: 'access_token' }],
      rules: [
        { claim: 'realm_access.roles', containsAny: ['admin'], description: 'admins' },
        { claim: 'https://example\\.com/tier', in: ['gold', 1, true] },
        { claim: 'email_verified', equals: true },
        { claim: 'sub', regex: '^user-' },
        { claim: 'act', exists: false },
        { claim: 'scope', containsAll: ['a', 'b'] },
        { claim: 'tenant', notIn: ['blocked'] },
      ],
      forward: {
        claimsToHeaders: [
          { claim: 'sub', header: 'X-User-Id' },
          { claim: 'groups', header: 'x-groups', encoding: 'csv' },
        ],
        payloadHeader: 'X-Jwt-Payload',
        token: 'Keep',
        metadataClaims: ['tenant'],
      },
      deny: { realm: 'shop', exposeReason: false, headers: [{ name: 'X-Help', value: 'see docs' }] },
    }),
  ]);
  assert.deepEqual(errorsOf(diagnostics), []);
  assert.deepEqual(snapshot.policies, [
    {
      id: 'JWTPolicy/shop/orders',
      scope: { kind: 'namespaced', namespace: 'shop' },
      targets: [
        {
          hosts: ['shop.example.com'],
          paths: [
            { kind: 'exact', value: '/a' },
            { kind: 'prefix', value: '/b' },
            { kind: 'regex', value: '/c/[0-9]+' },
          ],
          methods: ['GET'],
        },
      ],
      mode: 'optional',
      issuers: [{ issuerId: 'shop/idp', audienceWaived: false, audiences: ['x'], tokenSources: [{ kind: 'cookie', name: 'session' }] }],
      issuerMatch: 'allOf',
      tokenSources: [
        { kind: 'header', name: 'x-token' },
        { kind: 'query', name: 'access_token' },
      ],
      rules: [
        { claim: ['realm_access', 'roles'], description: 'admins', op: 'containsAny', values: ['admin'] },
        { claim: ['https://example.com/tier'], op: 'in', values: ['gold', 1, true] },
        { claim: ['email_verified'], op: 'equals', value: true },
        { claim: ['sub'], op: 'regex', value: '^user-' },
        { claim: ['act'], op: 'exists', value: false },
        { claim: ['scope'], op: 'containsAll', values: ['a', 'b'] },
        { claim: ['tenant'], op: 'notIn', values: ['blocked'] },
      ],
      forward: {
        claimHeaders: [
          { claim: ['sub'], header: 'x-user-id', encoding: 'json' },
          { claim: ['groups'], header: 'x-groups', encoding: 'csv' },
        ],
        stripToken: false,
        metadataClaims: [['tenant']],
        payloadHeader: 'x-jwt-payload',
      },
      deny: { realm: 'shop', exposeReason: false, headers: [{ name: 'x-help', value: 'see docs' }] },
    },
  ]);
});

test('an unknown issuer reference: IssuerNotFound, and the policy holds its routes in mode invalid (fail closed)', () => {
  const { snapshot, diagnostics } = compilePolicies([
    policy('p', requiredPolicy('a.example', { issuers: { anyOf: [{ name: 'idp' }, { name: 'ghost' }] } })),
  ]);
  assert.deepEqual(
    snapshot.policies.map((p) => [p.id, p.mode, p.targets[0]?.hosts, p.issuers, p.rules]),
    [['JWTPolicy/shop/p', 'invalid', ['a.example'], [], []]],
  );
  assert.deepEqual(errorsOf(diagnostics), ['IssuerNotFound spec.issuers.anyOf[1]']);
});

test('an issuer in another namespace is not visible to a JWTPolicy', () => {
  const { diagnostics } = compilePolicies([policy('p', requiredPolicy(), 'other')]);
  assert.deepEqual(errorsOf(diagnostics), ['IssuerNotFound spec.issuers.anyOf[0]']);
});

test('a broken issuer: IssuerNotReady, and its policies deny their routes (mode invalid)', () => {
  const { snapshot, diagnostics } = compile({
    schema,
    resources: [issuer('idp', jwksUriIssuer({ jwksUri: 'ftp://x' })), policy('p', requiredPolicy())],
    now: NOW,
  });
  assert.deepEqual(
    snapshot.policies.map((p) => p.mode),
    ['invalid'],
  );
  assert.deepEqual(snapshot.issuers, {});
  assert.deepEqual(errorsOf(diagnostics), ['InvalidSpec spec.jwksUri', 'IssuerNotReady spec.issuers.anyOf[0]']);
});

test('no audience anywhere needs an explicit waiver (MissingAudience)', () => {
  const noAud = issuer('idp', jwksUriIssuer({ audiences: [] }));
  const refused = compile({ schema, resources: [noAud, policy('p', requiredPolicy())], now: NOW });
  assert.deepEqual(errorsOf(refused.diagnostics), ['MissingAudience spec.issuers.anyOf[0]']);
  const waived = compile({
    schema,
    resources: [noAud, policy('p', requiredPolicy('a.example', { issuers: { anyOf: [{ name: 'idp', skipAudienceCheck: true }] } }))],
    now: NOW,
  });
  assert.deepEqual(errorsOf(waived.diagnostics), []);
  assert.deepEqual(waived.snapshot.policies[0]?.issuers, [{ issuerId: 'shop/idp', audienceWaived: true }]);
  const own = compile({
    schema,
    resources: [noAud, policy('p', requiredPolicy('a.example', { issuers: { anyOf: [{ name: 'idp', audiences: ['api'] }] } }))],
    now: NOW,
  });
  assert.deepEqual(errorsOf(own.diagnostics), []);
});

test('two JWTIssuers with the same iss on one policy: DuplicateIssuer naming both, and the routes held closed', async (t) => {
  // Same `issuer`, different keys: a token's iss could only ever select the first.
  const twin = issuer('idp-twin', jwksUriIssuer({ jwksUri: 'https://idp.example.com/other-jwks' }));
  const other = issuer('other', jwksUriIssuer({ issuer: 'https://other.example.com' }));
  for (const list of ['anyOf', 'allOf'] as const) {
    await t.test(list, () => {
      const { snapshot, diagnostics } = compilePolicies([
        twin,
        other,
        policy('p', requiredPolicy('a.example', { issuers: { [list]: [{ name: 'idp' }, { name: 'other' }, { name: 'idp-twin' }] } })),
      ]);
      assert.deepEqual(errorsOf(diagnostics), [`DuplicateIssuer spec.issuers.${list}[2]`]);
      const message = diagnostics.find((d) => d.reason === 'DuplicateIssuer')?.message ?? '';
      assert.match(
        message,
        /JWTIssuer shop\/idp-twin and JWTIssuer shop\/idp \(spec\.issuers\.\w+\[0\]\) both have issuer "https:\/\/idp\.example\.com"/,
      );
      assert.deepEqual(modesOf(snapshot), ['JWTPolicy/shop/p invalid']);
      assert.deepEqual(snapshot.policies[0]?.targets[0]?.hosts, ['a.example']);
    });
  }
  await t.test('across namespaces, from a ClusterJWTPolicy', () => {
    const elsewhere = issuer('idp', jwksUriIssuer(), 'team-b');
    const { diagnostics } = compilePolicies([
      elsewhere,
      clusterPolicy('baseline', {
        targets: [{ hosts: ['b.example'] }],
        issuers: {
          anyOf: [
            { name: 'idp', namespace: 'shop' },
            { name: 'idp', namespace: 'team-b' },
          ],
        },
      }),
    ]);
    assert.deepEqual(errorsOf(diagnostics), ['DuplicateIssuer spec.issuers.anyOf[1]']);
  });
  await t.test('different iss values on one policy compile', () => {
    const { snapshot, diagnostics } = compilePolicies([
      other,
      policy('p', requiredPolicy('a.example', { issuers: { anyOf: [{ name: 'idp' }, { name: 'other' }] } })),
    ]);
    assert.deepEqual(errorsOf(diagnostics), []);
    assert.deepEqual(modesOf(snapshot), ['JWTPolicy/shop/p required']);
  });
});

test('an issuer listed twice is refused', () => {
  const { diagnostics } = compilePolicies([
    policy('p', requiredPolicy('a.example', { issuers: { allOf: [{ name: 'idp' }, { name: 'idp' }] } })),
  ]);
  assert.deepEqual(errorsOf(diagnostics), ['InvalidSpec spec.issuers.allOf[1]']);
});

test('invalid and catastrophic regexes are refused with InvalidRegex; unreadable routes refuse the reload', () => {
  const { snapshot, diagnostics } = compilePolicies([
    policy(
      'p',
      requiredPolicy('a.example', {
        targets: [{ paths: [{ regex: '/items/(' }, { regex: '/(a+)+$' }] }],
        rules: [{ claim: 'sub', regex: '[z-a]' }],
      }),
    ),
  ]);
  assert.deepEqual(snapshot.policies, []);
  assert.deepEqual(errorsOf(diagnostics), [
    'InvalidRegex spec.targets[0].paths[0].regex',
    'InvalidRegex spec.targets[0].paths[1].regex',
    'InvalidRegex spec.rules[0].regex',
    'RoutesUnknown spec.targets',
  ]);
  assert.match(diagnostics[1]?.message ?? '', /nested quantifier/);
});

test('exact and prefix paths must be in the normal form requests are matched in', () => {
  const { snapshot, diagnostics } = compilePolicies([
    policy(
      'p',
      requiredPolicy('a.example', {
        targets: [
          {
            paths: [
              { prefix: '/api/./x' },
              { exact: '/a//b' },
              { exact: '/a%2Fb' },
              { prefix: '/q?x=1' },
              { prefix: '/ok/' },
              { exact: '/%7Euser' },
            ],
          },
        ],
      }),
    ),
  ]);
  assert.deepEqual(snapshot.policies, []);
  assert.deepEqual(errorsOf(diagnostics), [
    'InvalidPath spec.targets[0].paths[0].prefix',
    'InvalidPath spec.targets[0].paths[1].exact',
    'InvalidPath spec.targets[0].paths[2].exact',
    'InvalidPath spec.targets[0].paths[3].prefix',
    'InvalidPath spec.targets[0].paths[5].exact',
    'RoutesUnknown spec.targets',
  ]);
  assert.match(diagnostics[0]?.message ?? '', /"\/api\/\.\/x" can never match a request: the request path has a "\." or "\.\." segment/);
  assert.match(diagnostics[1]?.message ?? '', /can never match a request: the request path has an empty segment/);
  assert.match(diagnostics[4]?.message ?? '', /write "\/~user"/);
});

test('a path with ";" parameters can never match: requests with them are refused or matched without them', () => {
  const { diagnostics } = compilePolicies([
    policy(
      'p',
      requiredPolicy('a.example', {
        targets: [{ paths: [{ exact: '/admin;x=1' }, { prefix: '/a%3Bb' }, { exact: '/a%3ab' }] }],
      }),
    ),
  ]);
  assert.deepEqual(errorsOf(diagnostics), [
    'InvalidPath spec.targets[0].paths[0].exact',
    'InvalidPath spec.targets[0].paths[1].prefix',
    'InvalidPath spec.targets[0].paths[2].exact',
    'RoutesUnknown spec.targets',
  ]);
  assert.match(diagnostics[0]?.message ?? '', /has ";" parameters/);
  assert.match(diagnostics[1]?.message ?? '', /encoded ";"/);
  assert.match(diagnostics[2]?.message ?? '', /write "\/a:b"/);
});

test('caseInsensitive compiles onto the path match only when true, so other snapshots keep their digest', () => {
  const { snapshot, diagnostics } = compilePolicies([
    policy(
      'p',
      requiredPolicy('a.example', {
        targets: [
          {
            paths: [
              { exact: '/Admin', caseInsensitive: true },
              { prefix: '/API', caseInsensitive: true },
              { regex: '/r/[a-z]+', caseInsensitive: true },
              { exact: '/x', caseInsensitive: false },
              { prefix: '/y' },
            ],
          },
        ],
      }),
    ),
  ]);
  assert.deepEqual(errorsOf(diagnostics), []);
  assert.deepEqual(snapshot.policies[0]?.targets[0]?.paths, [
    { kind: 'exact', value: '/Admin', caseInsensitive: true },
    { kind: 'prefix', value: '/API', caseInsensitive: true },
    { kind: 'regex', value: '/r/[a-z]+', caseInsensitive: true },
    { kind: 'exact', value: '/x' },
    { kind: 'prefix', value: '/y' },
  ]);
});

test('bad claim paths are refused with InvalidClaimPath', () => {
  const { diagnostics } = compilePolicies([
    policy(
      'p',
      requiredPolicy('a.example', {
        rules: [
          { claim: 'a..b', exists: true },
          { claim: '__proto__.x', exists: true },
        ],
        forward: { claimsToHeaders: [{ claim: 'a\\b', header: 'x-a' }], metadataClaims: ['.x'] },
      }),
    ),
  ]);
  assert.deepEqual(errorsOf(diagnostics), [
    'InvalidClaimPath spec.rules[0].claim',
    'InvalidClaimPath spec.rules[1].claim',
    'InvalidClaimPath spec.forward.claimsToHeaders[0].claim',
    'InvalidClaimPath spec.forward.metadataClaims[0]',
  ]);
});

test('rule values must be scalars', () => {
  const { diagnostics } = compilePolicies([
    policy(
      'p',
      requiredPolicy('a.example', {
        rules: [
          { claim: 'a', equals: { x: 1 } },
          { claim: 'b', in: ['ok', [1]] },
        ],
      }),
    ),
  ]);
  assert.deepEqual(errorsOf(diagnostics), ['InvalidSpec spec.rules[0].equals', 'InvalidSpec spec.rules[1].in[1]']);
});

test('reserved and duplicate header names are refused', () => {
  const { diagnostics } = compilePolicies([
    policy(
      'p',
      requiredPolicy('a.example', {
        tokenSources: [{ header: { name: 'X-Token' } }],
        forward: {
          claimsToHeaders: [
            { claim: 'a', header: 'Host' },
            { claim: 'b', header: 'x-envoy-original-path' },
            { claim: 'c', header: 'x-token' },
            { claim: 'd', header: 'x-d' },
          ],
          payloadHeader: 'X-D',
        },
        deny: { headers: [{ name: 'WWW-Authenticate', value: 'Basic' }] },
      }),
    ),
  ]);
  assert.deepEqual(errorsOf(diagnostics), [
    'ReservedHeader spec.forward.claimsToHeaders[0].header',
    'ReservedHeader spec.forward.claimsToHeaders[1].header',
    'ReservedHeader spec.forward.claimsToHeaders[2].header',
    'InvalidSpec spec.forward.payloadHeader',
    'ReservedHeader spec.deny.headers[0].name',
  ]);
});

test('Disabled mode ignores issuers and rules, with a warning', () => {
  const { snapshot, diagnostics } = compilePolicies([
    policy('p', { mode: 'Disabled', targets: [{}], issuers: { anyOf: [{ name: 'ghost' }] }, rules: [{ claim: 'a', exists: true }] }),
  ]);
  assert.deepEqual(errorsOf(diagnostics), []);
  assert.deepEqual(errorsOf(diagnostics, 'warning'), ['IgnoredField spec.mode']);
  assert.deepEqual([snapshot.policies[0]?.mode, snapshot.policies[0]?.issuers, snapshot.policies[0]?.rules], ['disabled', [], []]);
});

const clusterSpec = (extra: Record<string, unknown>) =>
  requiredPolicy('a.example', { issuers: { anyOf: [{ name: 'idp', namespace: 'shop' }] }, ...extra });
const namespaces: NamespaceInput[] = [
  { name: 'shop', labels: { team: 'shop' } },
  { name: 'billing', labels: { team: 'money' } },
  { name: 'kube-system', labels: {} },
];

test('ClusterJWTPolicy: selectors resolve to sorted namespace lists; absent selector = all', () => {
  const { snapshot, diagnostics } = compilePolicies(
    [
      clusterPolicy('all', clusterSpec({ enforcement: 'Override' })),
      clusterPolicy(
        'teams',
        clusterSpec({
          targets: [{ hosts: ['b.example'] }],
          namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'Exists' }] },
        }),
      ),
      clusterPolicy(
        'not-shop',
        clusterSpec({
          targets: [{ hosts: ['c.example'] }],
          namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'NotIn', values: ['shop'] }] },
        }),
      ),
      clusterPolicy(
        'by-name',
        clusterSpec({
          targets: [{ hosts: ['d.example'] }],
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'billing' } },
        }),
      ),
    ],
    namespaces,
  );
  assert.deepEqual(errorsOf(diagnostics), []);
  assert.deepEqual(
    snapshot.policies.map((p) => [p.id, p.scope]),
    [
      ['ClusterJWTPolicy/all', { kind: 'cluster', enforcement: 'override' }],
      ['ClusterJWTPolicy/by-name', { kind: 'cluster', enforcement: 'default', namespaces: ['billing'] }],
      ['ClusterJWTPolicy/not-shop', { kind: 'cluster', enforcement: 'default', namespaces: ['billing', 'kube-system'] }],
      ['ClusterJWTPolicy/teams', { kind: 'cluster', enforcement: 'default', namespaces: ['billing', 'shop'] }],
    ],
  );
});

test('ClusterJWTPolicy: a selector without known Namespaces matches nothing (fail closed), with a warning', () => {
  const { snapshot, diagnostics } = compilePolicies([
    clusterPolicy('teams', clusterSpec({ namespaceSelector: { matchLabels: { team: 'shop' } } })),
  ]);
  assert.deepEqual(snapshot.policies[0]?.scope, { kind: 'cluster', enforcement: 'default', namespaces: [] });
  assert.deepEqual(errorsOf(diagnostics, 'warning'), ['NamespacesUnknown spec.namespaceSelector']);
});
