// The integration guides (docs/istio.md, docs/envoy-gateway.md) checked for real, as far as no
// Istio control plane or Envoy Gateway controller runs here: their manifests are applied with
// server-side dry run to a real kube-apiserver carrying Istio's, Envoy Gateway's and Gateway
// API's own CRDs; the Istio mesh config is decoded strictly into Istio's MeshConfig type; the
// guides' references are checked against the rendered Helm chart; and the guides' jwtgate
// policies decide requests shaped the way each proxy sends them, through real gRPC. The gateway
// recipes' policies attach to an HTTPRoute with targetRefs, which counts only once a Gateway
// controller has accepted the route; no controller runs here, so those checks serve a folder of
// the guide's jwtgate/*.yaml, gateway.yaml and httproute.yaml with the status a controller
// writes added to the route (what `kubectl get -o yaml` prints on a cluster).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { access, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { importJWK, SignJWT, type CryptoKey } from 'jose';
import { parseAllDocuments } from 'yaml';
import { startKubeCluster, type KubeCluster } from '../support/kube-cluster.ts';
import { startStandalone, type StandaloneService } from '../../dev/standalone-service.ts';
import { headerRecord, httpCheckRequest, structToJson, type DecodedCheckResponse, type HttpCheckInput } from '../../cli/grpc-client.ts';
import type { HTTPRouteInput } from '../../compiler/resources.ts';
import { jwtPolicy } from '../../dev/fixtures/manifests.ts';
import { denied } from '../support/decisions.ts';
import { judgeRoute, namespace, toYaml } from '../support/gateway-status.ts';
import { waitFor } from '../support/wait-for.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ISTIO = join(ROOT, 'examples/istio');
const ISTIO_GATEWAY = join(ISTIO, 'gateway-api');
const GATEWAY = join(ROOT, 'examples/envoy-gateway');
const PEERS_DIR = process.env.JWTGATE_PEERS_DIR ?? join(homedir(), '.cache', 'jwtgate-peers');
const SCHEMA_CRDS = join(PEERS_DIR, 'schemas', 'crds');
const MESHCONFIG_VALIDATE = join(PEERS_DIR, 'bin', 'meshconfig-validate');
const HELM = join(PEERS_DIR, 'bin', 'helm');

/** What both guides assume of the Helm release `jwtgate` in `jwtgate-system`. */
const AUTHZ_SERVICE = { name: 'jwtgate-authz', namespace: 'jwtgate-system', port: 9001 };

// Skipping is opt-in only: without the env var, missing peers fail the run.
const skip = process.env.JWTGATE_SKIP_KUBE === '1' ? 'JWTGATE_SKIP_KUBE=1 (no kube peers; see test/peers/install.sh)' : false;

const run = promisify(execFile);

/** A manifest of another project's schema (Istio, Envoy Gateway, Envoy), walked field by field. */
// biome-ignore lint/suspicious/noExplicitAny: these tests read untyped YAML of other projects' CRDs and Envoy's bootstrap.
type Yaml = Record<string, any>;

/** Every YAML document of `file` as plain JSON. */
async function readManifests(file: string): Promise<Yaml[]> {
  return parseAllDocuments(await readFile(file, 'utf8')).map((doc) => doc.toJS() as Yaml);
}

/** The one manifest of `kind` in `file`. */
async function readManifest(file: string, kind: string): Promise<Yaml> {
  const found = (await readManifests(file)).filter((m) => m.kind === kind);
  assert.equal(found.length, 1, `${file}: expected one ${kind}`);
  return found[0]!;
}

/** `text` with `from` replaced by `to`, failing when `from` is absent (a stale mutation test). */
function mutate(text: string, from: string, to: string): string {
  assert.ok(text.includes(from), `mutation target not found: ${from}`);
  return text.replace(from, to);
}

/** Throws with the install hint when a peer file is missing. */
async function requirePeer(path: string): Promise<void> {
  await access(path).catch(() => {
    throw new Error(`${path} missing: run test/peers/install.sh (or test/peers/schemas/install.sh)`);
  });
}

