// GEP-713 ancestors of JWTPolicy targetRefs (compile's `attachments`): per ref, the Gateways its
// route names (or the Gateway it targets, or the route itself when it names none or is missing),
// and at each one Accepted or why not: TargetNotFound where the target is not there for that
// Gateway, Conflicted where another policy holds the route, Invalid where the policy is not
// enforced as written. The snapshot is not touched by any of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile, type CompileInput } from '../../../compiler/compile.ts';
import { ancestorKey, describeAncestor, judgeAncestors, type AncestorRef } from '../../../compiler/policy-ancestors.ts';
import type { GatewayInput, HTTPRouteInput, NamespaceInput, Resource } from '../../../compiler/resources.ts';
import { NOW, errorsOf, issuer, jwksUriIssuer, modesOf, policy } from './builders.ts';
import { schema } from '../../support/schema.ts';

const GROUP = 'gateway.networking.k8s.io';
const NAMESPACES: NamespaceInput[] = [
  { name: 'shop', labels: {} },
  { name: 'evil', labels: {} },
  { name: 'infra', labels: {} },
];

/** Gateway `infra/<name>`: listener `api` admits shop for api.example.com, `web` anyone for *.apps.example.com. */
function gateway(name = 'public', namespace = 'infra'): GatewayInput {
  return {
    apiVersion: `${GROUP}/v1`,
    kind: 'Gateway',
    metadata: { name, namespace },
    spec: {
      gatewayClassName: 'eg',
      listeners: [
        {
          name: 'api',
          protocol: 'HTTPS',
          port: 443,
          hostname: 'api.example.com',
          allowedRoutes: { namespaces: { from: 'Selector', selector: { matchLabels: { 'kubernetes.io/metadata.name': 'shop' } } } },
        },
        { name: 'web', protocol: 'HTTP', port: 80, hostname: '*.apps.example.com', allowedRoutes: { namespaces: { from: 'All' } } },
      ],
    },
  };
}

/** An HTTPRoute on api.example.com naming `parents`; `accepted` gives each parent's status entry (absent: none). */
function route(
  name: string,
  parents: Record<string, unknown>[],
  accepted: ('True' | 'False' | undefined)[] = [],
  o: { namespace?: string; rules?: Record<string, unknown>[] } = {},
): HTTPRouteInput {
  const namespace = o.namespace ?? 'shop';
  const entries = parents.flatMap((parentRef, i) =>
    accepted[i] === undefined
      ? []
      : [
          {
            parentRef: parentRef as never,
            controllerName: 'example.com/gateway-controller',
            conditions: [
              {
                type: 'Accepted',
                status: accepted[i] as 'True' | 'False',
                reason: accepted[i] === 'True' ? 'Accepted' : 'NotAllowedByListeners',
              },
            ],
          },
        ],
  );
  return {
    apiVersion: `${GROUP}/v1`,
    kind: 'HTTPRoute',
    metadata: { name, namespace },
    spec: {
      parentRefs: parents as never,
      hostnames: ['api.example.com'],
      rules: (o.rules ?? [{ name: 'all', matches: [{ path: { type: 'PathPrefix', value: `/${name}` } }] }]) as never,
    },
    ...(entries.length === 0 ? {} : { status: { parents: entries } }),
  };
}

const PUBLIC = { name: 'public', namespace: 'infra' };
const routeRef = (name: string, extra: Record<string, unknown> = {}) => ({ group: GROUP, kind: 'HTTPRoute', name, ...extra });
const gatewayRef = (name: string, extra: Record<string, unknown> = {}) => ({ group: GROUP, kind: 'Gateway', name, ...extra });
const refPolicy = (name: string, refs: Record<string, unknown>[], namespace = 'shop', overrides: Record<string, unknown> = {}): Resource =>
  policy(name, { targetRefs: refs, issuers: { anyOf: [{ name: 'idp' }] }, ...overrides }, namespace);
const issuers = ['shop', 'evil', 'infra'].map((ns) => issuer('idp', jwksUriIssuer(), ns));

function run(resources: Resource[], extra: Partial<CompileInput> = {}) {
  return compile({ schema, resources: [...issuers, ...resources], namespaces: NAMESPACES, now: NOW, gateways: [gateway()], ...extra });
}

