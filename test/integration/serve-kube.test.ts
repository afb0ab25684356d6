// `jwtgate serve --kube` against a real kube-apiserver: the real CLI follows the snapshot
// published in ConfigMaps (plain, split into parts, with an HMAC Secret) and enforces each new
// version without a restart; a head that does not hash to its digest is refused while the
// previous snapshot keeps answering.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ANNOTATIONS, toPublishedForm, type PublishedForm } from '../../snapshot/published-form.ts';
import type { SnapshotPolicy } from '../../snapshot/types.ts';
import { createGrpcClient, httpCheckRequest, type DecodedCheckResponse, type GrpcClient } from '../../cli/grpc-client.ts';
import { startKubeCluster, type KubeCluster } from '../support/kube-cluster.ts';
import { apply, asConfigMap, buildSnapshot, publishSnapshot, SNAPSHOT_HOST } from '../support/kube-snapshot.ts';
import { startServeProcess, type ServeProcess } from '../../dev/serve-process.ts';
import { generateTestKey, issuerConfig, jwksOf, signToken, standardClaims, type TestKey } from '../../dev/fixtures/tokens.ts';
import { waitFor } from '../support/wait-for.ts';

const skip = process.env.JWTGATE_SKIP_KUBE === '1' ? 'JWTGATE_SKIP_KUBE=1 (no real kube-apiserver; see test/peers/install.sh)' : false;
const NAMESPACE = 'jwtgate-system';

/** `allow`, or the deny body's reason code. */
function outcome(response: DecodedCheckResponse): string {
  if (response.http_response === 'ok_response') return 'allow';
  assert.equal(response.http_response, 'denied_response', JSON.stringify(response));
  return String((JSON.parse(response.denied_response!.body ?? '{}') as { reason?: string }).reason);
}