describe('guide manifests on a real kube-apiserver with the real CRDs', { skip, timeout: 180_000 }, () => {
  let cluster: KubeCluster;

  /** Server-side dry-run apply of `files` (or stdin `input`); the apiserver validates fully. */
  const dryRunArgs = (args: string[]) => ['apply', '--server-side', '--dry-run=server', '--validate=strict', ...args];
  const dryRun = (args: string[], input?: string) => cluster.kubectl(dryRunArgs(args), input);

  /** Asserts the apiserver refuses `manifest`, with `expected` in what kubectl printed. */
  async function assertRefused(manifest: string, expected: RegExp): Promise<void> {
    const result = await dryRun(['-f', '-'], manifest);
    assert.notEqual(result.code, 0, `expected a refusal, kubectl said: ${result.stdout}`);
    assert.match(result.stderr, expected);
  }

  before(async () => {
    await requirePeer(SCHEMA_CRDS);
    cluster = await startKubeCluster();
    // --server-side: Istio's CRD file is too large for client-side apply's last-applied annotation.
    await cluster.kubectlOk(['apply', '--server-side', '-f', join(ROOT, 'crds'), '-f', SCHEMA_CRDS]);
    const crds = (await cluster.kubectl(['get', 'crd', '-o', 'name'])).stdout.trim().split('\n');
    await cluster.kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', ...crds]);
    for (const ns of ['shop', 'jwtgate-system', 'gateway-system', 'istio-ingress']) {
      await cluster.kubectlOk(['create', 'namespace', ns]);
    }
  });
  after(() => cluster?.stop());

  test('the CRDs are the pinned upstream ones', async () => {
    const files = (await readdir(SCHEMA_CRDS)).sort();
    assert.ok(
      files.some((f) => /^istio-v1\.\d+\.\d+\.yaml$/.test(f)),
      files.join(', '),
    );
    assert.ok(
      files.some((f) => /^envoy-gateway-v1\.\d+\.\d+-securitypolicies\.yaml$/.test(f)),
      files.join(', '),
    );
    assert.ok(
      files.some((f) => /^gateway-api-v1\.\d+\.\d+-httproutes\.yaml$/.test(f)),
      files.join(', '),
    );
  });

  test('Istio guide: AuthorizationPolicy, PeerAuthentication and the jwtgate policies are accepted', async () => {
    // istiod-values.yaml is Helm values, not an object: the manifests are named one by one.
    const applied = await cluster.kubectlOk(
      dryRunArgs([
        '-f',
        join(ISTIO, 'authorization-policy.yaml'),
        '-f',
        join(ISTIO, 'peer-authentication.yaml'),
        '-f',
        join(ISTIO, 'jwtgate'),
      ]),
    );
    assert.deepEqual(applied.trim().split('\n').sort(), [
      'authorizationpolicy.security.istio.io/orders-jwtgate serverside-applied (server dry run)',
      'jwtissuer.jwtgate.dev/demo-idp serverside-applied (server dry run)',
      'jwtpolicy.jwtgate.dev/orders serverside-applied (server dry run)',
      'peerauthentication.security.istio.io/default serverside-applied (server dry run)',
    ]);
  });

  test('Istio Gateway API guide: Gateway, HTTPRoute, AuthorizationPolicy with targetRefs and the jwtgate policies are accepted', async () => {
    const applied = await cluster.kubectlOk(dryRunArgs(['-f', ISTIO_GATEWAY, '-f', join(ISTIO_GATEWAY, 'jwtgate')]));
    assert.deepEqual(applied.trim().split('\n').sort(), [
      'authorizationpolicy.security.istio.io/public-jwtgate serverside-applied (server dry run)',
      'gateway.gateway.networking.k8s.io/public serverside-applied (server dry run)',
      'httproute.gateway.networking.k8s.io/orders serverside-applied (server dry run)',
      'jwtissuer.jwtgate.dev/demo-idp serverside-applied (server dry run)',
      'jwtpolicy.jwtgate.dev/orders-route serverside-applied (server dry run)',
    ]);
  });

  test('Envoy Gateway guide: Gateway API objects, SecurityPolicy, ReferenceGrant and the jwtgate policies are accepted', async () => {
    const applied = await cluster.kubectlOk(dryRunArgs(['-f', GATEWAY, '-f', join(GATEWAY, 'jwtgate')]));
    assert.deepEqual(applied.trim().split('\n').sort(), [
      'clienttrafficpolicy.gateway.envoyproxy.io/public-paths serverside-applied (server dry run)',
      'gateway.gateway.networking.k8s.io/public serverside-applied (server dry run)',
      'gatewayclass.gateway.networking.k8s.io/eg serverside-applied (server dry run)',
      'httproute.gateway.networking.k8s.io/orders serverside-applied (server dry run)',
      'jwtissuer.jwtgate.dev/demo-idp serverside-applied (server dry run)',
      'jwtpolicy.jwtgate.dev/orders serverside-applied (server dry run)',
      'referencegrant.gateway.networking.k8s.io/shop-security-policies serverside-applied (server dry run)',
      'securitypolicy.gateway.envoyproxy.io/orders-jwtgate serverside-applied (server dry run)',
    ]);
  });

  // The controls: the same manifests with one field broken are refused, so the schemas above
  // really check the fields the guides rely on (an empty or permissive schema would not).
  test('Istio schema refuses an unknown action and a misspelt provider field', async () => {
    const policy = await readFile(join(ISTIO, 'authorization-policy.yaml'), 'utf8');
    await assertRefused(mutate(policy, 'action: CUSTOM', 'action: EXTERNAL'), /spec\.action: Unsupported value: "EXTERNAL"/);
    await assertRefused(mutate(policy, 'name: jwtgate ', 'nmae: jwtgate '), /\.spec\.provider\.nmae: field not declared in schema/);
  });

  test('Istio schema refuses a Gateway policy that also has a selector, or whose targetRef names another namespace', async () => {
    const policy = await readFile(join(ISTIO_GATEWAY, 'authorization-policy.yaml'), 'utf8');
    await assertRefused(
      mutate(policy, 'action: CUSTOM', 'selector: { matchLabels: { app: orders } }\n  action: CUSTOM'),
      /only one of targetRefs or selector can be set/,
    );
    await assertRefused(
      mutate(policy, 'name: public\n', 'name: public\n      namespace: shop\n'),
      /cross namespace referencing is not currently supported/,
    );
  });

  test("jwtgate's schema refuses a targetRef naming a namespace or another kind, and targets beside targetRefs", async () => {
    const policy = await readFile(join(GATEWAY, 'jwtgate/orders.yaml'), 'utf8');
    await assertRefused(
      mutate(policy, 'name: orders\n  issuers:', 'name: orders\n      namespace: bank\n  issuers:'),
      /\.spec\.targetRefs\[0\]\.namespace: field not declared in schema/,
    );
    await assertRefused(
      mutate(policy, 'kind: HTTPRoute', 'kind: GRPCRoute'),
      /spec\.targetRefs\[0\]\.kind: Unsupported value: "GRPCRoute"/,
    );
    await assertRefused(
      mutate(policy, '  targetRefs:', '  targets: [{ hosts: [api.example.com] }]\n  targetRefs:'),
      /exactly one of targets or targetRefs must be set/,
    );
  });

  test('Envoy Gateway schema refuses a bad statusOnError, a port-less Service backend and a bad path action', async () => {
    const policy = await readFile(join(GATEWAY, 'security-policy.yaml'), 'utf8');
    await assertRefused(mutate(policy, 'statusOnError: 503', 'statusOnError: 299'), /spec\.extAuth\.statusOnError: Unsupported value: 299/);
    await assertRefused(mutate(policy, 'port: 9001', ''), /Must have port for Service reference/);
    await assertRefused(
      mutate(policy, 'contextExtensions:', 'contextExtension:'),
      /\.spec\.extAuth\.contextExtension: field not declared in schema/,
    );
    const gateway = await readFile(join(GATEWAY, 'gateway.yaml'), 'utf8');
    await assertRefused(
      mutate(gateway, 'escapedSlashesAction: UnescapeAndRedirect', 'escapedSlashesAction: Unescape'),
      /spec\.path\.escapedSlashesAction: Unsupported value: "Unescape"/,
    );
    await assertRefused(
      mutate(gateway, 'disableMergeSlashes: false', 'disableMergeSlashes: "no"'),
      /\.spec\.path\.disableMergeSlashes: expected boolean/,
    );
  });

  test('Gateway API schema refuses an unknown path match type', async () => {
    const route = await readFile(join(GATEWAY, 'httproute.yaml'), 'utf8');
    await assertRefused(
      mutate(route, 'type: PathPrefix', 'type: Prefix'),
      /spec\.rules\[0\]\.matches\[0\]\.path\.type: Unsupported value: "Prefix"/,
    );
  });
});

