// reconcile() on a fake API with optimistic concurrency (as controller-runtime tests a reconciler
// with its fake client): first publish, no write when nothing changed, generation+1 on a change,
// status written only when it changed with lastTransitionTime moving only on a flip, Events on
// condition changes, nothing at all from a non-leader, a conflict on the head thrown (retried by
// the queue) and never forced, and incumbency carried by the published head across reconcilers.
// The clock is node:test's mocked Date (the reconciler's conditions and the Event recorder's
// de-duplication window both read it); the real-apiserver suites (test/integration/operator-*) sit on top.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../../common/log.ts';
import { ANNOTATIONS, SNAPSHOT_NAME } from '../../../snapshot/published-form.ts';
import type { Resource, ResourceKind } from '../../../compiler/resources.ts';
import { RemoteKeyStore } from '../../../operator/keys/remote-key-store.ts';
import { createOperatorMetrics } from '../../../operator/operator-metrics.ts';
import { PublishConflictError } from '../../../operator/publish-snapshot.ts';
import { createReconciler } from '../../../operator/reconcile.ts';
import { EventRecorder } from '../../../operator/record-event.ts';
import type { Condition } from '../../../operator/status/conditions.ts';
import type { ResourceStatus } from '../../../operator/status/next-status.ts';
import { publishedView, type ClusterWatch } from '../../../operator/watch-cluster.ts';
import { WriteFence, type Leadership } from '../../../operator/write-fence.ts';
import { fakeKubeClients } from '../../support/fake-kube-clients.ts';
import { schema } from '../../support/schema.ts';
import { issuer, jwkOf, modesOf, policy, requiredPolicy, rsa2048 } from '../compiler/builders.ts';

const NS = 'jwtgate-system';
const log = createLogger('silent');
const T0 = new Date('2026-03-01T00:00:00Z');
/** A condition's lastTransitionTime: RFC 3339 in whole seconds, as Kubernetes writes it. */
const stamp = (at: Date) => at.toISOString().replace(/\.\d{3}Z$/, 'Z');
const idp = issuer('idp', {
  issuer: 'https://idp.example.com',
  audiences: ['shop'],
  algorithms: ['RS256'],
  jwks: { keys: [jwkOf(rsa2048, { kid: 'k1', alg: 'RS256', use: 'sig' })] },
});
const api = (overrides: Record<string, unknown> = {}): Resource => policy('api', requiredPolicy('shop.example.com', overrides));
/** A policy on /admin, the route the incumbency test contests. */
const admin = (name: string, mode?: string): Resource =>
  policy(
    name,
    requiredPolicy('shop.example.com', {
      targets: [{ hosts: ['shop.example.com'], paths: [{ prefix: '/admin' }] }],
      ...(mode === undefined ? {} : { mode }),
    }),
  );

/**
 * A fake cluster whose caches are its store (no informer lag), a Lease the test holds or drops,
 * the mocked clock at T0 (`advance` moves it), and `reconciler()` making a fresh reconciler on
 * them (a new leader).
 */
function harness(t: TestContext) {
  t.mock.timers.enable({ apis: ['Date'], now: T0 });
  const fake = fakeKubeClients(NS);
  const lease: { held: Leadership | undefined } = { held: { term: 1, untilMs: Infinity } };
  const fence = new WriteFence({ lease: { leadership: () => lease.held } });
  const metrics = createOperatorMetrics({ defaultMetrics: false });
  const cluster: ClusterWatch = {
    objects: () => ({ resources: fake.resources(), secrets: [], namespaces: [{ metadata: { name: 'shop', labels: {} } }] }),
    ...publishedView(NS, { configMap: (name) => fake.get('ConfigMap', name), secret: (name) => fake.get('Secret', name) }),
    synced: Promise.resolve(),
    stop: async () => {},
  };
  const reconciler = () =>
    createReconciler({
      clients: fake.clients,
      cluster,
      keys: new RemoteKeyStore({ log }),
      metrics,
      log,
      namespace: NS,
      schema,
      fence,
      identity: 'op-1',
      events: new EventRecorder(fake.clients, { component: 'jwtgate-operator', instance: 'op-1', log }),
    });
  /** The calls that write, made since `from` (an index into fake.calls). */
  const writesSince = (from: number) => fake.calls.slice(from).filter((c) => !c.startsWith('read') && !c.startsWith('list'));
  const head = () => fake.get('ConfigMap', SNAPSHOT_NAME)?.metadata;
  const condition = (kind: ResourceKind, name: string, type: string): Condition | undefined =>
    (fake.resource(kind, name, 'shop')?.status as ResourceStatus | undefined)?.conditions.find((c) => c.type === type);
  const eventsSince = (from: number) =>
    fake.events.slice(from).map((e) => `${e.type} ${e.reason} ${e.involvedObject.kind}/${e.involvedObject.name}`);
  const advance = (ms: number) => t.mock.timers.tick(ms);
  return { fake, lease, advance, metrics, cluster, reconciler, writesSince, head, condition, eventsSince };
}

