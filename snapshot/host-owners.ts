/**
 * Who owns a host when the request's namespace is unknown, read from the snapshot's
 * {@link HostGrant}s: the most specific pattern of any grant that covers the host (the host
 * itself, then wildcards from the longest suffix to the shortest, then `*`), as Gateway API
 * listeners pick a hostname. The namespaces of every grant with that pattern own it, so a
 * broader grant never reaches a host a narrower one gives away. The compiler (status messages)
 * and the router (decisions) read grants through this one function.
 *
 * ```
 *   grants: api.example.com → a     *.example.com → b     * → c
 *   api.example.com   → a      (exact beats the wildcard)
 *   x.y.example.com   → b
 *   example.org       → c
 * ```
 *
 * A wildcard pattern asked about (`*.example.com`) finds the grants that cover all of it: the
 * same pattern, a shorter wildcard, or `*`.
 *
 * @example
 * ```ts
 * const owners = hostOwners([{ id: 'JWTHostGrant/api', hosts: ['api.example.com'], namespaces: ['a'] }]);
 * owners('API.example.com.'); // { pattern: 'api.example.com', namespaces: Set { 'a' }, grants: ['JWTHostGrant/api'] }
 * owners('other.example.com'); // undefined
 * ```
 */
import type { HostGrant } from './types.ts';

export interface HostOwners {
  /** The grant pattern that decided. */
  pattern: string;
  namespaces: ReadonlySet<string>;
  /** Ids of the grants with that pattern. */
  grants: readonly string[];
}

export function hostOwners(grants: readonly HostGrant[]): (host: string) => HostOwners | undefined {
  const byPattern = new Map<string, { namespaces: Set<string>; grants: string[] }>();
  for (const grant of grants) {
    for (const pattern of grant.hosts) {
      let entry = byPattern.get(pattern);
      if (entry === undefined) {
        entry = { namespaces: new Set(), grants: [] };
        byPattern.set(pattern, entry);
      }
      for (const ns of grant.namespaces) entry.namespaces.add(ns);
      entry.grants.push(grant.id);
    }
  }
  if (byPattern.size === 0) return () => undefined;
  return (host) => {
    for (const pattern of coveringPatterns(normalizeHost(host))) {
      const entry = byPattern.get(pattern);
      if (entry !== undefined) return { pattern, namespaces: entry.namespaces, grants: entry.grants };
    }
    return undefined;
  };
}

/** Lower case without one trailing dot (RFC 4343; `example.com.` is `example.com`). */
function normalizeHost(host: string): string {
  const lower = host.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/**
 * The patterns that cover `host` (lower case, no trailing dot), most specific first: the one
 * definition of wildcard coverage that grants and Gateway listener hostnames share.
 *
 * @example
 * ```ts
 * [...coveringPatterns('a.b.c')]; // ['a.b.c', '*.b.c', '*.c', '*']
 * [...coveringPatterns('*.b.c')]; // ['*.b.c', '*.c', '*']
 * ```
 */
export function* coveringPatterns(host: string): Generator<string> {
  if (!host.startsWith('*.')) yield host;
  for (let dot = host.indexOf('.'); dot >= 0; dot = host.indexOf('.', dot + 1)) yield `*${host.slice(dot)}`;
  yield '*';
}
