// JWTPolicy targetRefs (issue 10): HTTPRoutes a Gateway accepted compile into targets and grants;
// refs to what does not exist, is not accepted, or lives in another namespace are refused, and
// a route that loses acceptance fails closed where it was protected. The attack of the issue: an
// HTTPRoute of namespace evil for shop's hostname, which no Gateway accepts, changes nothing for
// shop and says why on evil's policy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRouter } from '../../../authz/match/router.ts';
import { compile, type CompileInput } from '../../../compiler/compile.ts';
import { API_VERSION, type GatewayInput, type HTTPRouteInput, type NamespaceInput, type Resource } from '../../../compiler/resources.ts';
import { NOW, errorsOf, issuer, jwksUriIssuer, modesOf, policy, requiredPolicy } from './builders.ts';
import { schema } from '../../support/schema.ts';

const GROUP = 'gateway.networking.k8s.io';
const NAMESPACES: NamespaceInput[] = [
  { name: 'shop', labels: { tier: 'tenant' } },
  { name: 'evil', labels: { tier: 'tenant' } },
  { name: 'infra', labels: {} },
];

/** Gateway `infra/public`: `api` admits shop's routes for api.example.com, `tenants` anyone's under *.apps.example.com. */
function gateway(listeners?: Record<string, unknown>[], name = 'public', namespace = 'infra'): GatewayInput {
  return {
    apiVersion: `${GROUP}/v1`,
    kind: 'Gateway',
    metadata: { name, namespace },
    spec: {
      gatewayClassName: 'eg',
      listeners: (listeners ?? [
        {
          name: 'api',
          protocol: 'HTTPS',
          port: 443,
          hostname: 'api.example.com',
          allowedRoutes: { namespaces: { from: 'Selector', selector: { matchLabels: { 'kubernetes.io/metadata.name': 'shop' } } } },
        },
        { name: 'tenants', protocol: 'HTTP', port: 80, hostname: '*.apps.example.com', allowedRoutes: { namespaces: { from: 'All' } } },
      ]) as never,
    },
  };
}

interface RouteOptions {
  namespace?: string;
  hostnames?: string[];
  rules?: Record<string, unknown>[];
  /** The Accepted condition's status per parent, as a Gateway controller writes it; absent = no status. */
  accepted?: 'True' | 'False';
  generation?: number;
  observedGeneration?: number;
  parentRef?: Record<string, unknown>;
}

function route(name: string, o: RouteOptions = {}): HTTPRouteInput {
  const namespace = o.namespace ?? 'shop';
  const parentRef = o.parentRef ?? { name: 'public', namespace: 'infra' };
  return {
    apiVersion: `${GROUP}/v1`,
    kind: 'HTTPRoute',
    metadata: { name, namespace, ...(o.generation === undefined ? {} : { generation: o.generation }) },
    spec: {
      parentRefs: [parentRef as never],
      ...(o.hostnames === undefined ? {} : { hostnames: o.hostnames }),
      rules: (o.rules ?? [{ matches: [{ path: { type: 'PathPrefix', value: '/orders' } }] }]) as never,
    },
    ...(o.accepted === undefined
      ? {}
      : {
          status: {
            parents: [
              {
                parentRef: parentRef as never,
                controllerName: 'gateway.envoyproxy.io/gatewayclass-controller',
                conditions: [
                  {
                    type: 'Accepted',
                    status: o.accepted,
                    reason: o.accepted === 'True' ? 'Accepted' : 'NotAllowedByListeners',
                    ...(o.observedGeneration === undefined ? {} : { observedGeneration: o.observedGeneration }),
                  },
                ],
              },
            ],
          },
        }),
  };
}

const ref = (name: string, extra: Record<string, unknown> = {}) => ({ group: GROUP, kind: 'HTTPRoute', name, ...extra });

/** A Required policy on `refs`, trusting issuer `idp` of its namespace. */
function refPolicy(name: string, refs: Record<string, unknown>[], namespace = 'shop', overrides: Record<string, unknown> = {}): Resource {
  return policy(name, { targetRefs: refs, issuers: { anyOf: [{ name: 'idp' }] }, ...overrides }, namespace);
}

const issuers = ['shop', 'evil', 'infra'].map((ns) => issuer('idp', jwksUriIssuer(), ns));

