// The RBAC manifests in deploy/rbac/ on a real kube-apiserver (RBAC authorizer): the authz
// service, running as its ServiceAccount with a token from `kubectl create token`, reads and
// enforces the published snapshot (HMAC Secret included) and can read nothing else; the
// operator's ServiceAccount can do exactly what it needs (`kubectl auth can-i`).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { toPublishedForm } from '../../snapshot/published-form.ts';
import { createGrpcClient, httpCheckRequest } from '../../cli/grpc-client.ts';
import { startKubeCluster, type KubeCluster } from '../support/kube-cluster.ts';
import { buildSnapshot, publishSnapshot, SNAPSHOT_HOST } from '../support/kube-snapshot.ts';
import { startServeProcess } from '../../dev/serve-process.ts';
import { generateTestKey, issuerConfig, jwksOf, signToken, standardClaims } from '../../dev/fixtures/tokens.ts';

const skip = process.env.JWTGATE_SKIP_KUBE === '1' ? 'JWTGATE_SKIP_KUBE=1 (no real kube-apiserver; see test/peers/install.sh)' : false;
const NAMESPACE = 'jwtgate-system';
const RBAC_DIR = fileURLToPath(new URL('../../deploy/rbac/', import.meta.url));
const CRDS_DIR = fileURLToPath(new URL('../../crds/', import.meta.url));
const GATEWAY_API_CRDS = join(process.env.JWTGATE_PEERS_DIR ?? join(homedir(), '.cache', 'jwtgate-peers'), 'schemas', 'crds');

/** [verb, resource (`kind/name`, or with ` --subresource=…`), namespace ('' = cluster-wide), allowed?] as `kubectl auth can-i` asks it. */
type Permission = [string, string, string, boolean];

const OPERATOR_PERMISSIONS: Permission[] = [
  ['watch', 'jwtpolicies.jwtgate.dev', 'shop', true],
  ['list', 'jwtissuers.jwtgate.dev', '', true],
  ['watch', 'clusterjwtpolicies.jwtgate.dev', '', true],
  ['patch', 'jwtpolicies.jwtgate.dev --subresource=status', 'shop', true],
  ['update', 'clusterjwtpolicies.jwtgate.dev --subresource=status', '', true],
  // Grants (issue 10): read them and write their status, never their spec (only the cluster admin grants).
  ['watch', 'jwthostgrants.jwtgate.dev', '', true],
  ['list', 'jwthostgrants.jwtgate.dev', '', true],
  ['patch', 'jwthostgrants.jwtgate.dev --subresource=status', '', true],
  ['update', 'jwthostgrants.jwtgate.dev', '', false],
  ['create', 'jwthostgrants.jwtgate.dev', '', false],
  ['update', 'jwtpolicies.jwtgate.dev', 'shop', false],
  ['delete', 'jwtissuers.jwtgate.dev', 'shop', false],
  ['list', 'secrets', '', true],
  ['watch', 'namespaces', '', true],
  // JWTPolicy targetRefs: read the Gateway API's routes (and their status) and Gateways, never write them.
  ['watch', 'httproutes.gateway.networking.k8s.io', 'shop', true],
  ['list', 'gateways.gateway.networking.k8s.io', '', true],
  ['patch', 'httproutes.gateway.networking.k8s.io --subresource=status', 'shop', false],
  ['update', 'gateways.gateway.networking.k8s.io', 'shop', false],
  ['create', 'events', 'shop', true],
  ['patch', 'events', 'shop', true],
  ['create', 'events.events.k8s.io', 'shop', false],
  ['create', 'configmaps', NAMESPACE, true],
  ['delete', 'configmaps', NAMESPACE, true],
  ['update', 'secrets', NAMESPACE, true],
  ['create', 'configmaps', 'shop', false],
  ['update', 'secrets', 'shop', false],
  ['delete', 'secrets', 'shop', false],
  ['create', 'leases.coordination.k8s.io', NAMESPACE, true],
  ['update', 'leases.coordination.k8s.io', NAMESPACE, true],
  ['update', 'leases.coordination.k8s.io', 'kube-system', false],
  ['create', 'pods', NAMESPACE, false],
  ['create', 'namespaces', '', false],
];

