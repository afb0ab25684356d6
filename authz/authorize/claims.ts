/**
 * Reads claims from a verified payload and applies an issuer's claim mappings. Claim paths come
 * from manifests and payloads come from tokens, so neither may reach `Object.prototype`: a path
 * `constructor.name` or `__proto__` finds only what the token itself contains.
 *
 * @example
 * ```ts
 * readClaim({ realm_access: { roles: ['admin'] } }, ['realm_access', 'roles']); // ['admin']
 * readClaim({}, ['constructor', 'name']); // undefined
 * ```
 */
import type { ClaimMapping, ClaimPath } from '../../snapshot/types.ts';

/** A verified JWT payload (or the result of {@link applyClaimMappings}). */
export type Claims = Record<string, unknown>;

/**
 * The value at `path`, or undefined when any step is missing, is not an own property, or walks
 * through something other than a plain JSON object (arrays are not indexed into).
 *
 * @example
 * ```ts
 * readClaim({ a: { b: 1 } }, ['a', 'b']);  // 1
 * readClaim({ a: [{ b: 1 }] }, ['a', '0', 'b']); // undefined
 * ```
 */
export function readClaim(claims: Claims, path: ClaimPath): unknown {
  let current: unknown = claims;
  for (const segment of path) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return undefined;
    if (!Object.hasOwn(current, segment)) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

/**
 * A new claims object where each mapping's `to` holds the value found at its `from` in the
 * ORIGINAL claims (mappings never read each other's output; a later mapping to the same name
 * wins). The local name always means the mapped claim: it overwrites a token claim of the same
 * name, and when the remote claim is absent the local name is absent too, so a token cannot
 * supply the local name directly and bypass the mapping.
 *
 * The result has a null prototype: assigning a mapping target named `__proto__` creates a
 * claim instead of changing the object's prototype.
 *
 * @example
 * ```ts
 * applyClaimMappings({ sub: 'u1', realm_access: { roles: ['a'] }, roles: ['forged'] },
 *   [{ from: ['realm_access', 'roles'], to: 'roles' }]);
 * // { sub: 'u1', realm_access: { roles: ['a'] }, roles: ['a'] }
 * ```
 */
export function applyClaimMappings(claims: Claims, mappings: readonly ClaimMapping[]): Claims {
  const mapped: Claims = Object.assign(Object.create(null) as Claims, claims);
  for (const { from, to } of mappings) {
    const value = readClaim(claims, from);
    if (value === undefined) delete mapped[to];
    else mapped[to] = value;
  }
  return mapped;
}
