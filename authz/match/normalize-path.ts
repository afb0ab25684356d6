/**
 * Turns the raw request target Envoy reports (`:path`, query included) into the one canonical
 * path every route rule is matched against, so that dot-segments, repeated slashes and
 * percent-encoding cannot carry a request past a prefix rule or around an exact/regex rule.
 *
 * Paths are case-sensitive (RFC 3986 §6.2.2.1 only folds the scheme, the host and the hex digits
 * of escapes): `/API` and `/api` are different paths, and a policy must list both if an
 * upstream treats them alike.
 *
 * @example
 * ```ts
 * normalizePath('/api/%2e%2e/admin//users?x=1'); // { path: '/admin/users', query: 'x=1' }
 * normalizePath('/api%2Fadmin');                   // throws DenyError('request_invalid')
 * ```
 */
import { DenyError } from '../reasons.ts';

/** Longest raw request target (path and query) accepted, in UTF-16 code units. */
export const MAX_TARGET_LENGTH = 16 * 1024;

export interface NormalizedTarget {
  /** Canonical path: starts with '/', no dot-segments, no empty segments, escapes in upper case. */
  path: string;
  /** Raw query without the '?', not decoded (token extraction decodes the parameters it reads). */
  query: string;
}

/** RFC 3986 §2.3 unreserved characters: decoding them never changes what a URI means. */
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
const HEX = /^[0-9A-Fa-f]{2}$/;
/** `.` or `..` followed by `;` (raw or, after canonicalisation, `%3B`). */
const DOT_WITH_PARAMETERS = /^\.\.?(;|%3B)/;

/**
 * Splits `rawTarget` into its canonical path and its raw query, or throws
 * `DenyError('request_invalid')` for a target that cannot be made canonical safely.
 *
 * Steps, in order:
 * 1. Cut the fragment (a proxy should never send one) and split off the query at the first '?'.
 * 2. Refuse control characters (raw or escaped: an upstream written in C may stop at `%00`),
 *    spaces, '\' (some servers treat it as '/'), invalid escapes, and an encoded '/' or '\'
 *    (`%2F`, `%5C`). Those two are refused rather than decoded or kept: an upstream that decodes
 *    them after us sees a different segment structure than the one we matched (`/api%2F..%2Fadmin`
 *    would be `/admin` there); this is why Envoy has `path_with_escaped_slashes_action`.
 * 3. Decode escaped unreserved characters (RFC 3986 §6.2.2.2: `%7E` → `~`, `%2e` → `.`),
 *    upper-case the hex digits of every other escape (§6.2.2.1), and percent-encode raw
 *    non-ASCII characters as UTF-8 so `/café` and `/caf%C3%A9` are one path.
 * 4. Merge repeated slashes and remove `.` and `..` segments (§5.2.4; `..` never climbs above
 *    '/'). A segment that is `.` or `..` followed by `;parameters` (or `%3B`) is refused: Tomcat and other
 *    servlet containers strip path parameters and would resolve `/public/..;/admin` to `/admin`.
 *
 * @example
 * ```ts
 * normalizePath('/a/./b/../c/');   // { path: '/a/c/', query: '' }
 * normalizePath('//admin');        // { path: '/admin', query: '' }
 * normalizePath('/%7Euser?q=%2F'); // { path: '/~user', query: 'q=%2F' }
 * ```
 */
export function normalizePath(rawTarget: string): NormalizedTarget {
  if (rawTarget.length > MAX_TARGET_LENGTH) {
    throw invalid(`request target is ${rawTarget.length} characters; at most ${MAX_TARGET_LENGTH}`);
  }
  if (!rawTarget.isWellFormed()) throw invalid('request target is not valid Unicode');
  const hash = rawTarget.indexOf('#');
  const withoutFragment = hash === -1 ? rawTarget : rawTarget.slice(0, hash);
  const q = withoutFragment.indexOf('?');
  const rawPath = q === -1 ? withoutFragment : withoutFragment.slice(0, q);
  const query = q === -1 ? '' : withoutFragment.slice(q + 1);
  if (hasControlCharacter(query)) throw invalid('query contains a control character');
  if (!rawPath.startsWith('/')) throw invalid('path does not start with "/"');
  return { path: removeDotSegments(canonicalizeEscapes(rawPath)), query };
}

/** Step 2 and 3: one pass over the path, refusing what cannot be canonical. */
function canonicalizeEscapes(rawPath: string): string {
  let out = '';
  for (let i = 0; i < rawPath.length; i++) {
    const ch = rawPath[i] as string;
    const code = ch.charCodeAt(0);
    if (ch === '%') {
      const hex = rawPath.slice(i + 1, i + 3);
      if (!HEX.test(hex)) throw invalid('path contains an invalid percent-escape');
      const byte = Number.parseInt(hex, 16);
      if (byte === 0x2f || byte === 0x5c) throw invalid('path contains an encoded "/" or "\\"');
      if (byte < 0x20 || byte === 0x7f) throw invalid('path contains an encoded control character');
      const decoded = String.fromCharCode(byte);
      out += UNRESERVED.test(decoded) ? decoded : '%' + hex.toUpperCase();
      i += 2;
    } else if (code <= 0x20 || code === 0x7f || (code >= 0x80 && code <= 0x9f)) {
      throw invalid('path contains a space or a control character');
    } else if (ch === '\\') {
      throw invalid('path contains "\\"');
    } else if (code > 0x7f) {
      // A whole code point (surrogate pairs included), encoded as UTF-8 escapes.
      const cp = rawPath.codePointAt(i) as number;
      const char = String.fromCodePoint(cp);
      out += encodeURIComponent(char);
      i += char.length - 1;
    } else {
      out += ch;
    }
  }
  return out;
}

/** Step 4: RFC 3986 §5.2.4 on an absolute path, with empty segments merged. */
function removeDotSegments(path: string): string {
  const segments = path.split('/');
  const out: string[] = [];
  let trailingSlash = false;
  // segments[0] is the empty string before the leading '/'.
  for (let i = 1; i < segments.length; i++) {
    const segment = segments[i] as string;
    trailingSlash = false;
    if (segment === '' || segment === '.') {
      trailingSlash = true;
    } else if (segment === '..') {
      out.pop();
      trailingSlash = true;
    } else if (DOT_WITH_PARAMETERS.test(segment)) {
      throw invalid('path contains a dot-segment with parameters');
    } else {
      out.push(segment);
    }
  }
  if (out.length === 0) return '/';
  return '/' + out.join('/') + (trailingSlash ? '/' : '');
}

function hasControlCharacter(value: string): boolean {
  return /[\u0000-\u001f\u007f]/.test(value);
}

function invalid(detail: string): DenyError {
  return new DenyError('request_invalid', 'the request path cannot be read safely', detail);
}
