/**
 * `jwtgate operator`: the control plane process. Every replica keeps its informers warm; the
 * one holding the `coordination.k8s.io` Lease reconciles, publishes and writes status, each
 * write through the write fence (operator/write-fence.ts). Serves `/healthz`, `/readyz`
 * (informers synced) and `/metrics` on the HTTP port.
 *
 * Shutdown (SIGTERM/SIGINT), in this order, each step logged (issue 8, case 3: releasing the
 * Lease first let the old leader write for half a minute beside its successor):
 * 1. stop the queue: no new reconcile starts;
 * 2. give the reconcile in progress {@link SHUTDOWN_TIMINGS.drainMs} to finish, then close the
 *    fence: it stops at its next write (abandoned, not interrupted mid-request);
 * 3. wait until no write is in flight, so none lands after the Lease changes hands;
 * 4. release the Lease (empty holder, 1 s lease: client-go's ReleaseOnCancel), so a successor
 *    takes over at its next retry instead of waiting the lease out;
 * 5. stop the informers and the HTTP server, exit 0.
 * A hard deadline ({@link SHUTDOWN_TIMINGS.exitMs}) exits 1 whatever is left, without releasing:
 * the successor then waits for the lease to expire, which is slow but safe. Both are well inside
 * the pod's termination grace period (the chart sets 30 s, and its test holds it above `exitMs`).
 *
 * @example
 * ```sh
 * jwtgate operator --namespace jwtgate-system --kubeconfig ~/.kube/config
 * ```
 */
import { hostname } from 'node:os';
import { KubeConfig } from '@kubernetes/client-node';
import { createLogger } from '../common/log.ts';
import { startHttpServer } from '../authz/server/http-server.ts';
import { runLeaderElection } from '../operator/leader-election.ts';
import { createOperatorMetrics } from '../operator/operator-metrics.ts';
import { startOperator } from '../operator/start-operator.ts';
import { WriteFence } from '../operator/write-fence.ts';
import { snapshotSettings } from './standalone.ts';

export interface OperatorCommandOptions {
  /** Where the snapshot and the Lease live (default env POD_NAMESPACE, else jwtgate-system). */
  namespace?: string;
  kubeconfig?: string;
  /** Metrics and health port (default env JWTGATE_OPERATOR_HTTP_PORT, else 9003). */
  httpPort?: string;
  /** Address to listen on (default env JWTGATE_LISTEN_ADDRESS, else 0.0.0.0). */
  listenAddress?: string;
  /** What requests no policy matches get (default deny). */
  unmatched?: 'deny' | 'allow';
  /** What `;` path parameters mean (default reject: such requests are refused). */
  pathParameters?: 'reject' | 'ignore';
}

/**
 * Lease timings from the environment (client-go's defaults otherwise: 15 s lease, 10 s renew
 * deadline, 2 s retry); a shorter lease fails over faster at the cost of more apiserver writes.
 */
function leaseTimings(env: NodeJS.ProcessEnv): {
  leaseDurationSeconds?: number;
  renewDeadlineSeconds?: number;
  retryPeriodSeconds?: number;
} {
  const read = (name: string): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    const n = Number(raw);
    if (!(n > 0)) throw new TypeError(`${name} must be a positive number of seconds, got "${raw}"`);
    return n;
  };
  return {
    leaseDurationSeconds: read('JWTGATE_LEASE_DURATION_SECONDS'),
    renewDeadlineSeconds: read('JWTGATE_LEASE_RENEW_DEADLINE_SECONDS'),
    retryPeriodSeconds: read('JWTGATE_LEASE_RETRY_PERIOD_SECONDS'),
  };
}

/**
 * How long shutdown may take: the in-progress reconcile gets `drainMs` to finish before the
 * fence closes, and the process exits by `exitMs` whatever happens (grace period: 30 s).
 *
 * @example
 * ```ts
 * SHUTDOWN_TIMINGS.exitMs; // 10000
 * ```
 */
