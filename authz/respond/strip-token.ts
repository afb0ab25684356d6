/**
 * Removes the token from the request sent upstream (`forward.stripToken`), from every source that
 * carried it: a service behind the gate should not be able to replay the caller's token.
 *
 * @example
 * ```ts
 * const headers = new Map([['cookie', ['theme=dark; jwt=eyJ…']]]);
 * stripToken([{ kind: 'cookie', name: 'jwt' }], { headers, query: '' });
 * // { headersToRemove: [], queryParametersToRemove: [], headersToSet: [{ name: 'cookie', value: 'theme=dark' }] }
 * ```
 */
import type { HeaderToSet } from '../decision.ts';
import type { TokenRequest } from '../extract/extract-token.ts';
import { parseCookies } from '../extract/parse-cookies.ts';
import { parseQuery } from '../extract/parse-query.ts';
import type { TokenSource } from '../../snapshot/types.ts';

export interface TokenStrip {
  headersToRemove: string[];
  /** For Envoy's `query_parameters_to_remove`. */
  queryParametersToRemove: string[];
  headersToSet: HeaderToSet[];
}

/**
 * The header and query edits that remove the token from all of `sources` at once (pass every
 * source of every token: two cookie sources handled separately would each put the other's
 * cookie back).
 *
 * - header: the whole header is removed (lower-case name).
 * - query: the parameter's decoded name, plus each differently-encoded spelling the client used
 *   (`access%5Ftoken`), so the parameter goes whether or not the proxy decodes names first.
 * - cookie: the `cookie` header is rewritten without the token's cookies (other cookies kept in
 *   order), or removed when none remains.
 *
 * @example
 * ```ts
 * stripToken([{ kind: 'header', name: 'Authorization', prefix: 'Bearer ' }, { kind: 'query', name: 'access_token' }],
 *   { headers: new Map(), query: 'access_token=eyJ…' });
 * // { headersToRemove: ['authorization'], queryParametersToRemove: ['access_token'], headersToSet: [] }
 * ```
 */
export function stripToken(sources: readonly TokenSource[], request: TokenRequest): TokenStrip {
  const headersToRemove = new Set<string>();
  const queryNames = new Set<string>();
  const cookieNames = new Set<string>();
  for (const source of sources) {
    if (source.kind === 'header') headersToRemove.add(source.name.toLowerCase());
    else if (source.kind === 'query') queryNames.add(source.name);
    else cookieNames.add(source.name);
  }

  const queryParametersToRemove = new Set(queryNames);
  if (queryNames.size > 0) {
    for (const parameter of parseQuery(request.query)) {
      if (queryNames.has(parameter.name)) queryParametersToRemove.add(parameter.rawName);
    }
  }

  const headersToSet: HeaderToSet[] = [];
  if (cookieNames.size > 0 && !headersToRemove.has('cookie')) {
    const cookies = parseCookies(request.headers.get('cookie') ?? []);
    const kept = cookies.filter((cookie) => !cookieNames.has(cookie.name));
    if (kept.length === 0) headersToRemove.add('cookie');
    else if (kept.length < cookies.length) headersToSet.push({ name: 'cookie', value: kept.map((c) => c.text).join('; ') });
  }
  return { headersToRemove: [...headersToRemove], queryParametersToRemove: [...queryParametersToRemove], headersToSet };
}
