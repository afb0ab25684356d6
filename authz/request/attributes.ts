/**
 * Reads an Envoy CheckRequest into the normalized HTTP request the check pipeline works on:
 * method, host, path, headers, destination namespace. Anything missing or malformed becomes
 * `request_invalid` (the namespace has its own reasons, see destination-namespace.ts); nothing
 * here trusts the shape of its input.
 *
 * @example
 * ```ts
 * const attrs = readAttributes(call.request);
 * attrs.headers.get('authorization'); // ['Bearer eyJ…']
 * ```
 */
import { DenyError } from '../reasons.ts';
import type { Workload } from './workload.ts';
import { resolveDestinationNamespace } from './destination-namespace.ts';

/**
 * A header as Envoy sends it in `header_map` (encode_raw_headers): the value may be raw bytes.
 *
 * @example
 * ```ts
 * const h: HeaderValueLike = { key: 'authorization', raw_value: Buffer.from('Bearer x') };
 * ```
 */
export interface HeaderValueLike {
  key?: string | null;
  value?: string | null;
  raw_value?: Uint8Array | string | null;
}

/**
 * `AttributeContext.Peer`, the fields jwtgate reads.
 *
 * @example
 * ```ts
 * const destination: PeerLike = { principal: 'spiffe://cluster.local/ns/shop/sa/api' };
 * ```
 */
export interface PeerLike {
  principal?: string | null;
  [field: string]: unknown;
}

/**
 * `AttributeContext.HttpRequest`, the fields jwtgate reads.
 *
 * @example
 * ```ts
 * const http: HttpRequestLike = { method: 'GET', host: 'a.example', path: '/', headers: { ':path': '/' } };
 * ```
 */
export interface HttpRequestLike {
  id?: string | null;
  method?: string | null;
  headers?: Record<string, string> | null;
  header_map?: { headers?: HeaderValueLike[] | null } | null;
  path?: string | null;
  host?: string | null;
  [field: string]: unknown;
}

/**
 * A CheckRequest as grpc-js hands it over (proto-loader, `keepCase`): snake_case fields, absent
 * messages as `null`. Every field is optional because the input is not trusted.
 *
 * @example
 * ```ts
 * const req: CheckRequestLike = { attributes: { request: { http: { method: 'GET', host: 'a', path: '/' } } } };
 * ```
 */
export interface CheckRequestLike {
  attributes?: {
    source?: PeerLike | null;
    destination?: PeerLike | null;
    request?: { http?: HttpRequestLike | null; [field: string]: unknown } | null;
    context_extensions?: Record<string, string> | null;
    [field: string]: unknown;
  } | null;
}

/**
 * The request the pipeline decides on.
 *
 * @example
 * ```ts
 * const a: HttpRequestAttributes = { method: 'GET', host: 'api.example.com', path: '/v1?x=1',
 *   headers: new Map([[':path', ['/v1?x=1']]]), destinationNamespace: 'shop' };
 * ```
 */
export interface HttpRequestAttributes {
  /** Upper-case. */
  method: string;
  /** Lower-case, port and one trailing dot removed, IPv6 brackets kept (`[::1]`). */
  host: string;
  /** The raw request target, query included (`/a/b?x=1`); '' only for CONNECT. */
  path: string;
  /**
   * Lower-case names. From the `headers` map one entry per name (Envoy has already joined repeated
   * headers with ','); from `header_map` one entry per header line. Pseudo-headers included.
   */
  headers: Map<string, string[]>;
  /**
   * The namespace of the destination workload: from the proxy's `namespace` context extension, the
   * destination's SPIFFE principal or the sidecar's workload, never from a header.
   */
  destinationNamespace?: string;
  /** The destination workload's labels: known in sidecar mode ({@link ReadAttributesOptions.workload}) only. */
  workloadLabels?: Readonly<Record<string, string>>;
  requestId?: string;
}

/**
 * Limits on what a CheckRequest may carry.
 *
 * @example
 * ```ts
 * readAttributes(req, { maxHeaderBytes: 32 * 1024 });
 * ```
 */