function run(resources: Resource[], extra: Partial<CompileInput> = {}) {
  return compile({ schema, resources: [...issuers, ...resources], namespaces: NAMESPACES, now: NOW, gateways: [gateway()], ...extra });
}

const policyOf = (snapshot: ReturnType<typeof run>['snapshot'], id: string) => snapshot.policies.find((p) => p.id === id);

test('an accepted HTTPRoute compiles to its matches on its admitted hostnames, and grants those hostnames to its namespace', () => {
  const orders = route('orders', {
    hostnames: ['api.example.com'],
    accepted: 'True',
    rules: [
      { matches: [{ path: { type: 'PathPrefix', value: '/orders/' } }, { path: { type: 'Exact', value: '/health' }, method: 'GET' }] },
      { matches: [{ path: { type: 'RegularExpression', value: '/items/[0-9]+' } }] },
      { backendRefs: [] },
      { matches: [{ method: 'DELETE' }] },
    ],
  });
  const { snapshot, diagnostics } = run([refPolicy('orders', [ref('orders')])], { httpRoutes: [orders] });
  assert.deepEqual(errorsOf(diagnostics), []);
  assert.deepEqual(errorsOf(diagnostics, 'warning'), []);
  const hosts = ['api.example.com'];
  assert.deepEqual(policyOf(snapshot, 'JWTPolicy/shop/orders')?.targets, [
    // PathPrefix ignores a trailing '/' (Gateway API), so `/orders/` routes `/orders` too.
    { hosts, paths: [{ kind: 'prefix', value: '/orders' }], methods: [] },
    { hosts, paths: [{ kind: 'exact', value: '/health' }], methods: ['GET'] },
    { hosts, paths: [{ kind: 'regex', value: '/items/[0-9]+' }], methods: [] },
    // No matches: the API's default, every path.
    { hosts, paths: [{ kind: 'prefix', value: '/' }], methods: [] },
    { hosts, paths: [{ kind: 'prefix', value: '/' }], methods: ['DELETE'] },
  ]);
  assert.deepEqual(snapshot.grants, [{ id: 'HTTPRoute/shop/orders', hosts: ['api.example.com'], namespaces: ['shop'] }]);
  const router = buildRouter(snapshot.policies, snapshot.grants);
  assert.equal(router.match({ host: 'api.example.com', path: '/orders', method: 'GET' })?.policy?.id, 'JWTPolicy/shop/orders');
  assert.equal(router.match({ host: 'api.example.com', path: '/items/12', method: 'GET' })?.policy?.id, 'JWTPolicy/shop/orders');
});

test("effective hostnames: the route's hostnames as the admitting listeners narrow them", () => {
  const api = { name: 'public', namespace: 'infra', sectionName: 'api' };
  const cases: [string, RouteOptions, string[] | '*'][] = [
    ['no hostnames take the listener', { accepted: 'True', parentRef: api }, ['api.example.com']],
    [
      'a wildcard route host narrows to the listener',
      { accepted: 'True', parentRef: api, hostnames: ['*.example.com'] },
      ['api.example.com'],
    ],
    // Attached to the whole Gateway, the route gets every listener that admits its namespace.
    ['every admitting listener counts', { accepted: 'True' }, ['*.apps.example.com', 'api.example.com']],
    [
      'a listener wildcard keeps the route host',
      { accepted: 'True', hostnames: ['x.apps.example.com', 'a.b.apps.example.com', 'other.org'] },
      ['a.b.apps.example.com', 'x.apps.example.com'],
    ],
  ];
  for (const [what, options, hosts] of cases) {
    const r = route('orders', options);
    const { snapshot, diagnostics } = run([refPolicy('orders', [ref('orders')])], { httpRoutes: [r] });
    assert.deepEqual(errorsOf(diagnostics), [], what);
    assert.deepEqual(snapshot.grants[0]?.hosts, hosts, what);
    assert.deepEqual(policyOf(snapshot, 'JWTPolicy/shop/orders')?.targets[0]?.hosts, hosts, what);
  }
  // A listener without hostname and a route without hostnames: any host (targets []), grant '*'.
  const open = gateway([{ name: 'http', protocol: 'HTTP', port: 80 }], 'own', 'shop');
  const r = route('orders', { accepted: 'True', parentRef: { name: 'own' } });
  const { snapshot } = run([refPolicy('orders', [ref('orders')])], { httpRoutes: [r], gateways: [open] });
  assert.deepEqual(snapshot.grants, [{ id: 'HTTPRoute/shop/orders', hosts: ['*'], namespaces: ['shop'] }]);
  assert.deepEqual(policyOf(snapshot, 'JWTPolicy/shop/orders')?.targets[0]?.hosts, []);
});

