/**
 * Reads query parameters as an HTML form decoder does (`application/x-www-form-urlencoded`:
 * `+` is a space, escapes are UTF-8), keeping each parameter's raw name too, so that stripping a
 * token can name the parameter exactly as the client wrote it.
 *
 * @example
 * ```ts
 * parseQuery('access%5Ftoken=a%2Eb&x=1'); // [{ name: 'access_token', rawName: 'access%5Ftoken', value: 'a.b' }, { name: 'x', … }]
 * ```
 */

export interface QueryParameter {
  /** Decoded name. */
  name: string;
  /** Name as it appears in the query. */
  rawName: string;
  /** Decoded value ('' when the parameter has no '='). */
  value: string;
}

/**
 * The parameters of a raw query (without the leading '?'), in order. Invalid escapes are kept
 * literally, as `URLSearchParams` does: a token with a stray '%' then fails verification.
 *
 * @example
 * ```ts
 * parseQuery('t=a+b').at(0)?.value; // 'a b'
 * ```
 */
export function parseQuery(query: string): QueryParameter[] {
  const parameters: QueryParameter[] = [];
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawName = eq === -1 ? pair : pair.slice(0, eq);
    const rawValue = eq === -1 ? '' : pair.slice(eq + 1);
    // URLSearchParams applies exactly the form decoding (WHATWG URL §5.1) to one pair.
    const [[name, value] = ['', '']] = new URLSearchParams(`${rawName}=${rawValue}`);
    parameters.push({ name, rawName, value });
  }
  return parameters;
}