const AUTHZ_PERMISSIONS: Permission[] = [
  ['get', 'configmaps', NAMESPACE, true],
  ['get', 'configmaps/jwtgate-snapshot', NAMESPACE, true],
  ['watch', 'configmaps/jwtgate-snapshot', NAMESPACE, true],
  ['get', 'secrets/jwtgate-snapshot-keys', NAMESPACE, true],
  ['get', 'secrets/other', NAMESPACE, false],
  ['list', 'secrets', NAMESPACE, false],
  ['get', 'secrets', 'shop', false],
  ['get', 'configmaps', 'shop', false],
  ['list', 'secrets', '', false],
  ['list', 'configmaps', '', false],
  ['update', 'configmaps', NAMESPACE, false],
  ['list', 'jwtpolicies.jwtgate.dev', '', false],
  ['list', 'jwthostgrants.jwtgate.dev', '', false],
];

describe('RBAC of deploy/rbac on a real kube-apiserver', { skip, timeout: 110_000 }, () => {
  let cluster: KubeCluster;
  let dir: string;

  const kubectlOk = async (args: string[], input?: string): Promise<string> => {
    const result = await cluster.kubectl(args, input);
    assert.equal(result.code, 0, `kubectl ${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  };

  /** Asks the apiserver (SubjectAccessReview through `kubectl auth can-i --as`) about every row. */
  const assertPermissions = async (serviceAccount: string, table: Permission[]): Promise<void> => {
    const answers = await Promise.all(
      table.map(async ([verb, resource, namespace]) => {
        const scope = namespace === '' ? ['--all-namespaces'] : ['-n', namespace];
        const result = await cluster.kubectl([
          'auth',
          'can-i',
          verb,
          ...resource.split(' '),
          ...scope,
          `--as=system:serviceaccount:${NAMESPACE}:${serviceAccount}`,
        ]);
        return result.stdout.trim();
      }),
    );
    const actual = table.map(([verb, resource, namespace], i) => `${verb} ${resource} in ${namespace || '(all)'}: ${answers[i]}`);
    const expected = table.map(
      ([verb, resource, namespace, allowed]) => `${verb} ${resource} in ${namespace || '(all)'}: ${allowed ? 'yes' : 'no'}`,
    );
    assert.deepEqual(actual, expected);
  };

  /** A kubeconfig that authenticates as `serviceAccount` with a freshly minted token. */
  const serviceAccountKubeconfig = async (serviceAccount: string): Promise<string> => {
    const token = (await kubectlOk(['create', 'token', serviceAccount, '-n', NAMESPACE, '--duration=10m'])).trim();
    const ca = (await readFile(cluster.caFile)).toString('base64');
    const path = join(dir, `${serviceAccount}.kubeconfig`);
    await writeFile(
      path,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'test', cluster: { server: cluster.server, 'certificate-authority-data': ca } }],
        users: [{ name: serviceAccount, user: { token } }],
        contexts: [{ name: 'test', context: { cluster: 'test', user: serviceAccount } }],
        'current-context': 'test',
      }),
      { mode: 0o600 },
    );
    return path;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'jwtgate-rbac-'));
    cluster = await startKubeCluster();
    await kubectlOk(['create', 'namespace', NAMESPACE]);
    await kubectlOk(['create', 'namespace', 'shop']);
    // The CRDs make `kubectl auth can-i` resolve the jwtgate.dev resources by discovery, and the
    // pinned Gateway API CRDs (test/peers/schemas/install.sh) the routes and Gateways targetRefs name.
    await kubectlOk(['apply', '-f', CRDS_DIR]);
    const gatewayApi = (await readdir(GATEWAY_API_CRDS)).filter((f) => /^gateway-api-v[\d.]+-(gateways|httproutes)\.yaml$/.test(f));
    assert.equal(gatewayApi.length, 2, `Gateway API CRDs in ${GATEWAY_API_CRDS} (run test/peers/install.sh)`);
    await kubectlOk(['apply', '--server-side', ...gatewayApi.flatMap((f) => ['-f', join(GATEWAY_API_CRDS, f)])]);
    await kubectlOk(['wait', '--for', 'condition=established', '--timeout=60s', 'crd', '--all']);
    await kubectlOk(['apply', '-f', RBAC_DIR]);
    await kubectlOk(['create', 'secret', 'generic', 'other', '-n', NAMESPACE, '--from-literal=password=hunter2']);
    await kubectlOk(['create', 'secret', 'generic', 'db', '-n', 'shop', '--from-literal=password=hunter2']);
    await kubectlOk(['create', 'configmap', 'app', '-n', 'shop', '--from-literal=a=b']);
  });
  after(async () => {
    await cluster?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('authz, as its ServiceAccount, follows and enforces the snapshot with its HMAC Secret', async () => {
    const kubeconfig = await serviceAccountKubeconfig('jwtgate-authz');
    const svc = await startServeProcess(['--kube', '--namespace', NAMESPACE, '--kubeconfig', kubeconfig]);
    const client = createGrpcClient(`127.0.0.1:${svc.grpcPort}`);
    try {
      const key = await generateTestKey('HS256', 'hmac-rbac');
      const published = toPublishedForm(
        buildSnapshot({ generation: 1, issuer: issuerConfig({ algorithms: ['HS256'], keySource: { kind: 'static', jwks: jwksOf(key) } }) }),
        { namespace: NAMESPACE },
      );
      assert.ok(published.secret);
      await publishSnapshot(cluster, published);
      await svc.waitForLog((l) => l.msg === 'snapshot applied', 20_000);
      const response = await client.check(
        httpCheckRequest({
          method: 'GET',
          host: SNAPSHOT_HOST,
          path: '/',
          headers: { authorization: `Bearer ${await signToken(key, standardClaims())}` },
        }),
      );
      assert.equal(response.http_response, 'ok_response');
      assert.equal(svc.logs.filter((l) => l.msg === 'informer stopped; restarting').length, 0, 'the watches must not be forbidden');
    } finally {
      client.close();
      await svc.stop();
    }
  });

  test("authz's token is refused for any other Secret or ConfigMap, here or elsewhere", async () => {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(await serviceAccountKubeconfig('jwtgate-authz'));
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const statusOf = (promise: Promise<unknown>) =>
      promise.then(
        () => 200,
        (err: { code?: number }) => err.code,
      );
    assert.deepEqual(
      await Promise.all([
        statusOf(core.readNamespacedSecret({ name: 'other', namespace: NAMESPACE })),
        statusOf(core.readNamespacedSecret({ name: 'db', namespace: 'shop' })),
        statusOf(core.readNamespacedConfigMap({ name: 'app', namespace: 'shop' })),
        statusOf(core.listSecretForAllNamespaces()),
        statusOf(core.listNamespacedSecret({ namespace: NAMESPACE })),
        statusOf(core.listNamespacedConfigMap({ namespace: NAMESPACE })),
        statusOf(core.listNamespacedConfigMap({ namespace: NAMESPACE, fieldSelector: 'metadata.name=jwtgate-snapshot' })),
      ]),
      [403, 403, 403, 403, 403, 403, 200],
    );
  });

  test("authz's permissions, as the apiserver answers them", async () => {
    await assertPermissions('jwtgate-authz', AUTHZ_PERMISSIONS);
  });

  test("the operator's permissions, as the apiserver answers them", async () => {
    await assertPermissions('jwtgate-operator', OPERATOR_PERMISSIONS);
  });
});
