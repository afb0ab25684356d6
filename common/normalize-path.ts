/**
 * Reads the request target Envoy reports (`:path`, query included) into the one path every route
 * rule is matched against (the decision path), or refuses it (400 `request_invalid`) when the
 * upstream could read it as another path than jwtgate would (issue 8, "Path forms").
 *
 * Shared by the data plane (every request) and the compiler (a policy path that is not its own
 * decision path could never match). It throws a neutral {@link PathRefusedError}: the data plane
 * turns it into its `request_invalid` reason in one place (authz/check.ts), the compiler into a
 * diagnostic.
 *
 * The rule: anything accepted means the same path to jwtgate and to the upstream, and a
 * legitimate request sent through an Envoy with the recommended settings arrives in a form that
 * is accepted. Envoy's HTTP connection manager is the reference; ext_authz sees `:path` after it:
 *
 * - `normalize_path: true` resolves `.` and `..` (also `%2e`, any case: Chromium's `IsDot`, which
 *   Envoy's path canonicalizer is a copy of), turns a raw `\` into `/`, decodes escaped unreserved
 *   characters (`%41` → `A`), escapes raw characters a URI may not hold, keeps every other escape
 *   as it came (hex case included) and refuses `%00`. It keeps `;` parameters; Envoy 1.40 resolves
 *   a raw `..;x` segment as `..` but forwards `%2e%2e;x` as `..;x` (test/e2e/envoy.test.ts).
 * - `merge_slashes: true` merges `//` into `/` after that.
 * - `path_with_escaped_slashes_action: UNESCAPE_AND_REDIRECT` (or `REJECT_REQUEST`) turns away
 *   any `%2F` or `%5C` before the rest; the default, `KEEP_UNCHANGED`, forwards them.
 *
 * So a dot segment, `//`, `\`, `%2F` or `%5C` reaching jwtgate means Envoy forwards the target as
 * it came, and the upstream resolves it its own way (`/public/..%2fadmin` is `/admin` to a server
 * that decodes before splitting): those are refused, never resolved. What jwtgate decides on:
 *
 * | form                                  | decision                                            |
 * |---------------------------------------|-----------------------------------------------------|
 * | `.` `..` segments, raw or `%2e`       | refused: upstreams resolve them differently         |
 * | `..;x`, `.;x` (dot hidden by `;`)     | refused in both modes: Tomcat reads `..`            |
 * | `//` (an empty segment)               | refused: nginx merges, Express does not, a path join restarts at `/` |
 * | `%2F` `%5C`, raw `\`                  | refused: one more or one fewer segment upstream     |
 * | `;` parameters (`/admin;x=1`)         | refused, or stripped per segment with `ignore`      |
 * | `%3B`                                 | refused: a delimiter to some servers, a literal to others |
 * | invalid escape, invalid UTF-8 in escapes, control characters, `%00` | refused: `%C0%AE` is `.` to an old decoder |
 * | escaped unreserved (`%7E`), sub-delims, `:` `@` | decoded (`~`, `!`, …)                     |
 * | other escapes, any hex case           | kept, hex upper-cased (`%c3%a9` → `%C3%A9`)         |
 * | raw characters a URI may not hold (`"`, `é`) | escaped as UTF-8, upper-case hex            |
 *
 * Each byte thus has one spelling, so two targets that an upstream percent-decodes to the same
 * path get the same decision path, and decoding the decision path gives that path. Path
 * parameters are stripped before decoding, as Tomcat and Spring do. A double-decoding upstream
 * (`%252e` read as `.`) is out of reach of any proxy-side check and is not modelled.
 *
 * Paths are case-sensitive (RFC 3986 §6.2.2.1 folds only the scheme, the host and hex digits); a
 * path match with `caseInsensitive` serves upstreams that fold case.
 *
 * @example
 * ```ts
 * normalizePath('/api/%7Eusers?x=1');                   // { path: '/api/~users', query: 'x=1' }
 * normalizePath('/public/../admin');                    // throws PathRefusedError
 * normalizePath('/admin;x=1', { pathParameters: 'ignore' }); // { path: '/admin', query: '' }
 * ```
 */

