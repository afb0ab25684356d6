/**
 * OpenID Connect discovery, reduced to what verification needs: the `jwks_uri` of an issuer
 * whose discovery document proves it is that issuer.
 *
 * @example
 * ```ts
 * const jwksUri = await discoverJwksUri(new URL('https://idp.example/.well-known/openid-configuration'),
 *   'https://idp.example', { signal: AbortSignal.timeout(5000) });
 * ```
 */
import { KeyFetchError, checkKeyUrl, fetchJson } from './fetch-json.ts';

/**
 * Fetches the discovery document and returns its `jwks_uri`. The document's `issuer` must equal
 * the configured issuer exactly (OpenID Connect Discovery 1.0 §4.3), otherwise nothing from it is
 * used: a mismatched document could hand us another issuer's keys.
 *
 * @example
 * ```ts
 * await discoverJwksUri(url, 'https://other.example', init); // throws KeyFetchError('invalid')
 * ```
 */
export async function discoverJwksUri(discoveryUrl: URL, issuer: string, init: { signal: AbortSignal }): Promise<URL> {
  const document = await fetchJson(discoveryUrl, { signal: init.signal, headers: { accept: 'application/json' } });
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    throw new KeyFetchError('invalid', `${discoveryUrl.href} is not a JSON object`);
  }
  const { issuer: advertised, jwks_uri: jwksUri } = document as Record<string, unknown>;
  if (advertised !== issuer) {
    throw new KeyFetchError(
      'invalid',
      `discovery issuer ${JSON.stringify(advertised)} does not equal the configured issuer ${JSON.stringify(issuer)}`,
    );
  }
  if (typeof jwksUri !== 'string') throw new KeyFetchError('invalid', `${discoveryUrl.href} has no jwks_uri`);
  return checkKeyUrl(jwksUri);
}
