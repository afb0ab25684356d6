// The operator against a real kube-apiserver: apply → published, status conditions, Secret
// rotation, delete, hand-deleted ConfigMap, no-op reconciles, remote keys and an IdP outage.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { exportJWK, generateKeyPair } from 'jose';
import { createLogger } from '../../common/log.ts';
import { fromPublishedForm, partNames, SNAPSHOT_NAME, type PublishedConfigMap } from '../../snapshot/published-form.ts';
import type { Snapshot } from '../../snapshot/types.ts';
import { startOperator, type OperatorHandle } from '../../operator/start-operator.ts';
import { WriteFence } from '../../operator/write-fence.ts';
import { startKubeCluster, type KubeCluster } from '../support/kube-cluster.ts';
import { startJwksServer, type JwksServer } from '../support/jwks-server.ts';
import { waitFor as poll } from '../support/wait-for.ts';

const skip = process.env.JWTGATE_SKIP_KUBE === '1' ? 'JWTGATE_SKIP_KUBE=1' : false;
const NS = 'jwtgate-system';
const HMAC_A = Buffer.alloc(32, 1).toString('base64');
const HMAC_B = Buffer.alloc(32, 2).toString('base64');

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}
interface Obj {
  metadata: { generation: number; resourceVersion: string };
  status?: { observedGeneration?: number; conditions?: Condition[]; keys?: { keyIds: string[]; lastError?: string; fetchedAt?: string } };
}

