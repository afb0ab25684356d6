/**
 * Resolves the destination namespace of a CheckRequest: the tenant whose policies may decide it
 * (issue 10, "The namespace of a request"). Only two inputs may name it, both out of the client's
 * reach:
 *
 * - the `namespace` context extension, which only the proxy's route configuration sets
 *   (`ExtAuthzPerRoute.check_settings.context_extensions`); a client cannot send one;
 * - the destination's SPIFFE principal `spiffe://<trust-domain>/ns/<namespace>/sa/<account>`: the
 *   URI SAN of the proxy's own mTLS certificate (Istio). The *source* principal is the client's
 *   and is never read.
 *
 * Request headers (`x-namespace`, `x-forwarded-client-cert`, …) are never read here: a client
 * controls them. When both inputs are present they must agree, and in sidecar mode they must
 * name the workload's own namespace: deciding with either one of two contradicting claims could
 * apply the wrong tenant's policy, so the request is refused (`namespace_conflict`). A claim that
 * is present but malformed is refused too (`namespace_invalid`) rather than ignored, since
 * ignoring it would turn a namespaced request into a host-only one.
 *
 * @example
 * ```ts
 * resolveDestinationNamespace({ context_extensions: { namespace: 'shop' } }); // 'shop'
 * ```
 */
import { DenyError } from '../reasons.ts';
import type { Workload } from './workload.ts';

/** Kubernetes namespace names are RFC 1123 labels (DNS-1123 in Kubernetes' words). */
const DNS_1123_LABEL = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
/** A SPIFFE ID; the scheme is matched case-insensitively so `SPIFFE://…/ns/…` cannot slip past as "not SPIFFE". */
const SPIFFE_SCHEME = /^spiffe:\/\//i;
/**
 * Istio's workload identity, exactly: a SPIFFE ID (trust domain `[a-z0-9._-]`, path segments
 * `[A-Za-z0-9._-]`, SPIFFE-ID spec §2.1-2.2) with the `ns`/`sa` path convention and nothing else.
 */
const ISTIO_IDENTITY = /^spiffe:\/\/[a-z0-9._-]+\/ns\/([^/]*)\/sa\/[A-Za-z0-9._-]+$/;
/** A SPIFFE ID is at most 2048 bytes (SPIFFE-ID spec §2.3). */
const MAX_PRINCIPAL_LENGTH = 2048;
/** How much of a refused value a log detail quotes. */
const QUOTED_LENGTH = 120;

const quote = (value: string): string => JSON.stringify(value.length > QUOTED_LENGTH ? `${value.slice(0, QUOTED_LENGTH)}…` : value);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function malformed(detail: string): DenyError {
  return new DenyError('namespace_invalid', undefined, detail);
}

/**
 * The namespace a destination principal names: `undefined` when it names none (empty, or not a
 * SPIFFE ID, or a SPIFFE ID without an `ns` segment, such as SPIRE's own layouts).
 *
 * @throws {DenyError} `namespace_invalid` for a SPIFFE ID that has an `ns` segment but is not
 *   exactly `spiffe://<trust-domain>/ns/<namespace>/sa/<account>`, repeats `/ns/`, names a
 *   namespace that is not an RFC 1123 label, or is longer than 2048 bytes.
 * @example
 * ```ts
 * namespaceFromPrincipal('spiffe://cluster.local/ns/shop/sa/cart'); // 'shop'
 * namespaceFromPrincipal('spiffe://example.org/workload/cart');    // undefined
 * namespaceFromPrincipal('spiffe://cluster.local/ns/../sa/x');      // throws namespace_invalid
 * ```
 */