/** `kind namespace/name[/section] accepted? reason` per ancestor of one policy. */
function verdicts(result: ReturnType<typeof run>, namespace: string, name: string): string[] {
  const attachment = result.attachments.find((a) => a.resource.namespace === namespace && a.resource.name === name);
  assert.ok(attachment, `no attachment for ${namespace}/${name}`);
  return attachment.ancestors.map(
    (a) =>
      `${a.ancestorRef.kind} ${a.ancestorRef.namespace}/${a.ancestorRef.name}${a.ancestorRef.sectionName === undefined ? '' : `/${a.ancestorRef.sectionName}`} ${a.accepted} ${a.reason}`,
  );
}
const messageOf = (result: ReturnType<typeof run>, name: string, index = 0) =>
  result.attachments.find((a) => a.resource.name === name)?.ancestors[index]?.message ?? '';

test('a route a Gateway accepted: the Gateway is the ancestor, Accepted; a policy with targets has no attachment; the snapshot is unchanged', () => {
  const r = route('orders', [PUBLIC], ['True']);
  const result = run(
    [
      refPolicy('orders', [routeRef('orders')]),
      policy('hosts', { targets: [{ hosts: ['www.example.com'] }], issuers: { anyOf: [{ name: 'idp' }] } }),
    ],
    { httpRoutes: [r] },
  );
  assert.deepEqual(errorsOf(result.diagnostics), []);
  assert.deepEqual(result.attachments.length, 1, 'only the policy with targetRefs');
  const [attachment] = result.attachments;
  assert.deepEqual(attachment?.resource, { kind: 'JWTPolicy', namespace: 'shop', name: 'orders' });
  assert.deepEqual(attachment?.ancestors, [
    {
      ancestorRef: { group: GROUP, kind: 'Gateway', namespace: 'infra', name: 'public' },
      accepted: true,
      reason: 'Accepted',
      message: 'spec.targetRefs[0]: HTTPRoute shop/orders is attached to Gateway infra/public, which admitted it',
    },
  ]);
  assert.ok(!('attachments' in result.snapshot), 'status is not part of the snapshot');
});

test('not admitted by its Gateway: TargetNotFound at that Gateway, with the Gateway’s reason (no status yet, refused, a listener that does not admit the namespace)', () => {
  const cases: [string, HTTPRouteInput, string, RegExp][] = [
    ['no status yet', route('orders', [PUBLIC]), 'shop', /Gateway infra\/public has not reported on it yet \(no status\.parents entry\)/],
    ['refused', route('orders', [PUBLIC], ['False']), 'shop', /Gateway infra\/public has not accepted it \(NotAllowedByListeners\)/],
    [
      'a lying Accepted=True for a namespace the listener does not admit',
      route('orders', [{ ...PUBLIC, sectionName: 'api' }], ['True'], { namespace: 'evil' }),
      'evil',
      /no HTTP listener of Gateway infra\/public listener api admits namespace evil/,
    ],
  ];
  for (const [what, r, namespace, why] of cases) {
    const result = run([refPolicy('p', [routeRef('orders')], namespace)], { httpRoutes: [r] });
    assert.deepEqual(errorsOf(result.diagnostics), ['TargetNotAccepted spec.targetRefs[0]'], what);
    const section = r.spec?.parentRefs?.[0]?.sectionName;
    assert.deepEqual(verdicts(result, namespace, 'p'), [`Gateway infra/public${section ? `/${section}` : ''} false TargetNotFound`], what);
    assert.match(messageOf(result, 'p'), /^spec\.targetRefs\[0\]: HTTPRoute \w+\/orders is not attached here: /, what);
    assert.match(messageOf(result, 'p'), why, what);
  }
});

