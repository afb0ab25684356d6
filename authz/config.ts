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
  /**
   * Largest CheckRequest decoded, in encoded bytes (headers, and the body when Envoy sends it
   * with `with_request_body`). A larger one is denied with 413 `request_too_large` unread, not
   * failed as a gRPC error; the transport accepts up to 4× this (see grpc-server.ts). At least
   * 1024. Env `JWTGATE_MAX_REQUEST_BYTES`.
   */
  maxRequestBytes: number;
  /** Verified tokens kept off the crypto path (0 disables the cache). Env `JWTGATE_TOKEN_CACHE_SIZE`. */
  tokenCacheSize: number;
  /** Time to let in-flight checks finish after SIGTERM before closing connections. Env `JWTGATE_DRAIN_MS`. */
  drainMs: number;
  /** One allow in this many is logged (denials are always logged); 0 logs no allows. Env `JWTGATE_ALLOW_LOG_SAMPLE`. */
  allowLogSampleRate: number;
  /** pino level. Env `JWTGATE_LOG_LEVEL`. */
  logLevel: string;
  /**
   * Interval of the digest rescan of a `--policies` folder or `--snapshot` file, in ms: the
   * backstop that reloads when a file system event was lost (a stat per file; a reload only when
   * something changed). 0 turns it off. Env `JWTGATE_RESCAN_MS`.
   */
  rescanMs: number;
}

export const DEFAULT_SERVICE_CONFIG: Readonly<ServiceConfig> = Object.freeze({
  listenAddress: '0.0.0.0',
  grpcPort: 9001,
  httpPort: 9002,
  maxTokenBytes: 8 * 1024,
  maxHeaderBytes: 64 * 1024,
  // grpc-js's default receive limit: the same requests are checked as before, above it they are denied.
  maxRequestBytes: 4 * 1024 * 1024,
  tokenCacheSize: 10_000,
  drainMs: 5_000,
  allowLogSampleRate: 100,
  logLevel: 'info',
  rescanMs: 5_000,
});

const ENV: Record<keyof ServiceConfig, string> = {
  listenAddress: 'JWTGATE_LISTEN_ADDRESS',
  grpcPort: 'JWTGATE_GRPC_PORT',
  httpPort: 'JWTGATE_HTTP_PORT',
  maxTokenBytes: 'JWTGATE_MAX_TOKEN_BYTES',
  maxHeaderBytes: 'JWTGATE_MAX_HEADER_BYTES',
  maxRequestBytes: 'JWTGATE_MAX_REQUEST_BYTES',
  tokenCacheSize: 'JWTGATE_TOKEN_CACHE_SIZE',
  drainMs: 'JWTGATE_DRAIN_MS',
  allowLogSampleRate: 'JWTGATE_ALLOW_LOG_SAMPLE',
  logLevel: 'JWTGATE_LOG_LEVEL',
  rescanMs: 'JWTGATE_RESCAN_MS',
};

/** Defaults ← environment ← explicit overrides (CLI flags); throws a TypeError naming the bad setting. */
export function resolveServiceConfig(env: NodeJS.ProcessEnv, overrides: Partial<ServiceConfig> = {}): Readonly<ServiceConfig> {
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
  // Below this not even a plain GET's CheckRequest fits: every request would be denied.
  if ((config.maxRequestBytes as number) < 1024) {
    throw new TypeError(`maxRequestBytes (${ENV.maxRequestBytes}) must be at least 1024, got "${String(config.maxRequestBytes)}"`);
  }
  return Object.freeze(config as ServiceConfig);
}