describe("Istio mesh config decoded strictly into Istio's MeshConfig type", { skip }, () => {
  /** Runs meshconfig-validate on `text`; resolves with its exit code and stderr. */
  async function validateMeshConfig(text: string): Promise<{ code: number; stderr: string }> {
    await requirePeer(MESHCONFIG_VALIDATE);
    const dir = await mkdtemp(join(tmpdir(), 'jwtgate-meshconfig-'));
    try {
      await writeFile(join(dir, 'values.yaml'), text);
      await run(MESHCONFIG_VALIDATE, ['-key', 'meshConfig', join(dir, 'values.yaml')]);
      return { code: 0, stderr: '' };
    } catch (error) {
      const e = error as { code: number; stderr: string };
      return { code: e.code, stderr: e.stderr };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  test('examples/istio/istiod-values.yaml is valid', async () => {
    const result = await validateMeshConfig(await readFile(join(ISTIO, 'istiod-values.yaml'), 'utf8'));
    assert.equal(result.code, 0, result.stderr);
  });

  test('a misspelt field, a bad enum value and a bad duration are refused', async () => {
    const values = await readFile(join(ISTIO, 'istiod-values.yaml'), 'utf8');
    const cases: [string, string, RegExp][] = [
      ['failOpen: false', 'failopen: false', /unknown field "failopen"/],
      [
        'normalization: DECODE_AND_MERGE_SLASHES',
        'normalization: DECODE_SLASHES',
        /invalid value for enum field normalization: "DECODE_SLASHES"/,
      ],
      ['timeout: 1s', 'timeout: 1sec', /invalid google\.protobuf\.Duration value "1sec"/],
    ];
    for (const [from, to, expected] of cases) {
      const result = await validateMeshConfig(mutate(values, from, to));
      assert.equal(result.code, 1, `${to} was accepted`);
      assert.match(result.stderr, expected);
    }
  });
});

describe('the guides reference the Service the Helm chart renders', { skip }, () => {
  test('Service jwtgate-authz in jwtgate-system serves gRPC on 9001', async () => {
    await requirePeer(HELM);
    const { stdout } = await run(HELM, ['template', 'jwtgate', join(ROOT, 'charts/jwtgate'), '--namespace', AUTHZ_SERVICE.namespace], {
      maxBuffer: 16 << 20,
    });
    const services = parseAllDocuments(stdout)
      .map((doc) => doc.toJS() as Yaml)
      .filter((m) => m?.kind === 'Service');
    const authz = services.find((s) => s.metadata.name === AUTHZ_SERVICE.name);
    assert.ok(authz, `no Service ${AUTHZ_SERVICE.name} in: ${services.map((s) => s.metadata.name).join(', ')}`);
    assert.equal(authz.metadata.namespace, AUTHZ_SERVICE.namespace);
    const grpc = authz.spec.ports.find((p: { port: number }) => p.port === AUTHZ_SERVICE.port);
    assert.ok(grpc, JSON.stringify(authz.spec.ports));
    // Istio and Envoy Gateway must speak HTTP/2 to it: appProtocol (or a grpc port name) says so.
    assert.ok(grpc.appProtocol === 'grpc' || grpc.name === 'grpc' || String(grpc.name).startsWith('grpc-'), JSON.stringify(grpc));
  });
});

describe("the guides' files agree with each other", () => {
  test('Istio: the AuthorizationPolicy names the provider registered for the jwtgate Service', async () => {
    const [values] = await readManifests(join(ISTIO, 'istiod-values.yaml'));
    const providers = values!.meshConfig.extensionProviders as Yaml[];
    const provider = providers.find((p) => p.envoyExtAuthzGrpc !== undefined)!;
    assert.deepEqual(provider.envoyExtAuthzGrpc, {
      service: `${AUTHZ_SERVICE.name}.${AUTHZ_SERVICE.namespace}.svc.cluster.local`,
      port: AUTHZ_SERVICE.port,
      timeout: '1s',
      failOpen: false,
      statusOnError: '503',
    });
    const policy = await readManifest(join(ISTIO, 'authorization-policy.yaml'), 'AuthorizationPolicy');
    assert.equal(policy.spec.action, 'CUSTOM');
    assert.equal(policy.spec.provider.name, provider.name);
    // Every request goes to jwtgate: one empty rule.
    assert.deepEqual(policy.spec.rules, [{}]);
  });

  test('Envoy Gateway: backend, ReferenceGrant, context extension and policy namespace line up', async () => {
    const security = await readManifest(join(GATEWAY, 'security-policy.yaml'), 'SecurityPolicy');
    const route = await readManifest(join(GATEWAY, 'httproute.yaml'), 'HTTPRoute');
    const grant = await readManifest(join(GATEWAY, 'reference-grant.yaml'), 'ReferenceGrant');
    const policy = await readManifest(join(GATEWAY, 'jwtgate/orders.yaml'), 'JWTPolicy');
    assert.deepEqual(security.spec.extAuth.grpc.backendRefs, [AUTHZ_SERVICE]);
    assert.equal(security.spec.extAuth.failOpen, false);
    assert.deepEqual(security.spec.targetRefs, [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: route.metadata.name }]);
    assert.equal(security.metadata.namespace, route.metadata.namespace);
    assert.deepEqual(grant.spec.from, [{ group: 'gateway.envoyproxy.io', kind: 'SecurityPolicy', namespace: security.metadata.namespace }]);
    assert.equal(grant.metadata.namespace, AUTHZ_SERVICE.namespace);
    assert.deepEqual(grant.spec.to, [{ group: '', kind: 'Service', name: AUTHZ_SERVICE.name }]);
    assert.deepEqual(security.spec.extAuth.contextExtensions, [{ name: 'namespace', type: 'Value', value: route.metadata.namespace }]);
    // The jwtgate policy attaches to the route the SecurityPolicy sends to jwtgate, in the route's namespace.
    assert.equal(policy.metadata.namespace, route.metadata.namespace);
    assert.deepEqual(policy.spec.targetRefs, security.spec.targetRefs);
  });

  test('Gateway recipes: the route attaches to the Gateway, whose listener admits it; the jwtgate policy targets the route', async () => {
    for (const dir of [GATEWAY, ISTIO_GATEWAY]) {
      const gateway = await readManifest(join(dir, 'gateway.yaml'), 'Gateway');
      const route = await readManifest(join(dir, 'httproute.yaml'), 'HTTPRoute');
      const [listener] = gateway.spec.listeners as Yaml[];
      assert.deepEqual(route.spec.parentRefs, [
        { name: gateway.metadata.name, namespace: gateway.metadata.namespace, sectionName: listener!.name },
      ]);
      assert.deepEqual(route.spec.hostnames, [listener!.hostname]);
      assert.equal(listener!.allowedRoutes.namespaces.from, 'Selector', `${dir}: the Gateway admits labelled namespaces only`);
      const policies = await readManifests(join(dir, 'jwtgate', dir === GATEWAY ? 'orders.yaml' : 'orders-route.yaml'));
      assert.deepEqual(policies[0]!.spec.targetRefs, [
        { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: route.metadata.name },
      ]);
      assert.equal(policies[0]!.metadata.namespace, route.metadata.namespace);
    }
  });

  test('Istio Gateway API: the AuthorizationPolicy attaches to the Gateway in its own namespace and names the registered provider', async () => {
    const [values] = await readManifests(join(ISTIO, 'istiod-values.yaml'));
    const gateway = await readManifest(join(ISTIO_GATEWAY, 'gateway.yaml'), 'Gateway');
    const policy = await readManifest(join(ISTIO_GATEWAY, 'authorization-policy.yaml'), 'AuthorizationPolicy');
    assert.equal(gateway.spec.gatewayClassName, 'istio');
    assert.equal(policy.metadata.namespace, gateway.metadata.namespace);
    assert.deepEqual(policy.spec.targetRefs, [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: gateway.metadata.name }]);
    assert.equal(policy.spec.action, 'CUSTOM');
    assert.equal(policy.spec.provider.name, values!.meshConfig.extensionProviders[0].name);
    assert.deepEqual(policy.spec.rules, [{}]);
    // The recipe's folder repeats the sidecar recipe's issuer: one object, whichever is applied last.
    const issuer = (dir: string) => readManifest(join(dir, 'jwtgate/issuer.yaml'), 'JWTIssuer');
    assert.deepEqual(await issuer(ISTIO_GATEWAY), await issuer(ISTIO));
  });
});

