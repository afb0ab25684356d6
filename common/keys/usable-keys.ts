/**
 * Splits a JWK set into the keys we will verify with and the ones we refuse, wherever a key set
 * enters the service: static keys from the snapshot, cached keys, and every fetched JWKS (before
 * jose sees it).
 *
 * @example
 * ```ts
 * const { jwks, rejected } = selectUsableKeys(fetchedJson, { allowSecrets: false });
 * for (const r of rejected) log.warn(r, 'key refused');
 * ```
 */
import type { Jwk, JwkSet } from './jwk.ts';
import { keyWeakness } from './key-strength.ts';

export interface RejectedKey {
  kid: string | undefined;
  reason: string;
}

export interface UsableKeys {
  jwks: JwkSet;
  rejected: RejectedKey[];
}

/**
 * Keeps the keys {@link keyWeakness} accepts. `allowSecrets: false` also refuses `oct` keys: an
 * HMAC secret published at a URL is no secret, so remote sets never contribute one.
 * Returns undefined when `value` is not a JWK set at all (RFC 7517 §5: an object with `keys`).
 *
 * @example
 * ```ts
 * selectUsableKeys({ keys: [{ kty: 'oct', k: '…' }] }, { allowSecrets: false })?.rejected.length; // 1
 * selectUsableKeys('nope', { allowSecrets: true }); // undefined
 * ```
 */
export function selectUsableKeys(value: unknown, options: { allowSecrets: boolean }): UsableKeys | undefined {
  if (!isObject(value) || !Array.isArray(value.keys)) return undefined;
  const keys: Jwk[] = [];
  const rejected: RejectedKey[] = [];
  for (const candidate of value.keys as unknown[]) {
    if (!isObject(candidate) || typeof candidate.kty !== 'string') {
      rejected.push({ kid: undefined, reason: 'not a JWK object with a kty' });
      continue;
    }
    const jwk = candidate as Jwk;
    const kid = typeof jwk.kid === 'string' ? jwk.kid : undefined;
    const reason = !options.allowSecrets && jwk.kty === 'oct' ? 'a published HMAC secret is not secret; refusing it' : keyWeakness(jwk);
    if (reason === undefined) keys.push(jwk);
    else rejected.push({ kid, reason });
  }
  return { jwks: { keys }, rejected };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
