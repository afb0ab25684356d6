// Diagnostics and the snapshot → conditions: spec problems on Accepted, references on ResolvedRefs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { compile, type CompileInput } from '../../../../compiler/compile.ts';
import type { GatewayInput, HTTPRouteInput, Resource } from '../../../../compiler/resources.ts';
import { CONTROLLER_NAME, computeDesiredStatuses } from '../../../../operator/status/desired-status.ts';
import { schema } from '../../../support/schema.ts';

const issuer = (name: string, spec: object): Resource => ({
  apiVersion: 'jwtgate.dev/v1alpha1',
  kind: 'JWTIssuer',
  metadata: { name, namespace: 'shop', generation: 3 },
  spec,
});
const policy = (name: string, issuerName: string, extra: object = {}): Resource => ({
  apiVersion: 'jwtgate.dev/v1alpha1',
  kind: 'JWTPolicy',
  metadata: { name, namespace: 'shop', generation: 5 },
  spec: { targets: [{ hosts: [`${name}.example.com`] }], issuers: { anyOf: [{ name: issuerName }] }, ...extra },
});
const remote = issuer('idp', {
  issuer: 'https://idp.example',
  audiences: ['api'],
  algorithms: ['RS256'],
  jwksUri: 'https://idp.example/jwks',
});

const grant = (name: string, spec: object, generation = 2): Resource => ({
  apiVersion: 'jwtgate.dev/v1alpha1',
  kind: 'JWTHostGrant',
  metadata: { name, generation },
  spec,
});

function statuses(resources: Resource[], keyState = () => undefined, options: Pick<CompileInput, 'namespaces' | 'previous'> = {}) {
  const { snapshot, diagnostics } = compile({ schema, resources, now: new Date('2026-01-01T00:00:00Z'), ...options });
  return computeDesiredStatuses({ resources, diagnostics, snapshot, keyState });
}
const cond = (s: ReturnType<typeof statuses>, key: string, type: string) => s.get(key)?.conditions.find((c) => c.type === type);

test('a missing issuer: Accepted True, ResolvedRefs False IssuerNotFound, Ready False FailingClosed (its routes deny)', () => {
  const s = statuses([policy('api', 'nope')]);
  assert.equal(cond(s, 'JWTPolicy/shop/api', 'Accepted')?.status, 'True');
  assert.deepEqual(
    [cond(s, 'JWTPolicy/shop/api', 'ResolvedRefs')?.status, cond(s, 'JWTPolicy/shop/api', 'ResolvedRefs')?.reason],
    ['False', 'IssuerNotFound'],
  );
  assert.deepEqual(
    [cond(s, 'JWTPolicy/shop/api', 'Ready')?.status, cond(s, 'JWTPolicy/shop/api', 'Ready')?.reason],
    ['False', 'FailingClosed'],
  );
  assert.match(cond(s, 'JWTPolicy/shop/api', 'Ready')?.message ?? '', /denied with 503 policy_invalid until it is fixed: .*nope/);
  assert.equal(s.get('JWTPolicy/shop/api')?.observedGeneration, 5);
  assert.equal(cond(s, 'JWTPolicy/shop/api', 'Ready')?.observedGeneration, 5);
});

test('an invalid regex: Accepted False with the diagnostic reason, ResolvedRefs Unknown', () => {
  const s = statuses([remote, policy('api', 'idp', { rules: [{ claim: 'sub', regex: '(a+)+$' }] })]);
  assert.deepEqual(
    [cond(s, 'JWTPolicy/shop/api', 'Accepted')?.status, cond(s, 'JWTPolicy/shop/api', 'Accepted')?.reason],
    ['False', 'InvalidRegex'],
  );
  assert.equal(cond(s, 'JWTPolicy/shop/api', 'ResolvedRefs')?.status, 'Unknown');
});

test('a remote issuer without keys: the issuer and its policy say so', () => {
  const s = statuses([remote, policy('api', 'idp')], () => undefined);
  assert.deepEqual(
    [cond(s, 'JWTIssuer/shop/idp', 'KeysAvailable')?.status, cond(s, 'JWTIssuer/shop/idp', 'KeysAvailable')?.reason],
    ['False', 'KeysUnavailable'],
  );
  assert.equal(cond(s, 'JWTPolicy/shop/api', 'ResolvedRefs')?.reason, 'IssuerKeysUnavailable');
  assert.equal(cond(s, 'JWTPolicy/shop/api', 'Ready')?.reason, 'IssuerKeysUnavailable');
});

