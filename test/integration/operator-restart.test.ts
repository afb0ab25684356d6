// The `jwtgate operator` process killed (SIGKILL) mid-stream and restarted: it converges with
// nothing lost (changes made while it was down included) and the generation keeps increasing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { fromPublishedForm, SECRET_KEYS_NAME, SNAPSHOT_NAME } from '../../snapshot/published-form.ts';
import type { Snapshot } from '../../snapshot/types.ts';
import { startKubeCluster, type KubeCluster } from '../support/kube-cluster.ts';
import { waitFor as poll } from '../support/wait-for.ts';

const skip = process.env.JWTGATE_SKIP_KUBE === '1' ? 'JWTGATE_SKIP_KUBE=1' : false;
const NS = 'jwtgate-system';

describe('operator process killed and restarted', { skip, timeout: 180_000 }, () => {
  let cluster: KubeCluster;
  let core: CoreV1Api;
  const children = new Set<ChildProcess>();

  before(async () => {
    cluster = await startKubeCluster();
    for (const args of [
      ['apply', '-f', 'crds/'],
      ['wait', '--for', 'condition=established', '--timeout=60s', 'crd', '--all'],
      ['create', 'namespace', NS],
      ['create', 'namespace', 'demo'],
    ]) {
      assert.equal((await cluster.kubectl(args)).code, 0);
    }
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    core = kc.makeApiClient(CoreV1Api);
  });
  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await cluster?.stop();
  });

  function startOperatorProcess(name: string): ChildProcess {
    const script = `import('${process.cwd()}/cli/operator-command.ts').then((m) => m.operatorCommand({ namespace: '${NS}', kubeconfig: ${JSON.stringify(cluster.kubeconfigPath)}, httpPort: '0', listenAddress: '127.0.0.1' }))`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, POD_NAME: name, JWTGATE_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.add(child);
    child.once('exit', () => children.delete(child));
    return child;
  }

  async function readSnapshot(): Promise<Snapshot | undefined> {
    try {
      const cm = await core.readNamespacedConfigMap({ name: SNAPSHOT_NAME, namespace: NS });
      const secret = await core.readNamespacedSecret({ name: SECRET_KEYS_NAME, namespace: NS });
      return fromPublishedForm(
        {
          metadata: { name: SNAPSHOT_NAME, namespace: NS, annotations: cm.metadata?.annotations ?? {} },
          data: cm.data,
          binaryData: cm.binaryData,
        },
        [],
        { metadata: { name: SECRET_KEYS_NAME, namespace: NS, annotations: secret.metadata?.annotations ?? {} }, data: secret.data ?? {} },
      );
    } catch {
      return undefined;
    }
  }

  const waitFor = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000) => poll(what, probe, timeoutMs, 100);

  const policy = (i: number): string =>
    `apiVersion: jwtgate.dev/v1alpha1\nkind: JWTPolicy\nmetadata: { name: p${i}, namespace: demo }\nspec:\n  targets: [{ hosts: [p${i}.example.com] }]\n  issuers: { anyOf: [{ name: demo-idp }] }\n`;
  const ids = (s: Snapshot | undefined): string[] => (s?.policies ?? []).map((p) => p.id).sort();

  test('converges after SIGKILL; changes made while down are not lost; generation increases', async () => {
    const first = startOperatorProcess('op-1');
    const issuer = `${(await readFile('examples/policies-hmac/issuer.yaml', 'utf8')).replace(
      'name: demo-hmac\n  namespace',
      'name: demo-idp\n  namespace',
    )}---\n${await readFile('examples/policies-hmac/secret.yaml', 'utf8')}`;
    const applied = await cluster.kubectl(['apply', '-f', '-'], `${issuer}---\n${policy(0)}---\n${policy(1)}`);
    assert.equal(applied.code, 0, applied.stderr);
    const before = await waitFor('first publish', async () => {
      const s = await readSnapshot();
      return ids(s).length === 2 ? s : undefined;
    });

    for (let i = 2; i < 5; i++) assert.equal((await cluster.kubectl(['apply', '-f', '-'], policy(i))).code, 0);
    first.kill('SIGKILL');
    await once(first, 'exit');
    for (let i = 5; i < 8; i++) assert.equal((await cluster.kubectl(['apply', '-f', '-'], policy(i))).code, 0);
    assert.equal((await cluster.kubectl(['delete', 'jwtpolicy', '-n', 'demo', 'p0'])).code, 0);

    const restarted = Date.now();
    startOperatorProcess('op-2'); // waits for op-1's lease to expire (15 s), then takes over
    const expected = [1, 2, 3, 4, 5, 6, 7].map((i) => `JWTPolicy/demo/p${i}`).sort();
    const after = await waitFor('converged', async () => {
      const s = await readSnapshot();
      return JSON.stringify(ids(s)) === JSON.stringify(expected) ? s : undefined;
    });
    console.log(`restart → converged: ${Date.now() - restarted} ms (includes the lease expiry)`);
    assert.ok(after.generation > before.generation, `generation ${after.generation} > ${before.generation}`);
  });
});
