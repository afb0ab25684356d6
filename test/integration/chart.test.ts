// charts/jwtgate with the real helm and a real kube-apiserver: lint and render for the defaults
// and every profile, values.schema.json refusals, one source of truth for the CRDs and the RBAC,
// server-side dry run of every rendering, and `helm install` whose RBAC is proven by running the
// operator and authz processes as the chart's ServiceAccounts (and proven minimal by removing a rule).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, readlink, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignJWT, type JWTPayload } from 'jose';
import { parse as parseYaml } from 'yaml';
import { denied } from '../support/decisions.ts';
import { createGrpcClient, httpCheckRequest } from '../../cli/grpc-client.ts';
import {
  CHART_DIR,
  RELEASE,
  RELEASE_NAMESPACE,
  findObject,
  parseManifests,
  profilePath,
  renderChart,
  runHelm,
  templateArgs,
  type KubeObject,
  type RenderOptions,
} from '../support/helm.ts';
import { startKubeCluster, type KubeCluster } from '../support/kube-cluster.ts';
import { startOperatorProcess, type OperatorProcess } from '../support/operator-process.ts';
import { startServeProcess } from '../../dev/serve-process.ts';
import { jwtHostGrant } from '../../dev/fixtures/manifests.ts';
import { waitFor } from '../support/wait-for.ts';
import { SHUTDOWN_TIMINGS } from '../../cli/operator-command.ts';

const skipKube = process.env.JWTGATE_SKIP_KUBE === '1' ? 'JWTGATE_SKIP_KUBE=1 (no real kube-apiserver; see test/peers/install.sh)' : false;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROFILES = (await readdir(join(CHART_DIR, 'profiles')))
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => f.slice(0, -'.yaml'.length))
  .sort();
/** A workload running authz as a sidecar, granted the snapshot by the chart. */
const SIDECAR_SA = { namespace: 'shop', name: 'checkout' };
const WITH_SIDECAR_SA: Record<string, string> = { 'authz.sidecar.serviceAccounts': JSON.stringify([SIDECAR_SA]) };

/** Every rendering the tests check: the defaults, each shipped profile, and the optional parts switched on. */
const RENDERINGS: Record<string, RenderOptions> = {
  default: {},
  ...Object.fromEntries(PROFILES.map((p) => [p, { valuesFiles: [profilePath(p)], setJson: WITH_SIDECAR_SA }])),
  autoscaling: { setJson: { 'authz.autoscaling.enabled': 'true' } },
};

type Container = {
  name: string;
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  ports?: { name: string; containerPort: number }[];
  livenessProbe?: { httpGet?: { path: string; port: string } };
  readinessProbe?: { httpGet?: { path: string; port: string } };
  securityContext?: Record<string, unknown>;
  image?: string;
  volumeMounts?: { name: string; mountPath: string }[];
};
type PodSpec = {
  serviceAccountName?: string;
  securityContext?: Record<string, unknown>;
  containers: Container[];
  volumes?: { name: string }[];
};

const podSpecOf = (deployment: KubeObject): PodSpec => (deployment.spec as { template: { spec: PodSpec } }).template.spec;
const kindsAndNames = (objects: KubeObject[]): string[] => objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();