test('a static issuer: KeysAvailable StaticKeys, key ids in status.keys', () => {
  const {
    d: _d,
    p: _p,
    q: _q,
    dp: _dp,
    dq: _dq,
    qi: _qi,
    ...jwk
  } = JSON.parse(readFileSync('examples/keys/demo-private.jwk.json', 'utf8')) as Record<string, unknown>;
  const s = statuses([issuer('rs', { issuer: 'https://rs.example', audiences: ['a'], algorithms: ['RS256'], jwks: { keys: [jwk] } })]);
  assert.deepEqual(
    [cond(s, 'JWTIssuer/shop/rs', 'KeysAvailable')?.status, cond(s, 'JWTIssuer/shop/rs', 'KeysAvailable')?.reason],
    ['True', 'StaticKeys'],
  );
  assert.deepEqual(s.get('JWTIssuer/shop/rs')?.keys, { count: 1, keyIds: [jwk.kid] });
});

test('two namespaces naming the same host: both Accepted and Ready, never Conflicted; the one without the grant carries HostNotGranted', () => {
  // Issue 10: the old model gave the host to the older claim and refused the other. Now a grant
  // decides whose shared-gateway traffic it is, and neither policy is refused (DESIGN.md "Tenants").
  const claim = (namespace: string, name: string, created: string): Resource => ({
    apiVersion: 'jwtgate.dev/v1alpha1',
    kind: 'JWTPolicy',
    metadata: { name, namespace, generation: 1, creationTimestamp: created },
    spec: { mode: 'Disabled', targets: [{ hosts: ['a.example'] }] },
  });
  // b's policy is the older one: creation order must not matter.
  const s = statuses([
    claim('b', 'takeover', '2026-01-01T00:00:00Z'),
    claim('a', 'owner', '2026-01-02T00:00:00Z'),
    grant('a-hosts', { hostnames: ['a.example'], namespaces: ['a'] }),
  ]);
  for (const key of ['JWTPolicy/a/owner', 'JWTPolicy/b/takeover']) {
    assert.deepEqual(
      ['Accepted', 'Ready', 'Conflicted'].map((type) => `${type}=${cond(s, key, type)?.status}/${cond(s, key, type)?.reason}`),
      ['Accepted=True/Accepted', 'Ready=True/Enforced', 'Conflicted=False/NoConflicts'],
      key,
    );
  }
  assert.equal(cond(s, 'JWTPolicy/a/owner', 'Accepted')?.message, 'the spec is valid');
  assert.equal(cond(s, 'JWTPolicy/a/owner', 'Ready')?.message, 'enforced by the published snapshot');
  // The warning is shown where warnings are: in Accepted's message; Ready says what it means for requests.
  assert.match(
    cond(s, 'JWTPolicy/b/takeover', 'Accepted')?.message ?? '',
    /^accepted with warnings: spec\.targets: host a\.example is not granted to namespace b: .*JWTHostGrant\/a-hosts gives a\.example to a/,
  );
  assert.equal(
    cond(s, 'JWTPolicy/b/takeover', 'Ready')?.message,
    "enforced by the published snapshot for the requests the proxy reports as namespace b's, but not for a shared gateway's requests to a.example, which no JWTHostGrant gives namespace b (HostNotGranted, see Accepted)",
  );
});

