/**
 * The operator's metrics, on its own registry (the operator and authz are separate processes).
 * Label values are bounded: a result, never a resource name.
 *
 * @example
 * ```ts
 * const metrics = createOperatorMetrics();
 * metrics.reconciles.inc({ result: 'success' });
 * ```
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * @example
 * ```ts
 * const { registry } = createOperatorMetrics({ defaultMetrics: false });
 * ```
 */
export function createOperatorMetrics(options: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'jwtgate_operator_' });
  const registers = [registry];
  return {
    registry,
    reconciles: new Counter({
      name: 'jwtgate_operator_reconciles_total',
      help: 'Reconcile runs by result (success, error).',
      labelNames: ['result'] as const,
      registers,
    }),
    reconcileDuration: new Histogram({
      name: 'jwtgate_operator_reconcile_duration_seconds',
      help: 'Duration of one reconcile run by result.',
      labelNames: ['result'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    publishes: new Counter({ name: 'jwtgate_operator_publishes_total', help: 'Snapshots published.', registers }),
    publishedGeneration: new Gauge({
      name: 'jwtgate_operator_published_generation',
      help: 'Generation of the last snapshot this replica published.',
      registers,
    }),
    statusWrites: new Counter({
      name: 'jwtgate_operator_status_writes_total',
      help: 'Status subresource writes by result (success, conflict, error).',
      labelNames: ['result'] as const,
      registers,
    }),
    // Issue 8, case 3: a replica that is not (or no longer) the leader must not write.
    fencedWrites: new Counter({
      name: 'jwtgate_operator_fenced_writes_total',
      help: 'Writes refused by the write fence (not leading, renew deadline passed, term changed, shutting down) by kind and reason.',
      labelNames: ['kind', 'reason'] as const,
      registers,
    }),
    writeConflicts: new Counter({
      name: 'jwtgate_operator_write_conflicts_total',
      help: 'Writes the apiserver refused because their resourceVersion precondition no longer held (409), by kind; they are re-read and retried, never forced.',
      labelNames: ['kind'] as const,
      registers,
    }),
    leader: new Gauge({ name: 'jwtgate_operator_leader', help: '1 while this replica is the leader.', registers }),
  };
}

export type OperatorMetrics = ReturnType<typeof createOperatorMetrics>;
