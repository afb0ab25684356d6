// Incumbency through the operator on a real kube-apiserver (issue 8): a newer, weaker policy on
// a guarded route is refused, both statuses and a Warning Event say so, and the route stays
// guarded across an operator restart and a leader hand-off under churn, because incumbency
// comes from the published snapshot, not from memory, names or creation order.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { denied } from '../support/decisions.ts';
import { createGrpcClient, httpCheckRequest, type DecodedCheckResponse, type GrpcClient } from '../../cli/grpc-client.ts';
import { startKubeCluster, type KubeCluster } from '../support/kube-cluster.ts';
import { jwtHostGrant, jwtIssuer, jwtPolicy, joinManifests, k8sSecret } from '../../dev/fixtures/manifests.ts';
import { startOperatorProcess, type OperatorProcess } from '../support/operator-process.ts';
import { startServeProcess, type ServeProcess } from '../../dev/serve-process.ts';
import { generateTestKey, TEST_AUDIENCE, type TestKey } from '../../dev/fixtures/tokens.ts';
import { waitFor } from '../support/wait-for.ts';

const skip = process.env.JWTGATE_SKIP_KUBE === '1' ? 'JWTGATE_SKIP_KUBE=1 (no real kube-apiserver; see test/peers/install.sh)' : false;
const NS = 'jwtgate-system';
const HOST = 'guarded.shop.test';
const LEASE_ENV = {
  JWTGATE_LEASE_DURATION_SECONDS: '4',
  JWTGATE_LEASE_RENEW_DEADLINE_SECONDS: '3',
  JWTGATE_LEASE_RETRY_PERIOD_SECONDS: '0.5',
};

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

function outcome(response: DecodedCheckResponse): string {
  return response.http_response === 'ok_response' ? 'allow' : response.status.message;
}