describe('every guide turns on the Envoy path settings the README requires', () => {
  // Without them Envoy routes and forwards the raw path, and a route with ext_authz off (or an
  // app that resolves what jwtgate refused to guess at) reads another path than jwtgate checked.
  test('plain Envoy: normalize_path, merge_slashes, path_with_escaped_slashes_action, status_on_error; bypasses by exact path only', async () => {
    const [bootstrap] = await readManifests(join(ROOT, 'examples/envoy/envoy.yaml'));
    const manager = bootstrap!.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
    assert.equal(manager.normalize_path, true);
    assert.equal(manager.merge_slashes, true);
    assert.ok(
      ['UNESCAPE_AND_REDIRECT', 'REJECT_REQUEST'].includes(manager.path_with_escaped_slashes_action),
      manager.path_with_escaped_slashes_action,
    );
    const extAuthz = manager.http_filters.find((f: Yaml) => f.name === 'envoy.filters.http.ext_authz').typed_config;
    assert.deepEqual(extAuthz.status_on_error, { code: 'ServiceUnavailable' });
    const bypasses = manager.route_config.virtual_hosts
      .flatMap((h: Yaml) => h.routes)
      .filter((r: Yaml) => r.typed_per_filter_config?.['envoy.filters.http.ext_authz']?.disabled === true);
    assert.ok(bypasses.length > 0);
    for (const route of bypasses)
      assert.deepEqual(Object.keys(route.match), ['path'], `a bypass by ${JSON.stringify(route.match)} can be entered with /x/%2e%2e;/`);
  });

  test('Istio: pathNormalization DECODE_AND_MERGE_SLASHES and statusOnError 503', async () => {
    const [values] = await readManifests(join(ISTIO, 'istiod-values.yaml'));
    assert.deepEqual(values!.meshConfig.pathNormalization, { normalization: 'DECODE_AND_MERGE_SLASHES' });
    assert.equal(values!.meshConfig.extensionProviders[0].envoyExtAuthzGrpc.statusOnError, '503');
  });

  test('Envoy Gateway: the ClientTrafficPolicy on the Gateway pins merged slashes and UnescapeAndRedirect; statusOnError 503', async () => {
    const clientPolicy = await readManifest(join(GATEWAY, 'gateway.yaml'), 'ClientTrafficPolicy');
    const gateway = await readManifest(join(GATEWAY, 'gateway.yaml'), 'Gateway');
    assert.deepEqual(clientPolicy.spec.path, { disableMergeSlashes: false, escapedSlashesAction: 'UnescapeAndRedirect' });
    assert.deepEqual(clientPolicy.spec.targetRefs, [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: gateway.metadata.name }]);
    assert.equal(clientPolicy.metadata.namespace, gateway.metadata.namespace);
    assert.equal((await readManifest(join(GATEWAY, 'security-policy.yaml'), 'SecurityPolicy')).spec.extAuth.statusOnError, 503);
  });
});