export interface ReadAttributesOptions {
  /**
   * Upper bound on the headers' size, counted as name + value + 32 bytes per header (the HPACK
   * entry size of RFC 7541 §4.1, so many empty headers count too). Default 64 KiB, above
   * Envoy's default `max_request_headers_kb` of 60.
   */
  maxHeaderBytes?: number;
  /**
   * Sidecar mode: the one workload every request is bound for. Its namespace is the destination
   * namespace; a proxy that reports another one is refused (`namespace_conflict`).
   */
  workload?: Workload;
}

const DEFAULT_MAX_HEADER_BYTES = 64 * 1024;
/** Per-header overhead, RFC 7541 §4.1. */
const HEADER_ENTRY_OVERHEAD = 32;

/** RFC 9110 §5.1 field-name (a token), lower-case, optionally an HTTP/2 pseudo-header. */
const HEADER_NAME = /^:?[!#$%&'*+.^_`|~0-9a-z-]+$/;
/** RFC 9110 §5.5: CR, LF and NUL are never valid in a field value. */
const FORBIDDEN_IN_VALUE = /[\r\n\0]/;
/** RFC 9110 §9.1: a method is a token. */
const METHOD = /^[!#$%&'*+.^_`|~0-9A-Z-]+$/;
/** A request target with no whitespace or control characters (RFC 9112 §3.2). */
const REQUEST_TARGET = /^(?:\/[\x21-\x7e]*|\*)$/;
/** reg-name or IPv4 (lower-cased), then an optional port. */
const NAME_HOST = /^([a-z0-9_.-]+)(?::(\d{1,5}))?$/;
/** IP-literal (RFC 3986 §3.2.2), then an optional port. */
const IPV6_HOST = /^(\[[0-9a-f:.]+\])(?::(\d{1,5}))?$/;
function invalid(detail: string): DenyError {
  return new DenyError('request_invalid', undefined, detail);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A string field, or undefined when absent or empty; any other type is malformed. */
function readString(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw invalid(`${field} is not a string`);
  return value;
}

/**
 * Raw header bytes are decoded as latin1: one char per byte, so distinct byte strings stay
 * distinct (UTF-8 decoding would fold invalid sequences into U+FFFD).
 */
function readHeaderValue(entry: HeaderValueLike): string {
  const raw = entry.raw_value;
  if (raw instanceof Uint8Array && raw.length > 0) return Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString('latin1');
  if (typeof raw === 'string' && raw !== '') return raw;
  return readString(entry.value, 'header value') ?? '';
}

/** The header lines of either source, validated for shape only. */
function readHeaderPairs(http: Record<string, unknown>): [string, string][] {
  const map = http.headers ?? {};
  const headerMap = http.header_map ?? {};
  if (!isRecord(map)) throw invalid('headers is not a map');
  if (!isRecord(headerMap)) throw invalid('header_map is not a message');
  const list = headerMap.headers ?? [];
  if (!Array.isArray(list)) throw invalid('header_map.headers is not a list');
  const mapPairs = Object.entries(map);
  // Envoy sends one or the other; both at once means we cannot know which one it meant.
  if (mapPairs.length > 0 && list.length > 0) throw invalid('both headers and header_map are set');

  for (const [name, value] of mapPairs) {
    if (typeof value !== 'string') throw invalid(`header ${name} is not a string`);
  }
  if (mapPairs.length > 0) return mapPairs as [string, string][];
  return list.map((entry: unknown): [string, string] => {
    if (!isRecord(entry) || typeof entry.key !== 'string') throw invalid('header_map entry has no key');
    return [entry.key, readHeaderValue(entry as HeaderValueLike)];
  });
}

function collectHeaders(http: Record<string, unknown>, maxHeaderBytes: number): Map<string, string[]> {
  const pairs = readHeaderPairs(http);
  const headers = new Map<string, string[]>();
  let bytes = 0;
  for (const [rawName, value] of pairs) {
    const name = rawName.toLowerCase();
    bytes += Buffer.byteLength(name) + Buffer.byteLength(value) + HEADER_ENTRY_OVERHEAD;
    if (bytes > maxHeaderBytes) throw invalid(`headers exceed ${maxHeaderBytes} bytes`);
    if (!HEADER_NAME.test(name)) throw invalid('malformed header name');
    if (FORBIDDEN_IN_VALUE.test(value)) throw invalid(`header ${name} has a forbidden character`);
    const values = headers.get(name);
    if (values === undefined) headers.set(name, [value]);
    else values.push(value);
  }
  return headers;
}

/** The first value of a header, for pseudo-headers and Host that occur once. */
function firstHeader(headers: Map<string, string[]>, name: string): string | undefined {
  const value = headers.get(name)?.[0];
  return value === '' ? undefined : value;
}

/**
 * Lower-cases a Host/:authority value and removes the port (RFC 9110 §7.2) and one trailing dot
 * (`api.example.com.` is the same absolute name as `api.example.com`, RFC 1034 §3.1; keeping it
 * would let a client step around a host-specific policy).
 *
 * @example
 * ```ts
 * normalizeHost('API.Example.com:8443'); // 'api.example.com'
 * normalizeHost('[::1]:80');             // '[::1]'
 * ```
 * @throws {DenyError} `request_invalid` for anything that is not a host name, IPv4 or IPv6
 *   literal with an optional port.
 */
export function normalizeHost(authority: string): string {
  const lower = authority.toLowerCase();
  const match = NAME_HOST.exec(lower) ?? IPV6_HOST.exec(lower);
  if (match === null) throw invalid('malformed host');
  const [, host = '', port] = match;
  if (port !== undefined && Number(port) > 65535) throw invalid('malformed host port');
  const bare = host.endsWith('.') && !host.startsWith('[') ? host.slice(0, -1) : host;
  if (bare === '' || bare.startsWith('.') || bare.includes('..')) throw invalid('malformed host');
  return bare;
}

/**
 * Reads and validates the HTTP attributes of a CheckRequest. The `method`, `host` and `path`
 * fields are preferred; the `:method`, `:authority` (or `host`) and `:path` headers are the
 * fallback.
 *
 * @throws {DenyError} `request_invalid` when the HTTP attributes are missing, malformed or
 *   larger than {@link ReadAttributesOptions.maxHeaderBytes}; `namespace_invalid` or
 *   `namespace_conflict` when the destination namespace is malformed or contradicted (see
 *   `resolveDestinationNamespace`).
 * @example
 * ```ts
 * const { method, host, path } = readAttributes({ attributes: { request: { http: {
 *   method: 'get', host: 'API.example.com:443', path: '/v1/items?page=2', headers: {} } } } });
 * // 'GET', 'api.example.com', '/v1/items?page=2'
 * ```
 */
export function readAttributes(req: CheckRequestLike, options: ReadAttributesOptions = {}): HttpRequestAttributes {
  const attributes: unknown = isRecord(req) ? req.attributes : undefined;
  if (!isRecord(attributes)) throw invalid('no attributes');
  const request = attributes.request;
  const http = isRecord(request) ? request.http : undefined;
  if (!isRecord(http)) throw invalid('no http attributes');

  const headers = collectHeaders(http, options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES);

  const method = (readString(http.method, 'method') ?? firstHeader(headers, ':method'))?.toUpperCase();
  if (method === undefined || !METHOD.test(method)) throw invalid('missing or malformed method');

  const authority = readString(http.host, 'host') ?? firstHeader(headers, ':authority') ?? firstHeader(headers, 'host');
  if (authority === undefined) throw invalid('missing host');
  const host = normalizeHost(authority);

  // CONNECT carries an authority, not a path (RFC 9110 §9.3.6).
  const path = readString(http.path, 'path') ?? firstHeader(headers, ':path') ?? '';
  if (!(REQUEST_TARGET.test(path) || (path === '' && method === 'CONNECT'))) throw invalid('missing or malformed path');

  const result: HttpRequestAttributes = { method, host, path, headers };
  const { workload } = options;
  // From the proxy's configuration and mesh identity only, never from a header: see destination-namespace.ts.
  const namespace = resolveDestinationNamespace(attributes, workload);
  if (namespace !== undefined) result.destinationNamespace = namespace;
  if (workload !== undefined) result.workloadLabels = workload.labels;
  const requestId = readString(http.id, 'id') ?? firstHeader(headers, 'x-request-id');
  if (requestId !== undefined) result.requestId = requestId;
  return result;
}