test('the route itself is the ancestor when it is missing or names no Gateway; a missing rule is TargetNotFound at each of its Gateways', () => {
  const missing = run([refPolicy('p', [routeRef('gone')])], { httpRoutes: [] });
  assert.deepEqual(verdicts(missing, 'shop', 'p'), ['HTTPRoute shop/gone false TargetNotFound']);
  assert.equal(messageOf(missing, 'p'), 'spec.targetRefs[0]: HTTPRoute shop/gone not found');
  const unknownApi = run([refPolicy('p', [routeRef('gone')])], { gateways: undefined });
  assert.match(messageOf(unknownApi, 'p'), /the Gateway API CRDs are not installed/);

  const meshOnly = route('orders', [{ group: '', kind: 'Service', name: 'orders' }]);
  const noGateway = run([refPolicy('p', [routeRef('orders')])], { httpRoutes: [meshOnly] });
  assert.deepEqual(verdicts(noGateway, 'shop', 'p'), ['HTTPRoute shop/orders false TargetNotFound']);
  assert.match(messageOf(noGateway, 'p'), /names no parent Gateway/);

  const rule = run([refPolicy('p', [routeRef('orders', { sectionName: 'nope' })])], { httpRoutes: [route('orders', [PUBLIC], ['True'])] });
  assert.deepEqual(verdicts(rule, 'shop', 'p'), ['Gateway infra/public false TargetNotFound']);
  assert.match(messageOf(rule, 'p'), /HTTPRoute shop\/orders has no rule named nope/);
});

test('one ancestor per parentRef (sectionName kept): one admits, the other does not — the policy is enforced, each says its own', () => {
  const api = { ...PUBLIC, sectionName: 'api' };
  const other = { name: 'other', namespace: 'infra' };
  const r = route('orders', [api, other, api], ['True', 'False']);
  const result = run([refPolicy('p', [routeRef('orders')])], { httpRoutes: [r], gateways: [gateway(), gateway('other')] });
  assert.deepEqual(errorsOf(result.diagnostics), [], 'one Gateway admitted it: the route counts');
  assert.deepEqual(modesOf(result.snapshot), ['JWTPolicy/shop/p required']);
  assert.deepEqual(verdicts(result, 'shop', 'p'), ['Gateway infra/other false TargetNotFound', 'Gateway infra/public/api true Accepted']);
  const attachment = result.attachments[0];
  assert.deepEqual(attachment?.ancestors[1]?.ancestorRef, {
    group: GROUP,
    kind: 'Gateway',
    namespace: 'infra',
    name: 'public',
    sectionName: 'api',
  });
});

test('one ref failing makes the whole policy not enforced: its other Gateways say Invalid, naming the failing ref', () => {
  const result = run([refPolicy('p', [routeRef('orders'), routeRef('gone')])], {
    httpRoutes: [route('orders', [{ name: 'own' }], ['True'])],
    gateways: [gateway(), { ...gateway('own', 'shop') }],
  });
  assert.deepEqual(errorsOf(result.diagnostics), ['TargetNotFound spec.targetRefs[1]']);
  assert.deepEqual(modesOf(result.snapshot), ['JWTPolicy/shop/p invalid'], 'what it protects is held closed');
  assert.deepEqual(verdicts(result, 'shop', 'p'), ['Gateway shop/own false Invalid', 'HTTPRoute shop/gone false TargetNotFound']);
  assert.match(
    messageOf(result, 'p'),
    /^the policy is not enforced as written, so what it protected is denied \(503 policy_invalid\): spec\.targetRefs\[1\]: HTTPRoute shop\/gone not found/,
  );
});

test('errors of the policy’s own (a bad rule, a schema error elsewhere): Invalid at every Gateway, the errors about the ref first', () => {
  const r = route('orders', [PUBLIC], ['True']);
  const badRule = run([refPolicy('p', [routeRef('orders')], 'shop', { rules: [{ claim: 'sub', regex: '(a+)+$' }] })], { httpRoutes: [r] });
  assert.deepEqual(errorsOf(badRule.diagnostics), ['InvalidRegex spec.rules[0].regex']);
  assert.deepEqual(verdicts(badRule, 'shop', 'p'), ['Gateway infra/public false Invalid']);
  assert.match(messageOf(badRule, 'p'), /spec\.rules\[0\]\.regex/);

  const schemaError = run([refPolicy('p', [routeRef('orders')], 'shop', { mode: 'Sometimes' })], { httpRoutes: [r] });
  assert.deepEqual(errorsOf(schemaError.diagnostics), ['InvalidSpec spec.mode']);
  assert.deepEqual(
    verdicts(schemaError, 'shop', 'p'),
    ['Gateway infra/public false Invalid'],
    'a broken policy is read for its ancestors too',
  );

  const headers = route('orders', [PUBLIC], ['True'], {
    rules: [
      { matches: [{ path: { type: 'PathPrefix', value: '/a' } }] },
      { matches: [{ path: { type: 'PathPrefix', value: '/b' }, headers: [{ name: 'x-v', value: '2' }] }] },
    ],
  });
  const optional = run([refPolicy('p', [routeRef('orders')], 'shop', { mode: 'Optional', rules: [{ claim: 'sub', regex: '(a+)+$' }] })], {
    httpRoutes: [headers],
  });
  assert.deepEqual(errorsOf(optional.diagnostics), ['UnsupportedMatch spec.targetRefs[0]', 'InvalidRegex spec.rules[0].regex']);
  assert.match(
    messageOf(optional, 'p'),
    /policy_invalid\): spec\.targetRefs\[0\]: HTTPRoute shop\/orders rule #1 match 0: jwtgate cannot match on headers.*; spec\.rules\[0\]\.regex/,
  );
});