test('first publish: the head at generation 1 by this replica, statuses Ready with observedGeneration, Events', async (t) => {
  const h = harness(t);
  h.fake.apply(idp);
  h.fake.apply(api());
  const result = await h.reconciler()();
  assert.deepEqual(result, { requeueAfter: 5 * 60_000 }, 'no remote keys: the resync period');
  assert.equal(h.head()?.annotations?.[ANNOTATIONS.generation], '1');
  assert.equal(h.head()?.annotations?.[ANNOTATIONS.writtenBy], 'op-1');
  assert.deepEqual(modesOf(h.cluster.publishedSnapshot()!), ['JWTPolicy/shop/api required']);
  const ready = h.condition('JWTPolicy', 'api', 'Ready');
  assert.deepEqual([ready?.status, ready?.observedGeneration, ready?.lastTransitionTime], ['True', 1, stamp(T0)]);
  assert.equal(h.condition('JWTIssuer', 'idp', 'KeysAvailable')?.reason, 'StaticKeys');
  assert.equal((await h.metrics.publishes.get()).values[0]?.value, 1);
  const events = h.eventsSince(0);
  assert.ok(events.includes('Normal SnapshotPublished ConfigMap/jwtgate-snapshot'), events.join('\n'));
  assert.ok(events.includes('Normal Enforced JWTPolicy/api'), events.join('\n'));
});

test('unchanged input writes nothing: no publish, no status, no Event (nor from a fresh reconciler)', async (t) => {
  const h = harness(t);
  h.fake.apply(idp);
  h.fake.apply(api());
  const reconcile = h.reconciler();
  await reconcile();
  const [calls, events, version] = [h.fake.calls.length, h.fake.events.length, h.head()?.resourceVersion];
  // Each run below is awaited to its end: the run that would have written did run.
  assert.deepEqual(await reconcile(), { requeueAfter: 5 * 60_000 });
  await h.reconciler()(); // a new leader, without this one's memory of what it wrote
  assert.deepEqual(h.writesSince(calls), []);
  assert.deepEqual(h.eventsSince(events), []);
  assert.equal(h.head()?.resourceVersion, version);
});

test('a spec change publishes generation+1 over the head read, and the status follows the new generation', async (t) => {
  const h = harness(t);
  h.fake.apply(idp);
  h.fake.apply(api());
  const reconcile = h.reconciler();
  await reconcile();
  h.fake.apply(api({ mode: 'Optional' }));
  await reconcile();
  assert.equal(h.head()?.annotations?.[ANNOTATIONS.generation], '2');
  assert.deepEqual(modesOf(h.cluster.publishedSnapshot()!), ['JWTPolicy/shop/api optional']);
  assert.equal(h.condition('JWTPolicy', 'api', 'Ready')?.observedGeneration, 2);
});

