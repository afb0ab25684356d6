/**
 * Composes the operator: informers (on every replica, so a new leader starts warm) → a
 * debounced queue → the reconciler (leader only). The leader decides nothing here: the caller
 * passes the write fence over its Lease and calls {@link OperatorHandle.trigger} when
 * leadership is gained.
 *
 * @example
 * ```ts
 * const operator = startOperator({ kubeConfig, namespace: 'jwtgate-system', identity: 'pod-1', log, fence: new WriteFence({ lease: election }) });
 * await operator.synced;
 * await operator.stopWork(); // no new reconciles; the one in progress finishes
 * await operator.stop();
 * ```
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { readCrds } from '../common/crds.ts';
import type { Logger } from '../common/log.ts';
import { createSchemaValidator } from '../compiler/schema.ts';
import { RemoteKeyStore } from './keys/remote-key-store.ts';
import { createKubeClients } from './kube-clients.ts';
import { createOperatorMetrics, type OperatorMetrics } from './operator-metrics.ts';
import { createReconciler } from './reconcile.ts';
import { EventRecorder } from './record-event.ts';
import { watchCluster } from './watch-cluster.ts';
import { WorkQueue } from './work-queue.ts';
import type { WriteFence } from './write-fence.ts';
import type { SnapshotSettings } from '../snapshot/types.ts';

export interface OperatorOptions {
  kubeConfig: KubeConfig;
  /** Where the snapshot ConfigMap is published. */
  namespace: string;
  /** This replica, for Events (the pod name). */
  identity: string;
  log: Logger;
  /** The gate of every write: open only while this replica holds the Lease. */
  fence: WriteFence;
  metrics?: OperatorMetrics;
  /** Event folding window of the queue (default 200 ms). */
  debounceMs?: number;
  /** Periodic full reconcile (default 5 min). */
  resyncMs?: number;
  /** Service-wide snapshot settings (default: unmatched requests denied). */
  settings?: SnapshotSettings;
  /** Lower bound of remote key refreshes (default 60 s; tests lower it). */
  minKeyRefreshSeconds?: number;
  /** The reconciler's clock: compile time and condition transition times (default: the wall clock; tests move it). */
  now?: () => Date;
}

export interface OperatorHandle {
  /** Resolves once every informer has listed. */
  synced: Promise<void>;
  /** Enqueues a reconcile (on gaining leadership). */
  trigger(): void;
  metrics: OperatorMetrics;
  /** Starts no reconcile from now on; resolves when the one in progress (if any) has returned. */
  stopWork(): Promise<void>;
  /** {@link stopWork}, then stops the informers. */
  stop(): Promise<void>;
}

/** The queue key: the snapshot is one artifact, so there is one key. */
const SNAPSHOT_KEY = 'snapshot';

/**
 * @example
 * ```ts
 * const op = startOperator({ kubeConfig, namespace, identity, log, fence });
 * ```
 */
export function startOperator(options: OperatorOptions): OperatorHandle {
  const { log, namespace } = options;
  const metrics = options.metrics ?? createOperatorMetrics();
  const clients = createKubeClients(options.kubeConfig);
  // Events before every informer has listed would compile a partial view (a policy without its
  // issuer): they only count once all caches are synced.
  let isSynced = false;
  let queue: WorkQueue | undefined;
  const cluster = watchCluster({
    clients,
    namespace,
    log,
    onChange: () => {
      if (isSynced) queue?.add(SNAPSHOT_KEY);
    },
  });
  const reconcile = createReconciler({
    clients,
    cluster,
    log,
    metrics,
    namespace,
    // The operator's one read of crds/: the compiler is handed the schemas, it reads no file.
    schema: createSchemaValidator(readCrds()),
    fence: options.fence,
    identity: options.identity,
    ...(options.settings === undefined ? {} : { settings: options.settings }),
    keys: new RemoteKeyStore({
      log,
      ...(options.minKeyRefreshSeconds === undefined ? {} : { minRefreshSeconds: options.minKeyRefreshSeconds }),
    }),
    events: new EventRecorder(clients, { component: 'jwtgate-operator', instance: options.identity, log }),
    ...(options.resyncMs === undefined ? {} : { resyncMs: options.resyncMs }),
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  queue = new WorkQueue({
    log,
    handle: reconcile,
    ...(options.debounceMs === undefined ? {} : { debounceMs: options.debounceMs }),
    onResult: (_key, result, seconds) => {
      metrics.reconciles.inc({ result });
      metrics.reconcileDuration.observe({ result }, seconds);
    },
  });
  const gate = queue;
  const synced = cluster.synced.then(() => {
    isSynced = true;
    log.info({ namespace }, 'informers synced');
    gate.add(SNAPSHOT_KEY, 0);
  });
  return {
    synced,
    trigger: () => {
      if (isSynced) gate.add(SNAPSHOT_KEY, 0);
    },
    metrics,
    stopWork: () => gate.stop(),
    async stop() {
      await gate.stop();
      await cluster.stop();
    },
  };
}
