/**
 * Reads the `Cookie` request header (RFC 6265 §5.4): `name=value` pairs separated by `;`. Shared
 * by token extraction and by token stripping, so both agree on what a cookie is.
 *
 * @example
 * ```ts
 * parseCookies(['theme=dark; jwt=eyJ…']); // [{ name: 'theme', value: 'dark', text: 'theme=dark' }, { name: 'jwt', … }]
 * ```
 */

export interface Cookie {
  name: string;
  /** Value with surrounding double quotes removed (RFC 6265 §4.1.1 allows a quoted cookie-value). */
  value: string;
  /** The pair as it appeared (trimmed), to rebuild the header without touching other cookies. */
  text: string;
}

/**
 * Every cookie in the given `cookie` header values, in order. Envoy may pass several values
 * (HTTP/2 lets a client split cookies across header fields, RFC 9113 §8.2.3); they are never
 * split on ',' since a comma is not a cookie separator. A pair without '=' is skipped.
 *
 * @example
 * ```ts
 * parseCookies(['a=1', 'b="2"; c']).map((c) => c.value); // ['1', '2']
 * ```
 */
export function parseCookies(headerValues: readonly string[]): Cookie[] {
  const cookies: Cookie[] = [];
  for (const header of headerValues) {
    for (const part of header.split(';')) {
      const text = part.trim();
      const eq = text.indexOf('=');
      if (eq <= 0) continue;
      const raw = text.slice(eq + 1).trim();
      const value = raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw;
      cookies.push({ name: text.slice(0, eq).trim(), value, text });
    }
  }
  return cookies;
}
