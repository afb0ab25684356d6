/**
 * One fetch of a remote issuer's public keys for the control plane: OIDC discovery when
 * configured (the document must name the issuer, common/keys/discover-jwks-uri.ts), the JWK set
 * with the same URL rules and weak-key screening the data plane applies, plus the response's
 * `Cache-Control` so the operator can refresh on the IdP's schedule.
 *
 * @example
 * ```ts
 * const { jwks, maxAge } = await fetchRemoteKeys(snapshot.issuers['shop/idp']!);
 * ```
 */
import { discoverJwksUri } from '../../common/keys/discover-jwks-uri.ts';
import { KeyFetchError, checkKeyUrl, fetchJsonWithHeaders } from '../../common/keys/fetch-json.ts';
import { selectUsableKeys, type RejectedKey } from '../../common/keys/usable-keys.ts';
import type { JwkSet, SnapshotIssuer } from '../../snapshot/types.ts';
import { parseMaxAge } from './refresh-delay.ts';

export interface FetchedKeys {
  /** The usable keys; never empty (an empty set is a {@link KeyFetchError}). */
  jwks: JwkSet;
  /** Keys refused by screening (weak, secret, wrong use). */
  rejected: RejectedKey[];
  /** The JWKS response's Cache-Control max-age, when it had one. */
  maxAge?: number;
}

/**
 * Fetches and screens the keys of a `jwksUri` or `discovery` issuer. Throws a
 * {@link KeyFetchError} for every failure (the caller keeps its last good keys), and a
 * TypeError for a static issuer, which has nothing to fetch.
 *
 * @example
 * ```ts
 * await fetchRemoteKeys(issuer).catch((e: KeyFetchError) => e.result); // 'timeout'
 * ```
 */
export async function fetchRemoteKeys(issuer: SnapshotIssuer): Promise<FetchedKeys> {
  const source = issuer.keySource;
  if (source.kind === 'static') throw new TypeError(`issuer ${issuer.id} has static keys`);
  const signal = AbortSignal.timeout(issuer.remote.timeoutMs);
  try {
    const jwksUrl =
      source.kind === 'discovery'
        ? await discoverJwksUri(checkKeyUrl(source.discoveryUrl), issuer.issuer, { signal })
        : checkKeyUrl(source.jwksUri);
    const { body, headers } = await fetchJsonWithHeaders(jwksUrl, { signal, headers: { accept: 'application/json' } });
    const usable = selectUsableKeys(body, { allowSecrets: false });
    if (usable === undefined) throw new KeyFetchError('invalid', `${jwksUrl.href} is not a JWK set`);
    if (usable.jwks.keys.length === 0) throw new KeyFetchError('invalid', `${jwksUrl.href} has no usable key`);
    const maxAge = parseMaxAge(headers.get('cache-control'));
    return { jwks: usable.jwks, rejected: usable.rejected, ...(maxAge === undefined ? {} : { maxAge }) };
  } catch (error) {
    // One signal bounds discovery and JWKS together: say so on the JWTIssuer's status, which
    // names the issuer rather than whichever URL was in flight.
    if (error instanceof KeyFetchError && error.result === 'timeout') {
      throw new KeyFetchError('timeout', `keys of ${issuer.id} did not arrive within ${issuer.remote.timeoutMs} ms`, { cause: error });
    }
    throw error;
  }
}