/** Longest raw request target (path and query) accepted, in UTF-16 code units. */
export const MAX_TARGET_LENGTH = 16 * 1024;

/**
 * What `;` path parameters (`/admin;jsessionid=1`, RFC 3986 §3.3) mean to jwtgate:
 * - `reject` (the default): a target with one is refused, because servlet containers strip them
 *   (`/admin;x=1` is `/admin` to Tomcat) and most other servers do not;
 * - `ignore`: for upstreams that use them (Tomcat, Spring, Jetty): each segment is matched
 *   without its parameters, as Spring's `UrlPathHelper` reads it.
 */
export type PathParameters = 'reject' | 'ignore';

export interface NormalizeOptions {
  /** Default `reject`; any other value than `ignore` is read as `reject` (fail closed). */
  pathParameters?: PathParameters;
}

export interface NormalizedTarget {
  /** The decision path: starts with '/', in the canonical form described above. */
  path: string;
  /** Raw query without the '?', not decoded (token extraction decodes the parameters it reads). */
  query: string;
}

/**
 * A request target refused: `description` names the form (safe to show the client), `detail`
 * says where it is (for logs only).
 *
 * @example
 * ```ts
 * try { normalizePath('/a//b'); } catch (err) { if (err instanceof PathRefusedError) console.log(err.description); }
 * ```
 */
export class PathRefusedError extends Error {
  override name = 'PathRefusedError';
  readonly description: string;
  readonly detail: string;

  constructor(description: string, detail: string) {
    super(description);
    this.description = description;
    this.detail = detail;
  }
}