test('a ClusterJWTPolicy says in Ready which namespaces it reaches, and when its selector matches none', () => {
  const cluster = (name: string, labels: Record<string, string>): Resource => ({
    apiVersion: 'jwtgate.dev/v1alpha1',
    kind: 'ClusterJWTPolicy',
    metadata: { name, generation: 1 },
    spec: { mode: 'Disabled', namespaceSelector: { matchLabels: labels }, targets: [{ hosts: [`${name}.example.com`] }] },
  });
  const resources = [cluster('some', { team: 'a' }), cluster('none', { team: 'z' })];
  const { snapshot, diagnostics } = compile({
    schema,
    resources,
    namespaces: [
      { name: 'shop', labels: { team: 'a' } },
      { name: 'bank', labels: { team: 'b' } },
    ],
    now: new Date(0),
  });
  const s = computeDesiredStatuses({ resources, diagnostics, snapshot, keyState: () => undefined });
  assert.equal(cond(s, 'ClusterJWTPolicy/some', 'Ready')?.message, 'enforced by the published snapshot in namespace shop');
  assert.equal(
    cond(s, 'ClusterJWTPolicy/none', 'Ready')?.message,
    'enforced by the published snapshot, but its namespaceSelector matches no namespace yet',
  );
});

test('a JWTHostGrant: Accepted and Ready only, observedGeneration, and the namespaces the snapshot grants, sorted', () => {
  const s = statuses(
    [
      grant('shop-hosts', {
        hostnames: ['shop.example.com', '*.shop.example.com'],
        namespaces: ['shop'],
        namespaceSelector: { matchLabels: { team: 'shop' } },
      }),
    ],
    () => undefined,
    {
      namespaces: [
        { name: 'shop-eu', labels: { team: 'shop' } },
        { name: 'legacy', labels: { team: 'shop' } },
        { name: 'bank', labels: {} },
      ],
    },
  );
  const status = s.get('JWTHostGrant/shop-hosts');
  assert.deepEqual(
    status?.conditions.map((c) => `${c.type}=${c.status}/${c.reason}@${c.observedGeneration}`),
    ['Accepted=True/Accepted@2', 'Ready=True/Enforced@2'],
  );
  assert.equal(status?.observedGeneration, 2);
  assert.deepEqual(status?.namespaces, ['legacy', 'shop', 'shop-eu']);
  assert.equal(
    cond(s, 'JWTHostGrant/shop-hosts', 'Ready')?.message,
    'granted by the published snapshot: *.shop.example.com, shop.example.com to 3 namespaces: legacy, shop, shop-eu',
  );
});

test('a JWTHostGrant whose selector selects more than 64 namespaces: status.namespaces holds the first 64 (the CRD maxItems)', () => {
  const namespaces = Array.from({ length: 70 }, (_, i) => ({ name: `t${String(i).padStart(2, '0')}`, labels: { tier: 'x' } }));
  const s = statuses(
    [grant('wide', { hostnames: ['x.example.com'], namespaceSelector: { matchLabels: { tier: 'x' } } })],
    () => undefined,
    {
      namespaces,
    },
  );
  const granted = s.get('JWTHostGrant/wide')?.namespaces;
  assert.equal(granted?.length, 64);
  assert.deepEqual(
    granted,
    namespaces.slice(0, 64).map((n) => n.name),
  );
  assert.match(cond(s, 'JWTHostGrant/wide', 'Ready')?.message ?? '', /to 70 namespaces: t00, .*, t09, …$/);
});

test("a JWTHostGrant whose selector matches no namespace: Ready True, but it says the hosts are nobody's; namespaces []", () => {
  const s = statuses(
    [grant('none', { hostnames: ['x.example.com'], namespaceSelector: { matchLabels: { team: 'z' } } })],
    () => undefined,
    {
      namespaces: [{ name: 'shop', labels: { team: 'a' } }],
    },
  );
  assert.equal(cond(s, 'JWTHostGrant/none', 'Ready')?.status, 'True');
  assert.match(cond(s, 'JWTHostGrant/none', 'Ready')?.message ?? '', /x\.example\.com to no namespace .*403 host_not_granted/);
  assert.deepEqual(s.get('JWTHostGrant/none')?.namespaces, []);
});

test('a JWTHostGrant with an empty selector: Accepted True with the warning in its message, not Ready False', () => {
  const s = statuses([grant('all', { hostnames: ['x.example.com'], namespaces: ['shop'], namespaceSelector: {} })]);
  assert.deepEqual([cond(s, 'JWTHostGrant/all', 'Accepted')?.status, cond(s, 'JWTHostGrant/all', 'Ready')?.status], ['True', 'True']);
  assert.match(
    cond(s, 'JWTHostGrant/all', 'Accepted')?.message ?? '',
    /^accepted with warnings: spec\.namespaceSelector: an empty namespaceSelector grants nothing/,
  );
  assert.deepEqual(s.get('JWTHostGrant/all')?.namespaces, ['shop']);
});

