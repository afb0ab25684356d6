/**
 * When the operator refetches an issuer's keys: the IdP's `Cache-Control: max-age` (RFC 9111
 * §5.2.2.1) when it sends one, otherwise the issuer's `remote.refreshSeconds`, always bounded so
 * a missing or silly header can neither hammer the IdP nor leave keys unchecked for days.
 *
 * @example
 * ```ts
 * refreshDelaySeconds(parseMaxAge('public, max-age=3600'), 300); // 3600
 * ```
 */

/** No IdP may make the operator fetch more often than this. */
export const MIN_REFRESH_SECONDS = 60;
/** Keys are rechecked at least daily, whatever the IdP says. */
export const MAX_REFRESH_SECONDS = 24 * 60 * 60;

/**
 * The `max-age` (or `s-maxage`, which a shared cache like the operator honours first, RFC 9111
 * §5.2.2.10) of a Cache-Control header, in seconds; `no-store`/`no-cache` mean 0; undefined when
 * absent or malformed.
 *
 * @example
 * ```ts
 * parseMaxAge('max-age=600, must-revalidate'); // 600
 * parseMaxAge('no-cache'); // 0
 * parseMaxAge(null); // undefined
 * ```
 */
export function parseMaxAge(header: string | null | undefined): number | undefined {
  if (header === null || header === undefined) return undefined;
  const directives = new Map<string, string | undefined>();
  for (const part of header.split(',')) {
    const [rawName = '', ...rest] = part.split('=');
    const name = rawName.trim().toLowerCase();
    if (name === '' || directives.has(name)) continue; // the first occurrence wins
    directives.set(
      name,
      rest.length === 0
        ? undefined
        : rest
            .join('=')
            .trim()
            .replace(/^"(.*)"$/, '$1'),
    );
  }
  if (directives.has('no-store') || directives.has('no-cache')) return 0;
  for (const name of ['s-maxage', 'max-age']) {
    const value = directives.get(name);
    if (value !== undefined && /^\d{1,10}$/.test(value)) return Number(value);
  }
  return undefined;
}

/**
 * Seconds until the next refresh: `maxAge` when known, else `defaultSeconds`, clamped to
 * [`minSeconds` (default {@link MIN_REFRESH_SECONDS}), {@link MAX_REFRESH_SECONDS}].
 *
 * @example
 * ```ts
 * refreshDelaySeconds(5, 300); // 60
 * refreshDelaySeconds(undefined, 300); // 300
 * ```
 */
export function refreshDelaySeconds(maxAge: number | undefined, defaultSeconds: number, minSeconds: number = MIN_REFRESH_SECONDS): number {
  return Math.min(MAX_REFRESH_SECONDS, Math.max(minSeconds, maxAge ?? defaultSeconds));
}