/** RFC 3986 pchar minus ';' and '%': written raw in a decision path, decoded when escaped. */
const PLAIN = /^[A-Za-z0-9\-._~!$&'()*+,=:@]$/;
const HEX = /^[0-9A-Fa-f]{2}$/;

/**
 * Splits `rawTarget` into its decision path and its raw query, or throws a
 * {@link PathRefusedError} whose description names the form refused and whose detail names
 * where it is.
 *
 * @example
 * ```ts
 * normalizePath('/a/caf%c3%a9/');     // { path: '/a/caf%C3%A9/', query: '' }
 * normalizePath('/admin/..;/admin');  // throws: dot segment hidden by ';' parameters
 * normalizePath('/app/;jsessionid=1', { pathParameters: 'ignore' }); // { path: '/app/', query: '' }
 * ```
 */
export function normalizePath(rawTarget: string, options: NormalizeOptions = {}): NormalizedTarget {
  if (rawTarget.length > MAX_TARGET_LENGTH) {
    throw invalid('the request target is too long', `${rawTarget.length} characters; at most ${MAX_TARGET_LENGTH}`);
  }
  if (!rawTarget.isWellFormed()) throw invalid('the request target is not valid Unicode', 'lone surrogate');
  // A proxy never sends a fragment (Envoy refuses or strips one); cut it rather than match it.
  const hash = rawTarget.indexOf('#');
  const withoutFragment = hash === -1 ? rawTarget : rawTarget.slice(0, hash);
  const q = withoutFragment.indexOf('?');
  const rawPath = q === -1 ? withoutFragment : withoutFragment.slice(0, q);
  const query = q === -1 ? '' : withoutFragment.slice(q + 1);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: this pattern exists to find control characters.
  if (/[\u0000-\u001f\u007f]/.test(query)) throw invalid('the query contains a control character', 'raw control character in the query');
  if (!rawPath.startsWith('/'))
    throw invalid('the request path does not start with "/"', `target ${JSON.stringify(rawTarget.slice(0, 64))}`);
  return { path: decisionPath(rawPath, options.pathParameters === 'ignore'), query };
}

/** One segment at a time: a raw '/' is the only separator, since '%2F' and '\' are refused. */
function decisionPath(rawPath: string, ignoreParameters: boolean): string {
  const segments = rawPath.split('/');
  const names: string[] = [];
  // segments[0] is the empty string before the leading '/'; an empty last segment is a trailing slash.
  for (let i = 1; i < segments.length; i++) {
    const raw = segments[i] as string;
    const where = `segment ${i} ${JSON.stringify(raw.slice(0, 64))}`;
    const semicolon = raw.indexOf(';');
    const name = canonicalSegment(semicolon === -1 ? raw : raw.slice(0, semicolon), where);
    if (semicolon !== -1) canonicalSegment(raw.slice(semicolon + 1), `${where} (parameters)`);
    if (name === '.' || name === '..') {
      throw invalid(
        semicolon === -1
          ? 'the request path has a "." or ".." segment'
          : 'the request path has a "." or ".." segment hidden by ";" parameters',
        `${where}; a proxy with normalize_path resolves dot segments before asking`,
      );
    }
    if (semicolon !== -1 && !ignoreParameters) {
      throw invalid(
        'the request path has ";" parameters',
        `${where}; servlet containers strip them: if the upstream uses them, set pathParameters: ignore (--path-parameters ignore)`,
      );
    }
    if (name === '' && i < segments.length - 1) {
      throw invalid(
        raw === '' ? 'the request path has an empty segment ("//")' : 'the request path has a segment of ";" parameters only',
        `${where}; a proxy with merge_slashes merges repeated slashes before asking`,
      );
    }
    names.push(name);
  }
  return `/${names.join('/')}`;
}

/** A segment (or its parameters) in canonical form; refuses what has no single reading. */
function canonicalSegment(raw: string, where: string): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i] as string;
    const code = ch.charCodeAt(0);
    if (ch === '%') {
      const hex = raw.slice(i + 1, i + 3);
      if (!HEX.test(hex)) throw invalid('the request path has an invalid percent-escape', `${where} at "${raw.slice(i, i + 3)}"`);
      const byte = Number.parseInt(hex, 16);
      if (byte === 0x2f || byte === 0x5c) {
        throw invalid('the request path has an encoded "/" or "\\"', `${where}; set path_with_escaped_slashes_action on the proxy`);
      }
      if (byte === 0x3b)
        throw invalid(
          'the request path has an encoded ";"',
          `${where}; some servers read it as a parameter delimiter, others as a literal`,
        );
      if (byte < 0x20 || byte === 0x7f) throw invalid('the request path has an encoded control character', `${where} at "%${hex}"`);
      const decoded = String.fromCharCode(byte);
      out += PLAIN.test(decoded) ? decoded : `%${hex.toUpperCase()}`;
      i += 2;
    } else if (code <= 0x20 || code === 0x7f || (code >= 0x80 && code <= 0x9f)) {
      throw invalid('the request path contains a space or a control character', `${where} at U+${code.toString(16).padStart(4, '0')}`);
    } else if (ch === '\\') {
      throw invalid('the request path contains "\\"', `${where}; some servers read it as "/"`);
    } else if (PLAIN.test(ch) || ch === ';') {
      out += ch;
    } else {
      // A whole code point (surrogate pairs included), encoded as UTF-8 escapes.
      const char = String.fromCodePoint(raw.codePointAt(i) as number);
      out += encodeURIComponent(char);
      i += char.length - 1;
    }
  }
  try {
    decodeURIComponent(out);
  } catch {
    throw invalid(
      'the request path has percent-escapes that are not UTF-8',
      `${where}; an overlong form such as %C0%AE is "." to some decoders`,
    );
  }
  return out;
}

function invalid(description: string, detail: string): PathRefusedError {
  return new PathRefusedError(description, detail);
}
