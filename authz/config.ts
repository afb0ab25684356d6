/**
 * Service settings: one defaults object whose comments are the documentation, overridden by
 * environment variables and then by CLI flags, validated once into a frozen object at start-up.
 *
 * @example
 * ```ts
 * const config = resolveServiceConfig(process.env, { grpcPort: 19001 });
 * ```
 */

export interface ServiceConfig {
  /** Address both servers listen on. `0.0.0.0` so a sidecar's Envoy and kubelet probes reach it. Env `JWTGATE_LISTEN_ADDRESS`. */
  listenAddress: string;
  /** gRPC port for `envoy.service.auth.v3.Authorization` and `grpc.health.v1.Health`. Env `JWTGATE_GRPC_PORT`. */
  grpcPort: number;
  /** HTTP port for `/metrics`, `/healthz` and `/readyz`. Env `JWTGATE_HTTP_PORT`. */
  httpPort: number;
  /** Largest token accepted, in bytes; larger ones are refused before any decoding. Env `JWTGATE_MAX_TOKEN_BYTES`. */
  maxTokenBytes: number;
  /** Largest total size of the request headers in a CheckRequest. Env `JWTGATE_MAX_HEADER_BYTES`. */
  maxHeaderBytes: number;
  /** Verified tokens kept off the crypto path (0 disables the cache). Env `JWTGATE_TOKEN_CACHE_SIZE`. */
  tokenCacheSize: number;
  /** Time to let in-flight checks finish after SIGTERM before closing connections. Env `JWTGATE_DRAIN_MS`. */
  drainMs: number;
  /** One allow in this many is logged (denials are always logged); 0 logs no allows. Env `JWTGATE_ALLOW_LOG_SAMPLE`. */
  allowLogSampleRate: number;
  /** pino level. Env `JWTGATE_LOG_LEVEL`. */
  logLevel: string;
}

export const DEFAULT_SERVICE_CONFIG: Readonly<ServiceConfig> = Object.freeze({
  listenAddress: '0.0.0.0',
  grpcPort: 9001,
  httpPort: 9002,
  maxTokenBytes: 8 * 1024,
  maxHeaderBytes: 64 * 1024,
  tokenCacheSize: 10_000,
  drainMs: 5_000,
  allowLogSampleRate: 100,
  logLevel: 'info',
});

const ENV: Record<keyof ServiceConfig, string> = {
  listenAddress: 'JWTGATE_LISTEN_ADDRESS',
  grpcPort: 'JWTGATE_GRPC_PORT',
  httpPort: 'JWTGATE_HTTP_PORT',
  maxTokenBytes: 'JWTGATE_MAX_TOKEN_BYTES',
  maxHeaderBytes: 'JWTGATE_MAX_HEADER_BYTES',
  tokenCacheSize: 'JWTGATE_TOKEN_CACHE_SIZE',
  drainMs: 'JWTGATE_DRAIN_MS',
  allowLogSampleRate: 'JWTGATE_ALLOW_LOG_SAMPLE',
  logLevel: 'JWTGATE_LOG_LEVEL',
};

/** Defaults ← environment ← explicit overrides (CLI flags); throws a TypeError naming the bad setting. */
export function resolveServiceConfig(
  env: NodeJS.ProcessEnv,
  overrides: Partial<ServiceConfig> = {},
): Readonly<ServiceConfig> {
  const merged: Record<string, unknown> = { ...DEFAULT_SERVICE_CONFIG };
  for (const [key, name] of Object.entries(ENV)) {
    const raw = env[name];
    if (raw !== undefined && raw !== '') merged[key] = raw;
  }
  for (const [key, value] of Object.entries(overrides)) if (value !== undefined) merged[key] = value;

  const config = { ...merged } as Record<keyof ServiceConfig, unknown>;
  for (const key of Object.keys(DEFAULT_SERVICE_CONFIG) as (keyof ServiceConfig)[]) {
    if (typeof DEFAULT_SERVICE_CONFIG[key] !== 'number') continue;
    const n = Number(config[key]);
    const isPort = key === 'grpcPort' || key === 'httpPort';
    if (!Number.isInteger(n) || n < 0 || (isPort && n > 65535)) {
      throw new TypeError(`${key} (${ENV[key]}) must be a non-negative integer${isPort ? ' port' : ''}, got "${String(config[key])}"`);
    }
    config[key] = n;
  }
  return Object.freeze(config as ServiceConfig);
}
