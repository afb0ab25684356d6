// One writer (issue 8, case 3) on a real kube-apiserver with an audit log:
// 1. Two `jwtgate operator` processes, each as its own apiserver user, under policy churn whose
//    reconciles await slow key fetches. SIGTERM the leader: the audit log shows no write by the
//    old leader's user after the new leader's Lease acquisition, and the old process exits well
//    inside the termination grace period.
// 2. A stale writer: its head write, conditional on the head it read, fails with a conflict
//    after a newer head was written, and the newer head's parts and Secret survive; once its
//    elector sees the Lease stolen (written directly), the fence refuses its writes outright.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CoordinationV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { createLogger } from '../../common/log.ts';
import { SECRET_KEYS_NAME, SNAPSHOT_NAME, toPublishedForm } from '../../snapshot/published-form.ts';
import { SHUTDOWN_TIMINGS } from '../../cli/operator-command.ts';
import { apiStatus, createKubeClients } from '../../operator/kube-clients.ts';
import { runLeaderElection } from '../../operator/leader-election.ts';
import { PublishConflictError, publishSnapshot, readPublishedHead } from '../../operator/publish-snapshot.ts';
import { WriteFence, WriteFencedError } from '../../operator/write-fence.ts';
import { startKubeCluster, type AuditEvent, type KubeCluster } from '../support/kube-cluster.ts';
import { buildSplitSnapshot } from '../support/kube-snapshot.ts';
import { joinManifests, jwtIssuer, jwtPolicy } from '../../dev/fixtures/manifests.ts';
import { startOperatorProcess, type OperatorProcess } from '../support/operator-process.ts';
import { generateTestKey, issuerConfig, jwksOf, TEST_AUDIENCE, TEST_ISSUER } from '../../dev/fixtures/tokens.ts';
import { waitFor } from '../support/wait-for.ts';

const skip = process.env.JWTGATE_SKIP_KUBE === '1' ? 'JWTGATE_SKIP_KUBE=1 (no real kube-apiserver; see test/peers/install.sh)' : false;
const NS = 'jwtgate-system';
const LEASE_ENV = {
  JWTGATE_LEASE_DURATION_SECONDS: '4',
  JWTGATE_LEASE_RENEW_DEADLINE_SECONDS: '3',
  JWTGATE_LEASE_RETRY_PERIOD_SECONDS: '0.5',
};
/** Kubernetes' default terminationGracePeriodSeconds, which the chart keeps. */
const GRACE_PERIOD_MS = 30_000;
/** How long the fixture IdP takes to answer: every reconcile that meets a new issuer awaits it between writes. */
const KEY_FETCH_DELAY_MS = 700;
const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

