/**
 * The gRPC server Envoy talks to: `envoy.service.auth.v3.Authorization/Check` and the standard
 * `grpc.health.v1.Health` service. Whatever goes wrong inside a check, the answer is a 503
 * denial, never a gRPC error (which Envoy's `failure_mode_allow` could turn into an allow); a
 * request too large to check or not decodable is denied with its own reason (413, 400).
 *
 * @example
 * ```ts
 * const server = await startGrpcServer({ host: '0.0.0.0', port: 9001, check, health: () => 'SERVING', log });
 * process.on('SIGTERM', () => void server.shutdown(10_000));
 * ```
 */
import type { ServiceDefinition } from '@grpc/proto-loader';
import {
  Server,
  ServerCredentials,
  status as GrpcStatus,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { DEFAULT_SERVICE_CONFIG } from '../config.ts';
import type { Logger } from '../../common/log.ts';
import type { DenyReason } from '../reasons.ts';
import type { CheckRequestLike } from '../request/attributes.ts';
import { toCheckResponse, type CheckResponse } from '../respond/check-response.ts';
import { AUTHORIZATION_SERVICE_NAME, authorizationService, healthService } from './protos.ts';

/**
 * What the health callback reports for the Authorization service.
 *
 * @example
 * ```ts
 * const health = (): ServingStatus => (store.current ? 'SERVING' : 'NOT_SERVING');
 * ```
 */
export type ServingStatus = 'SERVING' | 'NOT_SERVING';

/**
 * What the gRPC server needs.
 *
 * @example
 * ```ts
 * const options: GrpcServerOptions = { host: '127.0.0.1', port: 0, check: async () => response,
 *   health: () => 'SERVING', log: createLogger('silent') };
 * ```
 */
export interface GrpcServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Decides one request; may throw or reject, which yields a 503 denial. */
  check: (req: CheckRequestLike) => Promise<CheckResponse>;
  /** Current health of the Authorization service (e.g. NOT_SERVING until a snapshot is loaded). */
  health: () => ServingStatus;
  log: Logger;
  /** How often an open health Watch re-reads `health()` to report changes (default 1000 ms). */
  watchIntervalMs?: number;
  /**
   * Largest CheckRequest decoded, in encoded bytes; a larger one is denied (413
   * `request_too_large`) without being decoded. Default {@link DEFAULT_SERVICE_CONFIG}.maxRequestBytes.
   */
  maxRequestBytes?: number;
  /**
   * Told about each request the server denies on its own, before `check` could see it (too large,
   * or not a decodable CheckRequest), so metrics and the decision log count it.
   */
  unread?: (reason: UnreadReason, detail: string) => void;
}

/** The reasons the server itself gives, for requests it does not hand to `check`. */
export type UnreadReason = Extract<DenyReason, 'request_too_large' | 'request_invalid'>;

/**
 * A running gRPC server.
 *
 * @example
 * ```ts
 * await server.shutdown(5_000); // drain in-flight checks for up to 5 s, then cut connections
 * ```
 */
export interface GrpcServerHandle {
  port: number;
  shutdown(graceMs: number): Promise<void>;
}

/** The answer when `check` fails: the internal_error denial, with the reason shown. */
const INTERNAL_ERROR_RESPONSE = toCheckResponse({
  kind: 'deny',
  reason: 'internal_error',
  description: 'internal error',
  deny: { realm: 'jwtgate', exposeReason: true, headers: [] },
  trace: [],
});

/** The denial for a request the server refuses unread; no policy is known, so the default realm. */
function unreadResponse(reason: UnreadReason): CheckResponse {
  return toCheckResponse({
    kind: 'deny',
    reason,
    description: reason === 'request_too_large' ? 'the request is too large to check' : 'the check request is not a valid CheckRequest',
    deny: { realm: 'jwtgate', exposeReason: true, headers: [] },
    trace: [],
  });
}

/**
 * What the Check deserializer hands the handler instead of a request it did not decode. grpc-js
 * would answer a deserializer that throws, and a message over its receive limit, with a gRPC
 * error (INTERNAL, RESOURCE_EXHAUSTED); Envoy then applies `status_on_error`. A denial with a
 * reason says what happened, so the deserializer never throws.
 */
class UnreadRequest {
  readonly reason: UnreadReason;
  readonly detail: string;
  constructor(reason: UnreadReason, detail: string) {
    this.reason = reason;
    this.detail = detail;
  }
}

/**
 * How far past `maxRequestBytes` the transport still receives a message, only to deny it with a
 * reason. Above `TRANSPORT_CAP_FACTOR × maxRequestBytes` grpc-js refuses the message itself
 * (RESOURCE_EXHAUSTED) and Envoy applies `status_on_error` (503 with the settings the README
 * asks for): still a deny, only without our reason. The cap bounds what one call may buffer.
 */
const TRANSPORT_CAP_FACTOR = 4;
/** grpc-js takes the limit as a 32-bit signed integer. */
const INT32_MAX = 2 ** 31 - 1;

/**
 * The Authorization service with a Check deserializer that measures before it decodes: over
 * `maxRequestBytes`, or not protobuf it can read, it yields an {@link UnreadRequest}.
 */
function limitedAuthorizationService(maxRequestBytes: number): ServiceDefinition {
  const method = authorizationService.Check;
  if (method === undefined) throw new TypeError('Authorization service has no Check method');
  const deserialize = method.requestDeserialize;
  const requestDeserialize = (bytes: Buffer): object => {
    if (bytes.length > maxRequestBytes)
      return new UnreadRequest('request_too_large', `CheckRequest is ${bytes.length} bytes; limit ${maxRequestBytes}`);
    try {
      return deserialize(bytes);
    } catch (error) {
      return new UnreadRequest('request_invalid', `CheckRequest does not decode: ${(error as Error).message}`);
    }
  };
  return { ...authorizationService, Check: { ...method, requestDeserialize } };
}

