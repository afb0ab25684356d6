// The CRDs in crds/ against a real kube-apiserver: they install, accept the examples, and their
// schema and CEL rules refuse invalid manifests at apply time, naming the field.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startKubeCluster, type KubeCluster } from '../support/kube-cluster.ts';
import { waitFor } from '../support/wait-for.ts';

const CRDS_DIR = fileURLToPath(new URL('../../crds/', import.meta.url));
const EXAMPLES_DIR = fileURLToPath(new URL('../../examples/policies/', import.meta.url));
const CRD_NAMES = ['jwtissuers.jwtgate.dev', 'jwtpolicies.jwtgate.dev', 'clusterjwtpolicies.jwtgate.dev'];

// Skipping is opt-in only: without the env var, missing peer binaries fail the run.
const skip = process.env.JWTGATE_SKIP_KUBE === '1' ? 'JWTGATE_SKIP_KUBE=1 (no real kube-apiserver; see test/peers/install.sh)' : false;

/** Server-side applies `manifest` and asserts the apiserver refused it with `expected` in stderr. */
async function assertRefused(cluster: KubeCluster, manifest: string, expected: RegExp): Promise<void> {
  const result = await cluster.kubectl(['apply', '--server-side', '-f', '-'], manifest);
  assert.notEqual(result.code, 0, `expected a refusal, kubectl said: ${result.stdout}`);
  assert.match(result.stderr, expected);
}

describe('CRDs on a real kube-apiserver', { skip, timeout: 120_000 }, () => {
  let cluster: KubeCluster;

  before(async () => {
    cluster = await startKubeCluster();
  });
  after(() => cluster?.stop());

  test('apply and become Established', async () => {
    await cluster.kubectlOk(['apply', '-f', CRDS_DIR]);
    const names = CRD_NAMES.map((name) => `crd/${name}`);
    await cluster.kubectlOk(['wait', '--for=condition=Established', '--timeout=30s', ...names]);
  });

  test('the example policies are accepted by server-side apply', async () => {
    await cluster.kubectlOk(['create', 'namespace', 'demo']);
    await cluster.kubectlOk(['apply', '--server-side', '-f', EXAMPLES_DIR]);
    const listed = await cluster.kubectlOk(['get', 'jwtissuers,jwtpolicies', '-n', 'demo', '-o', 'name']);
    assert.deepEqual(listed.trim().split('\n').sort(), [
      'jwtissuer.jwtgate.dev/demo-idp',
      'jwtpolicy.jwtgate.dev/catalog',
      'jwtpolicy.jwtgate.dev/healthz',
      'jwtpolicy.jwtgate.dev/orders-api',
    ]);
  });

  test('kubectl explain reads the field descriptions; short names, the category and printer columns work', async () => {
    // The apiserver publishes a new CRD's OpenAPI a moment after Established: ask until it has.
    const explained = await waitFor(
      'the CRD OpenAPI in kubectl explain',
      async () => {
        const { stdout } = await cluster.kubectl(['explain', 'jwtpolicy.spec.rules']);
        return stdout.includes('FIELD: rules') ? stdout : undefined;
      },
      10_000,
      200,
    );
    assert.match(explained, /FIELD: rules <\[\]Object>/);
    assert.match(explained, /Claim checks; all must pass/);
    assert.match(explained, /containsAll\s+<\[\]string>/);
    assert.match(await cluster.kubectlOk(['explain', 'jwtissuer.spec.secretRef.format']), /JWKS|PEM|HMAC/);
    // The example issuer's JWK `n` survived kubectl's YAML 1.1 reading (it is quoted).
    assert.match(await cluster.kubectlOk(['get', 'jwti', 'demo-idp', '-n', 'demo', '-o', 'jsonpath={.spec.jwks.keys[0].n}']), /^oN0m0uV8/);
    const table = await cluster.kubectlOk(['get', 'jwtgate', '-n', 'demo']);
    assert.match(table, /jwtpolicy\.jwtgate\.dev\/orders-api/);
    assert.match(table.split('\n').find((l) => l.startsWith('NAME') && l.includes('MODE')) ?? '', /READY.*AGE/);
    assert.match(await cluster.kubectlOk(['get', 'jwtp', '-n', 'demo', '-o', 'name']), /jwtpolicy\.jwtgate\.dev\/catalog/);
  });

  test('a JWTIssuer with two key sources is refused, naming spec', async () => {
    await assertRefused(
      cluster,
      `
apiVersion: jwtgate.dev/v1alpha1
kind: JWTIssuer
metadata: { name: two-sources, namespace: demo }
spec:
  issuer: https://idp.example.com
  algorithms: [RS256]
  jwksUri: https://idp.example.com/jwks
  discovery: {}
`,
      /spec: Invalid value: exactly one key source must be set/,
    );
  });

  test('secretRef.keyId: explained, accepted with format HMAC, refused with JWKS naming spec.secretRef', async () => {
    assert.match(await cluster.kubectlOk(['explain', 'jwtissuer.spec.secretRef.keyId']), /Format HMAC only: the key id/);
    const issuer = (name: string, format: string) => `
apiVersion: jwtgate.dev/v1alpha1
kind: JWTIssuer
metadata: { name: ${name}, namespace: demo }
spec:
  issuer: https://idp.example.com
  audiences: [api]
  algorithms: [${format === 'HMAC' ? 'HS256' : 'RS256'}]
  secretRef: { name: keys, key: k, format: ${format}, keyId: k-2026 }
`;
    await cluster.kubectlOk(['apply', '--server-side', '-f', '-'], issuer('hmac-with-kid', 'HMAC'));
    await assertRefused(cluster, issuer('jwks-with-kid', 'JWKS'), /spec\.secretRef: Invalid value: .*keyId is only for format HMAC/);
  });

  test('a rule with two operators is refused, naming spec.rules[0]', async () => {
    // Either a CEL rule or a `oneOf` of `required` can enforce this; both name spec.rules[0].
    await assertRefused(
      cluster,
      `
apiVersion: jwtgate.dev/v1alpha1
kind: JWTPolicy
metadata: { name: two-operators, namespace: demo }
spec:
  targets: [{ hosts: [api.example.com] }]
  issuers: { anyOf: [{ name: demo-idp }] }
  rules:
    - claim: sub
      equals: alice
      regex: '^a'
`,
      /spec\.rules\[0\]\W.*(exactly one operator must be set|must validate one and only one schema \(oneOf\))/,
    );
  });

  test('an algorithm outside the enum is refused by the schema, naming the field', async () => {
    await assertRefused(
      cluster,
      `
apiVersion: jwtgate.dev/v1alpha1
kind: JWTIssuer
metadata: { name: bad-alg, namespace: demo }
spec:
  issuer: https://idp.example.com
  algorithms: [none]
  jwksUri: https://idp.example.com/jwks
`,
      /spec\.algorithms\[0\]: Unsupported value: "none"/,
    );
  });
});