test('sectionName picks one named rule; a rule or route that does not exist is TargetNotFound and fails closed', () => {
  const r = route('orders', {
    accepted: 'True',
    rules: [
      { name: 'read', matches: [{ path: { type: 'PathPrefix', value: '/orders' }, method: 'GET' }] },
      { name: 'write', matches: [{ path: { type: 'PathPrefix', value: '/orders' }, method: 'POST' }] },
    ],
  });
  const named = run([refPolicy('writes', [ref('orders', { sectionName: 'write' })])], { httpRoutes: [r] });
  assert.deepEqual(errorsOf(named.diagnostics), []);
  assert.deepEqual(
    policyOf(named.snapshot, 'JWTPolicy/shop/writes')?.targets.map((t) => t.methods),
    [['POST']],
  );
  const missing = run([refPolicy('writes', [ref('orders', { sectionName: 'delete' }), ref('gone')])], { httpRoutes: [r] });
  assert.deepEqual(errorsOf(missing.diagnostics), ['TargetNotFound spec.targetRefs[0]', 'TargetNotFound spec.targetRefs[1]']);
  assert.match(missing.diagnostics[0]?.message ?? '', /HTTPRoute shop\/orders has no rule named delete/);
  assert.match(missing.diagnostics[1]?.message ?? '', /HTTPRoute shop\/gone not found/);
  assert.deepEqual(modesOf(missing.snapshot), [], 'nothing to hold: it never protected anything');
  assert.equal(missing.refusal, undefined, 'its routes are known: none');
  const unknownApi = run([refPolicy('writes', [ref('orders')])], { gateways: undefined });
  assert.match(unknownApi.diagnostics[0]?.message ?? '', /the Gateway API CRDs are not installed/);
});

test('only acceptance by an existing parent Gateway, for the current generation, through a listener that admits the namespace, counts', () => {
  const cases: [string, HTTPRouteInput, GatewayInput[], RegExp][] = [
    ['no status', route('orders', {}), [gateway()], /no parent Gateway has accepted it/],
    [
      'Accepted=False',
      route('orders', { accepted: 'False' }),
      [gateway()],
      /Gateway infra\/public has not accepted it \(NotAllowedByListeners\)/,
    ],
    ['the Gateway is gone', route('orders', { accepted: 'True' }), [], /Gateway infra\/public does not exist/],
    [
      'acceptance of an older generation',
      route('orders', { accepted: 'True', generation: 3, observedGeneration: 2 }),
      [gateway()],
      /accepted generation 2, not the current 3/,
    ],
    [
      'a listener that admits the namespace, but not for this hostname',
      route('orders', { namespace: 'evil', accepted: 'True', hostnames: ['api.example.com'] }),
      [gateway()],
      /no HTTP listener of Gateway infra\/public admits namespace evil/,
    ],
    [
      'a status entry for a parentRef the route no longer has',
      { ...route('orders', { accepted: 'True' }), spec: { ...route('orders').spec, parentRefs: [{ name: 'other', namespace: 'infra' }] } },
      [gateway()],
      /no parent Gateway has accepted it/,
    ],
  ];
  for (const [what, r, gateways, why] of cases) {
    const namespace = r.metadata.namespace as string;
    const { snapshot, diagnostics } = run([refPolicy('p', [ref('orders')], namespace)], { httpRoutes: [r], gateways });
    assert.deepEqual(errorsOf(diagnostics), ['TargetNotAccepted spec.targetRefs[0]'], what);
    assert.match(diagnostics.find((d) => d.reason === 'TargetNotAccepted')?.message ?? '', why, what);
    assert.deepEqual(snapshot.grants, [], what);
    assert.deepEqual(modesOf(snapshot), [], what);
  }
  // The newer generation accepted, and a listener picked by sectionName: counted.
  const current = route('orders', {
    accepted: 'True',
    generation: 3,
    observedGeneration: 3,
    parentRef: { name: 'public', namespace: 'infra', sectionName: 'api' },
  });
  assert.deepEqual(errorsOf(run([refPolicy('p', [ref('orders')])], { httpRoutes: [current] }).diagnostics), []);
});