/** The guides' demo IdP key (examples/keys/demo-private.jwk.json), imported once. */
let demoKey: Promise<CryptoKey> | undefined;

/** A token from the guides' demo IdP with `scope`. */
async function demoToken(scope: string): Promise<string> {
  demoKey ??= readFile(join(ROOT, 'examples/keys/demo-private.jwk.json'), 'utf8').then(
    async (text) => (await importJWK(JSON.parse(text) as Record<string, unknown>, 'RS256')) as CryptoKey,
  );
  // Payload: { iss: https://idp.example.com, aud: orders-api, sub: alice, scope, iat, exp: +5 min }
  return new SignJWT({ scope })
    .setProtectedHeader({ alg: 'RS256', kid: 'ztvJ6Gsg-jdzomIg1M5KZCozk_p4Rkv1Dtgea2Yn0pQ' })
    .setIssuer('https://idp.example.com')
    .setAudience('orders-api')
    .setSubject('alice')
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(await demoKey);
}

/** Reads every manifest file of a guide's jwtgate folder, for `startStandalone`. */
async function readPolicyFiles(dir: string): Promise<Record<string, string>> {
  const names = (await readdir(dir)).filter((name) => name.endsWith('.yaml'));
  return Object.fromEntries(await Promise.all(names.map(async (name) => [name, await readFile(join(dir, name), 'utf8')] as const)));
}

