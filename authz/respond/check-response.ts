/**
 * Turns a Decision into the Envoy CheckResponse sent on the wire: an OkHttpResponse with
 * overwrite-only header mutations, or a DeniedHttpResponse with an RFC 6750 challenge and a small
 * JSON body. Every response carries an explicit gRPC status.
 *
 * @example
 * ```ts
 * callback(null, toCheckResponse(decision));
 * ```
 */
import type { AllowDecision, Decision, DenyDecision } from '../decision.ts';
import { ALLOW_REASONS, REASONS } from '../reasons.ts';

/**
 * `google.rpc.Code` values jwtgate sends (googleapis google/rpc/code.proto).
 *
 * @example
 * ```ts
 * if (response.status.code === GRPC_CODE.OK) { ... }
 * ```
 */
export const GRPC_CODE = Object.freeze({
  OK: 0,
  INVALID_ARGUMENT: 3,
  PERMISSION_DENIED: 7,
  INTERNAL: 13,
  UNAVAILABLE: 14,
});

/** `envoy.type.v3.StatusCode` names of the HTTP statuses a denial can carry. */
const HTTP_STATUS_NAMES: Readonly<Record<number, string>> = Object.freeze({
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  413: 'PayloadTooLarge',
  500: 'InternalServerError',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'GatewayTimeout',
});

/**
 * `google.protobuf.Value` as proto-loader encodes it. The field names are camelCase, unlike the
 * rest of the wire objects: protobufjs bundles the well-known types in JSON form with camelCase
 * names, and `keepCase` only applies to the .proto files we parse ourselves.
 *
 * @example
 * ```ts
 * const v: StructValue = { listValue: { values: [{ stringValue: 'admin' }] } };
 * ```
 */
export type StructValue =
  | { nullValue: 'NULL_VALUE' }
  | { numberValue: number }
  | { stringValue: string }
  | { boolValue: boolean }
  | { structValue: Struct }
  | { listValue: { values: StructValue[] } };

/**
 * `google.protobuf.Struct`.
 *
 * @example
 * ```ts
 * const s: Struct = { fields: { sub: { stringValue: 'alice' } } };
 * ```
 */
export interface Struct {
  fields: Record<string, StructValue>;
}

/**
 * `envoy.config.core.v3.HeaderValueOption`.
 *
 * @example
 * ```ts
 * const h: HeaderValueOption = { header: { key: 'x-user', value: 'alice' }, append: { value: false },
 *   append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' };
 * ```
 */
export interface HeaderValueOption {
  header: { key: string; value: string };
  append: { value: boolean };
  append_action: 'APPEND_IF_EXISTS_OR_ADD' | 'ADD_IF_ABSENT' | 'OVERWRITE_IF_EXISTS_OR_ADD' | 'OVERWRITE_IF_EXISTS';
}

/**
 * `envoy.service.auth.v3.CheckResponse` as a plain object (proto field names), ready for grpc-js.
 *
 * @example
 * ```ts
 * const allow: CheckResponse = { status: { code: 0, message: 'allowed' }, ok_response: {
 *   headers: [], headers_to_remove: [], query_parameters_to_remove: [] } };
 * ```
 */
export interface CheckResponse {
  status: { code: number; message: string };
  ok_response?: {
    headers: HeaderValueOption[];
    headers_to_remove: string[];
    query_parameters_to_remove: string[];
  };
  denied_response?: {
    status: { code: string };
    headers: HeaderValueOption[];
    body: string;
  };
  dynamic_metadata?: Struct;
}

/** JSON data, after `toJSON` and `undefined` handling. */
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function toStructValue(value: Json): StructValue {
  if (value === null) return { nullValue: 'NULL_VALUE' };
  if (typeof value === 'number') return { numberValue: value };
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (Array.isArray(value)) return { listValue: { values: value.map(toStructValue) } };
  return { structValue: jsonToStruct(value) };
}

