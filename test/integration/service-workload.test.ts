// Sidecar mode end to end through the real CLI: `jwtgate serve --workload-labels` reads a
// downward API labels file, and a JWTPolicy with a workloadSelector decides that workload's
// requests; the same manifests served centrally (workload unknown) never apply the selector.
// `jwtgate check --workload-label` shows the same decision.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { httpCheckRequest, structToJson, type DecodedCheckResponse } from '../../cli/grpc-client.ts';
import { denied } from '../support/decisions.ts';
import { jwtIssuer, jwtPolicy, joinManifests } from '../../dev/fixtures/manifests.ts';
import { startStandalone, type StandaloneService } from '../../dev/standalone-service.ts';
import { generateTestKey, jwksOf, signToken, standardClaims, TEST_AUDIENCE, TEST_ISSUER, type TestKey } from '../../dev/fixtures/tokens.ts';

const HOST = 'orders.test';
const CLI = new URL('../../cli/jwtgate.ts', import.meta.url).pathname;

/**
 * In namespace shop: `orders` guards /orders for every workload (scope orders:read); `canary`
 * guards the same route for workloads labelled app=orders,track=canary (scope orders:admin);
 * `billing` opens /billing, but only on app=billing workloads.
 */
function manifests(key: TestKey): string {
  const route = (path: string) => [{ hosts: [HOST], paths: [{ prefix: path }] }];
  return joinManifests(
    jwtIssuer({
      name: 'idp',
      namespace: 'shop',
      spec: { issuer: TEST_ISSUER, audiences: [TEST_AUDIENCE], jwks: jwksOf(key), algorithms: ['RS256'] },
    }),
    jwtPolicy({
      name: 'orders',
      namespace: 'shop',
      spec: {
        targets: route('/orders'),
        issuers: { anyOf: [{ name: 'idp' }] },
        rules: [{ claim: 'scope', containsAll: ['orders:read'] }],
      },
    }),
    jwtPolicy({
      name: 'canary',
      namespace: 'shop',
      spec: {
        targets: route('/orders'),
        workloadSelector: { matchLabels: { app: 'orders', track: 'canary' } },
        issuers: { anyOf: [{ name: 'idp' }] },
        rules: [{ claim: 'scope', containsAll: ['orders:admin'] }],
      },
    }),
    jwtPolicy({
      name: 'billing',
      namespace: 'shop',
      spec: { mode: 'Disabled', targets: route('/billing'), workloadSelector: { matchLabels: { app: 'billing' } } },
    }),
  );
}

const policyOf = (response: DecodedCheckResponse): unknown => structToJson(response.dynamic_metadata!).policy;

describe('jwtgate serve --workload-labels (sidecar mode)', () => {
  let dir: string;
  let key: TestKey;
  let sidecar: StandaloneService;
  let central: StandaloneService;
  let readToken: string;
  let adminToken: string;
  const request = (path: string, token: string, contextExtensions?: Record<string, string>) =>
    httpCheckRequest({ method: 'GET', host: HOST, path, headers: { authorization: `Bearer ${token}` }, contextExtensions });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'jwtgate-workload-'));
    // What the kubelet writes for `metadata.labels`, sorted, values Go-quoted.
    await writeFile(join(dir, 'labels'), 'app="orders"\nnote="say \\"hi\\""\ntrack="canary"\n');
    key = await generateTestKey('RS256', 'k1');
    readToken = await signToken(key, standardClaims({ scope: 'orders:read' }));
    adminToken = await signToken(key, standardClaims({ scope: 'orders:read orders:admin' }));
    // The namespace from env POD_NAMESPACE, as the chart's downward API sets it.
    sidecar = await startStandalone({ 'all.yaml': manifests(key) }, { POD_NAMESPACE: 'shop' }, ['--workload-labels', join(dir, 'labels')]);
    central = await startStandalone({ 'all.yaml': manifests(key) }, { POD_NAMESPACE: 'shop' });
  });

  after(async () => {
    await sidecar?.close();
    await central?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("the selector policy decides this workload's route: orders:read alone is refused by canary", async () => {
    const response = await sidecar.client.check(request('/orders/1', readToken));
    assert.equal(denied(response).body.reason, 'rule_failed');
    assert.equal(policyOf(response), 'JWTPolicy/shop/canary');
    const allowed = await sidecar.client.check(request('/orders/1', adminToken));
    assert.equal(allowed.http_response, 'ok_response');
    assert.equal(policyOf(allowed), 'JWTPolicy/shop/canary');
  });

  test("without a namespace from the proxy, the workload's namespace is the destination; the same one is accepted", async () => {
    assert.equal((await sidecar.client.check(request('/orders/1', adminToken, { namespace: 'shop' }))).http_response, 'ok_response');
  });

  test('a proxy naming another namespace (context extension or SPIFFE principal) is refused as namespace_conflict', async () => {
    const byExtension = request('/orders/1', adminToken, { namespace: 'billing' });
    const byPrincipal = httpCheckRequest({
      method: 'GET',
      host: HOST,
      path: '/orders/1',
      headers: { authorization: `Bearer ${adminToken}` },
      destinationPrincipal: 'spiffe://cluster.local/ns/billing/sa/orders',
    });
    for (const checkRequest of [byExtension, byPrincipal]) {
      const denial = denied(await sidecar.client.check(checkRequest));
      assert.equal(denial.status, 'BadRequest');
      assert.equal(denial.body.reason, 'namespace_conflict');
    }
  });

  test('a selector that does not match this workload never applies', async () => {
    assert.equal(denied(await sidecar.client.check(request('/billing', readToken))).body.reason, 'no_policy');
  });

  test('central mode (no --workload-labels, even with POD_NAMESPACE set): selector policies are skipped', async () => {
    const response = await central.client.check(request('/orders/1', readToken, { namespace: 'shop' }));
    assert.equal(response.http_response, 'ok_response');
    assert.equal(policyOf(response), 'JWTPolicy/shop/orders');
    assert.equal(denied(await central.client.check(request('/billing', readToken, { namespace: 'shop' }))).body.reason, 'no_policy');
  });

  test('jwtgate check --workload-label decides as the sidecar does, and explains it', async () => {
    const run = (...args: string[]) => promisify(execFile)(process.execPath, [CLI, 'check', '--policies', sidecar.dir, ...args]);
    const url = `https://${HOST}/orders/1`;
    const { stdout } = await run(
      '--url',
      url,
      '--token',
      adminToken,
      '--namespace',
      'shop',
      '--workload-label',
      'app=orders',
      '--workload-label',
      'track=canary',
    );
    assert.match(stdout, /workload app=orders,track=canary/);
    assert.match(stdout, /policy JWTPolicy\/shop\/canary/);
    assert.match(stdout, /ALLOW \(allowed\)/);
    await assert.rejects(run('--url', url, '--token', readToken, '--workload-label', 'app=orders'), /--workload-label needs --namespace/);
  });

  test('a malformed labels file stops serve before it listens, naming the line', async () => {
    await writeFile(join(dir, 'bad-labels'), 'app="orders"\ntrack=canary\n');
    await assert.rejects(
      promisify(execFile)(
        process.execPath,
        [
          CLI,
          'serve',
          '--policies',
          dir,
          '--workload-labels',
          join(dir, 'bad-labels'),
          '--workload-namespace',
          'shop',
          '--grpc-port',
          '0',
          '--http-port',
          '0',
        ],
        { timeout: 20_000 },
      ),
      (error: { stderr?: string; killed?: boolean }) =>
        error.killed !== true && /labels file line 2 is not key="value"/.test(error.stderr ?? ''),
    );
  });
});