/** `<allow|reason> by <policy id>`: the outcome and the deciding policy ("none" when no policy decided). */
function decision(response: DecodedCheckResponse): string {
  const verdict = response.http_response === 'ok_response' ? 'allow' : response.status.message;
  const policy = structToJson(response.dynamic_metadata ?? { fields: {} }).policy;
  return `${verdict} by ${typeof policy === 'string' ? policy : 'none'}`;
}

describe("the Istio sidecar guide's jwtgate policies decide as the guide says (real gRPC)", () => {
  let istio: StandaloneService;

  before(async () => {
    istio = await startStandalone(await readPolicyFiles(join(ISTIO, 'jwtgate')));
  });
  after(() => istio?.close());

  // As Istio's inbound sidecar of `orders` sends it over mTLS: the destination principal is the
  // workload's SPIFFE ID; the Host is whatever name the caller used.
  const sidecarRequest = (token: string | undefined, principal = 'spiffe://cluster.local/ns/shop/sa/orders'): HttpCheckInput => ({
    method: 'GET',
    host: 'orders.shop.svc.cluster.local:8080',
    path: '/api/orders',
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    destinationPrincipal: principal,
  });

  test('Istio: a valid token for a workload in shop is allowed, with x-user-id set', async () => {
    const response = await istio.client.check(httpCheckRequest(sidecarRequest(await demoToken('orders:read'))));
    assert.equal(response.http_response, 'ok_response', JSON.stringify(response));
    assert.equal(headerRecord(response.ok_response!.headers ?? [])['x-user-id'], 'alice');
  });

  test('Istio: no token is 401, a token without the scope is 403 insufficient_scope', async () => {
    const missing = denied(await istio.client.check(httpCheckRequest(sidecarRequest(undefined))));
    assert.equal(missing.status, 'Unauthorized');
    assert.equal(missing.body.reason, 'token_missing');
    const weak = denied(await istio.client.check(httpCheckRequest(sidecarRequest(await demoToken('orders:write')))));
    assert.equal(weak.status, 'Forbidden');
    assert.equal(weak.body.error, 'insufficient_scope');
  });

  test('Istio: the shop policy never decides for another namespace, nor without a principal', async () => {
    const token = await demoToken('orders:read');
    for (const principal of ['spiffe://cluster.local/ns/bank/sa/orders', '']) {
      const d = denied(await istio.client.check(httpCheckRequest(sidecarRequest(token, principal))));
      assert.equal(d.body.reason, 'no_policy', `principal ${JSON.stringify(principal)}`);
    }
  });
});