test('warnings about a ref stay Accepted and are named in its message (a header match a Required policy broadens)', () => {
  const headers = route('orders', [PUBLIC], ['True'], {
    rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/b' }, headers: [{ name: 'x-v', value: '2' }] }] }],
  });
  const result = run([refPolicy('p', [routeRef('orders')])], { httpRoutes: [headers] });
  assert.deepEqual(errorsOf(result.diagnostics), []);
  assert.deepEqual(verdicts(result, 'shop', 'p'), ['Gateway infra/public true Accepted']);
  assert.match(messageOf(result, 'p'), /admitted it; with warnings: spec\.targetRefs\[0\]: .*cannot match on headers/);
});

test('a newcomer on a route another policy holds: Conflicted at the Gateway; the holder stays Accepted', () => {
  const r = route('orders', [PUBLIC], ['True']);
  const first = run([refPolicy('holder', [routeRef('orders')])], { httpRoutes: [r] });
  const second = run([refPolicy('holder', [routeRef('orders')]), refPolicy('newcomer', [routeRef('orders')])], {
    httpRoutes: [r],
    previous: first.snapshot,
  });
  assert.deepEqual(errorsOf(second.diagnostics), ['RouteConflict spec.targets']);
  assert.deepEqual(verdicts(second, 'shop', 'newcomer'), ['Gateway infra/public false Conflicted']);
  assert.match(messageOf(second, 'newcomer'), /^another policy holds these routes: /);
  assert.deepEqual(verdicts(second, 'shop', 'holder'), ['Gateway infra/public true Accepted']);
});