test('lastTransitionTime moves only when a condition flips; an Event for each change, none without', async (t) => {
  const h = harness(t);
  h.fake.apply(idp);
  h.fake.apply(api());
  const reconcile = h.reconciler();
  await reconcile();

  h.advance(3_600_000);
  const t1 = new Date();
  h.fake.apply(api({ issuers: { anyOf: [{ name: 'gone' }] } }));
  let events = h.fake.events.length;
  await reconcile();
  const broken = h.condition('JWTPolicy', 'api', 'ResolvedRefs');
  assert.deepEqual([broken?.status, broken?.reason, broken?.lastTransitionTime], ['False', 'IssuerNotFound', stamp(t1)]);
  assert.equal(h.condition('JWTPolicy', 'api', 'Accepted')?.lastTransitionTime, stamp(T0), 'Accepted stayed True: its time stays');
  assert.deepEqual(
    h
      .eventsSince(events)
      .filter((e) => e.endsWith('JWTPolicy/api'))
      .sort(),
    ['Warning FailingClosed JWTPolicy/api', 'Warning IssuerNotFound JWTPolicy/api'],
  );

  h.advance(3_600_000);
  const calls = h.fake.calls.length;
  events = h.fake.events.length;
  await reconcile();
  assert.deepEqual(h.writesSince(calls), [], 'the same broken state an hour later: nothing to write');
  assert.deepEqual(h.eventsSince(events), []);

  h.advance(3_600_000);
  const t3 = new Date();
  h.fake.apply(api());
  events = h.fake.events.length;
  await reconcile();
  assert.equal(h.condition('JWTPolicy', 'api', 'ResolvedRefs')?.lastTransitionTime, stamp(t3));
  assert.equal(h.condition('JWTPolicy', 'api', 'Accepted')?.lastTransitionTime, stamp(T0));
  assert.deepEqual(
    h
      .eventsSince(events)
      .filter((e) => e.endsWith('JWTPolicy/api'))
      .sort(),
    ['Normal Enforced JWTPolicy/api', 'Normal ResolvedRefs JWTPolicy/api'],
  );
});

test('a replica that does not hold the Lease reads nothing and writes nothing', async (t) => {
  const h = harness(t);
  h.fake.apply(idp);
  h.fake.apply(api());
  h.lease.held = undefined;
  assert.deepEqual(await h.reconciler()(), {});
  assert.deepEqual(h.fake.calls, []);
  assert.equal(h.head(), undefined);
  assert.equal(h.fake.resource('JWTPolicy', 'api', 'shop')?.status, undefined);
});

test('a head that changed since it was read fails the run (the queue retries it); it is never overwritten', async (t) => {
  const h = harness(t);
  h.fake.apply(idp);
  h.fake.apply(api());
  const reconcile = h.reconciler();
  await reconcile();
  h.fake.apply(api({ mode: 'Optional' }));
  // Another writer replaces the head between this run's read and its write.
  h.fake.before = (call, name) => {
    if (call !== 'replaceNamespacedConfigMap' || name !== SNAPSHOT_NAME) return;
    h.fake.before = undefined;
    const current = h.fake.get('ConfigMap', SNAPSHOT_NAME)!;
    h.fake.put('ConfigMap', {
      ...current,
      metadata: {
        ...current.metadata,
        annotations: { ...current.metadata?.annotations, [ANNOTATIONS.generation]: '7', [ANNOTATIONS.writtenBy]: 'op-2' },
      },
    });
  };
  await assert.rejects(reconcile(), PublishConflictError);
  assert.equal(h.head()?.annotations?.[ANNOTATIONS.writtenBy], 'op-2', "the other writer's head stands");
  assert.equal((await h.metrics.writeConflicts.get()).values.find((v) => v.labels.kind === 'snapshot')?.value, 1);

  await reconcile(); // the retry re-reads the head
  assert.deepEqual([h.head()?.annotations?.[ANNOTATIONS.generation], h.head()?.annotations?.[ANNOTATIONS.writtenBy]], ['8', 'op-1']);
  assert.deepEqual(modesOf(h.cluster.publishedSnapshot()!), ['JWTPolicy/shop/api optional']);
});

test('incumbency: a refused newcomer stays refused on the next run and under a new reconciler reading the published head', async (t) => {
  const h = harness(t);
  h.fake.apply(idp);
  h.fake.apply(admin('zzz-holder'));
  await h.reconciler()();
  h.fake.apply(admin('aaa-newcomer', 'Disabled'));
  const refused = () => h.condition('JWTPolicy', 'aaa-newcomer', 'Conflicted');

  const reconcile = h.reconciler();
  await reconcile();
  assert.deepEqual(modesOf(h.cluster.publishedSnapshot()!), ['JWTPolicy/shop/zzz-holder required']);
  assert.deepEqual([refused()?.status, refused()?.reason], ['True', 'RouteConflict']);
  assert.match(refused()?.message ?? '', /held by JWTPolicy\/shop\/zzz-holder: this policy is refused/);

  await reconcile();
  assert.deepEqual(modesOf(h.cluster.publishedSnapshot()!), ['JWTPolicy/shop/zzz-holder required'], 'the next run keeps the holder');

  // A new leader knows only what is published: its `previous` is the head, not a cold compile
  // (which would find two claims and no incumbent, and hold the route closed).
  await h.reconciler()();
  assert.deepEqual(modesOf(h.cluster.publishedSnapshot()!), ['JWTPolicy/shop/zzz-holder required'], 'a new reconciler keeps the holder');
  assert.match(refused()?.message ?? '', /held by JWTPolicy\/shop\/zzz-holder: this policy is refused/);
});