describe('incumbency through the operator on a real kube-apiserver', { skip, timeout: 150_000 }, () => {
  let cluster: KubeCluster;
  let key: TestKey;
  const operators: OperatorProcess[] = [];
  let serve: ServeProcess;
  let client: GrpcClient;

  const kubectl = (args: string[], input?: string) => cluster.kubectlOk(args, input);
  const startOperator = async (identity: string): Promise<OperatorProcess> => {
    const op = await startOperatorProcess({ kubeconfigPath: cluster.kubeconfigPath, namespace: NS, identity, env: LEASE_ENV });
    operators.push(op);
    return op;
  };
  const check = async (path: string): Promise<string> =>
    outcome(await client.check(httpCheckRequest({ method: 'GET', host: HOST, path, headers: {} })));
  const waitForOutcome = (path: string, expected: string): Promise<string> =>
    waitFor(`${path} → ${expected}`, async () => ((await check(path)) === expected ? expected : undefined), 30_000);
  const conditions = async (name: string): Promise<Condition[]> =>
    (JSON.parse(await kubectl(['get', 'jwtpolicy', '-n', 'shop', name, '-o', 'json'])) as { status?: { conditions?: Condition[] } }).status
      ?.conditions ?? [];
  const condition = async (name: string, type: string): Promise<Condition | undefined> =>
    (await conditions(name)).find((c) => c.type === type);
  const policy = (name: string, path: string, mode?: 'Disabled') =>
    jwtPolicy({
      name,
      namespace: 'shop',
      spec: {
        targets: [{ hosts: [HOST], paths: [{ prefix: path }] }],
        ...(mode === undefined ? { issuers: { anyOf: [{ name: 'idp' }] } } : { mode }),
      },
    });

  before(async () => {
    key = await generateTestKey('HS256', 'k');
    cluster = await startKubeCluster();
    await kubectl(['apply', '-f', 'crds/']);
    await kubectl(['wait', '--for', 'condition=established', '--timeout=60s', 'crd', '--all']);
    for (const ns of [NS, 'shop']) await kubectl(['create', 'namespace', ns]);
    const first = await startOperator('op-1');
    await first.waitForLog((l) => l.msg === 'started leading');
    await startOperator('op-2');
    serve = await startServeProcess(['--kube', '--namespace', NS, '--kubeconfig', cluster.kubeconfigPath]);
    client = createGrpcClient(`127.0.0.1:${serve.grpcPort}`);
    await kubectl(
      ['apply', '-f', '-'],
      joinManifests(
        k8sSecret({ name: 'idp-secret', namespace: 'shop', data: { secret: Buffer.from(String(key.jwk.k), 'base64url') } }),
        jwtIssuer({
          name: 'idp',
          namespace: 'shop',
          spec: {
            issuer: 'https://idp.shop.test',
            audiences: [TEST_AUDIENCE],
            algorithms: ['HS256'],
            secretRef: { name: 'idp-secret', key: 'secret', format: 'HMAC' },
          },
        }),
        // The checks come as a shared gateway's, with no namespace: the host is granted to shop (issue 10).
        jwtHostGrant('shop-hosts', { hostnames: [HOST], namespaces: ['shop'] }),
        policy('zzz-admin', '/admin'),
      ),
    );
    await waitForOutcome('/admin', 'token_missing');
  });
  after(async () => {
    client?.close();
    await serve?.stop();
    await Promise.all(operators.map((op) => op.stop('SIGKILL')));
    await cluster?.stop();
  });

  test('a newer Disabled policy on the guarded route is refused, whatever its name; both statuses and a Warning Event say so', async () => {
    await kubectl(['apply', '-f', '-'], policy('aaa-open', '/admin', 'Disabled'));
    const accepted = await waitFor(
      'aaa-open refused',
      async () => {
        const c = await condition('aaa-open', 'Accepted');
        return c?.status === 'False' ? c : undefined;
      },
      30_000,
    );
    assert.equal(accepted.reason, 'RouteConflict');
    assert.match(accepted.message, /path=prefix \/admin .*is held by JWTPolicy\/shop\/zzz-admin/);
    assert.equal((await condition('aaa-open', 'Ready'))?.status, 'False');
    const holder = await waitFor(
      'zzz-admin told',
      async () => {
        const c = await condition('zzz-admin', 'Conflicted');
        return c?.status === 'True' ? c : undefined;
      },
      30_000,
    );
    assert.match(holder.message, /JWTPolicy\/shop\/aaa-open also claims .*this policy keeps it/);
    assert.deepEqual(
      [(await condition('zzz-admin', 'Ready'))?.status, (await condition('zzz-admin', 'Accepted'))?.status],
      ['True', 'True'],
    );
    // A Warning Event on each: the refused newcomer (Accepted=False) and the holder (Conflicted=True).
    // (Events follow the status write they report: wait for them.)
    for (const name of ['aaa-open', 'zzz-admin']) {
      await waitFor(
        `a Warning RouteConflict Event on ${name}`,
        async () => {
          const events = JSON.parse(
            await kubectl(['get', 'events', '-n', 'shop', '--field-selector', `involvedObject.name=${name}`, '-o', 'json']),
          ) as { items: { type: string; reason: string }[] };
          return events.items.some((e) => e.type === 'Warning' && e.reason === 'RouteConflict') ? true : undefined;
        },
        15_000,
      );
    }

    // The operator published after refusing: the route is still decided by the holder.
    const denial = denied(await client.check(httpCheckRequest({ method: 'GET', host: HOST, path: '/admin/users', headers: {} })));
    assert.deepEqual([denial.status, denial.body.reason], ['Unauthorized', 'token_missing']);
  });

  test('incumbency survives a leader hand-off and a restart under churn: the route is never opened, never contested', async () => {
    const leader = operators[0] as OperatorProcess;
    await leader.stop('SIGKILL');
    // Churn while the standby takes over: each change is a reconcile of the whole set.
    for (let i = 0; i < 5; i++) await kubectl(['apply', '-f', '-'], policy(`churn-${i}`, `/churn-${i}`));
    await waitForOutcome('/churn-4', 'token_missing');
    assert.equal(await check('/admin'), 'token_missing');

    // A fresh process, with no memory of the past, leads next: it reads incumbency from the published snapshot.
    const fresh = await startOperator('op-3');
    await (operators[1] as OperatorProcess).stop('SIGKILL');
    await fresh.waitForLog((l) => l.msg === 'started leading');
    await kubectl(['apply', '-f', '-'], policy('churn-after', '/after'));
    await waitForOutcome('/after', 'token_missing');
    assert.equal(await check('/admin'), 'token_missing');
    assert.equal((await condition('aaa-open', 'Accepted'))?.reason, 'RouteConflict');

    // Deleting the holder is what releases the route, to the policy that asked for it.
    await kubectl(['delete', 'jwtpolicy', '-n', 'shop', 'zzz-admin']);
    await waitForOutcome('/admin', 'allow');
  });
});