test('a Gateway ref: the Gateway (its listener with sectionName) is the ancestor; two refs reaching one ancestor make one entry', () => {
  const whole = run([refPolicy('edge', [gatewayRef('public')], 'infra')]);
  assert.deepEqual(verdicts(whole, 'infra', 'edge'), ['Gateway infra/public true Accepted']);
  assert.match(messageOf(whole, 'edge'), /Gateway infra\/public's requests to \*\.apps\.example\.com, api\.example\.com, as a default/);
  const listener = run([refPolicy('edge', [gatewayRef('public', { sectionName: 'nope' })], 'infra')]);
  assert.deepEqual(verdicts(listener, 'infra', 'edge'), ['Gateway infra/public/nope false TargetNotFound']);
  assert.match(messageOf(listener, 'edge'), /has no HTTP or HTTPS listener named nope/);
  const gone = run([refPolicy('edge', [gatewayRef('gone')], 'infra')]);
  assert.deepEqual(verdicts(gone, 'infra', 'edge'), ['Gateway infra/gone false TargetNotFound']);

  const own = gateway('own', 'shop');
  const twice = run([refPolicy('p', [routeRef('a'), routeRef('b', { sectionName: 'all' })])], {
    httpRoutes: [route('a', [{ name: 'own' }], ['True']), route('b', [{ name: 'own' }], ['True'])],
    gateways: [own],
  });
  assert.deepEqual(verdicts(twice, 'shop', 'p'), ['Gateway shop/own true Accepted']);
  assert.equal(
    messageOf(twice, 'p'),
    'spec.targetRefs[0]: HTTPRoute shop/a is attached to Gateway shop/own, which admitted it; spec.targetRefs[1]: HTTPRoute shop/b rule all is attached to Gateway shop/own, which admitted it',
  );
});

test('more than 16 ancestors: the policy is refused (TooManyAncestors), and its status still lists them for the operator to cap', () => {
  const listeners = Array.from({ length: 17 }, (_, i) => ({ name: `l${i}`, protocol: 'HTTP', port: 80, hostname: `h${i}.example.com` }));
  const wide: GatewayInput = { ...gateway('wide', 'shop'), spec: { gatewayClassName: 'eg', listeners } };
  const parents = listeners.map((l) => ({ name: 'wide', sectionName: l.name }));
  const r = {
    ...route(
      'orders',
      parents,
      parents.map(() => 'True' as const),
    ),
    spec: { ...route('orders', parents).spec, hostnames: [] },
  };
  const result = run([refPolicy('p', [routeRef('orders')])], { httpRoutes: [r], gateways: [wide] });
  assert.deepEqual(errorsOf(result.diagnostics), ['TooManyAncestors spec.targetRefs']);
  assert.match(
    result.diagnostics.find((d) => d.reason === 'TooManyAncestors')?.message ?? '',
    /17 Gateways or listeners .* more than the 16/,
  );
  assert.equal(result.attachments[0]?.ancestors.length, 17);
  assert.ok(result.attachments[0]?.ancestors.every((a) => a.reason === 'Invalid'));
  const sixteen = { ...r, spec: { ...r.spec, parentRefs: parents.slice(0, 16) as never } };
  assert.deepEqual(errorsOf(run([refPolicy('p', [routeRef('orders')])], { httpRoutes: [sixteen], gateways: [wide] }).diagnostics), []);
});

test('judgeAncestors: ancestors sorted by key, a duplicated manifest’s refs counted once; ancestorKey and describeAncestor', () => {
  const gw = (name: string, sectionName?: string): AncestorRef => ({
    group: GROUP,
    kind: 'Gateway',
    namespace: 'infra',
    name,
    ...(sectionName === undefined ? {} : { sectionName }),
  });
  const ref = { kind: 'JWTPolicy', namespace: 'shop', name: 'p' };
  const reach = (ancestorRef: AncestorRef) => ({ field: 'spec.targetRefs[0]', ancestorRef, found: true, message: 'attached' });
  const judged = judgeAncestors(ref, [reach(gw('b')), reach(gw('a', 'x')), reach(gw('a')), reach(gw('b'))], []);
  assert.deepEqual(
    judged.ancestors.map((a) => `${describeAncestor(a.ancestorRef)}: ${a.message}`),
    [
      'Gateway infra/a: spec.targetRefs[0]: attached',
      'Gateway infra/a listener x: spec.targetRefs[0]: attached',
      'Gateway infra/b: spec.targetRefs[0]: attached',
    ],
  );
  // The errors about an ancestor's own refs lead its message, whatever order they were reported in.
  const error = (field: string, reason: 'InvalidRegex' | 'TargetNotAccepted') => ({
    resource: ref,
    severity: 'error' as const,
    field,
    reason,
    message: reason,
  });
  const invalid = judgeAncestors(
    ref,
    [reach(gw('a')), { ...reach(gw('b')), field: 'spec.targetRefs[1]' }],
    [error('spec.rules[0].regex', 'InvalidRegex'), error('spec.targetRefs[1]', 'TargetNotAccepted')],
  );
  assert.deepEqual(
    invalid.ancestors.map((a) => `${a.reason} ${a.message.replace(/^.*\): /, '')}`),
    [
      'Invalid spec.rules[0].regex: InvalidRegex; spec.targetRefs[1]: TargetNotAccepted',
      'Invalid spec.targetRefs[1]: TargetNotAccepted; spec.rules[0].regex: InvalidRegex',
    ],
  );
  assert.notEqual(ancestorKey(gw('a')), ancestorKey(gw('a', 'x')));
  assert.equal(describeAncestor({ ...gw('a'), port: 443 }), 'Gateway infra/a port 443');
  assert.equal(describeAncestor({ group: GROUP, kind: 'HTTPRoute', namespace: 'shop', name: 'r' }), 'HTTPRoute shop/r');
});
