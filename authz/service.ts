/**
 * The authz service: the gRPC Check and health endpoints and the HTTP metrics/health endpoints
 * around one {@link RuntimeStore}. Where snapshots come from (a file, a manifests folder, a
 * ConfigMap) is the caller's business: it calls `store.apply(snapshot)`.
 *
 * @example
 * ```ts
 * const service = await startService({ config, log, metrics, store });
 * process.on('SIGTERM', () => service.shutdown());
 * ```
 */
import { decide } from './check.ts';
import type { Decision } from './decision.ts';
import type { Logger } from '../common/log.ts';
import type { Metrics } from './metrics.ts';
import type { ServiceConfig } from './config.ts';
import type { RuntimeStore } from './runtime/runtime-store.ts';
import { toCheckResponse } from './respond/check-response.ts';
import { startGrpcServer } from './server/grpc-server.ts';
import { startHttpServer } from './server/http-server.ts';
import type { CheckRequestLike } from './request/attributes.ts';
import { TokenCache } from './verify/token-cache.ts';
import type { Workload } from './request/workload.ts';

export interface RunningService {
  grpcPort: number;
  httpPort: number;
  /** Stops taking new checks, lets in-flight ones finish (up to `drainMs`), then closes. */
  shutdown(): Promise<void>;
}

export async function startService(deps: {
  config: Readonly<ServiceConfig>;
  log: Logger;
  metrics: Metrics;
  store: RuntimeStore;
  /** Sidecar mode: the workload every request is bound for (`jwtgate serve --workload-labels`). */
  workload?: Workload;
}): Promise<RunningService> {
  const { config, log, metrics, store, workload } = deps;
  const tokenCache = config.tokenCacheSize > 0 ? new TokenCache({ max: config.tokenCacheSize, metrics }) : undefined;
  store.onSwap(() => tokenCache?.clear());
  let allows = 0;

  const check = async (request: CheckRequestLike) => {
    const started = process.hrtime.bigint();
    const decision = await decide(store.current, request, {
      maxTokenBytes: config.maxTokenBytes,
      maxHeaderBytes: config.maxHeaderBytes,
      tokenCache,
      workload,
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    metrics.checks.inc({ decision: decision.kind, reason: decision.reason });
    metrics.checkDuration.observe({ decision: decision.kind }, seconds);
    if (decision.kind === 'deny' || (config.allowLogSampleRate > 0 && ++allows % config.allowLogSampleRate === 0)) {
      logDecision(log, decision, request, seconds);
    }
    return toCheckResponse(decision);
  };

  const grpc = await startGrpcServer({
    host: config.listenAddress,
    port: config.grpcPort,
    check,
    health: () => (store.readiness().ready ? 'SERVING' : 'NOT_SERVING'),
    log,
    maxRequestBytes: config.maxRequestBytes,
    // Denied before any policy is known: counted and logged like every other denial.
    unread: (reason, detail) => {
      metrics.checks.inc({ decision: 'deny', reason });
      log.info({ decision: 'deny', reason, detail }, 'request denied');
    },
  });
  const http = await startHttpServer({
    host: config.listenAddress,
    port: config.httpPort,
    registry: metrics.registry,
    ready: () => store.readiness(),
    log,
  });
  log.info({ grpcPort: grpc.port, httpPort: http.port, address: config.listenAddress }, 'jwtgate authz listening');

  return {
    grpcPort: grpc.port,
    httpPort: http.port,
    async shutdown() {
      log.info({ drainMs: config.drainMs }, 'draining in-flight checks');
      await grpc.shutdown(config.drainMs);
      await http.close();
      await store.close();
    },
  };
}

/** One line per decision: policy, issuer, subject and reason; never the token. */
function logDecision(log: Logger, decision: Decision, request: CheckRequestLike, seconds: number): void {
  const line = {
    decision: decision.kind,
    reason: decision.reason,
    policy: decision.policyId,
    issuer: decision.issuerId,
    sub: decision.subject,
    requestId: request.attributes?.request?.http?.id,
    ms: Math.round(seconds * 1e5) / 100,
    ...(decision.kind === 'deny' ? { description: decision.description, detail: decision.detail } : {}),
  };
  if (decision.kind === 'deny' && decision.reason === 'internal_error') log.error(line, 'check failed');
  else log.info(line, decision.kind === 'deny' ? 'request denied' : 'request allowed');
}
