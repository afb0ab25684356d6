/**
 * The one gRPC client of jwtgate's ext_authz and health services, and the one builder of
 * CheckRequests shaped like Envoy's: `jwtgate check --server` asks a running jwtgate with it, and
 * the tests and the bench use it too (issue 9). It speaks through the same .proto files as the
 * server, so every call goes through protobuf encoding both ways.
 *
 * @example
 * ```ts
 * const client = createGrpcClient(`127.0.0.1:${server.port}`);
 * const res = await client.check(httpCheckRequest({ method: 'GET', host: 'api.example.com', path: '/',
 *   headers: { authorization: `Bearer ${TOKEN}` } }));
 * assert.equal(res.status.code, 0);
 * client.close();
 * ```
 */
import { randomUUID } from 'node:crypto';
import { Client, credentials, type ServiceError } from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import type { CheckRequestLike } from '../authz/request/attributes.ts';
import type { CheckResponse, HeaderValueOption, Struct, StructValue } from '../authz/respond/check-response.ts';
import { authorizationService, healthService } from '../authz/server/protos.ts';

/**
 * A CheckResponse as decoded from the wire: the fields we write, plus proto3 defaults for the
 * rest and `http_response` naming the oneof branch that is set.
 *
 * @example
 * ```ts
 * if (res.http_response === 'denied_response') assert.equal(res.denied_response!.status.code, 'Forbidden');
 * ```
 */
export type DecodedCheckResponse = CheckResponse & { http_response?: 'ok_response' | 'denied_response' };

/**
 * Health statuses of grpc.health.v1.
 *
 * @example
 * ```ts
 * const s: HealthStatus = await client.health();
 * ```
 */
export type HealthStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

/**
 * An open health Watch stream.
 *
 * @example
 * ```ts
 * const w = client.watch('', (s) => seen.push(s));
 * w.cancel();
 * await w.ended;
 * ```
 */
export interface HealthWatch {
  ended: Promise<void>;
  cancel(): void;
}

/**
 * A connected client.
 *
 * @example
 * ```ts
 * await client.health(''); // 'SERVING'
 * ```
 */
export interface GrpcClient {
  /** `deadlineMs`: fail with DEADLINE_EXCEEDED (code 4) after that long, as Envoy's `timeout` does. */
  check(request: CheckRequestLike, options?: { deadlineMs?: number }): Promise<DecodedCheckResponse>;
  /** Health Check; rejects with the gRPC error (NOT_FOUND for an unknown service). */
  health(service?: string): Promise<HealthStatus>;
  /**
   * Opens a health Watch and calls `onStatus` for every status streamed. `ended` resolves when the
   * server ends the stream (or it is cancelled) and rejects on any other error.
   */
  watch(service: string, onStatus: (status: HealthStatus) => void): HealthWatch;
  /** The first status a health Watch sends, then the stream is cancelled. */
  watchFirst(service?: string): Promise<HealthStatus>;
  close(): void;
}

function method(service: Record<string, MethodDefinition<object, object>>, name: string): MethodDefinition<object, object> {
  const def = service[name];
  if (def === undefined) throw new TypeError(`no method ${name}`);
  return def;
}

/**
 * Connects (lazily, insecure) to `address`, e.g. `127.0.0.1:50051`.
 *
 * @example
 * ```ts
 * const client = createGrpcClient(`127.0.0.1:${port}`);
 * ```
 */
export function createGrpcClient(address: string): GrpcClient {
  const client = new Client(address, credentials.createInsecure());
  const unary = <Res>(def: MethodDefinition<object, object>, request: object, deadlineMs?: number): Promise<Res> =>
    new Promise((resolve, reject) => {
      const options = deadlineMs === undefined ? {} : { deadline: Date.now() + deadlineMs };
      client.makeUnaryRequest(
        def.path,
        def.requestSerialize,
        def.responseDeserialize,
        request,
        options,
        (error: ServiceError | null, value?: object) => {
          if (error) reject(error);
          else resolve(value as Res);
        },
      );
    });
  const checkMethod = method(authorizationService, 'Check');
  const healthCheck = method(healthService, 'Check');
  const healthWatch = method(healthService, 'Watch');

  return {
    check: (request, options) => unary<DecodedCheckResponse>(checkMethod, request, options?.deadlineMs),
    health: async (service = '') => (await unary<{ status: HealthStatus }>(healthCheck, { service })).status,
    watch(service, onStatus) {
      const call = client.makeServerStreamRequest(healthWatch.path, healthWatch.requestSerialize, healthWatch.responseDeserialize, {
        service,
      });
      call.on('data', (message: { status: HealthStatus }) => onStatus(message.status));
      const ended = new Promise<void>((resolve, reject) => {
        call.on('end', resolve);
        // Our own cancel() surfaces as a CANCELLED (1) error.
        call.on('error', (error: ServiceError) => (error.code === 1 ? resolve() : reject(error)));
      });
      return { ended, cancel: () => call.cancel() };
    },
    watchFirst(service = '') {
      return new Promise((resolve, reject) => {
        const watch = this.watch(service, (status) => {
          resolve(status);
          watch.cancel();
        });
        watch.ended.catch(reject);
      });
    },
    close: () => client.close(),
  };
}