export const SHUTDOWN_TIMINGS = Object.freeze({ drainMs: 3_000, exitMs: 10_000 });

/** The Lease every replica campaigns for. */
export const LEASE_NAME = 'jwtgate-operator';

/**
 * Runs until SIGTERM/SIGINT, then releases the Lease (a successor takes over at once) and exits.
 *
 * @example
 * ```ts
 * await operatorCommand({ namespace: 'jwtgate-system' });
 * ```
 */
export async function operatorCommand(options: OperatorCommandOptions): Promise<void> {
  const log = createLogger().child({ component: 'operator' });
  const namespace = options.namespace ?? process.env.POD_NAMESPACE ?? 'jwtgate-system';
  const identity = process.env.POD_NAME ?? `${hostname()}-${process.pid}`;
  const port = Number(options.httpPort ?? process.env.JWTGATE_OPERATOR_HTTP_PORT ?? 9003);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError(`--http-port ${options.httpPort} is not a port`);
  const kubeConfig = new KubeConfig();
  if (options.kubeconfig !== undefined) kubeConfig.loadFromFile(options.kubeconfig);
  else kubeConfig.loadFromDefault();

  const settings = snapshotSettings(options);
  const metrics = createOperatorMetrics();
  const fence = new WriteFence({
    lease: { leadership: () => election.leadership() },
    onFenced: (kind, reason) => metrics.fencedWrites.inc({ kind, reason }),
  });
  const operator = startOperator({
    kubeConfig,
    namespace,
    identity,
    log,
    fence,
    metrics,
    ...(settings === undefined ? {} : { settings }),
  });
  let synced = false;
  void operator.synced.then(() => {
    synced = true;
  });
  const election = runLeaderElection({
    kubeConfig,
    namespace,
    name: LEASE_NAME,
    identity,
    log,
    ...leaseTimings(process.env),
    onStartedLeading: () => {
      operator.metrics.leader.set(1);
      log.info('leading: reconciling');
      operator.trigger();
    },
    onStoppedLeading: () => {
      operator.metrics.leader.set(0);
      log.info('no longer leading');
    },
  });
  const http = await startHttpServer({
    host: options.listenAddress ?? process.env.JWTGATE_LISTEN_ADDRESS ?? '0.0.0.0',
    port,
    registry: operator.metrics.registry,
    ready: () => ({ ready: synced, detail: { synced, leader: election.isLeader(), identity } }),
    log,
  });

  let shuttingDown = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (shuttingDown) return;
    shuttingDown = true;
    const started = performance.now();
    const ms = (): number => Math.round(performance.now() - started);
    setTimeout(() => {
      log.error({ ms: ms(), writesInFlight: fence.inFlight }, 'shutdown: deadline passed; exiting without releasing the lease');
      process.exit(1);
    }, SHUTDOWN_TIMINGS.exitMs).unref();
    log.info({ signal }, 'shutdown: stopping the work queue');
    const drained = operator.stopWork();
    const finished = await Promise.race([drained.then(() => true), delay(SHUTDOWN_TIMINGS.drainMs).then(() => false)]);
    fence.close();
    log.info(
      { ms: ms(), reconcileFinished: finished },
      finished
        ? 'shutdown: in-flight reconcile finished; writes fenced'
        : 'shutdown: in-flight reconcile abandoned at its next write; writes fenced',
    );
    await fence.idle();
    log.info({ ms: ms() }, 'shutdown: no write in flight; releasing the lease');
    await election.stop();
    log.info({ ms: ms() }, 'shutdown: lease released; stopping informers');
    // Nothing is left to protect (fence closed, Lease released): an abandoned reconcile still
    // awaiting a key fetch does not hold the exit up beyond a second.
    await Promise.race([Promise.all([operator.stop(), http.close()]), delay(1_000)]);
    log.info({ ms: ms() }, 'shutdown: done');
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
