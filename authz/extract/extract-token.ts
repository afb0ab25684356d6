/**
 * Finds the bearer token in a request, from the policy's token sources (headers with an optional
 * scheme prefix, query parameters, cookies). Exactly one distinct token may be present: two
 * different tokens would let a request be judged on one while an upstream reads the other.
 *
 * @example
 * ```ts
 * const headers = new Map([['authorization', ['Bearer eyJhbGciOi…']]]);
 * extractToken({ headers, query: '' }, [{ kind: 'header', name: 'authorization', prefix: 'Bearer ' }]);
 * // { token: 'eyJhbGciOi…', source: { kind: 'header', … }, sources: [{ kind: 'header', … }] }
 * ```
 */
import { DenyError } from '../reasons.ts';
import type { TokenSource } from '../../snapshot/types.ts';
import { parseCookies } from './parse-cookies.ts';
import { parseQuery } from './parse-query.ts';

export interface TokenRequest {
  /** Lower-case header names; each entry may hold several values (Envoy may also join them with ','). */
  headers: Map<string, string[]>;
  /** Raw query, without the '?'. */
  query: string;
}

export interface ExtractedToken {
  token: string;
  /** The first source (in the policy's order) that carried the token. */
  source: TokenSource;
  /** Every source that carried this same token, `source` first: all of them are stripped. */
  sources: TokenSource[];
}

/**
 * The request's token and where it was found, or undefined when no source carries one.
 *
 * - A header source must hold exactly one credential: one value, without a comma. RFC 9110
 *   §11.6.2 gives `Authorization` one `credentials`; a JWT never contains a comma, so a comma
 *   means several credentials or a repeated header (Envoy joins repeats with one). `Basic x,
 *   Bearer T`, `Bearer T, Bearer T` or two header lines are `credentials_malformed` (400
 *   invalid_request, RFC 6750 §3.1 "uses more than one method … or is otherwise malformed"):
 *   picking `T` out of such a header would decide on a credential the upstream may not read.
 *   With a `prefix` (compared case-insensitively, RFC 9110 §11.1: the scheme is case-insensitive),
 *   a value without it (`Basic …`) is not a token from this source; the prefix alone, with
 *   nothing after it, is `token_malformed`.
 * - A query source reads the form-decoded parameter; a cookie source the named cookie. An empty
 *   value there is treated as absent (logging out often leaves `jwt=` behind).
 *
 * Throws `DenyError('token_ambiguous')` when two different tokens are present in different
 * sources (or twice in one query or cookie); the same token in two places is accepted.
 * Throws `DenyError('credentials_malformed')` for a header source with several credentials.
 *
 * @example
 * ```ts
 * const headers = new Map([['cookie', ['theme=dark; jwt=eyJ…']]]);
 * extractToken({ headers, query: 'access_token=eyJ…' }, [
 *   { kind: 'query', name: 'access_token' }, { kind: 'cookie', name: 'jwt' },
 * ]); // the same token in both: { token: 'eyJ…', source: query, sources: [query, cookie] }
 * ```
 */
export function extractToken(request: TokenRequest, sources: readonly TokenSource[]): ExtractedToken | undefined {
  let found: ExtractedToken | undefined;
  for (const source of sources) {
    for (const token of readSource(request, source)) {
      if (found === undefined) {
        found = { token, source, sources: [source] };
      } else if (token !== found.token) {
        throw new DenyError('token_ambiguous', undefined, `different tokens in ${describe(found.source)} and ${describe(source)}`);
      } else if (!found.sources.includes(source)) {
        found.sources.push(source);
      }
    }
  }
  return found;
}

/** Every non-empty token the source carries (possibly several; the caller judges ambiguity). */
function readSource(request: TokenRequest, source: TokenSource): string[] {
  switch (source.kind) {
    case 'header':
      return readHeader(source.name.toLowerCase(), request.headers.get(source.name.toLowerCase()) ?? [], source.prefix);
    case 'query':
      return parseQuery(request.query)
        .filter((p) => p.name === source.name && p.value !== '')
        .map((p) => p.value);
    case 'cookie':
      return parseCookies(request.headers.get('cookie') ?? [])
        .filter((c) => c.name === source.name && c.value !== '')
        .map((c) => c.value);
  }
}

function readHeader(name: string, values: readonly string[], prefix: string | undefined): string[] {
  // An empty header line carries nothing; any other line counts as a credential.
  const present = values.filter((value) => value.trim() !== '');
  const [value] = present;
  if (value === undefined) return [];
  if (present.length > 1 || value.includes(',')) {
    throw new DenyError(
      'credentials_malformed',
      `the ${name} header must carry exactly one credential`,
      `${name}: ${present.length} value(s), ${value.split(',').length} comma-separated item(s) in the first`,
    );
  }
  const item = value.trim();
  const expected = prefix?.toLowerCase();
  if (expected === undefined) return [item];
  // Trimming above turned `Bearer ` into `Bearer`: the scheme with no credentials.
  if (item.toLowerCase() === expected.trimEnd()) throw new DenyError('token_malformed', 'the authorization scheme has no token');
  if (item.slice(0, expected.length).toLowerCase() !== expected) return [];
  const token = item.slice(expected.length).trim();
  if (token === '') throw new DenyError('token_malformed', 'the authorization scheme has no token');
  return [token];
}

function describe(source: TokenSource): string {
  return `${source.kind} ${source.name}`;
}