test('a listener admits by namespace (Same, All, Selector) and kind; the status alone does not widen the hostnames', () => {
  const listeners = [
    { name: 'same', protocol: 'HTTP', port: 80, hostname: 'same.example.com' },
    {
      name: 'kinds',
      protocol: 'HTTP',
      port: 81,
      hostname: 'grpc.example.com',
      allowedRoutes: { namespaces: { from: 'All' }, kinds: [{ kind: 'GRPCRoute' }] },
    },
    { name: 'tls', protocol: 'TLS', port: 443, hostname: 'tls.example.com', allowedRoutes: { namespaces: { from: 'All' } } },
    {
      name: 'tenants',
      protocol: 'HTTP',
      port: 82,
      hostname: '*.tenants.example.com',
      allowedRoutes: { namespaces: { from: 'Selector', selector: { matchLabels: { tier: 'tenant' } } } },
    },
  ];
  const gw = gateway(listeners, 'mixed', 'infra');
  // Accepted (some listener admits it): only the tenants listener's hostnames count.
  const r = route('r', { namespace: 'evil', accepted: 'True', parentRef: { name: 'mixed', namespace: 'infra' } });
  const { snapshot } = run([refPolicy('p', [ref('r')], 'evil')], { httpRoutes: [r], gateways: [gw] });
  assert.deepEqual(snapshot.grants, [{ id: 'HTTPRoute/evil/r', hosts: ['*.tenants.example.com'], namespaces: ['evil'] }]);
  // Namespaces unknown: a Selector admits nobody.
  const blind = run([refPolicy('p', [ref('r')], 'evil')], { httpRoutes: [r], gateways: [gw], namespaces: undefined });
  assert.deepEqual(errorsOf(blind.diagnostics), ['TargetNotAccepted spec.targetRefs[0]']);
  // The Gateway's own namespace: Same admits it.
  const own = route('r', { namespace: 'infra', accepted: 'True', parentRef: { name: 'mixed' } });
  const same = run([refPolicy('p', [ref('r')], 'infra')], { httpRoutes: [own], gateways: [gw] });
  assert.deepEqual(same.snapshot.grants[0]?.hosts, ['same.example.com']);
});

test('headers and queryParams: dropped with a warning for a Required policy (it protects more), refused for Optional and Disabled', () => {
  const r = route('orders', {
    accepted: 'True',
    rules: [
      {
        matches: [
          {
            path: { type: 'PathPrefix', value: '/orders' },
            headers: [{ name: 'x-canary', value: '1' }],
            queryParams: [{ name: 'v', value: '2' }],
          },
        ],
      },
    ],
  });
  const required = run([refPolicy('p', [ref('orders')])], { httpRoutes: [r] });
  assert.deepEqual(errorsOf(required.diagnostics), []);
  assert.deepEqual(errorsOf(required.diagnostics, 'warning'), ['UnsupportedMatch spec.targetRefs[0]']);
  assert.match(required.diagnostics[0]?.message ?? '', /cannot match on headers and queryParams, so this policy requires a token/);
  assert.deepEqual(policyOf(required.snapshot, 'JWTPolicy/shop/p')?.targets[0]?.paths, [{ kind: 'prefix', value: '/orders' }]);
  for (const mode of ['Optional', 'Disabled']) {
    const { snapshot, diagnostics } = run([refPolicy('p', [ref('orders')], 'shop', { mode })], { httpRoutes: [r] });
    assert.deepEqual(errorsOf(diagnostics), ['UnsupportedMatch spec.targetRefs[0]'], mode);
    assert.deepEqual(modesOf(snapshot), ['JWTPolicy/shop/p invalid'], `${mode}: held closed, never opened wider`);
  }
});