/** The hardening every jwtgate container must carry, whatever the values. */
const HARDENED_CONTAINER = {
  runAsNonRoot: true,
  runAsUser: 1000,
  runAsGroup: 1000,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

describe('charts/jwtgate rendered by helm', () => {
  test('helm lint --strict passes for the default values and every profile', async () => {
    assert.deepEqual(PROFILES, ['minimal', 'sidecar']);
    for (const valuesFiles of [[], ...PROFILES.map((p) => [profilePath(p)])]) {
      const result = await runHelm(['lint', '--strict', CHART_DIR, ...valuesFiles.flatMap((f) => ['--values', f])]);
      assert.equal(result.code, 0, `helm lint ${valuesFiles.join(' ')}: ${result.stdout}${result.stderr}`);
      assert.match(result.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });

  test("appVersion is package.json's version, and the default image is ghcr.io/jwtgate/jwtgate:<appVersion>", async () => {
    const chart = parseYaml(await readFile(join(CHART_DIR, 'Chart.yaml'), 'utf8')) as { apiVersion: string; appVersion: string };
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(chart.apiVersion, 'v2');
    assert.equal(chart.appVersion, pkg.version);
    const { objects } = await renderChart();
    for (const name of ['jwtgate-operator', 'jwtgate-authz']) {
      assert.equal(podSpecOf(findObject(objects, 'Deployment', name)).containers[0]!.image, `ghcr.io/jwtgate/jwtgate:${pkg.version}`);
    }
  });

  test("the chart's crds/ is the repository's crds/ (a symlink), and a packaged chart carries them unchanged", async () => {
    assert.equal(await readlink(join(CHART_DIR, 'crds')), '../../crds');
    assert.equal(await realpath(join(CHART_DIR, 'crds')), await realpath(join(ROOT, 'crds')));
    const dir = await mkdtemp(join(tmpdir(), 'jwtgate-chart-'));
    try {
      const packaged = await runHelm(['package', CHART_DIR, '--destination', dir]);
      assert.equal(packaged.code, 0, packaged.stderr);
      const shown = await runHelm(['show', 'crds', join(dir, (await readdir(dir))[0]!)]);
      assert.equal(shown.code, 0, shown.stderr);
      const files = (await readdir(join(ROOT, 'crds'))).sort();
      const repo = (await Promise.all(files.map(async (f) => parseManifests(await readFile(join(ROOT, 'crds', f), 'utf8'))))).flat();
      assert.deepEqual(
        parseManifests(shown.stdout).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)),
        repo.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)),
      );
      assert.deepEqual(repo.map((crd) => crd.metadata.name).sort(), [
        'clusterjwtpolicies.jwtgate.dev',
        'jwthostgrants.jwtgate.dev',
        'jwtissuers.jwtgate.dev',
        'jwtpolicies.jwtgate.dev',
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('the operator: 2 leader-elected replicas, POD_NAMESPACE and POD_NAME from the downward API, probes on the metrics port', async () => {
    const deployment = findObject((await renderChart()).objects, 'Deployment', 'jwtgate-operator');
    assert.equal((deployment.spec as { replicas: number }).replicas, 2);
    const pod = podSpecOf(deployment);
    assert.equal(pod.serviceAccountName, 'jwtgate-operator');
    // One writer: the kubelet must not kill it before it has released its Lease.
    const grace = (pod as { terminationGracePeriodSeconds?: number }).terminationGracePeriodSeconds ?? 0;
    assert.ok(grace * 1000 > SHUTDOWN_TIMINGS.exitMs, `grace period ${grace} s`);
    const [container] = pod.containers;
    assert.deepEqual(container!.args, ['operator', '--unmatched=deny', '--path-parameters=reject']);
    assert.deepEqual(container!.env?.slice(0, 2), [
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    ]);
    assert.deepEqual(
      container!.env?.find((e) => e.name === 'JWTGATE_OPERATOR_HTTP_PORT'),
      { name: 'JWTGATE_OPERATOR_HTTP_PORT', value: '9003' },
    );
    assert.deepEqual(container!.ports, [{ name: 'metrics', containerPort: 9003, protocol: 'TCP' }]);
    assert.deepEqual(container!.livenessProbe?.httpGet, { path: '/healthz', port: 'metrics' });
    assert.deepEqual(container!.readinessProbe?.httpGet, { path: '/readyz', port: 'metrics' });
  });

  test('central authz: serve --kube on the release namespace, Service on 9001 (grpc) and 9002, PDB; no HPA', async () => {
    const { objects } = await renderChart({ namespace: 'edge' });
    const deployment = findObject(objects, 'Deployment', 'jwtgate-authz');
    assert.equal((deployment.spec as { replicas: number }).replicas, 2);
    const [container] = podSpecOf(deployment).containers;
    assert.deepEqual(container!.args, ['serve', '--kube', '--namespace', 'edge']);
    assert.deepEqual(
      container!.ports?.map((p) => [p.name, p.containerPort]),
      [
        ['authz-grpc', 9001],
        ['authz-metrics', 9002],
      ],
    );
    assert.deepEqual(container!.livenessProbe?.httpGet, { path: '/healthz', port: 'authz-metrics' });
    assert.deepEqual(container!.readinessProbe?.httpGet, { path: '/readyz', port: 'authz-metrics' });
    assert.deepEqual((findObject(objects, 'Service', 'jwtgate-authz').spec as { ports: unknown }).ports, [
      { name: 'grpc', port: 9001, targetPort: 'authz-grpc', protocol: 'TCP', appProtocol: 'grpc' },
      { name: 'metrics', port: 9002, targetPort: 'authz-metrics', protocol: 'TCP', appProtocol: 'http' },
    ]);
    assert.deepEqual((findObject(objects, 'PodDisruptionBudget', 'jwtgate-authz').spec as { minAvailable: number }).minAvailable, 1);
    assert.equal(objects.filter((o) => o.kind === 'HorizontalPodAutoscaler' || o.kind === 'ServiceMonitor').length, 0);
    assert.ok(
      objects.every((o) => o.kind.startsWith('Cluster') || o.metadata.namespace === 'edge'),
      'namespaced objects go to the release namespace',
    );
  });

  test('which objects each rendering holds', async () => {
    const rbac = [
      'ClusterRole/jwtgate-operator',
      'ClusterRoleBinding/jwtgate-operator',
      'Role/jwtgate-authz',
      'Role/jwtgate-operator',
      'RoleBinding/jwtgate-authz',
      'RoleBinding/jwtgate-operator',
      'ServiceAccount/jwtgate-operator',
    ];
    const central = ['Deployment/jwtgate-authz', 'Deployment/jwtgate-operator', 'Service/jwtgate-authz', 'ServiceAccount/jwtgate-authz'];
    const expected: Record<string, string[]> = {
      default: [...rbac, ...central, 'PodDisruptionBudget/jwtgate-authz'],
      minimal: [...rbac, ...central],
      sidecar: [...rbac, 'ConfigMap/jwtgate-sidecar', 'Deployment/jwtgate-operator'],
      autoscaling: [...rbac, ...central, 'HorizontalPodAutoscaler/jwtgate-authz', 'PodDisruptionBudget/jwtgate-authz'],
    };
    assert.deepEqual(Object.keys(RENDERINGS).sort(), Object.keys(expected).sort());
    for (const [name, options] of Object.entries(RENDERINGS)) {
      assert.deepEqual(kindsAndNames((await renderChart(options)).objects), expected[name]!.sort(), name);
    }
  });

  test('minimal: one replica of each; autoscaling: the HPA owns the replica count', async () => {
    const minimal = (await renderChart(RENDERINGS.minimal)).objects;
    for (const name of ['jwtgate-operator', 'jwtgate-authz'])
      assert.equal((findObject(minimal, 'Deployment', name).spec as { replicas: number }).replicas, 1);
    const scaled = (await renderChart(RENDERINGS.autoscaling)).objects;
    assert.equal('replicas' in (findObject(scaled, 'Deployment', 'jwtgate-authz').spec as object), false);
    assert.deepEqual(findObject(scaled, 'HorizontalPodAutoscaler', 'jwtgate-authz').spec, {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'jwtgate-authz' },
      minReplicas: 2,
      maxReplicas: 10,
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 75 } } }],
    });
  });

  test("every jwtgate container, the sidecar snippet's included, is non-root with a read-only root and no capabilities", async () => {
    for (const [name, options] of Object.entries(RENDERINGS)) {
      const { objects } = await renderChart(options);
      const pods: PodSpec[] = objects.filter((o) => o.kind === 'Deployment').map(podSpecOf);
      const sidecar = objects.find((o) => o.kind === 'ConfigMap');
      if (sidecar) {
        const data = sidecar.data as Record<string, string>;
        pods.push({
          securityContext: { runAsNonRoot: true },
          containers: [parseYaml(data['container.yaml']!) as Container],
          volumes: parseYaml(data['volumes.yaml']!) as { name: string }[],
        });
      }
      assert.ok(pods.length > 0, name);
      for (const pod of pods) {
        assert.equal(pod.securityContext?.runAsNonRoot, true, name);
        for (const container of pod.containers) {
          assert.deepEqual(container.securityContext, HARDENED_CONTAINER, `${name}: ${container.name}`);
          // A read-only root needs somewhere to write: a scratch /tmp backed by a pod volume.
          const tmp = container.volumeMounts?.find((m) => m.mountPath === '/tmp');
          assert.ok(tmp && pod.volumes?.some((v) => v.name === tmp.name), `${name}: ${container.name} mounts /tmp`);
        }
      }
    }
  });

  test("sidecar: the snippet reads the release namespace's snapshot, the workload's ServiceAccount is bound, Envoy gets an HTTP/2 loopback cluster", async () => {
    const { objects } = await renderChart({ ...RENDERINGS.sidecar, namespace: 'jwtgate' });
    const data = findObject(objects, 'ConfigMap', 'jwtgate-sidecar').data as Record<string, string>;
    const container = parseYaml(data['container.yaml']!) as Container;
    assert.deepEqual(container.args, ['serve', '--kube', '--namespace', 'jwtgate', '--workload-labels', '/etc/podinfo/labels']);
    // The workload (JWTPolicy workloadSelector): its namespace and its labels from the downward API.
    assert.deepEqual(
      container.env?.find((e) => e.name === 'POD_NAMESPACE'),
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    );
    assert.deepEqual(
      container.volumeMounts?.find((m) => m.mountPath === '/etc/podinfo'),
      { name: 'jwtgate-podinfo', mountPath: '/etc/podinfo', readOnly: true },
    );
    assert.deepEqual((parseYaml(data['volumes.yaml']!) as unknown[])[1], {
      name: 'jwtgate-podinfo',
      downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] },
    });
    // The central Deployment guards many workloads: it must not claim to know one.
    const central = podSpecOf(findObject((await renderChart({ namespace: 'jwtgate' })).objects, 'Deployment', 'jwtgate-authz'))
      .containers[0]!;
    assert.deepEqual(central.args, ['serve', '--kube', '--namespace', 'jwtgate']);
    assert.deepEqual(findObject(objects, 'RoleBinding', 'jwtgate-authz').subjects, [{ kind: 'ServiceAccount', ...SIDECAR_SA }]);
    const cluster = parseYaml(data['envoy-cluster.yaml']!) as Record<string, unknown>;
    assert.deepEqual(cluster.typed_extension_protocol_options, {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        explicit_http_config: { http2_protocol_options: {} },
      },
    });
    assert.match(JSON.stringify(cluster.load_assignment), /"address":"127\.0\.0\.1","port_value":9001/);
  });

  test('ServiceMonitors (monitoring.coreos.com/v1) select the metrics Services of both processes', async () => {
    const { objects } = await renderChart({
      setJson: {
        'operator.serviceMonitor': '{"enabled":true,"labels":{"release":"prom"}}',
        'authz.serviceMonitor': '{"enabled":true,"interval":"15s"}',
      },
    });
    const expectations = [
      ['jwtgate-operator', 'jwtgate-operator-metrics', 'operator', '30s'],
      ['jwtgate-authz', 'jwtgate-authz', 'authz', '15s'],
    ] as const;
    for (const [monitorName, serviceName, component, interval] of expectations) {
      const monitor = findObject(objects, 'ServiceMonitor', monitorName);
      assert.equal(monitor.apiVersion, 'monitoring.coreos.com/v1');
      const spec = monitor.spec as { selector: { matchLabels: Record<string, string> }; endpoints: unknown[] };
      assert.deepEqual(spec.endpoints, [{ port: 'metrics', path: '/metrics', interval }]);
      assert.equal(spec.selector.matchLabels['app.kubernetes.io/component'], component);
      const service = findObject(objects, 'Service', serviceName);
      for (const [label, value] of Object.entries(spec.selector.matchLabels))
        assert.equal(service.metadata.labels?.[label], value, `${serviceName} ${label}`);
      assert.ok((service.spec as { ports: { name: string }[] }).ports.some((p) => p.name === 'metrics'));
    }
    assert.equal(findObject(objects, 'ServiceMonitor', 'jwtgate-operator').metadata.labels?.release, 'prom');
  });

  test("sidecar mode: a PodMonitor scrapes the sidecars by their pods' labels in their namespaces; without labels, helm says what is missing", async () => {
    const setJson = {
      'authz.serviceMonitor': '{"enabled":true,"interval":"20s"}',
      'authz.sidecar.serviceAccounts':
        '[{"namespace":"shop","name":"checkout"},{"namespace":"shop","name":"cart"},{"namespace":"bank","name":"ledger"}]',
      'authz.sidecar.podLabels': '{"jwtgate.dev/sidecar":"true"}',
    };
    const { objects } = await renderChart({ ...RENDERINGS.sidecar, setJson });
    assert.equal(objects.filter((o) => o.kind === 'ServiceMonitor' && o.metadata.name === 'jwtgate-authz').length, 0);
    const monitor = findObject(objects, 'PodMonitor', 'jwtgate-authz-sidecars');
    assert.deepEqual(monitor.spec, {
      namespaceSelector: { matchNames: ['bank', 'shop'] },
      selector: { matchLabels: { 'jwtgate.dev/sidecar': 'true' } },
      podMetricsEndpoints: [{ port: 'authz-metrics', path: '/metrics', interval: '20s' }],
    });
    const snippet = findObject(objects, 'ConfigMap', 'jwtgate-sidecar') as KubeObject & { data: Record<string, string> };
    assert.match(snippet.data['container.yaml'] ?? '', /name: authz-metrics/, "the port the PodMonitor scrapes is the sidecar container's");

    const missing = await runHelm(templateArgs({ ...RENDERINGS.sidecar, setJson: { 'authz.serviceMonitor': '{"enabled":true}' } }));
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /needs authz\.sidecar\.podLabels/);
  });

  test('values.schema.json refuses bad values and names the field', async () => {
    const cases: [string, string, RegExp][] = [
      ['a misspelt key', 'authz:\n  replica: 3\n', /at '\/authz': additional properties 'replica' not allowed/],
      [
        'a writable root filesystem',
        'securityContext:\n  readOnlyRootFilesystem: false\n',
        /at '\/securityContext\/readOnlyRootFilesystem'/,
      ],
      ['running as root', 'podSecurityContext:\n  runAsNonRoot: false\n', /at '\/podSecurityContext\/runAsNonRoot'/],
      ['an unknown mode', 'authz:\n  mode: gateway\n', /at '\/authz\/mode'/],
      ['an unknown path parameters setting', 'operator:\n  pathParameters: strip\n', /at '\/operator\/pathParameters'/],
      ['a port out of range', 'authz:\n  grpcPort: 70000\n', /at '\/authz\/grpcPort'/],
      [
        'a sidecar ServiceAccount without namespace',
        'authz:\n  sidecar:\n    serviceAccounts: [{ name: checkout }]\n',
        /at '\/authz\/sidecar\/serviceAccounts\/0'.*namespace/,
      ],
      [
        'an env name that is not a jwtgate setting',
        'authz:\n  env: { NODE_OPTIONS: --inspect }\n',
        /'NODE_OPTIONS' does not match pattern/,
      ],
    ];
    const dir = await mkdtemp(join(tmpdir(), 'jwtgate-values-'));
    try {
      for (const [what, values, message] of cases) {
        const file = join(dir, 'bad.yaml');
        await writeFile(file, values);
        const result = await runHelm(templateArgs({ valuesFiles: [file] }));
        assert.notEqual(result.code, 0, `${what} must be refused`);
        assert.match(result.stderr, /values don't meet the specifications of the schema/, what);
        assert.match(result.stderr, message, what);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('deploy/rbac/*.yaml is exactly what deploy/rbac/generate.sh renders from the chart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jwtgate-rbac-'));
    try {
      const child = spawn('bash', [join(ROOT, 'deploy', 'rbac', 'generate.sh'), dir], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const [code] = (await once(child, 'close')) as [number];
      assert.equal(code, 0, stderr);
      for (const file of ['operator.yaml', 'authz.yaml']) {
        assert.equal(
          await readFile(join(ROOT, 'deploy', 'rbac', file), 'utf8'),
          await readFile(join(dir, file), 'utf8'),
          `deploy/rbac/${file} drifted from the chart: run deploy/rbac/generate.sh`,
        );
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** An HS256 token of examples/keys/demo-hmac.jwk.json (the examples' HMAC issuer), valid for a minute. */
async function signDemoHmacToken(claims: JWTPayload): Promise<string> {
  const jwk = JSON.parse(await readFile(join(ROOT, 'examples', 'keys', 'demo-hmac.jwk.json'), 'utf8')) as { k: string };
  return new SignJWT({ iss: 'https://hmac.example.com', aud: 'reports', ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime('60s')
    .sign(Buffer.from(jwk.k, 'base64url'));
}

describe('charts/jwtgate on a real kube-apiserver', { skip: skipKube, timeout: 240_000 }, () => {
  let cluster: KubeCluster;
  let dir: string;
  /** The leader started by the install test, reused by the insufficient-RBAC test. */
  let operator: OperatorProcess | undefined;
  const stoppers: (() => Promise<unknown>)[] = [];

  const kubectlOk = async (args: string[], input?: string): Promise<string> => {
    const result = await cluster.kubectl(args, input);
    assert.equal(result.code, 0, `kubectl ${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  };

  /** A kubeconfig that authenticates as `namespace/serviceAccount` with a freshly minted token. */
  const serviceAccountKubeconfig = async (namespace: string, serviceAccount: string): Promise<string> => {
    const token = (await kubectlOk(['create', 'token', serviceAccount, '-n', namespace, '--duration=10m'])).trim();
    const path = join(dir, `${namespace}-${serviceAccount}.kubeconfig`);
    await writeFile(
      path,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          {
            name: 'test',
            cluster: { server: cluster.server, 'certificate-authority-data': (await readFile(cluster.caFile)).toString('base64') },
          },
        ],
        users: [{ name: serviceAccount, user: { token } }],
        contexts: [{ name: 'test', context: { cluster: 'test', user: serviceAccount } }],
        'current-context': 'test',
      }),
      { mode: 0o600 },
    );
    return path;
  };

  /** `jwtgate serve --kube` as the given ServiceAccount, stopped after the suite. */
  const startAuthzAs = async (namespace: string, serviceAccount: string) => {
    const svc = await startServeProcess([
      '--kube',
      '--namespace',
      RELEASE_NAMESPACE,
      '--kubeconfig',
      await serviceAccountKubeconfig(namespace, serviceAccount),
    ]);
    const client = createGrpcClient(`127.0.0.1:${svc.grpcPort}`);
    stoppers.push(async () => {
      client.close();
      await svc.stop();
    });
    return { svc, client };
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'jwtgate-chart-kube-'));
    cluster = await startKubeCluster();
    await kubectlOk(['create', 'namespace', SIDECAR_SA.namespace]);
    await kubectlOk(['create', 'serviceaccount', SIDECAR_SA.name, '-n', SIDECAR_SA.namespace]);
    await kubectlOk(['create', 'namespace', 'demo']);
  });
  after(async () => {
    for (const stop of stoppers.reverse()) await stop();
    await cluster?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('every rendering passes a server-side dry run (CRDs applied for real first)', async () => {
    const crds = await runHelm(['show', 'crds', CHART_DIR]);
    assert.equal(crds.code, 0, crds.stderr);
    await kubectlOk(['apply', '--server-side', '--field-manager=jwtgate-chart-test', '-f', '-'], crds.stdout);
    await kubectlOk(['wait', '--for', 'condition=established', '--timeout=60s', 'crd', '--all']);
    for (const [name, options] of Object.entries(RENDERINGS)) {
      const namespace = `dry-${name}`;
      await kubectlOk(['create', 'namespace', namespace]);
      const { text, objects } = await renderChart({ ...options, namespace });
      const result = await cluster.kubectl(
        ['apply', '--server-side', '--dry-run=server', '--field-manager=jwtgate-chart-test', '-f', '-'],
        text,
      );
      assert.equal(result.code, 0, `${name}: ${result.stderr}`);
      // kubectl prints one "<kind>/<name> serverside-applied (server dry run)" line per object.
      assert.equal(result.stdout.match(/serverside-applied \(server dry run\)/g)?.length, objects.length, `${name}: ${result.stdout}`);
    }
  });

  test('the sidecar snippet is a valid container of a workload Pod (server-side dry run)', async () => {
    const data = findObject((await renderChart(RENDERINGS.sidecar)).objects, 'ConfigMap', 'jwtgate-sidecar').data as Record<string, string>;
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'checkout', namespace: SIDECAR_SA.namespace },
      spec: {
        serviceAccountName: SIDECAR_SA.name,
        containers: [{ name: 'app', image: 'registry.example/checkout:1' }, parseYaml(data['container.yaml']!)],
        volumes: parseYaml(data['volumes.yaml']!),
      },
    };
    await kubectlOk(['apply', '--server-side', '--dry-run=server', '--field-manager=jwtgate-chart-test', '-f', '-'], JSON.stringify(pod));
  });

  test("helm install; the operator publishes and the authz service and a sidecar enforce, each as the chart's ServiceAccounts", async () => {
    // The README's command, plus the sidecar workload's ServiceAccount; no kubelet runs the pods.
    const installed = await runHelm(
      [
        'install',
        RELEASE,
        CHART_DIR,
        '-n',
        RELEASE_NAMESPACE,
        '--create-namespace',
        '--set-json',
        `authz.sidecar.serviceAccounts=${WITH_SIDECAR_SA['authz.sidecar.serviceAccounts']}`,
      ],
      { kubeconfig: cluster.kubeconfigPath },
    );
    assert.equal(installed.code, 0, installed.stderr);
    assert.match(installed.stdout, /STATUS: deployed/);
    assert.match(installed.stdout, /jwtgate-authz\.jwtgate-system\.svc:9001/);

    // NOTES.txt's example resources are accepted as printed.
    const example = installed.stdout
      .split('\n')
      .filter((line) => line.startsWith('     '))
      .join('\n');
    const exampleDocs = example.slice(example.indexOf('apiVersion: jwtgate.dev'), example.indexOf('kubectl get')).replace(/^ {5}/gm, '');
    const grantDoc = example.slice(example.lastIndexOf('apiVersion: jwtgate.dev')).replace(/^ {5}/gm, '');
    assert.match(grantDoc, /^apiVersion: jwtgate\.dev\/v1alpha1\nkind: JWTHostGrant\n/);
    const accepted = await kubectlOk(['apply', '--dry-run=server', '-f', '-'], `${exampleDocs}\n---\n${grantDoc}`);
    assert.match(accepted, /jwtissuer\.jwtgate\.dev\/my-idp created \(server dry run\)/);
    assert.match(accepted, /jwtpolicy\.jwtgate\.dev\/orders created \(server dry run\)/);
    assert.match(accepted, /jwthostgrant\.jwtgate\.dev\/shop-hosts created \(server dry run\)/);

    operator = await startOperatorProcess({
      kubeconfigPath: await serviceAccountKubeconfig(RELEASE_NAMESPACE, 'jwtgate-operator'),
      namespace: RELEASE_NAMESPACE,
      identity: 'jwtgate-operator-0',
    });
    stoppers.push(() => operator!.stop());
    await operator.waitForLog((l) => l.msg === 'started leading', 30_000);
    // Started only once the snapshot with the policy is out, so the services' first snapshot is it.

    const examples = await Promise.all(
      ['issuer.yaml', 'secret.yaml', 'reports.yaml'].map((f) => readFile(join(ROOT, 'examples', 'policies-hmac', f), 'utf8')),
    );
    // The checks below come as a gateway's do, with no namespace: the cluster admin grants the
    // host to the policy's namespace (issue 10), which also proves the operator may read grants.
    const grant = jwtHostGrant('demo-reports', { hostnames: ['reports.example.com'], namespaces: ['demo'] });
    await kubectlOk(['apply', '-f', '-'], [...examples, grant].join('\n---\n'));
    await operator.waitForLog((l) => /^snapshot (created|updated)$/.test(String(l.msg)) && l.policies === 1, 30_000);
    const ready = async (kind: string, name: string, namespace?: string) =>
      (
        await kubectlOk([
          'get',
          kind,
          name,
          ...(namespace === undefined ? [] : ['-n', namespace]),
          '-o',
          'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
        ])
      ).trim();
    await waitFor(
      'Ready True on the policy and the grant, written by the operator as its ServiceAccount',
      async () => (await ready('jwtpolicy', 'reports', 'demo')) === 'True' && (await ready('jwthostgrant', 'demo-reports')) === 'True',
      20_000,
      200,
    );

    const request = (token?: string) =>
      httpCheckRequest({
        method: 'GET',
        host: 'reports.example.com',
        path: '/daily',
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
    for (const [namespace, serviceAccount] of [
      [RELEASE_NAMESPACE, 'jwtgate-authz'],
      [SIDECAR_SA.namespace, SIDECAR_SA.name],
    ] as const) {
      const { svc, client } = await startAuthzAs(namespace, serviceAccount);
      await svc.waitForLog((l) => l.msg === 'snapshot applied', 20_000);
      const who = `${namespace}/${serviceAccount}`;
      assert.equal((await client.check(request(await signDemoHmacToken({ sub: 'batch-job' })))).http_response, 'ok_response', who);
      const refused = denied(await client.check(request(await signDemoHmacToken({ sub: 'mallory' }))));
      assert.deepEqual([refused.status, refused.body.reason], ['Forbidden', 'rule_failed'], who);
      const missing = denied(await client.check(request()));
      assert.deepEqual([missing.status, missing.body.reason], ['Unauthorized', 'token_missing'], who);
      assert.equal(svc.logs.filter((l) => l.msg === 'informer stopped; restarting').length, 0, `${who}: no watch may be forbidden`);
    }
    assert.deepEqual(
      operator.logs.filter((l) => /\b403\b|forbidden/i.test(JSON.stringify(l))),
      [],
      'the operator is refused nothing',
    );
  });

  test('insufficient RBAC fails: the operator without its ConfigMap rule cannot publish (403); authz without its RoleBinding cannot watch', async () => {
    assert.ok(operator, 'the operator of the previous test still leads');
    const role = JSON.parse(await kubectlOk(['get', 'role', 'jwtgate-operator', '-n', RELEASE_NAMESPACE, '-o', 'json'])) as {
      rules: { resources: string[] }[];
    };
    const index = role.rules.findIndex((r) => r.resources.includes('configmaps'));
    assert.ok(index >= 0);
    await kubectlOk([
      'patch',
      'role',
      'jwtgate-operator',
      '-n',
      RELEASE_NAMESPACE,
      '--type=json',
      '-p',
      JSON.stringify([{ op: 'remove', path: `/rules/${index}` }]),
    ]);
    const since = operator.logs.length;
    await kubectlOk(
      ['apply', '-f', '-'],
      (await readFile(join(ROOT, 'examples', 'policies-hmac', 'reports.yaml'), 'utf8')).replace('equals: batch-job', 'equals: nightly-job'),
    );
    // Publishing (and watching its own ConfigMaps) is now forbidden: either surfaces within the wait.
    const failed = await operator.waitForLog(
      (l) =>
        operator!.logs.indexOf(l) >= since &&
        (l.msg === 'reconcile failed; retrying with backoff' || l.msg === 'informer stopped; restarting'),
      45_000,
    );
    assert.match(JSON.stringify(failed.err), /403|forbidden/i, JSON.stringify(failed));
    assert.equal(
      operator.logs.slice(since).some((l) => l.msg === 'snapshot updated'),
      false,
      'nothing may be published without the rule',
    );

    await kubectlOk(['delete', 'rolebinding', 'jwtgate-authz', '-n', RELEASE_NAMESPACE]);
    const { svc } = await startAuthzAs(RELEASE_NAMESPACE, 'jwtgate-authz');
    const refused = await svc.waitForLog(
      (l) =>
        l.msg === 'informer stopped; restarting' || l.msg === 'no published snapshot found; the snapshot in force (if any) keeps serving',
      20_000,
    );
    assert.match(JSON.stringify(refused), /403|forbidden/i, JSON.stringify(refused));
    assert.equal(
      svc.logs.some((l) => l.msg === 'snapshot applied'),
      false,
    );
  });
});
