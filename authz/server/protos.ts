/**
 * Loads jwtgate's .proto files (the Envoy ext_authz v3 wire contract and gRPC health) once, with
 * the options every module relies on: proto field names kept in snake_case, enums as names.
 *
 * @example
 * ```ts
 * import { Server } from '@grpc/grpc-js';
 * const server = new Server();
 * server.addService(authorizationService, { Check: handleCheck });
 * ```
 */
import { fileURLToPath } from 'node:url';
import { loadSync, type Options, type PackageDefinition, type ServiceDefinition } from '@grpc/proto-loader';

/** Root of our .proto tree; google/protobuf well-known types come from protobufjs's bundle. */
export const PROTOS_DIR = fileURLToPath(new URL('../../protos/', import.meta.url));

/**
 * `keepCase`: objects carry the .proto field names (`ok_response`, `headers_to_remove`).
 * `defaults`: absent scalars read as their proto3 default, absent messages as `null`, so readers
 * never meet `undefined` for a declared field. `oneofs`: a virtual `http_response` names the
 * branch that is set. `longs: String`: int64 (`size`) without precision loss.
 *
 * @example
 * ```ts
 * const def = loadSync('x.proto', PROTO_LOADER_OPTIONS);
 * ```
 */
export const PROTO_LOADER_OPTIONS: Readonly<Options> = Object.freeze({
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTOS_DIR],
});

/**
 * Every message, enum and service of the ext_authz and health protos, keyed by full name.
 *
 * @example
 * ```ts
 * const statusEnum = packageDefinition['envoy.type.v3.StatusCode'];
 * ```
 */
export const packageDefinition: PackageDefinition = loadSync(
  ['envoy/service/auth/v3/external_auth.proto', 'grpc/health/v1/health.proto'],
  PROTO_LOADER_OPTIONS,
);

function requireService(name: string): ServiceDefinition {
  const def = packageDefinition[name];
  // A service definition is a map of methods; messages and enums carry a `format` string.
  if (def === undefined || 'format' in def) throw new TypeError(`${name} is not a service in ${PROTOS_DIR}`);
  return def as ServiceDefinition;
}

/**
 * `envoy.service.auth.v3.Authorization` (method `Check`).
 *
 * @example
 * ```ts
 * authorizationService.Check.responseSerialize(response); // Buffer
 * ```
 */
export const authorizationService: ServiceDefinition = requireService('envoy.service.auth.v3.Authorization');

/**
 * `grpc.health.v1.Health` (methods `Check`, `Watch`).
 *
 * @example
 * ```ts
 * server.addService(healthService, { Check: checkHealth, Watch: watchHealth });
 * ```
 */
export const healthService: ServiceDefinition = requireService('grpc.health.v1.Health');

/**
 * The service name Envoy calls, and one of the names the health service answers for.
 *
 * @example
 * ```ts
 * client.health(AUTHORIZATION_SERVICE_NAME); // 'SERVING'
 * ```
 */
export const AUTHORIZATION_SERVICE_NAME = 'envoy.service.auth.v3.Authorization';