test('paths the proxy and jwtgate would read differently are refused: RE2-only or ECMAScript-only regexes, paths not in normal form', () => {
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ type: 'RegularExpression', value: '/(?!admin).*' }, 'InvalidRegex', /the lookahead \(\?! means something else, or nothing, to RE2/],
    // A set of characters to ECMAScript; to RE2 a POSIX class, then an unclosed set.
    [{ type: 'RegularExpression', value: '/[x[:alpha:]+' }, 'InvalidRegex', /a POSIX class/],
    [{ type: 'RegularExpression', value: '/(a)\\1' }, 'InvalidRegex', /the backreference/],
    [{ type: 'RegularExpression', value: '/a\\z' }, 'InvalidRegex', /invalid regular expression/],
    [{ type: 'RegularExpression', value: '(?i)/admin' }, 'InvalidRegex', /invalid regular expression|flag group/],
    [{ type: 'Exact', value: '/a/%7Eb' }, 'InvalidPath', /not in normal form/],
    [{ type: 'Unknown', value: '/a' }, 'UnsupportedMatch', /path match type "Unknown"/],
  ];
  for (const [path, reason, message] of cases) {
    const r = route('orders', {
      accepted: 'True',
      hostnames: ['api.example.com'],
      rules: [{ matches: [{ path }, { path: { type: 'Exact', value: '/ok' } }] }],
    });
    const { snapshot, diagnostics } = run([refPolicy('p', [ref('orders')])], { httpRoutes: [r] });
    assert.deepEqual(errorsOf(diagnostics), [`${reason} spec.targetRefs[0]`], JSON.stringify(path));
    assert.match(diagnostics[0]?.message ?? '', message, JSON.stringify(path));
    assert.match(diagnostics[0]?.message ?? '', /^HTTPRoute shop\/orders rule #0 match 0: /);
    // The rest of the route is still held closed.
    assert.deepEqual(
      policyOf(snapshot, 'JWTPolicy/shop/p')?.targets.map((t) => t.paths),
      [[{ kind: 'exact', value: '/ok' }]],
    );
    assert.equal(policyOf(snapshot, 'JWTPolicy/shop/p')?.mode, 'invalid');
  }
});

test('a ref never reaches another namespace: the schema has no namespace field, and a name resolves in the policy’s own namespace', () => {
  const theirs = route('orders', { namespace: 'evil', accepted: 'True', hostnames: ['x.apps.example.com'] });
  const crossed = run([refPolicy('p', [{ ...ref('orders'), namespace: 'evil' }])], { httpRoutes: [theirs] });
  // Unknown field, as `kubectl apply` (strict field validation) refuses it; with no ref readable
  // and nothing held before, the policy's routes are unknown (the operator leaves it out).
  assert.deepEqual(errorsOf(crossed.diagnostics), ['InvalidSpec spec.targetRefs[0].namespace', 'RoutesUnknown spec.targets']);
  const same = run([refPolicy('p', [ref('orders')])], { httpRoutes: [theirs] });
  assert.deepEqual(errorsOf(same.diagnostics), ['TargetNotFound spec.targetRefs[0]'], "evil's route of the same name is not shop's");
});

test('schema and cross-field rules: one of targets or targetRefs; no workloadSelector with targetRefs; only HTTPRoute and Gateway of the Gateway API', () => {
  const r = route('orders', { accepted: 'True', hostnames: ['api.example.com'] });
  const both = run([policy('p', { ...requiredPolicy('api.example.com'), targetRefs: [ref('orders')] })], { httpRoutes: [r] });
  assert.deepEqual(errorsOf(both.diagnostics), ['InvalidSpec spec']);
  assert.match(both.diagnostics[0]?.message ?? '', /exactly one of targets or targetRefs must be set/);
  assert.deepEqual(modesOf(both.snapshot), ['JWTPolicy/shop/p invalid'], 'both are held closed: the targets and the accepted route');
  assert.equal(both.snapshot.policies[0]?.targets.length, 2);
  const neither = run([policy('p', { issuers: { anyOf: [{ name: 'idp' }] } })]);
  assert.deepEqual(errorsOf(neither.diagnostics).slice(0, 1), ['InvalidSpec spec']);
  const selector = run([refPolicy('p', [ref('orders')], 'shop', { workloadSelector: { matchLabels: { app: 'a' } } })], { httpRoutes: [r] });
  assert.match(selector.diagnostics.find((d) => d.severity === 'error')?.message ?? '', /cannot be combined with targetRefs/);
  const service = run([refPolicy('p', [{ group: '', kind: 'Service', name: 'orders' }])]);
  assert.deepEqual(errorsOf(service.diagnostics), [
    'InvalidSpec spec.targetRefs[0].group',
    'InvalidSpec spec.targetRefs[0].kind',
    'RoutesUnknown spec.targets',
  ]);
  const cluster = compile({
    schema,
    now: NOW,
    resources: [
      {
        apiVersion: API_VERSION,
        kind: 'ClusterJWTPolicy',
        metadata: { name: 'c' },
        spec: { targetRefs: [ref('orders')], mode: 'Disabled' },
      },
    ],
  });
  assert.deepEqual(errorsOf(cluster.diagnostics), [
    'InvalidSpec spec.targets',
    'InvalidSpec spec.targetRefs',
    'RoutesUnknown spec.targets',
  ]);
});