function jsonToStruct(object: { [key: string]: Json }): Struct {
  const fields: Record<string, StructValue> = {};
  for (const [key, value] of Object.entries(object)) fields[key] = toStructValue(value);
  return { fields };
}

/**
 * Converts a JSON-compatible object into a `google.protobuf.Struct`, with JSON.stringify's
 * semantics (`toJSON` is honoured, `undefined` members are dropped, non-finite numbers become
 * null).
 *
 * @throws {TypeError} for data JSON cannot represent (a cycle, a BigInt): a programmer error.
 * @example
 * ```ts
 * toStruct({ sub: 'alice', roles: ['a'] });
 * // { fields: { sub: { stringValue: 'alice' }, roles: { listValue: { values: [{ stringValue: 'a' }] } } } }
 * ```
 */
export function toStruct(object: Record<string, unknown>): Struct {
  return jsonToStruct(JSON.parse(JSON.stringify(object)) as { [key: string]: Json });
}

/**
 * A header set with overwrite semantics. Both fields are written: Envoys before 1.23 read only
 * `append` (false = replace); newer ones let `append`, when present, win over `append_action`,
 * so the two must agree.
 */
function overwriteHeader(key: string, value: string): HeaderValueOption {
  return { header: { key, value }, append: { value: false }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' };
}

/**
 * The gRPC status of a denial. Envoy only distinguishes OK (allow) from anything else (deny);
 * the code shows in Envoy's logs and traces, so it follows the HTTP status class.
 */
function grpcCodeFor(httpStatus: number): number {
  if (httpStatus === 400 || httpStatus === 413) return GRPC_CODE.INVALID_ARGUMENT;
  if (httpStatus === 503) return GRPC_CODE.UNAVAILABLE;
  if (httpStatus >= 500) return GRPC_CODE.INTERNAL;
  return GRPC_CODE.PERMISSION_DENIED;
}

/**
 * RFC 6750 §3: error_description is limited to %x20-21 / %x23-5B / %x5D-7E, i.e. printable ASCII
 * without `"` and `\`. CR/LF would also split the header.
 */
function sanitizeDescription(text: string): string {
  return text
    .replace(/[^\x20-\x7e]/g, '')
    .replace(/"/g, "'")
    .replace(/\\/g, '');
}

/** An RFC 9110 §5.6.4 quoted-string, printable ASCII only. */
function quote(text: string): string {
  return `"${text.replace(/[^\x20-\x7e]/g, '').replace(/["\\]/g, '\\$&')}"`;
}

/** Short body `error` for reasons that have no RFC 6750 error code. */
function errorNameFor(httpStatus: number): string {
  if (httpStatus === 401) return 'unauthorized';
  if (httpStatus === 403) return 'forbidden';
  if (httpStatus === 400) return 'bad_request';
  if (httpStatus === 413) return 'content_too_large';
  if (httpStatus === 503) return 'unavailable';
  return 'internal_error';
}

/**
 * `WWW-Authenticate` per RFC 6750 §3. `error` is omitted when the request carried no token
 * (§3.1: "the resource server SHOULD NOT include an error code"); the description is omitted
 * when the policy hides reasons.
 *
 * @example
 * ```ts
 * bearerChallenge({ realm: 'shop', bearerError: 'invalid_token', description: 'token is expired' });
 * // 'Bearer realm="shop", error="invalid_token", error_description="token is expired"'
 * ```
 */
export function bearerChallenge(input: { realm: string; bearerError?: string | undefined; description?: string | undefined }): string {
  const params = [`realm=${quote(input.realm)}`];
  if (input.bearerError !== undefined) {
    params.push(`error=${quote(input.bearerError)}`);
    if (input.description !== undefined) params.push(`error_description=${quote(sanitizeDescription(input.description))}`);
  }
  return `Bearer ${params.join(', ')}`;
}

function toAllowResponse(decision: AllowDecision): CheckResponse {
  const response: CheckResponse = {
    status: { code: GRPC_CODE.OK, message: decision.reason },
    ok_response: {
      headers: decision.headersToSet.map((h) => overwriteHeader(h.name, h.value)),
      headers_to_remove: [...decision.headersToRemove],
      query_parameters_to_remove: [...decision.queryParametersToRemove],
    },
  };
  if (Object.keys(decision.metadata).length > 0) response.dynamic_metadata = toStruct(decision.metadata);
  return response;
}

function toDenyResponse(decision: DenyDecision): CheckResponse {
  const info = REASONS[decision.reason];
  const statusName = HTTP_STATUS_NAMES[info.status];
  if (statusName === undefined) throw new TypeError(`no Envoy status name for HTTP ${info.status}`);
  const { exposeReason, realm } = decision.deny;
  const description = exposeReason ? decision.description : undefined;

  const headers: HeaderValueOption[] = [];
  if (info.challenge) {
    const bearerError = decision.reason === 'token_missing' ? undefined : info.bearerError;
    headers.push(overwriteHeader('www-authenticate', bearerChallenge({ realm, bearerError, description })));
  }
  headers.push(overwriteHeader('content-type', 'application/json'));
  for (const h of decision.deny.headers) headers.push(overwriteHeader(h.name, h.value));

  const body: Record<string, string> = { error: info.bearerError ?? errorNameFor(info.status) };
  if (description !== undefined) {
    body.error_description = description;
    body.reason = decision.reason;
  }
  // Envoy's access log can record why a request was denied (%DYNAMIC_METADATA(envoy.filters.http.ext_authz:reason)%).
  const metadata: Record<string, unknown> = { reason: decision.reason };
  if (decision.policyId !== undefined) metadata.policy = decision.policyId;
  if (decision.issuerId !== undefined) metadata.issuer = decision.issuerId;
  if (decision.subject !== undefined) metadata.sub = decision.subject;
  return {
    status: { code: grpcCodeFor(info.status), message: decision.reason },
    denied_response: { status: { code: statusName }, headers, body: JSON.stringify(body) },
    dynamic_metadata: toStruct(metadata),
  };
}

/**
 * The CheckResponse for a decision. An allow becomes `ok_response` (headers with overwrite
 * semantics, so a client can never smuggle its own copy upstream) plus `dynamic_metadata`; a
 * deny becomes `denied_response` with the status from {@link REASONS}, `WWW-Authenticate` when the
 * reason calls for a challenge, and a JSON body `{ error, error_description?, reason? }` where
 * the last two appear only when the policy exposes reasons (`DenySettings.exposeReason`); its
 * `dynamic_metadata` names the reason, policy, issuer and subject for Envoy's access log.
 *
 * The gRPC status is always set (Envoy treats a missing status as OK): 0 for an allow,
 * 7 PERMISSION_DENIED for 401/403/other 4xx, 3 INVALID_ARGUMENT for 400, 14 UNAVAILABLE for 503,
 * 13 INTERNAL for other 5xx. `status.message` carries the reason code for Envoy's logs.
 *
 * @throws {TypeError} when the decision's kind and reason disagree (an allow with a denial's
 *   reason or the reverse): a programmer error the server turns into a 503 denial.
 * @example
 * ```ts
 * toCheckResponse({ kind: 'deny', reason: 'token_expired', description: 'token is expired',
 *   deny: { realm: 'shop', exposeReason: true, headers: [] }, trace: [] }).denied_response?.status;
 * // { code: 'Unauthorized' }
 * ```
 */
export function toCheckResponse(decision: Decision): CheckResponse {
  if ((decision.kind === 'allow') !== ALLOW_REASONS.has(decision.reason)) {
    throw new TypeError(`a ${decision.kind} decision cannot have reason ${decision.reason}`);
  }
  return decision.kind === 'allow' ? toAllowResponse(decision) : toDenyResponse(decision);
}
