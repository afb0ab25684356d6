/**
 * `jwtgate operator`: the control plane process. Every replica keeps its informers warm; the
 * one holding the `coordination.k8s.io` Lease reconciles, publishes and writes status. Serves
 * `/healthz`, `/readyz` (informers synced) and `/metrics` on the HTTP port.
 *
 * @example
 * ```sh
 * jwtgate operator --namespace jwtgate-system --kubeconfig ~/.kube/config
 * ```
 */
import { hostname } from 'node:os';
import { KubeConfig } from '@kubernetes/client-node';
import { createLogger } from '../authz/log.ts';
import { startHttpServer } from '../authz/server/http-server.ts';
import { runLeaderElection } from '../operator/leader-election.ts';
import { startOperator } from '../operator/start-operator.ts';
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
function leaseTimings(env: NodeJS.ProcessEnv): { leaseDurationSeconds?: number; renewDeadlineSeconds?: number; retryPeriodSeconds?: number } {
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
  let leading = false;
  const operator = startOperator({
    kubeConfig, namespace, identity, log, isLeader: () => leading && election.isLeader(),
    ...(settings === undefined ? {} : { settings }),
  });
  let synced = false;
  void operator.synced.then(() => { synced = true; });
  const election = runLeaderElection({
    kubeConfig, namespace, name: LEASE_NAME, identity, log,
    ...leaseTimings(process.env),
    onStartedLeading: () => {
      leading = true;
      operator.metrics.leader.set(1);
      log.info('leading: reconciling');
      operator.trigger();
    },
    onStoppedLeading: () => {
      leading = false;
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

  const shutdown = async (signal: string): Promise<void> => {
    log.info({ signal }, 'shutting down');
    await election.stop();
    await operator.stop();
    await http.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}
