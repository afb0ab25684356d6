// The control plane and the data plane together on a real kube-apiserver: `jwtgate operator`
// processes and `jwtgate serve --kube` processes, policies applied with kubectl, decisions asked
// over real gRPC (issue 3, "Tests on a real apiserver"). Times are measured and printed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { ANNOTATIONS, fromPublishedForm, partNames, SNAPSHOT_NAME, type PublishedConfigMap } from '../../snapshot/published-form.ts';
import type { Snapshot } from '../../snapshot/types.ts';
import { denied } from '../support/decisions.ts';
import {
  createGrpcClient,
  headerRecord,
  httpCheckRequest,
  type DecodedCheckResponse,
  type GrpcClient,
  type HttpCheckInput,
} from '../../cli/grpc-client.ts';
import { startJwksServer, type JwksServer } from '../support/jwks-server.ts';
import { startKubeCluster, type KubeCluster } from '../support/kube-cluster.ts';
import { jwtHostGrant, jwtIssuer, jwtPolicy, joinManifests, k8sSecret } from '../../dev/fixtures/manifests.ts';
import { startOperatorProcess, type OperatorProcess } from '../support/operator-process.ts';
import { startServeProcess, type ServeProcess } from '../../dev/serve-process.ts';
import { generateTestKey, jwksOf, signToken, standardClaims, TEST_AUDIENCE, TEST_ISSUER, type TestKey } from '../../dev/fixtures/tokens.ts';
import { waitFor } from '../support/wait-for.ts';

const skip = process.env.JWTGATE_SKIP_KUBE === '1' ? 'JWTGATE_SKIP_KUBE=1 (no real kube-apiserver; see test/peers/install.sh)' : false;
const NS = 'jwtgate-system';
const HMAC_ISSUER = 'https://hmac.test';
const HMAC2_ISSUER = 'https://hmac2.test';
/** A short lease (JWTGATE_LEASE_* env) keeps the failover test fast; production keeps 15/10/2 s. */
const LEASE_SECONDS = 4;
const LEASE_ENV = {
  JWTGATE_LEASE_DURATION_SECONDS: String(LEASE_SECONDS),
  JWTGATE_LEASE_RENEW_DEADLINE_SECONDS: '3',
  JWTGATE_LEASE_RETRY_PERIOD_SECONDS: '0.5',
};
/** Retry period × jitter (0.5 s × 1.2) plus scheduling slack on a loaded 2-core machine. */
const FAILOVER_MARGIN_MS = 3_000;

/** `allow`, or the denial's reason code (the gRPC status message carries it on every denial). */
function outcome(response: DecodedCheckResponse): string {
  return response.http_response === 'ok_response' ? 'allow' : response.status.message;
}

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