export function namespaceFromPrincipal(principal: string): string | undefined {
  if (!SPIFFE_SCHEME.test(principal)) return undefined;
  if (principal.length > MAX_PRINCIPAL_LENGTH) throw malformed(`destination principal exceeds ${MAX_PRINCIPAL_LENGTH} bytes`);
  // Segments after the trust domain; `ns` in any case counts, so no spelling of it is overlooked.
  const nsKeys = principal
    .slice('spiffe://'.length)
    .split('/')
    .slice(1)
    .filter((segment) => segment.toLowerCase() === 'ns').length;
  if (nsKeys === 0) return undefined;
  const match = ISTIO_IDENTITY.exec(principal);
  if (match === null) {
    const why = nsKeys > 1 ? 'repeats /ns/' : 'is not spiffe://<trust-domain>/ns/<namespace>/sa/<account>';
    throw malformed(`destination principal ${quote(principal)} ${why}`);
  }
  const namespace = match[1] ?? '';
  if (!DNS_1123_LABEL.test(namespace))
    throw malformed(`destination principal ${quote(principal)} names a namespace that is not an RFC 1123 label`);
  return namespace;
}

/** The `namespace` context extension, validated. */
function namespaceFromExtensions(extensions: unknown): string | undefined {
  if (extensions === undefined || extensions === null) return undefined;
  if (!isRecord(extensions)) throw new DenyError('request_invalid', undefined, 'context_extensions is not a map');
  const value = extensions.namespace;
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new DenyError('request_invalid', undefined, 'context extension namespace is not a string');
  if (!DNS_1123_LABEL.test(value)) throw malformed(`context extension namespace ${quote(value)} is not an RFC 1123 label`);
  return value;
}

/** The destination principal, when the proxy reports one. */
function destinationPrincipal(destination: unknown): string | undefined {
  if (destination === undefined || destination === null) return undefined;
  if (!isRecord(destination)) throw new DenyError('request_invalid', undefined, 'destination is not a message');
  const { principal } = destination;
  if (principal === undefined || principal === null || principal === '') return undefined;
  if (typeof principal !== 'string') throw new DenyError('request_invalid', undefined, 'destination principal is not a string');
  return principal;
}

/**
 * The destination namespace of a CheckRequest's `attributes`, or `undefined` when nothing names
 * one (a gateway that only knows the host). Reads the `namespace` context extension and the
 * destination principal only; never a header. In sidecar mode (`workload`) the workload's
 * namespace is the answer, and a claim naming another one is a conflict.
 *
 * @throws {DenyError} `namespace_conflict` when two of (context extension, principal, sidecar
 *   workload) name different namespaces; `namespace_invalid` when one is malformed (see
 *   {@link namespaceFromPrincipal}); `request_invalid` for fields of the wrong type.
 * @example
 * ```ts
 * resolveDestinationNamespace({ destination: { principal: 'spiffe://cluster.local/ns/shop/sa/api' } }); // 'shop'
 * resolveDestinationNamespace({}, { namespace: 'shop', labels: {} });                                   // 'shop'
 * resolveDestinationNamespace({ context_extensions: { namespace: 'billing' },
 *   destination: { principal: 'spiffe://cluster.local/ns/shop/sa/api' } });                           // throws namespace_conflict
 * ```
 */
export function resolveDestinationNamespace(attributes: Record<string, unknown>, workload?: Workload): string | undefined {
  const fromExtension = namespaceFromExtensions(attributes.context_extensions);
  const principal = destinationPrincipal(attributes.destination);
  const fromPrincipal = principal === undefined ? undefined : namespaceFromPrincipal(principal);

  const claims: [source: string, namespace: string | undefined][] = [
    ['context extension namespace', fromExtension],
    [`destination principal ${quote(principal ?? '')} namespace`, fromPrincipal],
    ['sidecar workload namespace', workload?.namespace],
  ];
  const present = claims.filter((claim): claim is [string, string] => claim[1] !== undefined);
  const [first, ...others] = present;
  const other = others.find(([, namespace]) => namespace !== first?.[1]);
  if (first !== undefined && other !== undefined) {
    throw new DenyError('namespace_conflict', undefined, `${first[0]} ${quote(first[1])} contradicts ${other[0]} ${quote(other[1])}`);
  }
  return first?.[1];
}
