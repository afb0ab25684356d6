/**
 * Header names that frame or route an HTTP request (RFC 9110 §7.6.1 connection options and
 * message framing, RFC 9113 §8.2.2): a claim must never decide them. The compiler refuses a policy
 * that would forward a claim into one, and the data plane refuses to write one, so the list is kept
 * once, here.
 *
 * @example
 * ```ts
 * FRAMING_HEADERS.has('transfer-encoding'); // true
 * ```
 */
export const FRAMING_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
]);