describe('operator + serve --kube on a real kube-apiserver', { skip, timeout: 150_000 }, () => {
  let cluster: KubeCluster;
  let core: CoreV1Api;
  let idp: JwksServer;
  let rsa: TestKey;
  let hmacOld: TestKey;
  let hmacNew: TestKey;
  let tenantKey: TestKey;
  const operators: OperatorProcess[] = [];
  let serve: ServeProcess;
  let client: GrpcClient;

  before(async () => {
    [rsa, hmacOld, hmacNew, tenantKey] = await Promise.all([
      generateTestKey('RS256', 'rsa-1'),
      generateTestKey('HS256', 'old'),
      generateTestKey('HS256', 'new'),
      generateTestKey('HS256', 'tenant'),
    ]);
    idp = await startJwksServer({ jwks: jwksOf(rsa) });
    cluster = await startKubeCluster();
    await kubectl(['apply', '-f', 'crds/']);
    await kubectl(['wait', '--for', 'condition=established', '--timeout=60s', 'crd', '--all']);
    for (const ns of [NS, 'shop', 'a', 'b']) await kubectl(['create', 'namespace', ns]);
    // The checks below come as a shared gateway's do, with no namespace: the cluster admin grants
    // each namespace its hosts (issue 10, DESIGN.md "Tenants").
    await kubectl(
      ['apply', '-f', '-'],
      joinManifests(
        jwtHostGrant('shop-hosts', { hostnames: ['*.shop.test'], namespaces: ['shop'] }),
        jwtHostGrant('tenant-a', { hostnames: ['a.example'], namespaces: ['a'] }),
        jwtHostGrant('tenant-b', { hostnames: ['b.example'], namespaces: ['b'] }),
      ),
    );
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(cluster.kubeconfigPath);
    core = kubeConfig.makeApiClient(CoreV1Api);

    // op-1 leads from the start; op-2 campaigns warm, for the failover test.
    const first = await startOperator('op-1');
    await first.waitForLog((l) => l.msg === 'started leading');
    await startOperator('op-2');
    serve = await startServe();
    client = createGrpcClient(`127.0.0.1:${serve.grpcPort}`);
  });
  after(async () => {
    client?.close();
    await serve?.stop();
    await Promise.all(operators.map((op) => op.stop('SIGKILL')));
    await idp?.close();
    await cluster?.stop();
  });

  const kubectl = (args: string[], input?: string) => cluster.kubectlOk(args, input);

  async function startOperator(identity: string): Promise<OperatorProcess> {
    const op = await startOperatorProcess({ kubeconfigPath: cluster.kubeconfigPath, namespace: NS, identity, env: LEASE_ENV });
    operators.push(op);
    return op;
  }

  function startServe(): Promise<ServeProcess> {
    return startServeProcess(['--kube', '--namespace', NS, '--kubeconfig', cluster.kubeconfigPath], { JWTGATE_LOG_LEVEL: 'info' });
  }

  const request = (host: string, token?: string, extra: Partial<HttpCheckInput> = {}) =>
    httpCheckRequest({
      method: 'GET',
      host,
      path: '/',
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      ...extra,
    });

  /** Polls Check until it decides `expected`; resolves with the last response. */
  async function waitForOutcome(
    via: GrpcClient,
    build: () => Promise<ReturnType<typeof httpCheckRequest>>,
    expected: string,
    timeoutMs = 20_000,
  ): Promise<DecodedCheckResponse> {
    let last = '';
    return waitFor(
      `Check → ${expected}`,
      async () => {
        const response = await via.check(await build());
        last = outcome(response);
        return last === expected ? response : undefined;
      },
      timeoutMs,
    ).catch((error: Error) => assert.fail(`${error.message}; last decision: ${last}`));
  }

  /** The snapshot the operators published, reassembled and verified from the API. */
  async function readPublished(): Promise<Snapshot> {
    const toPublished = (cm: {
      metadata?: { name?: string; annotations?: Record<string, string> };
      data?: Record<string, string>;
      binaryData?: Record<string, string>;
    }): PublishedConfigMap => ({
      metadata: { name: cm.metadata?.name ?? '', namespace: NS, annotations: cm.metadata?.annotations ?? {} },
      data: cm.data,
      binaryData: cm.binaryData,
    });
    const head = toPublished(await core.readNamespacedConfigMap({ name: SNAPSHOT_NAME, namespace: NS }));
    const parts = await Promise.all(
      partNames(head).map(async (name) => toPublished(await core.readNamespacedConfigMap({ name, namespace: NS }))),
    );
    const secretName = head.metadata.annotations?.[ANNOTATIONS.secretKeys];
    const secret = secretName === undefined ? undefined : await core.readNamespacedSecret({ name: secretName, namespace: NS });
    return fromPublishedForm(
      head,
      parts,
      secret === undefined
        ? undefined
        : { metadata: { name: secretName!, namespace: NS, annotations: secret.metadata?.annotations ?? {} }, data: secret.data },
    );
  }

  async function readConditions(kind: string, namespace: string, name: string): Promise<Condition[]> {
    const object = JSON.parse(await kubectl(['get', kind, '-n', namespace, name, '-o', 'json'])) as {
      status?: { conditions?: Condition[] };
    };
    return object.status?.conditions ?? [];
  }

  const hmacSecret = (key: TestKey) =>
    k8sSecret({ name: 'hmac-secret', namespace: 'shop', data: { secret: Buffer.from(String(key.jwk.k), 'base64url') } });
  /** The compiled key of a secretRef HMAC issuer has no kid, so tokens carry none. */
  const signHmac = (key: TestKey, claims = {}) => signToken(key, standardClaims({ iss: HMAC_ISSUER, ...claims }), { kid: undefined });
  const hmacPolicy = (name: string, host: string) =>
    jwtPolicy({ name, namespace: 'shop', spec: { targets: [{ hosts: [host] }], issuers: { anyOf: [{ name: 'hmac' }] } } });

  test('1. apply → enforced (time printed): a valid token is allowed with claim headers, no token is 401', async () => {
    const started = performance.now();
    await kubectl(
      ['apply', '-f', '-'],
      joinManifests(
        jwtIssuer({
          name: 'idp',
          namespace: 'shop',
          spec: { issuer: TEST_ISSUER, audiences: [TEST_AUDIENCE], algorithms: ['RS256'], jwksUri: idp.jwksUrl },
        }),
        jwtPolicy({
          name: 'orders',
          namespace: 'shop',
          spec: {
            targets: [{ hosts: ['orders.shop.test'] }],
            issuers: { anyOf: [{ name: 'idp' }] },
            forward: { claimsToHeaders: [{ claim: 'sub', header: 'x-user-id' }] },
          },
        }),
      ),
    );
    const token = await signToken(rsa, standardClaims());
    const allowed = await waitForOutcome(client, async () => request('orders.shop.test', token), 'allow');
    console.log(`# apply → enforced: ${Math.round(performance.now() - started)} ms`);
    assert.equal(headerRecord(allowed.ok_response!.headers)['x-user-id'], 'alice');

    const missing = denied(await client.check(request('orders.shop.test')));
    assert.equal(missing.status, 'Unauthorized');
    assert.equal(missing.body.reason, 'token_missing');
    assert.match(missing.headers['www-authenticate'] ?? '', /^Bearer realm=/);
  });

  test('2. Secret key rotation: the new HMAC secret is enforced, the old one refused (signature_invalid)', async () => {
    await kubectl(
      ['apply', '-f', '-'],
      joinManifests(
        hmacSecret(hmacOld),
        jwtIssuer({
          name: 'hmac',
          namespace: 'shop',
          spec: {
            issuer: HMAC_ISSUER,
            audiences: [TEST_AUDIENCE],
            algorithms: ['HS256'],
            secretRef: { name: 'hmac-secret', key: 'secret', format: 'HMAC' },
          },
        }),
        hmacPolicy('reports', 'reports.shop.test'),
      ),
    );
    const oldToken = await signHmac(hmacOld);
    const newToken = await signHmac(hmacNew);
    await waitForOutcome(client, async () => request('reports.shop.test', oldToken), 'allow');
    assert.equal(outcome(await client.check(request('reports.shop.test', newToken))), 'signature_invalid');

    const rotated = performance.now();
    await kubectl(['apply', '-f', '-'], hmacSecret(hmacNew));
    await waitForOutcome(client, async () => request('reports.shop.test', newToken), 'allow');
    console.log(`# Secret rotated → new key enforced: ${Math.round(performance.now() - rotated)} ms`);
    const refused = denied(await client.check(request('reports.shop.test', oldToken)));
    assert.equal(refused.status, 'Unauthorized');
    assert.equal(refused.body.reason, 'signature_invalid');
  });

  test("3. IdP down at authz start: a new serve --kube verifies from the snapshot's cachedKeys and is ready", async () => {
    const published = await waitFor('cachedKeys of shop/idp published', async () => {
      const s = await readPublished();
      return s.issuers['shop/idp']?.cachedKeys !== undefined ? s : undefined;
    });
    assert.deepEqual(
      published.issuers['shop/idp']?.cachedKeys?.jwks.keys.map((k) => k.kid),
      ['rsa-1'],
    );
    await idp.close();
    await assert.rejects(fetch(idp.jwksUrl), 'the IdP is really down');

    const fresh = await startServe();
    const freshClient = createGrpcClient(`127.0.0.1:${fresh.grpcPort}`);
    try {
      const token = await signToken(rsa, standardClaims({ sub: 'bob' }));
      const allowed = await waitForOutcome(freshClient, async () => request('orders.shop.test', token), 'allow');
      assert.equal(headerRecord(allowed.ok_response!.headers)['x-user-id'], 'bob');
      const readyz = await fetch(`http://127.0.0.1:${fresh.httpPort}/readyz`);
      const body = (await readyz.json()) as { ready: boolean; detail: { issuers: Record<string, { ready: boolean }> } };
      assert.equal(readyz.status, 200, JSON.stringify(body));
      assert.equal(body.ready, true);
      assert.equal(body.detail.issuers['shop/idp']?.ready, true);
    } finally {
      freshClient.close();
      await fresh.stop();
    }
  });

  test('4. delete → no longer enforced: the route falls to the unmatched default (403 no_policy)', async () => {
    const token = await signToken(rsa, standardClaims());
    await kubectl(['delete', 'jwtpolicy', '-n', 'shop', 'orders']);
    const response = await waitForOutcome(client, async () => request('orders.shop.test', token), 'no_policy');
    assert.equal(denied(response).status, 'Forbidden');
  });

  test('5. two operators: one leader publishes; SIGKILL it → the other takes over within the lease and publishes the next change', async () => {
    const [first, second] = operators as [OperatorProcess, OperatorProcess];
    const holder = async () =>
      (await kubectl(['get', 'lease', '-n', NS, 'jwtgate-operator', '-o', 'jsonpath={.spec.holderIdentity}'])).trim();
    const publishes = (op: OperatorProcess) => op.logs.filter((l) => l.msg === 'snapshot created' || l.msg === 'snapshot updated');
    assert.equal(await holder(), 'op-1');
    assert.ok(publishes(first).length >= 3, `op-1 published ${publishes(first).length} times`);
    assert.deepEqual(publishes(second), [], 'the standby never publishes');
    assert.ok(!second.logs.some((l) => l.msg === 'started leading'));

    const killed = performance.now();
    await first.stop('SIGKILL');
    await second.waitForLog((l) => l.msg === 'started leading', LEASE_SECONDS * 1000 + FAILOVER_MARGIN_MS);
    const failoverMs = Math.round(performance.now() - killed);
    console.log(`# leader SIGKILLed → new leader: ${failoverMs} ms (lease ${LEASE_SECONDS} s)`);
    assert.equal(await holder(), 'op-2');

    await kubectl(['apply', '-f', '-'], hmacPolicy('after-failover', 'failover.shop.test'));
    await waitForOutcome(client, async () => request('failover.shop.test', await signHmac(hmacNew)), 'allow');
    const generation = Number((await readPublished()).generation);
    assert.ok(
      publishes(second).some((l) => l.generation === generation),
      `op-2 published generation ${generation}`,
    );
    // The last good keys of an IdP that is still down survive the change of leader.
    assert.deepEqual(
      (await readPublished()).issuers['shop/idp']?.cachedKeys?.jwks.keys.map((k) => k.kid),
      ['rsa-1'],
    );
  });

  test('6. the apiserver goes away and comes back: operator and serve --kube survive, a later change is enforced', async () => {
    const leader = operators[1]!;
    const restarting = performance.now();
    await cluster.restartApiserver(3_000);
    const back = performance.now();
    console.log(`# apiserver stopped, down 3 s, ready again: ${Math.round(back - restarting)} ms`);
    assert.ok(leader.isRunning(), 'the operator is still running');
    assert.equal(serve.process.exitCode, null, 'serve --kube is still running');

    // A new issuer and a policy on it: both informers (and serve's watch) must be back. Their
    // restart backoff (at most 30 s) bounds how long recovery may take.
    await kubectl(
      ['apply', '-f', '-'],
      joinManifests(
        jwtIssuer({
          name: 'hmac2',
          namespace: 'shop',
          spec: {
            issuer: HMAC2_ISSUER,
            audiences: [TEST_AUDIENCE],
            algorithms: ['HS256'],
            secretRef: { name: 'hmac-secret', key: 'secret', format: 'HMAC' },
          },
        }),
        jwtPolicy({
          name: 'after-restart',
          namespace: 'shop',
          spec: { targets: [{ hosts: ['restart.shop.test'] }], issuers: { anyOf: [{ name: 'hmac2' }] } },
        }),
      ),
    );
    const token = await signToken(hmacNew, standardClaims({ iss: HMAC2_ISSUER }), { kid: undefined });
    await waitForOutcome(client, async () => request('restart.shop.test', token), 'allow', 45_000);
    console.log(`# apiserver back → a new issuer + policy enforced: ${Math.round(performance.now() - back)} ms`);
    // Nothing lost: what was enforced before the restart still is.
    assert.equal(outcome(await client.check(request('failover.shop.test', await signHmac(hmacNew)))), 'allow');
    assert.equal(outcome(await client.check(request('orders.shop.test', await signToken(rsa, standardClaims())))), 'no_policy');
    assert.ok(leader.isRunning() && serve.process.exitCode === null);
  });

  test("7. tenancy: namespace b naming a's host changes nothing for a; b's policies apply only to b's traffic", async () => {
    const tenantSecret = (namespace: string) =>
      k8sSecret({ name: 'idp-secret', namespace, data: { secret: Buffer.from(String(tenantKey.jwk.k), 'base64url') } });
    const tenantIssuer = (namespace: string) =>
      jwtIssuer({
        name: 'idp',
        namespace,
        spec: {
          issuer: HMAC_ISSUER,
          audiences: [TEST_AUDIENCE],
          algorithms: ['HS256'],
          secretRef: { name: 'idp-secret', key: 'secret', format: 'HMAC' },
        },
      });
    await kubectl(
      ['apply', '-f', '-'],
      joinManifests(
        tenantSecret('a'),
        tenantIssuer('a'),
        jwtPolicy({
          name: 'api',
          namespace: 'a',
          spec: {
            targets: [{ hosts: ['a.example'] }],
            issuers: { anyOf: [{ name: 'idp' }] },
            rules: [{ claim: 'scope', containsAll: ['X'] }],
          },
        }),
      ),
    );
    const withX = await signHmac(tenantKey, { scope: 'read X' });
    const withoutX = await signHmac(tenantKey, { scope: 'read' });
    await waitForOutcome(client, async () => request('a.example', withX), 'allow');

    // Later, namespace b names a's host (and one of its own) with authentication off. Neither
    // policy is refused: a.example is granted to a, so b's policy decides only b's traffic there.
    await kubectl(
      ['apply', '-f', '-'],
      joinManifests(
        jwtPolicy({ name: 'takeover', namespace: 'b', spec: { mode: 'Disabled', targets: [{ hosts: ['a.example'] }] } }),
        jwtPolicy({ name: 'own', namespace: 'b', spec: { mode: 'Disabled', targets: [{ hosts: ['b.example'] }] } }),
      ),
    );
    const summary = async (namespace: string, name: string) =>
      (await readConditions('jwtpolicy', namespace, name)).map((c) => `${c.type}=${c.status}/${c.reason}`).sort();
    const accepted = await waitFor('b/takeover accepted with the HostNotGranted warning', async () => {
      const c = (await readConditions('jwtpolicy', 'b', 'takeover')).find((x) => x.type === 'Accepted');
      return c?.status === 'True' && /host a\.example is not granted to namespace b/.test(c.message) ? c : undefined;
    });
    assert.match(accepted.message, /JWTHostGrant\/tenant-a gives a\.example to a/);
    for (const [namespace, name] of [
      ['b', 'takeover'],
      ['a', 'api'],
    ] as const) {
      assert.deepEqual(
        await summary(namespace, name),
        ['Accepted=True/Accepted', 'Conflicted=False/NoConflicts', 'Ready=True/Enforced', 'ResolvedRefs=True/ResolvedRefs'],
        `${namespace}/${name}`,
      );
    }
    await waitForOutcome(client, async () => request('b.example', undefined, { contextExtensions: { namespace: 'b' } }), 'allow');

    // Gateway mode (no namespace from the proxy): a.example is still a's.
    const ruleFailed = denied(await client.check(request('a.example', withoutX)));
    assert.equal(ruleFailed.status, 'Forbidden');
    assert.equal(ruleFailed.body.reason, 'rule_failed');
    assert.equal(denied(await client.check(request('a.example'))).body.reason, 'token_missing');
    assert.equal(outcome(await client.check(request('a.example', withX))), 'allow');
    // Destination namespace a: a's policy; destination namespace b: never a's policy, but b's
    // own (its traffic, its choice to leave it open).
    assert.equal(outcome(await client.check(request('a.example', withoutX, { contextExtensions: { namespace: 'a' } }))), 'rule_failed');
    assert.equal(outcome(await client.check(request('a.example', undefined, { contextExtensions: { namespace: 'b' } }))), 'allow');
    // b's own policy decides b's traffic only.
    assert.equal(outcome(await client.check(request('b.example', undefined, { contextExtensions: { namespace: 'a' } }))), 'no_policy');
    assert.equal(outcome(await client.check(request('b.example'))), 'allow');
  });
});