test('a route that loses acceptance fails closed where it was protected (503 policy_invalid), and its grant goes', () => {
  const accepted = route('orders', { accepted: 'True', hostnames: ['api.example.com'] });
  const before = run([refPolicy('orders', [ref('orders')])], { httpRoutes: [accepted] });
  assert.deepEqual(modesOf(before.snapshot), ['JWTPolicy/shop/orders required']);
  const lost = route('orders', { accepted: 'False', hostnames: ['api.example.com'] });
  const after = run([refPolicy('orders', [ref('orders')])], { httpRoutes: [lost], previous: before.snapshot });
  assert.deepEqual(errorsOf(after.diagnostics), ['TargetNotAccepted spec.targetRefs[0]']);
  assert.deepEqual(modesOf(after.snapshot), ['JWTPolicy/shop/orders invalid']);
  assert.deepEqual(policyOf(after.snapshot, 'JWTPolicy/shop/orders')?.targets, policyOf(before.snapshot, 'JWTPolicy/shop/orders')?.targets);
  assert.deepEqual(after.snapshot.grants, [], 'acceptance is the grant: without it the host is not shop’s by this route');
  const router = buildRouter(after.snapshot.policies, after.snapshot.grants);
  const hit = router.match({ host: 'api.example.com', path: '/orders/1', method: 'GET', namespace: 'shop' });
  assert.equal(hit?.policy?.mode, 'invalid', "shop's own traffic: 503 policy_invalid");
  const shared = router.match({ host: 'api.example.com', path: '/orders/1', method: 'GET' });
  assert.ok(shared?.refusal === 'host_not_granted', `a shared gateway's request is denied too: ${JSON.stringify(shared)}`);
});

test('a broken policy (schema error elsewhere) still holds its accepted routes closed, and their grant stands', () => {
  const r = route('orders', { accepted: 'True', hostnames: ['api.example.com'] });
  const { snapshot, diagnostics, refusal } = run([refPolicy('p', [ref('orders')], 'shop', { mode: 'Sometimes' })], { httpRoutes: [r] });
  assert.deepEqual(errorsOf(diagnostics), ['InvalidSpec spec.mode']);
  assert.equal(refusal, undefined);
  assert.deepEqual(modesOf(snapshot), ['JWTPolicy/shop/p invalid']);
  assert.deepEqual(snapshot.policies[0]?.targets[0]?.hosts, ['api.example.com']);
  assert.deepEqual(
    snapshot.grants.map((g) => g.id),
    ['HTTPRoute/shop/orders'],
  );
});

