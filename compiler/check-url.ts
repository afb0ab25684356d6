/**
 * The one rule for key-fetching URLs: https, or plain http to a loopback host (for tests and
 * sidecar IdPs). Mirrors the CRDs' CEL rule, which uses the same three host names.
 *
 * @example
 * ```ts
 * isSecureUrl('https://idp.example/jwks'); // true
 * isSecureUrl('http://127.0.0.1:8080/jwks'); // true
 * isSecureUrl('http://idp.example/jwks'); // false
 * ```
 */

/** Hosts reachable over plain http: the CEL rule's list, nothing broader. */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '::1']);

export function isSecureUrl(value: string): boolean {
  const url = URL.parse(value);
  if (url === null) return false;
  // WHATWG URL keeps IPv6 brackets in `hostname`; CEL's getHostname() drops them.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(host));
}
