// Lease-based leader election on a real kube-apiserver: two candidates → exactly one leader; a
// leader that stops releases the lease and the other takes over at its next retry; a leader
// killed with SIGKILL (no release) is replaced within the lease duration. Failover times are
// printed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { CoordinationV1Api, KubeConfig } from '@kubernetes/client-node';
import { createLogger } from '../../common/log.ts';
import { runLeaderElection, type LeaderElection } from '../../operator/leader-election.ts';
import { startKubeCluster, type KubeCluster } from '../support/kube-cluster.ts';
import { spyOnLeaseReads } from '../support/lease-read-spy.ts';
import { waitFor as poll } from '../support/wait-for.ts';

const skip = process.env.JWTGATE_SKIP_KUBE === '1' ? 'JWTGATE_SKIP_KUBE=1 (no real kube-apiserver; see test/peers/install.sh)' : false;
const NAMESPACE = 'jwtgate-system';
const ELECTOR = new URL('../support/run-elector.ts', import.meta.url).pathname;
/** Short timings so the test is quick; same proportions as client-go's 15/10/2. */
const TIMINGS = { leaseDurationSeconds: 3, renewDeadlineSeconds: 2, retryPeriodSeconds: 0.5 };

const waitFor = <T>(what: string, probe: () => T | undefined, timeoutMs = 15_000) => poll(what, probe, timeoutMs, 20);

describe('leader election on a real kube-apiserver', { skip, timeout: 110_000 }, () => {
  let cluster: KubeCluster;
  let kubeConfig: KubeConfig;
  const readLease = (name: string) => kubeConfig.makeApiClient(CoordinationV1Api).readNamespacedLease({ name, namespace: NAMESPACE });

  before(async () => {
    cluster = await startKubeCluster();
    assert.equal((await cluster.kubectl(['create', 'namespace', NAMESPACE])).code, 0);
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(cluster.kubeconfigPath);
  });
  after(() => cluster?.stop());

  test('two candidates: exactly one leads; when it stops, the other takes over', async () => {
    const events: string[] = [];
    const rounds = { a: 0, b: 0 };
    const candidate = (identity: 'a' | 'b'): LeaderElection =>
      runLeaderElection({
        kubeConfig: spyOnLeaseReads(kubeConfig, () => rounds[identity]++),
        namespace: NAMESPACE,
        name: 'in-process',
        identity,
        log: createLogger('silent'),
        ...TIMINGS,
        onStartedLeading: () => events.push(`${identity} started`),
        onStoppedLeading: () => events.push(`${identity} stopped`),
      });
    const electors = { a: candidate('a'), b: candidate('b') };
    try {
      const leader = await waitFor('a leader', () => (['a', 'b'] as const).find((id) => electors[id].isLeader()));
      const follower = leader === 'a' ? 'b' : 'a';
      // Over several renewals by the leader and as many tries by the follower, which found the
      // Lease held each time: never two leaders, never a change of hands.
      const start = { ...rounds };
      const seen = new Set<string>();
      await waitFor('three more rounds by each candidate', () => {
        seen.add(JSON.stringify([electors[leader].isLeader(), electors[follower].isLeader()]));
        return rounds[leader] >= start[leader] + 3 && rounds[follower] >= start[follower] + 3;
      });
      assert.deepEqual([...seen], [JSON.stringify([true, false])], 'sampled every 20 ms meanwhile: the leader led, the follower did not');
      const lease = await readLease('in-process');
      assert.equal(lease.spec?.holderIdentity, leader);
      assert.equal(lease.spec?.leaseDurationSeconds, TIMINGS.leaseDurationSeconds);
      assert.equal(lease.spec?.leaseTransitions ?? 0, 0);
      assert.deepEqual(events, [`${leader} started`]);

      const stoppedAt = Date.now();
      await electors[leader].stop();
      assert.equal(electors[leader].isLeader(), false);
      await waitFor('the follower to lead', () => (electors[follower].isLeader() ? true : undefined));
      const failoverMs = Date.now() - stoppedAt;
      console.log(`# graceful failover (lease released): ${failoverMs} ms`);
      // The released lease is free at once: the follower's next jittered retry takes it.
      assert.ok(failoverMs < TIMINGS.retryPeriodSeconds * 1.2 * 1000 + 1000, `took ${failoverMs} ms`);
      assert.deepEqual(events, [`${leader} started`, `${leader} stopped`, `${follower} started`]);
      const taken = await readLease('in-process');
      assert.equal(taken.spec?.holderIdentity, follower);
      assert.equal(taken.spec?.leaseTransitions, 1);
    } finally {
      await Promise.all([electors.a.stop(), electors.b.stop()]);
    }
  });

  test('a leader killed with SIGKILL is replaced within the lease duration', async () => {
    const children: ChildProcess[] = [];
    const events: { event: string; identity: string; at: number }[] = [];
    const spawnElector = (identity: string) => {
      const child = spawn(process.execPath, [ELECTOR, cluster.kubeconfigPath, NAMESPACE, 'killed', identity, JSON.stringify(TIMINGS)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      createInterface({ input: child.stdout! }).on('line', (line) => events.push(JSON.parse(line) as (typeof events)[number]));
      children.push(child);
      return child;
    };
    const processes = { p1: spawnElector('p1'), p2: spawnElector('p2') };
    try {
      const first = await waitFor('a leader process', () => events.find((e) => e.event === 'started'));
      const survivor = first.identity === 'p1' ? 'p2' : 'p1';
      // The survivor tried twice more after the first took the Lease, and found it held.
      const triedBefore = events.filter((e) => e.event === 'round' && e.identity === survivor).length;
      await waitFor(
        'two more rounds by the other candidate',
        () => events.filter((e) => e.event === 'round' && e.identity === survivor).length >= triedBefore + 2,
      );
      assert.equal(events.filter((e) => e.event === 'started').length, 1, JSON.stringify(events));

      const killedAt = Date.now();
      processes[first.identity as 'p1' | 'p2'].kill('SIGKILL');
      const next = await waitFor(
        'the survivor to lead',
        () => events.find((e) => e.event === 'started' && e.identity === survivor),
        20_000,
      );
      const failoverMs = next.at - killedAt;
      console.log(
        `# failover after SIGKILL: ${failoverMs} ms (lease ${TIMINGS.leaseDurationSeconds} s, retry ${TIMINGS.retryPeriodSeconds} s)`,
      );
      // The survivor waits a full lease from the last renewal it observed (one retry period at most
      // before the kill), then takes over at its next jittered retry; 1 s of slack for a loaded CI machine.
      assert.ok(
        failoverMs <= (TIMINGS.leaseDurationSeconds + 2 * TIMINGS.retryPeriodSeconds * 1.2) * 1000 + 1_000,
        `took ${failoverMs} ms`,
      );
      assert.ok(failoverMs >= (TIMINGS.leaseDurationSeconds - TIMINGS.retryPeriodSeconds) * 1000, `took over too early: ${failoverMs} ms`);
      assert.equal((await readLease('killed')).spec?.holderIdentity, survivor);
    } finally {
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