test('the attack: evil’s HTTPRoute for api.example.com, not accepted, and evil’s policy on it — shop’s protection holds', () => {
  const shopRoute = route('orders', { accepted: 'True', hostnames: ['api.example.com'] });
  // evil's route names the same host; the Gateway's api listener admits only shop, so it refuses it.
  const evilRoute = route('grab', {
    namespace: 'evil',
    accepted: 'False',
    hostnames: ['api.example.com'],
    rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/orders/admin' } }] }],
  });
  // Even a status that claims acceptance does not help: no listener admits evil for that host.
  const lying = { ...evilRoute, status: route('grab', { namespace: 'evil', accepted: 'True' }).status };
  for (const evil of [evilRoute, lying]) {
    const { snapshot, diagnostics } = run(
      [refPolicy('orders', [ref('orders')]), refPolicy('grab', [ref('grab')], 'evil', { mode: 'Disabled', issuers: undefined })],
      { httpRoutes: [shopRoute, evil] },
    );
    assert.deepEqual(
      diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.resource.namespace}/${d.resource.name} ${d.reason}`),
      ['evil/grab TargetNotAccepted'],
    );
    assert.deepEqual(
      diagnostics.filter((d) => d.resource.namespace === 'shop'),
      [],
      'nothing is said about shop',
    );
    assert.deepEqual(modesOf(snapshot), ['JWTPolicy/shop/orders required']);
    assert.deepEqual(
      snapshot.grants.map((g) => `${g.id} ${g.hosts.join(',')} ${g.namespaces.join(',')}`),
      ['HTTPRoute/shop/orders api.example.com shop'],
    );
    const router = buildRouter(snapshot.policies, snapshot.grants);
    for (const namespace of [undefined, 'shop']) {
      const hit = router.match({ host: 'api.example.com', path: '/orders/admin', method: 'GET', ...(namespace ? { namespace } : {}) });
      assert.equal(hit?.policy?.id, 'JWTPolicy/shop/orders', `namespace ${namespace ?? 'unknown'}`);
      assert.equal(hit?.policy?.mode, 'required');
    }
  }
});

test('a Gateway ref: its HTTP listeners’ hostnames, any path, as its namespace’s policy, granting nothing', () => {
  const gw = gateway(undefined, 'public', 'infra');
  const whole = run([refPolicy('edge', [{ group: GROUP, kind: 'Gateway', name: 'public' }], 'infra')], { gateways: [gw] });
  assert.deepEqual(errorsOf(whole.diagnostics), []);
  assert.deepEqual(policyOf(whole.snapshot, 'JWTPolicy/infra/edge')?.targets, [
    { hosts: ['*.apps.example.com', 'api.example.com'], paths: [], methods: [] },
  ]);
  assert.deepEqual(whole.snapshot.grants, []);
  assert.deepEqual(
    errorsOf(whole.diagnostics, 'warning'),
    ['HostNotGranted spec.targets', 'HostNotGranted spec.targets'],
    'a Gateway-level policy decides shared-gateway traffic only where a grant gives its namespace the host',
  );
  const listener = run([refPolicy('edge', [{ group: GROUP, kind: 'Gateway', name: 'public', sectionName: 'api' }], 'infra')], {
    gateways: [gw],
  });
  assert.deepEqual(policyOf(listener.snapshot, 'JWTPolicy/infra/edge')?.targets[0]?.hosts, ['api.example.com']);
  const missing = run([refPolicy('edge', [{ group: GROUP, kind: 'Gateway', name: 'public', sectionName: 'nope' }], 'infra')], {
    gateways: [gw],
  });
  assert.deepEqual(errorsOf(missing.diagnostics), ['TargetNotFound spec.targetRefs[0]']);
  const elsewhere = run([refPolicy('edge', [{ group: GROUP, kind: 'Gateway', name: 'public' }], 'shop')], { gateways: [gw] });
  assert.deepEqual(errorsOf(elsewhere.diagnostics), ['TargetNotFound spec.targetRefs[0]'], 'only a policy in the Gateway’s namespace');
});

test('two policies on one route share one grant; a route granted with a JWTHostGrant beside it co-owns the host', () => {
  const r = route('orders', {
    accepted: 'True',
    hostnames: ['api.example.com'],
    rules: [
      { name: 'read', matches: [{ path: { type: 'PathPrefix', value: '/orders' }, method: 'GET' }] },
      { name: 'write', matches: [{ path: { type: 'PathPrefix', value: '/orders' }, method: 'POST' }] },
    ],
  });
  const { snapshot, diagnostics } = run(
    [refPolicy('read', [ref('orders', { sectionName: 'read' })]), refPolicy('write', [ref('orders', { sectionName: 'write' })])],
    { httpRoutes: [r] },
  );
  assert.deepEqual(errorsOf(diagnostics), []);
  assert.deepEqual(
    snapshot.grants.map((g) => g.id),
    ['HTTPRoute/shop/orders'],
  );
  assert.deepEqual(modesOf(snapshot), ['JWTPolicy/shop/read required', 'JWTPolicy/shop/write required']);
});