describe('jwtgate serve --kube', { skip, timeout: 110_000 }, () => {
  let cluster: KubeCluster;
  let svc: ServeProcess;
  let client: GrpcClient;
  let rsa: TestKey;
  let hmac: TestKey;
  const rsaIssuer = () => issuerConfig({ keySource: { kind: 'static', jwks: jwksOf(rsa) } });
  const check = async (token: string) =>
    outcome(
      await client.check(
        httpCheckRequest({
          method: 'GET',
          host: SNAPSHOT_HOST,
          path: '/orders',
          headers: { authorization: `Bearer ${token}` },
        }),
      ),
    );
  /** Checks until `token` gets `expected` (the failure names the last outcome). */
  const waitForOutcome = (token: string, expected: string, timeoutMs = 20_000) =>
    waitFor(
      `outcome ${expected}`,
      async () => {
        const last = await check(token);
        if (last !== expected) throw new Error(`still ${last}`);
        return true;
      },
      timeoutMs,
      50,
    );
  const reloads = async (result: string): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${svc.httpPort}/metrics`)).text();
    return Number(new RegExp(`^jwtgate_snapshot_reloads_total\\{result="${result}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  };

  before(async () => {
    [rsa, hmac] = await Promise.all([generateTestKey('RS256', 'rsa-1'), generateTestKey('HS256', 'hmac-1')]);
    cluster = await startKubeCluster();
    assert.equal((await cluster.kubectl(['create', 'namespace', NAMESPACE])).code, 0);
    svc = await startServeProcess(['--kube', '--namespace', NAMESPACE, '--kubeconfig', cluster.kubeconfigPath]);
    client = createGrpcClient(`127.0.0.1:${svc.grpcPort}`);
  });
  after(async () => {
    client?.close();
    await svc?.stop();
    await cluster?.stop();
  });

  test('nothing published yet: not ready, fail closed', async () => {
    assert.equal(await check(await signToken(rsa, standardClaims())), 'not_ready');
  });

  test('a published snapshot is enforced (time printed), then a new version without a restart', async () => {
    const pid = svc.process.pid;
    const started = Date.now();
    await publishSnapshot(cluster, toPublishedForm(buildSnapshot({ generation: 1, issuer: rsaIssuer() }), { namespace: NAMESPACE }));
    await waitForOutcome(await signToken(rsa, standardClaims()), 'allow');
    console.log(`# publish → enforced: ${Date.now() - started} ms`);

    const adminOnly = buildSnapshot({
      generation: 2,
      issuer: rsaIssuer(),
      rules: [{ claim: ['scope'], op: 'containsAll', values: ['admin'] }],
    });
    await publishSnapshot(cluster, toPublishedForm(adminOnly, { namespace: NAMESPACE }));
    await waitForOutcome(await signToken(rsa, standardClaims()), 'rule_failed');
    assert.equal(await check(await signToken(rsa, standardClaims({ scope: 'admin' }))), 'allow');
    assert.equal(svc.process.pid, pid);
    assert.equal(svc.process.exitCode, null);
  });

  test('a head that does not hash to its digest is refused; the previous snapshot keeps answering', async () => {
    const refused = (pattern: RegExp) =>
      svc.waitForLog((l) => l.msg === 'snapshot refused; the previous one keeps serving' && pattern.test(String(l.err)));
    const invalidBefore = await reloads('invalid');
    const adminOnly = toPublishedForm(
      buildSnapshot({ generation: 3, issuer: rsaIssuer(), rules: [{ claim: ['scope'], op: 'containsAll', values: ['root'] }] }),
      { namespace: NAMESPACE },
    );
    // Hand-edited after publishing: the rule emptied (anyone passes), the digests left as they were.
    const edited = structuredClone(adminOnly.head);
    edited.data!['snapshot.json'] = edited.data!['snapshot.json']!.replace('"values":["root"]', '"values":[]');
    assert.notEqual(edited.data!['snapshot.json'], adminOnly.head.data!['snapshot.json']);
    await apply(cluster, [asConfigMap(edited)]);
    await refused(/content hashes to/);

    // A valid snapshot under a head that names another digest: also refused.
    const relabelled = toPublishedForm(buildSnapshot({ generation: 4, issuer: rsaIssuer() }), { namespace: NAMESPACE });
    relabelled.head.metadata.annotations![ANNOTATIONS.sha256] = 'f'.repeat(64);
    await apply(cluster, [asConfigMap(relabelled.head)]);
    await refused(/annotation jwtgate\.dev\/sha256 says f{64}/);

    assert.equal(await reloads('invalid'), invalidBefore + 2);
    assert.equal(await check(await signToken(rsa, standardClaims())), 'rule_failed');
    assert.equal(await check(await signToken(rsa, standardClaims({ scope: 'admin' }))), 'allow');
  });

  test('a snapshot split into part ConfigMaps is reassembled and enforced', async () => {
    // Random hosts defeat compression, as thousands of distinct routes would.
    const filler = (i: number): SnapshotPolicy => ({
      ...buildSnapshot({ generation: 0, issuer: rsaIssuer() }).policies[0]!,
      id: `ClusterJWTPolicy/filler-${i}`,
      targets: [
        {
          hosts: [`${randomBytes(24).toString('hex')}.filler.test`],
          paths: [{ kind: 'exact', value: `/${randomBytes(200).toString('hex')}` }],
          methods: [],
        },
      ],
    });
    const big = buildSnapshot({ generation: 5, issuer: rsaIssuer(), extraPolicies: Array.from({ length: 3000 }, (_, i) => filler(i)) });
    const published: PublishedForm = toPublishedForm(big, { namespace: NAMESPACE });
    assert.ok(published.parts.length >= 2, `expected a split, got ${published.parts.length} parts`);
    const started = Date.now();
    await publishSnapshot(cluster, published);
    await waitForOutcome(await signToken(rsa, standardClaims()), 'allow', 40_000);
    console.log(
      `# ${published.parts.length}-part snapshot (${JSON.stringify(big).length} bytes) publish → enforced: ${Date.now() - started} ms`,
    );
  });

  test("an HS256 issuer's secret travels in the Secret and verifies tokens", async () => {
    const hsIssuer = issuerConfig({ algorithms: ['HS256'], keySource: { kind: 'static', jwks: jwksOf(hmac) } });
    const published = toPublishedForm(buildSnapshot({ generation: 6, issuer: hsIssuer }), { namespace: NAMESPACE });
    assert.ok(published.secret, 'expected the HMAC keys in a Secret');
    assert.ok(!JSON.stringify(published.head).includes(String(hmac.jwk.k)));
    await publishSnapshot(cluster, published);
    await waitForOutcome(await signToken(hmac, standardClaims()), 'allow');
    assert.equal(await check(await signToken(rsa, standardClaims())), 'alg_not_allowed');
  });

  test('the head deleted by hand: the snapshot in force keeps serving', async () => {
    assert.equal((await cluster.kubectl(['delete', 'configmap', '-n', NAMESPACE, 'jwtgate-snapshot'])).code, 0);
    await svc.waitForLog((l) => l.msg === 'no published snapshot found; the snapshot in force (if any) keeps serving');
    assert.equal(await check(await signToken(hmac, standardClaims())), 'allow');
  });
});