/** A gateway recipe: its files, its Gateway controller, and what its proxy tells jwtgate. */
interface GatewayRecipe {
  guide: string;
  dir: string;
  /** The `controllerName` the Gateway controller writes into the route's status. */
  controllerName: () => Promise<string>;
  /** The JWTPolicy of the recipe's jwtgate folder, by id. */
  policy: string;
  /** The context extensions the proxy sends with each Check: the recipe's, and what else the guide explains. */
  extensions: Record<string, Record<string, string>>;
}

const GATEWAY_RECIPES: GatewayRecipe[] = [
  {
    guide: 'Envoy Gateway',
    dir: GATEWAY,
    controllerName: async () => (await readManifest(join(GATEWAY, 'gateway.yaml'), 'GatewayClass')).spec.controllerName as string,
    policy: 'JWTPolicy/shop/orders',
    // The SecurityPolicy's context extension; and without it, should it ever be missing.
    extensions: { 'namespace: shop': { namespace: 'shop' }, 'no extension': {} },
  },
  {
    guide: 'Istio Gateway API',
    dir: ISTIO_GATEWAY,
    // istiod's Gateway controller (the GatewayClass `istio` it installs).
    controllerName: async () => 'istio.io/gateway-controller',
    policy: 'JWTPolicy/shop/orders-route',
    // Istio's CUSTOM action sends no context extensions, and a gateway has no SPIFFE ID for the backend.
    extensions: { 'no extension': {} },
  },
];