test('GEP-713 ancestors of a targetRefs policy: written with its status, their time moving only when Accepted flips at that Gateway, no Events of their own', async (t) => {
  const h = harness(t);
  const parentRef = { name: 'public', namespace: 'infra' };
  const gatewayApi = (accepted: 'True' | 'False' | undefined) => ({
    gateways: [
      {
        kind: 'Gateway',
        metadata: { name: 'public', namespace: 'infra', generation: 1 },
        spec: {
          listeners: [
            { name: 'web', protocol: 'HTTP', port: 80, hostname: 'shop.example.com', allowedRoutes: { namespaces: { from: 'All' } } },
          ],
        },
      },
    ],
    httpRoutes: [
      {
        kind: 'HTTPRoute',
        metadata: { name: 'orders', namespace: 'shop', generation: 1 },
        spec: { parentRefs: [parentRef], rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/orders' } }] }] },
        ...(accepted === undefined
          ? {}
          : { status: { parents: [{ parentRef, conditions: [{ type: 'Accepted', status: accepted, reason: 'R' }] }] } }),
      },
    ],
  });
  let routes = gatewayApi(undefined);
  const objects = h.cluster.objects;
  h.cluster.objects = () => ({ ...objects(), ...routes });
  h.fake.apply(idp);
  h.fake.apply(
    policy('orders', {
      targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'orders' }],
      issuers: { anyOf: [{ name: 'idp' }] },
    }),
  );
  const ancestors = () => (h.fake.resource('JWTPolicy', 'orders', 'shop')?.status as ResourceStatus | undefined)?.ancestors ?? [];
  const accepted = () =>
    ancestors().map(
      (a) =>
        `${a.ancestorRef.kind} ${a.ancestorRef.namespace}/${a.ancestorRef.name} ${a.controllerName} ${a.conditions[0]?.status}/${a.conditions[0]?.reason} ${a.conditions[0]?.lastTransitionTime}`,
    );
  const reconcile = h.reconciler();

  await reconcile();
  assert.deepEqual(accepted(), [`Gateway infra/public jwtgate.dev/operator False/TargetNotFound ${stamp(T0)}`]);
  assert.equal(h.condition('JWTPolicy', 'orders', 'Accepted')?.reason, 'TargetNotAccepted');

  h.advance(60_000);
  const t1 = new Date();
  routes = gatewayApi('False');
  let events = h.fake.events.length;
  await reconcile();
  assert.deepEqual(
    accepted(),
    [`Gateway infra/public jwtgate.dev/operator False/TargetNotFound ${stamp(T0)}`],
    'refused now, not yet seen before: the same verdict, its time kept',
  );
  assert.match(
    ancestors()[0]?.conditions[0]?.message ?? '',
    /Gateway infra\/public has not accepted it \(R\)/,
    'the new reason is written',
  );
  assert.deepEqual(h.eventsSince(events), [], 'a message change is no Event');

  routes = gatewayApi('True');
  events = h.fake.events.length;
  await reconcile();
  assert.deepEqual(accepted(), [`Gateway infra/public jwtgate.dev/operator True/Accepted ${stamp(t1)}`]);
  assert.deepEqual(
    h
      .eventsSince(events)
      .filter((e) => e.endsWith('JWTPolicy/orders'))
      .sort(),
    ['Normal Accepted JWTPolicy/orders', 'Normal Enforced JWTPolicy/orders', 'Normal ResolvedRefs JWTPolicy/orders'],
    'the policy’s own conditions make the Events',
  );

  h.advance(60_000);
  const calls = h.fake.calls.length;
  await reconcile();
  assert.deepEqual(h.writesSince(calls), [], 'nothing new: nothing written');

  const t2 = new Date();
  routes = gatewayApi('False');
  await reconcile();
  assert.deepEqual(accepted(), [`Gateway infra/public jwtgate.dev/operator False/TargetNotFound ${stamp(t2)}`]);
  assert.equal(h.condition('JWTPolicy', 'orders', 'Ready')?.reason, 'FailingClosed');
});