/**
 * What {@link httpCheckRequest} needs; header names may use any case.
 *
 * @example
 * ```ts
 * const input: HttpCheckInput = { method: 'GET', host: 'api.example.com', path: '/v1?x=1' };
 * ```
 */
export interface HttpCheckInput {
  method: string;
  host: string;
  /** The request target: path and query. */
  path: string;
  /** Default `http`. */
  scheme?: string;
  headers?: Record<string, string>;
  /** E.g. `spiffe://cluster.local/ns/shop/sa/cart`, as Istio sends it. */
  destinationPrincipal?: string;
  contextExtensions?: Record<string, string>;
}

/**
 * A CheckRequest shaped like Envoy's: `headers` map with lower-case names including the
 * `:authority`, `:path`, `:method` and `:scheme` pseudo-headers and `x-request-id`, plus the
 * `method`/`host`/`path` fields.
 *
 * @example
 * ```ts
 * httpCheckRequest({ method: 'GET', host: 'api.example.com', path: '/orders',
 *   headers: { Authorization: 'Bearer x' }, destinationPrincipal: 'spiffe://cluster.local/ns/shop/sa/api' });
 * ```
 */
export function httpCheckRequest(input: HttpCheckInput): CheckRequestLike {
  const requestId = randomUUID();
  const scheme = input.scheme ?? 'http';
  const headers: Record<string, string> = {
    ':authority': input.host,
    ':path': input.path,
    ':method': input.method,
    ':scheme': scheme,
    'x-request-id': requestId,
  };
  for (const [name, value] of Object.entries(input.headers ?? {})) headers[name.toLowerCase()] = value;
  return {
    attributes: {
      source: { address: { socket_address: { address: '127.0.0.1', port_value: 40000 } } },
      destination: {
        address: { socket_address: { address: '127.0.0.1', port_value: 8080 } },
        principal: input.destinationPrincipal ?? '',
      },
      request: {
        time: { seconds: String(Math.floor(Date.now() / 1000)), nanos: 0 },
        http: { id: requestId, method: input.method, headers, path: input.path, host: input.host, scheme, protocol: 'HTTP/1.1' },
      },
      context_extensions: input.contextExtensions ?? {},
    },
  };
}

function valueToJson(value: StructValue): unknown {
  if ('structValue' in value) return structToJson(value.structValue);
  if ('listValue' in value) return (value.listValue.values ?? []).map(valueToJson);
  if ('stringValue' in value) return value.stringValue;
  if ('numberValue' in value) return value.numberValue;
  if ('boolValue' in value) return value.boolValue;
  return null;
}

/**
 * A decoded `google.protobuf.Struct` back as plain JSON, to compare dynamic metadata.
 *
 * @example
 * ```ts
 * assert.deepEqual(structToJson(res.dynamic_metadata!), { sub: 'alice' });
 * ```
 */
export function structToJson(struct: Struct): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(struct.fields ?? {})) out[key] = valueToJson(value);
  return out;
}

/**
 * HeaderValueOptions as a `name → value` record (lower-case names), to assert on headers.
 *
 * @example
 * ```ts
 * assert.equal(headerRecord(res.denied_response!.headers)['www-authenticate'], 'Bearer realm="x"');
 * ```
 */
export function headerRecord(options: HeaderValueOption[]): Record<string, string> {
  return Object.fromEntries(options.map((o) => [o.header.key.toLowerCase(), o.header.value]));
}