for (const recipe of GATEWAY_RECIPES) {
  describe(`the ${recipe.guide} guide's jwtgate policy decides as the guide says (real gRPC)`, { timeout: 60_000 }, () => {
    let gateway: StandaloneService;
    let controllerName: string;

    /**
     * What `jwtgate serve --policies` reads for this recipe: the guide's jwtgate/*.yaml, its
     * gateway.yaml, its httproute.yaml with the status the Gateway controller would write (no
     * controller runs here), and Namespace shop carrying the label the guide applies and the
     * Gateway's allowedRoutes selector asks for. Plus another tenant of the shared Gateway for its
     * own host: with policies in several namespaces no lone-namespace default grants shop its hosts
     * (README "Standalone"), so only the Gateway's acceptance of the route grants api.example.com
     * to shop, as on a cluster.
     */
    async function folder(accepted: boolean): Promise<Record<string, string>> {
      const gatewayYaml = await readManifest(join(recipe.dir, 'gateway.yaml'), 'Gateway');
      const labels = gatewayYaml.spec.listeners[0].allowedRoutes.namespaces.selector.matchLabels as Record<string, string>;
      return {
        ...(await readPolicyFiles(join(recipe.dir, 'jwtgate'))),
        'gateway.yaml': await readFile(join(recipe.dir, 'gateway.yaml'), 'utf8'),
        'httproute.yaml': await routeFile(accepted),
        'namespace.yaml': toYaml(namespace('shop', labels)),
        'another-tenant.yaml': jwtPolicy({
          name: 'site',
          namespace: 'bank',
          spec: { mode: 'Disabled', targets: [{ hosts: ['bank.example.com'] }] },
        }),
      };
    }
    async function routeFile(accepted: boolean): Promise<string> {
      const route = (await readManifest(join(recipe.dir, 'httproute.yaml'), 'HTTPRoute')) as HTTPRouteInput;
      return toYaml(judgeRoute(route, { accepted, controllerName }));
    }

    // As the gateway sends it: the route's host and path, the recipe's context extensions.
    const check = async (path: string, extensions: Record<string, string>, token?: string): Promise<DecodedCheckResponse> =>
      gateway.client.check(
        httpCheckRequest({
          method: 'GET',
          host: 'api.example.com',
          path,
          headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
          contextExtensions: extensions,
        }),
      );

    before(async () => {
      controllerName = await recipe.controllerName();
      gateway = await startStandalone(await folder(true));
    });
    after(() => gateway?.close());

    for (const [how, extensions] of Object.entries(recipe.extensions)) {
      test(`${recipe.guide} (${how}): the route requires a token with orders:read; a valid one is allowed with x-user-id`, async () => {
        const missing = await check('/api/orders', extensions);
        assert.equal(decision(missing), `token_missing by ${recipe.policy}`);
        assert.equal(denied(missing).status, 'Unauthorized');
        const weak = denied(await check('/api/orders', extensions, await demoToken('orders:write')));
        assert.deepEqual([weak.status, weak.body.error], ['Forbidden', 'insufficient_scope']);
        const ok = await check('/api/orders', extensions, await demoToken('orders:read'));
        assert.equal(decision(ok), `allow by ${recipe.policy}`);
        assert.equal(headerRecord(ok.ok_response!.headers ?? [])['x-user-id'], 'alice');
      });

      test(`${recipe.guide} (${how}): a path of api.example.com that the route does not match is no policy's: 403 no_policy`, async () => {
        const d = denied(await check('/admin', extensions, await demoToken('orders:read')));
        assert.deepEqual([d.status, d.body.reason], ['Forbidden', 'no_policy']);
      });
    }

    // Only for a recipe whose proxy sends the extension: Istio's CUSTOM action sends none.
    if (Object.values(recipe.extensions).some((e) => e.namespace !== undefined))
      test(`${recipe.guide}: a context extension naming another namespace finds no policy`, async () => {
        const d = denied(await check('/api/orders', { namespace: 'bank' }, await demoToken('orders:read')));
        assert.equal(d.body.reason, 'no_policy');
      });

    test(`${recipe.guide}: the route losing acceptance fails closed (reported as shop's: 503 policy_invalid; unreported: 403 host_not_granted), and is protected again once accepted`, async () => {
      const token = await demoToken('orders:read');
      await gateway.writeFile('httproute.yaml', await routeFile(false));
      let last = '';
      await waitFor('the route no longer accepted', async () => {
        last = decision(await check('/api/orders', { namespace: 'shop' }, token));
        return last === `policy_invalid by ${recipe.policy}`;
      }).catch((error: Error) => assert.fail(`${error.message}; last decision: ${last}`));
      assert.equal(denied(await check('/api/orders', { namespace: 'shop' }, token)).status, 'ServiceUnavailable');
      // The grant of api.example.com went with the acceptance: a request that reports no namespace is nobody's.
      assert.equal(decision(await check('/api/orders', {}, token)), 'host_not_granted by none');

      await gateway.writeFile('httproute.yaml', await routeFile(true));
      await waitFor(
        'the route accepted again',
        async () => decision(await check('/api/orders', {})) === `token_missing by ${recipe.policy}`,
      );
    });

    test(`${recipe.guide}: a route the Gateway never accepted: the policy is not enforced (TargetNotAccepted) and decides nothing`, async () => {
      const cold = await startStandalone(await folder(false));
      try {
        const report = await cold.svc.waitForLog((l) => l.reason === 'TargetNotAccepted');
        assert.match(
          String(report.msg),
          /HTTPRoute shop\/orders is not accepted by a Gateway: .* has not accepted it \(NotAllowedByListeners\)/,
        );
        const token = await demoToken('orders:read');
        for (const extensions of [{ namespace: 'shop' }, {}] as Record<string, string>[]) {
          const d = denied(
            await cold.client.check(
              httpCheckRequest({
                method: 'GET',
                host: 'api.example.com',
                path: '/api/orders',
                headers: { authorization: `Bearer ${token}` },
                contextExtensions: extensions,
              }),
            ),
          );
          assert.equal(d.body.reason, 'no_policy', JSON.stringify(extensions));
        }
      } finally {
        await cold.close();
      }
    });
  });
}