/** The health service answers for the whole server ('') and for the Authorization service. */
const HEALTH_SERVICE_NAMES: ReadonlySet<string> = new Set(['', AUTHORIZATION_SERVICE_NAME]);

const serializeCheckResponse = (() => {
  const method = authorizationService.Check;
  if (method === undefined) throw new TypeError('Authorization service has no Check method');
  return method.responseSerialize;
})();

/**
 * Runs `check` and proves its answer can go on the wire: a rejection, an answer without a status
 * (Envoy would read that as OK) or one protobuf cannot encode all become the 503 denial here,
 * because a serialization failure inside grpc-js would reach Envoy as a gRPC error.
 */
async function answerCheck(options: GrpcServerOptions, request: CheckRequestLike): Promise<CheckResponse> {
  try {
    const response = await options.check(request);
    if (typeof response?.status?.code !== 'number') throw new TypeError('check returned a response without a status');
    serializeCheckResponse(response);
    return response;
  } catch (error) {
    options.log.error({ err: error }, 'check failed; answering internal_error');
    return INTERNAL_ERROR_RESPONSE;
  }
}

/** Formats host:port for grpc-js, bracketing IPv6 literals. */
function bindAddress(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Starts the server on `host:port` (insecure credentials: it listens on loopback or inside the
 * mesh). Health `Check` answers for '' and `envoy.service.auth.v3.Authorization` and returns
 * NOT_FOUND for other names (gRPC health protocol). `Watch` sends the current status at once, then
 * again whenever it changes (polled every `watchIntervalMs`), and ends when the server shuts down.
 * Once `shutdown` is called, health reports NOT_SERVING so probes and load balancers move away
 * while in-flight checks drain.
 *
 * @example
 * ```ts
 * const { port, shutdown } = await startGrpcServer({ host: '127.0.0.1', port: 0,
 *   check: async (req) => toCheckResponse(await decide(req)), health: () => 'SERVING', log });
 * ```
 */
export function startGrpcServer(options: GrpcServerOptions): Promise<GrpcServerHandle> {
  const maxRequestBytes = options.maxRequestBytes ?? DEFAULT_SERVICE_CONFIG.maxRequestBytes;
  if (!Number.isInteger(maxRequestBytes) || maxRequestBytes < 1)
    throw new TypeError(`maxRequestBytes must be a positive integer, got ${maxRequestBytes}`);
  const server = new Server({ 'grpc.max_receive_message_length': Math.min(maxRequestBytes * TRANSPORT_CAP_FACTOR, INT32_MAX) });
  const watchers = new Set<ServerWritableStream<{ service?: string }, { status: string }>>();
  let shuttingDown = false;

  const currentStatus = (service: string): string => {
    if (!HEALTH_SERVICE_NAMES.has(service)) return 'SERVICE_UNKNOWN';
    if (shuttingDown) return 'NOT_SERVING';
    try {
      return options.health();
    } catch (error) {
      options.log.error({ err: error }, 'health callback failed');
      return 'NOT_SERVING';
    }
  };

  server.addService(limitedAuthorizationService(maxRequestBytes), {
    Check(call: ServerUnaryCall<CheckRequestLike | UnreadRequest, CheckResponse>, callback: sendUnaryData<CheckResponse>) {
      const { request } = call;
      if (request instanceof UnreadRequest) {
        try {
          options.unread?.(request.reason, request.detail);
        } catch (error) {
          options.log.error({ err: error }, 'unread callback failed');
        }
        callback(null, unreadResponse(request.reason));
        return;
      }
      void answerCheck(options, request).then((response) => callback(null, response));
    },
  });

  server.addService(healthService, {
    Check(call: ServerUnaryCall<{ service?: string }, { status: string }>, callback: sendUnaryData<{ status: string }>) {
      const status = currentStatus(call.request.service ?? '');
      if (status === 'SERVICE_UNKNOWN') callback({ code: GrpcStatus.NOT_FOUND, details: 'unknown service' });
      else callback(null, { status });
    },
    Watch(call: ServerWritableStream<{ service?: string }, { status: string }>) {
      const service = call.request.service ?? '';
      let last = currentStatus(service);
      call.write({ status: last });
      const timer = setInterval(() => {
        const now = currentStatus(service);
        if (now === last) return;
        last = now;
        call.write({ status: now });
      }, options.watchIntervalMs ?? 1000);
      timer.unref();
      watchers.add(call);
      const stop = () => {
        clearInterval(timer);
        watchers.delete(call);
      };
      call.on('cancelled', stop);
      call.on('finish', stop);
      call.on('error', stop);
    },
  });

  const shutdown = (graceMs: number): Promise<void> =>
    new Promise((resolve) => {
      shuttingDown = true;
      // Open Watch streams would hold tryShutdown forever: tell them and close them first.
      for (const call of [...watchers]) {
        call.write({ status: 'NOT_SERVING' });
        call.end();
      }
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(deadline);
        resolve();
      };
      const deadline = setTimeout(() => {
        options.log.warn({ graceMs }, 'gRPC drain deadline reached; closing remaining calls');
        server.forceShutdown();
        finish();
      }, graceMs);
      server.tryShutdown(finish);
    });

  return new Promise((resolve, reject) => {
    server.bindAsync(bindAddress(options.host, options.port), ServerCredentials.createInsecure(), (error, port) => {
      if (error !== null) {
        reject(error);
        return;
      }
      options.log.info({ host: options.host, port }, 'gRPC server listening');
      resolve({ port, shutdown });
    });
  });
}
