/**
 * Every metric the authz service exports, on one registry. Label values are bounded: reason
 * codes, decision, issuer and policy ids from the snapshot; never a subject or a token.
 *
 * @example
 * ```ts
 * const m = createMetrics();
 * m.checks.inc({ decision: 'deny', reason: 'token_expired' });
 * ```
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics(options: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'jwtgate_' });
  const registers = [registry];
  return {
    registry,
    checks: new Counter({
      name: 'jwtgate_checks_total',
      help: 'Check calls by decision and reason code.',
      labelNames: ['decision', 'reason'] as const,
      registers,
    }),
    checkDuration: new Histogram({
      name: 'jwtgate_check_duration_seconds',
      help: 'Time to decide one Check call.',
      labelNames: ['decision'] as const,
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers,
    }),
    jwksFetches: new Counter({
      name: 'jwtgate_jwks_fetches_total',
      help: 'Key set and discovery fetches by issuer and result.',
      labelNames: ['issuer', 'result'] as const,
      registers,
    }),
    issuerKeys: new Gauge({
      name: 'jwtgate_issuer_keys',
      help: 'Usable verification keys per issuer.',
      labelNames: ['issuer'] as const,
      registers,
    }),
    keysRejected: new Counter({
      name: 'jwtgate_keys_rejected_total',
      help: 'Keys refused when loaded (weak, wrong use, unsupported).',
      labelNames: ['issuer'] as const,
      registers,
    }),
    snapshotGeneration: new Gauge({
      name: 'jwtgate_snapshot_generation',
      help: 'Generation of the snapshot being enforced.',
      registers,
    }),
    snapshotReloads: new Counter({
      name: 'jwtgate_snapshot_reloads_total',
      help: 'Snapshot loads by result (ok, invalid, unchanged).',
      labelNames: ['result'] as const,
      registers,
    }),
    tokenCache: new Counter({
      name: 'jwtgate_token_cache_total',
      help: 'Verified-token cache lookups by result.',
      labelNames: ['result'] as const,
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