describe('one writer on a real kube-apiserver', { skip, timeout: 170_000 }, () => {
  let cluster: KubeCluster;
  let idp: Server;
  let jwksUrl: string;
  const operators: OperatorProcess[] = [];

  before(async () => {
    cluster = await startKubeCluster({ users: ['op-1', 'op-2'], audit: true });
    await cluster.kubectlOk(['apply', '-f', 'crds/']);
    await cluster.kubectlOk(['wait', '--for', 'condition=established', '--timeout=60s', 'crd', '--all']);
    await cluster.kubectlOk(['create', 'namespace', NS]);
    await cluster.kubectlOk(['create', 'namespace', 'shop']);
    const body = JSON.stringify(jwksOf(await generateTestKey('RS256')));
    idp = createServer((_req, res) => {
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(body), KEY_FETCH_DELAY_MS);
    });
    idp.listen(0, '127.0.0.1');
    await new Promise((resolve) => idp.once('listening', resolve));
    jwksUrl = `http://127.0.0.1:${(idp.address() as AddressInfo).port}/jwks`;
  });
  after(async () => {
    await Promise.all(operators.map((op) => op.stop('SIGKILL')));
    idp?.closeAllConnections();
    await new Promise((resolve) => (idp ? idp.close(resolve) : resolve(undefined)));
    await cluster?.stop();
  });

  const startOperator = async (user: 'op-1' | 'op-2'): Promise<OperatorProcess> => {
    const op = await startOperatorProcess({ kubeconfigPath: cluster.kubeconfigFor(user), namespace: NS, identity: user, env: LEASE_ENV });
    operators.push(op);
    return op;
  };

  /** A new issuer (due for a slow key fetch) and a policy using it, applied as admin. */
  const applyPolicy = (i: number) =>
    cluster.kubectlOk(
      ['apply', '-f', '-'],
      joinManifests(
        jwtIssuer({
          name: `idp-${i}`,
          namespace: 'shop',
          spec: { issuer: `${TEST_ISSUER}/${i}`, audiences: [TEST_AUDIENCE], algorithms: ['RS256'], jwksUri: `${jwksUrl}?i=${i}` },
        }),
        jwtPolicy({
          name: `p-${i}`,
          namespace: 'shop',
          spec: { targets: [{ hosts: [`h${i}.example.test`] }], issuers: { anyOf: [{ name: `idp-${i}` }] } },
        }),
      ),
    );

  test('SIGTERM the leader under churn: no write by its user after the new leader acquires the Lease; it exits well inside the grace period', async () => {
    const first = await startOperator('op-1');
    await first.waitForLog((l) => l.msg === 'started leading');
    const second = await startOperator('op-2');
    await second.waitForLog((l) => l.msg === 'informers synced');

    let churning = true;
    let applied = 0;
    const churn = (async () => {
      while (churning) await applyPolicy(++applied);
    })();
    try {
      await first.waitForLog((l) => l.msg === 'snapshot updated' && Number(l.generation) >= 3, 30_000);
      // Churn keeps reconciles running back to back, each awaiting a key fetch between its writes:
      // the SIGTERM lands in one (the case that kept writing for 30 s).
      const signalledAt = performance.now();
      const code = await first.stop('SIGTERM');
      const exitMs = Math.round(performance.now() - signalledAt);
      console.log(
        `# old leader exited ${exitMs} ms after SIGTERM (code ${code}); shutdown: ${first.logs
          .filter((l) => String(l.msg).startsWith('shutdown'))
          .map((l) => `${String(l.msg)} @${String(l.ms ?? 0)}ms`)
          .join(' → ')}`,
      );
      assert.equal(code, 0);
      assert.ok(exitMs < SHUTDOWN_TIMINGS.exitMs && SHUTDOWN_TIMINGS.exitMs < GRACE_PERIOD_MS / 2, `exit took ${exitMs} ms`);
      await second.waitForLog((l) => l.msg === 'started leading', 10_000);
      const published = second.logs.length;
      await waitFor(
        'the new leader to publish under churn',
        () => second.logs.slice(published).some((l) => String(l.msg).startsWith('snapshot ')) || undefined,
        30_000,
      );
    } finally {
      churning = false;
      await churn;
    }

    const audit = await cluster.readAuditLog();
    const acquired = audit.find(
      (e) =>
        e.user.username === 'op-2' &&
        e.objectRef?.resource === 'leases' &&
        e.objectRef.name === 'jwtgate-operator' &&
        WRITE_VERBS.has(e.verb) &&
        (e.responseStatus?.code ?? 0) < 300,
    );
    assert.ok(acquired, "the audit log has the new leader's Lease acquisition");
    const writesBy = (user: string) =>
      audit.filter((e) => e.user.username === user && WRITE_VERBS.has(e.verb) && e.objectRef?.resource !== 'leases');
    const show = (e: AuditEvent) =>
      `${e.verb} ${e.objectRef?.resource}${e.objectRef?.subresource === undefined ? '' : `/${e.objectRef.subresource}`} ${e.objectRef?.namespace ?? ''}/${e.objectRef?.name ?? ''} → ${e.responseStatus?.code} at ${e.stageTimestamp}`;
    const old = writesBy('op-1');
    const kinds = new Set(old.map((e) => e.objectRef?.resource));
    assert.ok(
      kinds.has('configmaps') && kinds.has('jwtpolicies') && kinds.has('events'),
      `the old leader wrote snapshots, statuses and Events before: ${[...kinds].join(', ')}`,
    );
    // Microsecond RFC 3339 in UTC: string order is time order. Completed before the acquisition was even received.
    const late = old.filter((e) => e.stageTimestamp >= acquired.requestReceivedTimestamp);
    console.log(
      `# ${old.length} writes by the old leader, the last completed at ${old.at(-1)?.stageTimestamp}; the new leader acquired at ${acquired.requestReceivedTimestamp}; ${applied} churn steps`,
    );
    assert.deepEqual(late.map(show), [], 'writes by the old leader after the new one acquired the Lease');
    assert.ok(
      writesBy('op-2').some(
        (e) => e.objectRef?.resource === 'configmaps' && e.requestReceivedTimestamp > acquired.requestReceivedTimestamp,
      ),
      'the new leader published after acquiring',
    );
    await second.stop('SIGTERM');
  });

  test('a stale writer fails its head write with a conflict and deletes nothing the newer head references; once it sees the Lease stolen, it writes nothing', async () => {
    const namespace = 'stale-writer';
    await cluster.kubectlOk(['create', 'namespace', namespace]);
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(cluster.kubeconfigPath);
    const clients = createKubeClients(kubeConfig);
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const issuer = issuerConfig({
      algorithms: ['HS256'],
      keySource: { kind: 'static', jwks: { keys: [{ kty: 'oct', kid: 'h', k: Buffer.alloc(32, 3).toString('base64url') }] } },
    });
    const names = async () =>
      (await core.listNamespacedConfigMap({ namespace })).items
        .map((cm) => cm.metadata!.name!)
        .filter((n) => n.startsWith(SNAPSHOT_NAME))
        .sort();

    // The stale writer leads through a real elector on its own Lease.
    const election = runLeaderElection({
      kubeConfig,
      namespace,
      name: 'stale',
      identity: 'stale',
      log: createLogger('silent'),
      leaseDurationSeconds: 15,
      renewDeadlineSeconds: 10,
      retryPeriodSeconds: 0.5,
      onStartedLeading() {},
      onStoppedLeading() {},
    });
    const fence = new WriteFence({ lease: election });
    try {
      await waitFor('the stale writer to lead', () => fence.session().allowed(), 15_000, 20);
      const writes = fence.session();
      const v1 = buildSplitSnapshot({ generation: 1, issuer });
      await publishSnapshot(clients, v1, { namespace, writes, over: undefined, writer: 'stale' });
      const readByStale = await readPublishedHead(clients, namespace);
      assert.ok(readByStale?.intact);

      // A newer leader writes generation 2 over the same head (its own, always-open fence).
      const newer = buildSplitSnapshot({ generation: 2, issuer });
      const newerFence = new WriteFence({ lease: { leadership: () => ({ term: 1, untilMs: Infinity }) } });
      await publishSnapshot(clients, newer, { namespace, writes: newerFence.session(), over: readByStale, writer: 'newer' });
      const newerSecret = await core.readNamespacedSecret({ name: SECRET_KEYS_NAME, namespace });

      // The stale writer still leads by its own clock; its head write, conditional on what it read, is refused.
      assert.equal(writes.allowed(), true);
      const stale = buildSplitSnapshot({ generation: 2, issuer });
      await assert.rejects(
        publishSnapshot(clients, stale, { namespace, writes, over: readByStale, writer: 'stale' }),
        PublishConflictError,
      );
      const head = await readPublishedHead(clients, namespace);
      assert.equal(head?.sha256, newer.sha256);
      assert.equal(head?.intact, true, 'the newer head, its parts and its Secret are all there');
      assert.equal(
        (await core.readNamespacedSecret({ name: SECRET_KEYS_NAME, namespace })).metadata?.resourceVersion,
        newerSecret.metadata?.resourceVersion,
      );
      const partsOf = (s: typeof newer) => toPublishedForm(s, { namespace }).parts.map((p) => p.metadata.name);
      const present = await names();
      for (const part of partsOf(newer)) assert.ok(present.includes(part), `${part} survives`);

      // Steal its Lease by writing it directly: at its next renewal the fence closes.
      // Read-modify-write, again on a 409: the elector may renew between our read and our write.
      const leases = kubeConfig.makeApiClient(CoordinationV1Api);
      await waitFor(
        'the Lease stolen',
        async () => {
          const lease = await leases.readNamespacedLease({ name: 'stale', namespace });
          try {
            await leases.replaceNamespacedLease({
              name: 'stale',
              namespace,
              body: { ...lease, spec: { ...lease.spec, holderIdentity: 'thief' } },
            });
            return true;
          } catch (error) {
            if (apiStatus(error) === 409) return undefined;
            throw error;
          }
        },
        5_000,
        20,
      );
      await waitFor("the stale writer's fence to close", () => !writes.allowed() || undefined, 5_000, 20);
      const before = await names();
      await assert.rejects(
        publishSnapshot(clients, buildSplitSnapshot({ generation: 3, issuer }), {
          namespace,
          writes: fence.session(),
          over: head,
          writer: 'stale',
        }),
        (e) => e instanceof WriteFencedError && e.reason === 'not-leading',
      );
      assert.deepEqual(await names(), before, 'not even a part was created');
      assert.equal((await readPublishedHead(clients, namespace))?.sha256, newer.sha256);
    } finally {
      await election.stop();
    }
  });
});