test('a JWTHostGrant that stops compiling: Accepted False with the diagnostic reason, Ready False KeepingLastGood, namespaces of the version in force', () => {
  const good = grant('api', { hostnames: ['api.example.com'], namespaces: ['shop'] }, 1);
  const before = compile({ schema, resources: [good], now: new Date(0) });
  const broken = grant('api', { hostnames: ['API!'], namespaces: ['evil'] }, 2);
  const s = statuses([broken], () => undefined, { previous: before.snapshot });
  const accepted = cond(s, 'JWTHostGrant/api', 'Accepted');
  assert.deepEqual([accepted?.status, accepted?.reason, accepted?.observedGeneration], ['False', 'InvalidSpec', 2]);
  assert.match(accepted?.message ?? '', /spec\.hostnames\[0\]/);
  const ready = cond(s, 'JWTHostGrant/api', 'Ready');
  assert.deepEqual([ready?.status, ready?.reason], ['False', 'KeepingLastGood']);
  assert.match(
    ready?.message ?? '',
    /^its last good version stays in force until it is fixed \(api\.example\.com to namespace shop\): spec\.hostnames\[0\]/,
  );
  assert.deepEqual(s.get('JWTHostGrant/api')?.namespaces, ['shop']);

  // Never in force: not in the snapshot, so no namespaces to show.
  const cold = statuses([broken]);
  assert.deepEqual(
    [cond(cold, 'JWTHostGrant/api', 'Ready')?.status, cond(cold, 'JWTHostGrant/api', 'Ready')?.reason],
    ['False', 'NotEnforced'],
  );
  assert.match(cond(cold, 'JWTHostGrant/api', 'Ready')?.message ?? '', /^not in the published snapshot: spec\.hostnames\[0\]/);
  assert.equal(s.get('JWTHostGrant/api')?.observedGeneration, 2);
  assert.equal(cold.get('JWTHostGrant/api')?.namespaces, undefined);
});