describe('operator on a real kube-apiserver', { skip, timeout: 180_000 }, () => {
  let cluster: KubeCluster;
  let operator: OperatorHandle;
  let core: CoreV1Api;
  let custom: CustomObjectsApi;
  let idp: JwksServer;
  /** Added to the operator's clock (condition transition times): moved instead of waiting. */
  let clockOffsetMs = 0;

  before(async () => {
    cluster = await startKubeCluster();
    await kubectl(['apply', '-f', 'crds/']);
    await kubectl(['wait', '--for', 'condition=established', '--timeout=60s', 'crd', '--all']);
    await kubectl(['create', 'namespace', NS]);
    await kubectl(['create', 'namespace', 'demo']);
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(cluster.kubeconfigPath);
    core = kubeConfig.makeApiClient(CoreV1Api);
    custom = kubeConfig.makeApiClient(CustomObjectsApi);
    operator = startOperator({
      kubeConfig,
      namespace: NS,
      identity: 'test',
      log: createLogger('silent'),
      fence: new WriteFence({ lease: { leadership: () => ({ term: 1, untilMs: Infinity }) } }),
      debounceMs: 50,
      minKeyRefreshSeconds: 1,
      now: () => new Date(Date.now() + clockOffsetMs),
    });
    await operator.synced;
  });
  after(async () => {
    await operator?.stop();
    await idp?.close();
    await cluster?.stop();
  });

  const kubectl = (args: string[], input?: string) => cluster.kubectlOk(args, input);

  async function readHead(): Promise<(PublishedConfigMap & { resourceVersion: string }) | undefined> {
    try {
      const cm = await core.readNamespacedConfigMap({ name: SNAPSHOT_NAME, namespace: NS });
      return {
        metadata: { name: cm.metadata!.name!, namespace: NS, annotations: cm.metadata!.annotations ?? {} },
        data: cm.data,
        binaryData: cm.binaryData,
        resourceVersion: cm.metadata!.resourceVersion!,
      };
    } catch {
      return undefined;
    }
  }

  async function readSnapshot(): Promise<Snapshot | undefined> {
    const head = await readHead();
    if (head === undefined) return undefined;
    const parts = await Promise.all(
      partNames(head).map(async (name) => {
        const cm = await core.readNamespacedConfigMap({ name, namespace: NS });
        return { metadata: { name, namespace: NS }, binaryData: cm.binaryData };
      }),
    );
    const secretName = head.metadata.annotations?.['jwtgate.dev/secret-keys'];
    const secret = secretName === undefined ? undefined : await core.readNamespacedSecret({ name: secretName, namespace: NS });
    return fromPublishedForm(
      head,
      parts,
      secret === undefined
        ? undefined
        : { metadata: { name: secretName!, namespace: NS, annotations: secret.metadata?.annotations ?? {} }, data: secret.data },
    );
  }

  const waitFor = <T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 20_000) => poll(what, probe, timeoutMs, 50);

  async function readObject(plural: string, name: string, namespace = 'demo'): Promise<Obj> {
    return (await custom.getNamespacedCustomObject({ group: 'jwtgate.dev', version: 'v1alpha1', plural, namespace, name })) as Obj;
  }

  function condition(obj: Obj, type: string): Condition | undefined {
    return obj.status?.conditions?.find((c) => c.type === type);
  }

  const secret = (value: string): string =>
    `apiVersion: v1\nkind: Secret\nmetadata: { name: demo-hmac, namespace: demo }\ndata: { secret: ${value} }\n`;
  const hmacIssuer = `apiVersion: jwtgate.dev/v1alpha1
kind: JWTIssuer
metadata: { name: demo-hmac, namespace: demo }
spec:
  issuer: https://hmac.example.com
  audiences: [reports]
  algorithms: [HS256]
  secretRef: { name: demo-hmac, key: secret, format: HMAC }
`;
  const policy = (name: string, issuer: string, host: string): string => `apiVersion: jwtgate.dev/v1alpha1
kind: JWTPolicy
metadata: { name: ${name}, namespace: demo }
spec:
  targets: [{ hosts: [${host}] }]
  issuers: { anyOf: [{ name: ${issuer} }] }
`;

  test('apply → published snapshot with the policy; statuses Ready with observedGeneration', async () => {
    const started = performance.now();
    await kubectl(['apply', '-f', '-'], `${secret(HMAC_A)}---\n${hmacIssuer}---\n${policy('reports', 'demo-hmac', 'reports.example.com')}`);
    const snapshot = await waitFor('policy published', async () => {
      const s = await readSnapshot();
      return s?.policies.some((p) => p.id === 'JWTPolicy/demo/reports') ? s : undefined;
    });
    console.log(`apply → published: ${Math.round(performance.now() - started)} ms`);
    const issuer = snapshot.issuers['demo/demo-hmac'];
    assert.equal(issuer?.keySource.kind, 'static');
    const reports = await waitFor('Ready', async () => {
      const o = await readObject('jwtpolicies', 'reports');
      return condition(o, 'Ready')?.status === 'True' ? o : undefined;
    });
    assert.equal(reports.status?.observedGeneration, reports.metadata.generation);
    assert.equal(condition(reports, 'Accepted')?.reason, 'Accepted');
    assert.equal(condition(reports, 'ResolvedRefs')?.status, 'True');
    assert.equal(condition(reports, 'Ready')?.observedGeneration, reports.metadata.generation);
    const iss = await waitFor('issuer keys', async () => {
      const o = await readObject('jwtissuers', 'demo-hmac');
      return condition(o, 'KeysAvailable')?.status === 'True' ? o : undefined;
    });
    assert.equal(condition(iss, 'KeysAvailable')?.reason, 'StaticKeys');
  });

  const successfulReconciles = async () =>
    (await operator.metrics.reconciles.get()).values.find((v) => v.labels.result === 'success')?.value ?? 0;
  /**
   * Resolves once a reconcile that started after this call has finished successfully: a run in
   * progress when it is called may have read the cluster before, so it takes two triggered runs.
   */
  async function reconcileNow(): Promise<void> {
    for (let i = 0; i < 2; i++) {
      const runs = await successfulReconciles();
      operator.trigger();
      await waitFor('a successful reconcile', async () => (await successfulReconciles()) > runs);
    }
  }

  test('unchanged input publishes nothing (resourceVersion unchanged)', async () => {
    const before = await readHead();
    const publishes = (await operator.metrics.publishes.get()).values[0]?.value;
    await kubectl(['annotate', 'jwtpolicy', '-n', 'demo', 'reports', 'touched=yes']);
    await reconcileNow(); // the run that would have published, had anything changed, ran
    assert.equal((await readHead())?.resourceVersion, before?.resourceVersion);
    assert.equal((await operator.metrics.publishes.get()).values[0]?.value, publishes);
  });

  test('an invalid manifest is refused by the apiserver at apply time', async () => {
    const r = await cluster.kubectl(
      ['apply', '-f', '-'],
      hmacIssuer.replace('name: demo-hmac, namespace', 'name: bad, namespace').replace('[HS256]', '[none]'),
    );
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /spec\.algorithms/);
  });

  test('broken reference → ResolvedRefs False IssuerNotFound; fixed → True, Accepted keeps its lastTransitionTime', async () => {
    await kubectl(['apply', '-f', '-'], policy('orders', 'orders-idp', 'orders.example.com'));
    const broken = await waitFor('ResolvedRefs False', async () => {
      const o = await readObject('jwtpolicies', 'orders');
      return condition(o, 'ResolvedRefs')?.status === 'False' ? o : undefined;
    });
    assert.equal(condition(broken, 'ResolvedRefs')?.reason, 'IssuerNotFound');
    assert.equal(condition(broken, 'Ready')?.status, 'False');
    assert.equal(condition(broken, 'Accepted')?.status, 'True');
    const snapshot = await readSnapshot();
    assert.ok(
      snapshot?.policies.some((p) => p.id === 'JWTPolicy/demo/reports'),
      'a broken policy does not block the others',
    );
    assert.equal(
      snapshot?.policies.find((p) => p.id === 'JWTPolicy/demo/orders')?.mode,
      'invalid',
      'the broken policy holds its routes and denies them',
    );
    assert.equal(condition(broken, 'Ready')?.reason, 'FailingClosed');
    clockOffsetMs += 3_600_000; // the fix lands an hour later on the operator's clock, so a moved transition time shows
    await kubectl(
      ['apply', '-f', '-'],
      hmacIssuer.replace(/demo-hmac, namespace/, 'orders-idp, namespace').replace('hmac.example.com', 'orders.example.com'),
    );
    const fixed = await waitFor('Ready True', async () => {
      const o = await readObject('jwtpolicies', 'orders');
      return condition(o, 'Ready')?.status === 'True' ? o : undefined;
    });
    assert.equal(condition(fixed, 'ResolvedRefs')?.status, 'True');
    assert.equal(condition(fixed, 'Accepted')?.lastTransitionTime, condition(broken, 'Accepted')?.lastTransitionTime);
    const moved =
      Date.parse(condition(fixed, 'ResolvedRefs')!.lastTransitionTime) - Date.parse(condition(broken, 'ResolvedRefs')!.lastTransitionTime);
    assert.ok(moved >= 3_600_000, `ResolvedRefs flipped: its lastTransitionTime moved by ${moved} ms`);
    const events = await core.listNamespacedEvent({ namespace: 'demo', fieldSelector: 'involvedObject.name=orders' });
    assert.ok(
      events.items.some((e) => e.reason === 'IssuerNotFound' && e.type === 'Warning'),
      'an Event on the broken state',
    );
  });

  test('Secret key rotation → a new snapshot with the new key and a higher generation', async () => {
    const before = await readHead();
    await kubectl(['apply', '-f', '-'], secret(HMAC_B));
    const snapshot = await waitFor('rotated key', async () => {
      const s = await readSnapshot();
      const source = s?.issuers['demo/demo-hmac']?.keySource;
      return source?.kind === 'static' && source.jwks.keys[0]?.k === Buffer.from(HMAC_B, 'base64').toString('base64url') ? s : undefined;
    });
    assert.ok(snapshot.generation > Number(before?.metadata.annotations?.['jwtgate.dev/generation']));
  });

  test('delete → gone from the snapshot', async () => {
    await kubectl(['delete', 'jwtpolicy', '-n', 'demo', 'orders']);
    await waitFor('policy removed', async () => !(await readSnapshot())?.policies.some((p) => p.id === 'JWTPolicy/demo/orders'));
  });

  test('ConfigMap deleted by hand → restored with a higher generation', async () => {
    const before = Number((await readHead())?.metadata.annotations?.['jwtgate.dev/generation']);
    await kubectl(['delete', 'configmap', '-n', NS, SNAPSHOT_NAME]);
    const restored = await waitFor('restored', readSnapshot);
    assert.ok(restored.generation > before);
    assert.ok(restored.policies.some((p) => p.id === 'JWTPolicy/demo/reports'));
  });

  test('JWKS issuer → cachedKeys embedded, KeysAvailable; IdP down → last good keys stay, condition says so', async () => {
    const { publicKey } = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    idp = await startJwksServer({ jwks: { keys: [jwk as never] } });
    await kubectl(
      ['apply', '-f', '-'],
      `apiVersion: jwtgate.dev/v1alpha1
kind: JWTIssuer
metadata: { name: remote, namespace: demo }
spec:
  issuer: ${idp.origin}
  audiences: [api]
  algorithms: [RS256]
  jwksUri: ${idp.jwksUrl}
  remote: { refreshSeconds: 10, cooldownSeconds: 1, timeoutMs: 1000 }
---
${policy('remote-api', 'remote', 'remote.example.com')}`,
    );
    const snapshot = await waitFor('cachedKeys', async () => {
      const s = await readSnapshot();
      return s?.issuers['demo/remote']?.cachedKeys !== undefined ? s : undefined;
    });
    assert.deepEqual(
      snapshot.issuers['demo/remote']?.cachedKeys?.jwks.keys.map((k) => k.kid),
      ['k1'],
    );
    const ok = await waitFor('KeysAvailable', async () => {
      const o = await readObject('jwtissuers', 'remote');
      return condition(o, 'KeysAvailable')?.reason === 'KeysFetched' ? o : undefined;
    });
    assert.deepEqual(ok.status?.keys?.keyIds, ['k1']);
    const published = await readHead();

    idp.failWith('status500');
    const stale = await waitFor(
      'KeysStale',
      async () => {
        const o = await readObject('jwtissuers', 'remote');
        return condition(o, 'KeysAvailable')?.reason === 'KeysStale' ? o : undefined;
      },
      30_000,
    );
    assert.equal(condition(stale, 'KeysAvailable')?.status, 'True');
    assert.match(stale.status?.keys?.lastError ?? '', /HTTP 500/);
    const during = await readSnapshot();
    assert.deepEqual(
      during?.issuers['demo/remote']?.cachedKeys?.jwks.keys.map((k) => k.kid),
      ['k1'],
      'the last good keys stay',
    );
    assert.equal((await readHead())?.resourceVersion, published?.resourceVersion, 'a failed fetch publishes nothing');

    idp.failWith('none');
    await waitFor(
      'KeysFetched again',
      async () => {
        const o = await readObject('jwtissuers', 'remote');
        return condition(o, 'KeysAvailable')?.reason === 'KeysFetched' && o.status?.keys?.lastError === undefined;
      },
      30_000,
    );
    assert.equal((await readHead())?.resourceVersion, published?.resourceVersion, 'refetching the same keys publishes nothing');
  });
});