test('two JWTHostGrants giving one host to two namespaces: both Ready, and both say the host is shared and equal claims are refused', () => {
  // (One grant to several namespaces shares on purpose: the tests above show it gets no such note.)
  const s = statuses([
    grant('to-a', { hostnames: ['api.example.com', 'a.example.com'], namespaces: ['a'] }),
    grant('to-b', { hostnames: ['api.example.com'], namespaces: ['b'] }),
  ]);
  for (const name of ['to-a', 'to-b']) {
    const ready = cond(s, `JWTHostGrant/${name}`, 'Ready');
    assert.equal(ready?.status, 'True');
    assert.match(
      ready?.message ?? '',
      new RegExp(
        `; also granted by other grants: api\\.example\\.com \\(JWTHostGrant/${name === 'to-a' ? 'to-b' : 'to-a'}; namespaces a, b\\): .*503 route_contested$`,
      ),
    );
    assert.doesNotMatch(ready?.message ?? '', /a\.example\.com \(/);
  }
});

/** The Gateway API objects of the ancestors tests: Gateway infra/public admits shop's routes for api.example.com. */
const GATEWAY_GROUP = 'gateway.networking.k8s.io';
const publicGateway: GatewayInput = {
  metadata: { name: 'public', namespace: 'infra' },
  spec: {
    listeners: [
      {
        name: 'api',
        protocol: 'HTTP',
        port: 80,
        hostname: 'api.example.com',
        allowedRoutes: { namespaces: { from: 'Selector', selector: { matchLabels: { 'kubernetes.io/metadata.name': 'shop' } } } },
      },
    ],
  },
};
const ordersRoute = (accepted: boolean | undefined): HTTPRouteInput => {
  const parentRef = { name: 'public', namespace: 'infra', sectionName: 'api' };
  return {
    metadata: { name: 'orders', namespace: 'shop', generation: 1 },
    spec: {
      parentRefs: [parentRef],
      hostnames: ['api.example.com'],
      rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/orders' } }] }],
    },
    ...(accepted === undefined
      ? {}
      : { status: { parents: [{ parentRef, conditions: [{ type: 'Accepted', status: accepted ? 'True' : 'False', reason: 'X' }] }] } }),
  };
};

function withGatewayApi(resources: Resource[], accepted: boolean | undefined) {
  const { snapshot, diagnostics, attachments } = compile({
    schema,
    resources,
    namespaces: [
      { name: 'shop', labels: {} },
      { name: 'infra', labels: {} },
    ],
    httpRoutes: [ordersRoute(accepted)],
    gateways: [publicGateway],
    now: new Date('2026-01-01T00:00:00Z'),
  });
  return computeDesiredStatuses({ resources, diagnostics, attachments, snapshot, keyState: () => undefined });
}

test('a JWTPolicy with targetRefs gets GEP-713 ancestors: the Gateway listener its route names, controllerName jwtgate.dev/operator, Accepted per ancestor', () => {
  const targeted = policy('orders', 'idp', {
    targets: undefined,
    targetRefs: [{ group: GATEWAY_GROUP, kind: 'HTTPRoute', name: 'orders' }],
  });
  const hosts = policy('hosts', 'idp');
  const accepted = withGatewayApi([remote, targeted, hosts], true);
  assert.deepEqual(accepted.get('JWTPolicy/shop/orders')?.ancestors, [
    {
      ancestorRef: { group: GATEWAY_GROUP, kind: 'Gateway', namespace: 'infra', name: 'public', sectionName: 'api' },
      controllerName: CONTROLLER_NAME,
      conditions: [
        {
          type: 'Accepted',
          status: 'True',
          reason: 'Accepted',
          message: 'spec.targetRefs[0]: HTTPRoute shop/orders is attached to Gateway infra/public listener api, which admitted it',
          observedGeneration: 5,
        },
      ],
    },
  ]);
  assert.equal(CONTROLLER_NAME, 'jwtgate.dev/operator');
  // Accepted at its Gateway says where it applies; Ready says whether requests get it enforced (keys not fetched yet here).
  assert.equal(cond(accepted, 'JWTPolicy/shop/orders', 'Ready')?.reason, 'IssuerKeysUnavailable');
  assert.ok(!('ancestors' in (accepted.get('JWTPolicy/shop/hosts') ?? {})), 'a policy with targets has no ancestors');
  assert.ok(!('ancestors' in (accepted.get('JWTIssuer/shop/idp') ?? {})));

  const pending = withGatewayApi([remote, targeted], undefined);
  const [ancestor] = pending.get('JWTPolicy/shop/orders')?.ancestors ?? [];
  assert.deepEqual([ancestor?.conditions[0]?.status, ancestor?.conditions[0]?.reason], ['False', 'TargetNotFound']);
  assert.match(ancestor?.conditions[0]?.message ?? '', /has not reported on it yet/);
  // The policy's own conditions keep jwtgate's finer reason.
  assert.equal(cond(pending, 'JWTPolicy/shop/orders', 'Accepted')?.reason, 'TargetNotAccepted');
});

test('status.ancestors holds at most 16 entries (the CRD maxItems), and long messages are cut like every condition’s', () => {
  const ref = { kind: 'JWTPolicy', namespace: 'shop', name: 'api' };
  const ancestors = Array.from({ length: 20 }, (_, i) => ({
    ancestorRef: { group: GATEWAY_GROUP, kind: 'Gateway', namespace: 'infra', name: `g${String(i).padStart(2, '0')}` },
    accepted: false,
    reason: 'TargetNotFound' as const,
    message: 'x'.repeat(5000),
  }));
  const resources = [policy('api', 'nope')];
  const { snapshot, diagnostics } = compile({ schema, resources, now: new Date('2026-01-01T00:00:00Z') });
  const s = computeDesiredStatuses({
    resources,
    diagnostics,
    attachments: [{ resource: ref, ancestors }],
    snapshot,
    keyState: () => undefined,
  });
  const written = s.get('JWTPolicy/shop/api')?.ancestors ?? [];
  assert.equal(written.length, 16);
  assert.equal(written[15]?.ancestorRef.name, 'g15');
  assert.equal(written[0]?.conditions[0]?.message.length, 1024);
});
