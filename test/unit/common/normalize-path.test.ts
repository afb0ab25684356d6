// Decision paths: a target is either refused, or read as the one path an upstream reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MAX_TARGET_LENGTH, normalizePath, PathRefusedError, type PathParameters } from '../../../common/normalize-path.ts';

const accepted: [raw: string, path: string, query: string][] = [
  ['/', '/', ''],
  ['/api/users', '/api/users', ''],
  ['/api/users?x=1&y=%2F', '/api/users', 'x=1&y=%2F'],
  ['/api/users?a=/../b;c', '/api/users', 'a=/../b;c'], // the query is not the path
  ['/api/users#frag', '/api/users', ''],
  ['/api?q=1#frag?x', '/api', 'q=1'],
  ['/api/', '/api/', ''],
  ['/API', '/API', ''], // case-sensitive: not folded to /api
  ['/...', '/...', ''], // three dots are a name, not a dot segment
  ['/a.b/.c/..d', '/a.b/.c/..d', ''],
  ['/a%2eb', '/a.b', ''], // an escaped dot inside a name is just a dot
  ['/%7Euser/%41bc', '/~user/Abc', ''], // escaped unreserved characters decoded, as Envoy does
  ['/a%3ab/%40/%21%24%26%27%28%29%2A%2B%2C%3D', "/a:b/@/!$&'()*+,=", ''], // sub-delims, ':' and '@' too
  ['/a%3fb/%23/%25/%20', '/a%3Fb/%23/%25/%20', ''], // kept escaped, hex upper-cased
  ['/a%5bb%5D', '/a%5Bb%5D', ''],
  ['/a"b/<c>/{d}/`e`/|/^/[f]', '/a%22b/%3Cc%3E/%7Bd%7D/%60e%60/%7C/%5E/%5Bf%5D', ''], // escaped as Envoy escapes them
  ['/caf\u00e9', '/caf%C3%A9', ''],
  ['/caf%c3%a9', '/caf%C3%A9', ''],
  ['/\u{1F600}', '/%F0%9F%98%80', ''],
];

for (const [raw, path, query] of accepted) {
  test(`normalizePath(${JSON.stringify(raw)}) → ${path}`, () => {
    assert.deepEqual(normalizePath(raw), { path, query });
  });
}

const acceptedIgnoringParameters: [raw: string, path: string][] = [
  ['/admin;x=1', '/admin'],
  ['/admin;', '/admin'],
  ['/a;x=1;y=2/b;z', '/a/b'],
  ['/app/;jsessionid=ab12', '/app/'], // Tomcat's URL rewriting: parameters only, last segment
  ['/;x', '/'],
  ['/a;p=%2e%2e', '/a'], // a parameter value is not a segment
  ['/%41dmin;x', '/Admin'],
];

for (const [raw, path] of acceptedIgnoringParameters) {
  test(`pathParameters: ignore reads ${JSON.stringify(raw)} as ${path}`, () => {
    assert.deepEqual(normalizePath(raw, { pathParameters: 'ignore' }), { path, query: '' });
  });
}

/** [name, target, the public description it is refused with, also refused with pathParameters: ignore]. */
const refused: [name: string, raw: string, description: RegExp, evenIgnoring: boolean][] = [
  ['dot-dot', '/public/../admin', /"\." or "\.\." segment$/, true],
  ['dot', '/public/./admin', /"\." or "\.\." segment$/, true],
  ['trailing dot-dot', '/admin/x/..', /"\." or "\.\." segment$/, true],
  ['leading dot-dot', '/../admin', /"\." or "\.\." segment$/, true],
  ['encoded dot-dot', '/public/%2e%2e/admin', /"\." or "\.\." segment$/, true],
  ['encoded dot-dot, upper case', '/public/%2E%2E/admin', /"\." or "\.\." segment$/, true],
  ['half-encoded dot-dot', '/public/.%2e/admin', /"\." or "\.\." segment$/, true],
  ['encoded dot', '/public/%2e/admin', /"\." or "\.\." segment$/, true],
  ['dot-dot with parameters (Tomcat)', '/admin/..;/admin', /segment hidden by ";" parameters$/, true],
  ['dot-dot with a parameter value', '/public/..;x=1/admin', /segment hidden by ";" parameters$/, true],
  ['encoded dots with a parameter', '/public/%2e%2e;x/admin', /segment hidden by ";" parameters$/, true],
  ['dot with parameters', '/public/.;/admin', /segment hidden by ";" parameters$/, true],
  ['path parameters', '/admin;x=1', /has ";" parameters$/, false],
  ['empty path parameters', '/admin;', /has ";" parameters$/, false],
  ['Tomcat session id', '/app/;jsessionid=1', /has ";" parameters$/, false],
  ['encoded ";"', '/admin%3bx=1', /encoded ";"$/, true],
  ['encoded ";" after dot-dot', '/public/..%3B/admin', /encoded ";"$/, true],
  ['repeated slash', '//admin', /empty segment \("\/\/"\)$/, true],
  ['repeated slash inside', '/api//users', /empty segment \("\/\/"\)$/, true],
  ['repeated trailing slash', '/api//', /empty segment \("\/\/"\)$/, true],
  ['a segment of parameters only', '/;x/admin', /(has ";" parameters|segment of ";" parameters only)$/, true],
  ['encoded slash', '/api%2Fx', /encoded "\/" or "\\"$/, true],
  ['encoded slash lower-case', '/api%2fx', /encoded "\/" or "\\"$/, true],
  ['encoded slash used to climb', '/public/..%2fadmin', /encoded "\/" or "\\"$/, true],
  ['encoded backslash', '/api%5C..%5Cadmin', /encoded "\/" or "\\"$/, true],
  ['raw backslash', '/api\\..\\admin', /contains "\\"$/, true],
  ['overlong UTF-8 dot', '/public/%c0%ae%c0%ae/admin', /not UTF-8$/, true],
  ['overlong UTF-8 slash', '/%c0%af', /not UTF-8$/, true],
  ['Latin-1 byte', '/caf%E9', /not UTF-8$/, true],
  ['invalid escape', '/api/%zz', /invalid percent-escape$/, true],
  ['truncated escape', '/api/%2', /invalid percent-escape$/, true],
  ['NUL', '/api\u0000/x', /space or a control character$/, true],
  ['encoded NUL', '/api%00.json', /encoded control character$/, true],
  ['encoded control character in parameters', '/api;x=%0a', /encoded control character$/, true],
  ['CR LF', '/api\r\nx-injected: 1', /space or a control character$/, true],
  ['tab', '/api\t', /space or a control character$/, true],
  ['space', '/api x', /space or a control character$/, true],
  ['DEL', '/api\u007f', /space or a control character$/, true],
  ['C1 control', '/api\u0085', /space or a control character$/, true],
  ['control character in query', '/api?x=\u0001', /query contains a control character$/, true],
  ['relative path', 'api/users', /does not start with "\/"$/, true],
  ['empty target', '', /does not start with "\/"$/, true],
  ['asterisk form', '*', /does not start with "\/"$/, true],
  ['absolute form', 'http://evil.example/admin', /does not start with "\/"$/, true],
  ['lone surrogate', '/a\ud800', /not valid Unicode$/, true],
  ['too long', `/${'a'.repeat(MAX_TARGET_LENGTH)}`, /too long$/, true],
];

for (const [name, raw, description, evenIgnoring] of refused) {
  const modes: PathParameters[] = evenIgnoring ? ['reject', 'ignore'] : ['reject'];
  for (const pathParameters of modes) {
    test(`normalizePath refuses ${name} (pathParameters: ${pathParameters})`, () => {
      assert.throws(
        () => normalizePath(raw, { pathParameters }),
        (err: unknown) => {
          assert.ok(err instanceof PathRefusedError, String(err));
          assert.match(err.description, description);
          assert.ok((err.detail ?? '').length > 0, 'a detail for the log');
          return true;
        },
      );
    });
  }
}

test('the default is reject, and an unknown setting reads as reject', () => {
  assert.throws(() => normalizePath('/admin;x=1'), PathRefusedError);
  assert.throws(() => normalizePath('/admin;x=1', { pathParameters: 'bogus' as PathParameters }), PathRefusedError);
});

test('a target at the length limit is accepted', () => {
  const raw = `/${'a'.repeat(MAX_TARGET_LENGTH - 1)}`;
  assert.equal(normalizePath(raw).path, raw);
});

// ---- Properties -----------------------------------------------------------------------------

/** RFC 3986 §5.2.4 remove_dot_segments, as written there (input buffer, output buffer, rules A–E). */
function removeDotSegments(path: string): string {
  let input = path;
  let output = '';
  while (input !== '') {
    if (input.startsWith('../')) input = input.slice(3);
    else if (input.startsWith('../match/')) input = input.slice(2);
    else if (input.startsWith('/./')) input = input.slice(2);
    else if (input === '/.') input = '/';
    else if (input.startsWith('/../')) {
      input = input.slice(3);
      output = output.slice(0, Math.max(0, output.lastIndexOf('/')));
    } else if (input === '/..') {
      input = '/';
      output = output.slice(0, Math.max(0, output.lastIndexOf('/')));
    } else if (input === '.' || input === '..') input = '';
    else {
      const next = input.indexOf('/', 1);
      const end = next === -1 ? input.length : next;
      output += input.slice(0, end);
      input = input.slice(end);
    }
  }
  return output;
}

/** A servlet container (Tomcat + Spring): strip ';' parameters per raw segment, decode, resolve dots, merge slashes. */
function servletReads(rawPath: string): string {
  const stripped = rawPath
    .split('/')
    .map((s) => s.split(';')[0])
    .join('/');
  return removeDotSegments(decodeURIComponent(stripped)).replace(/\/{2,}/g, '/');
}

/** A server that decodes first and splits after (Go's `URL.Path`, most Node routers), then resolves dots. */
function decodeFirstReads(rawPath: string): string {
  return removeDotSegments(decodeURIComponent(rawPath));
}

/** Pieces that have tripped path checks before, and plain ones so that many targets are accepted. */
const PIECES = [
  'a',
  'admin',
  'public',
  'A',
  'x1',
  '.',
  '..',
  '%2e',
  '%2E',
  '.%2e',
  '%2e%2E',
  '',
  ';',
  ';x=1',
  '..;',
  '.;',
  '%3b',
  '%3B',
  '%2f',
  '%2F',
  '%5c',
  '\\',
  '%41',
  '%7e',
  '~',
  '%25',
  '%252e',
  'caf%c3%a9',
  '\u00e9',
  '%c0%ae',
  '%21',
  '!',
  ':',
  '@',
  '%3a',
  'a;b',
  ';jsessionid=1',
  '"',
  '%22',
  '%zz',
  '%',
  '?q=1',
  '#f',
  '%3f',
  '%20',
  '+',
];
const segment = fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 3 }).map((p) => p.join(''));
const rawTarget = fc.array(segment, { minLength: 1, maxLength: 6 }).map((s) => `/${s.join('/')}`);

function tryNormalize(raw: string, pathParameters: PathParameters): string | undefined {
  try {
    return normalizePath(raw, { pathParameters }).path;
  } catch (err) {
    if (err instanceof PathRefusedError) return undefined;
    throw err;
  }
}

test('property: an accepted target means, decoded, what every modelled upstream reads', () => {
  let acceptedCount = 0;
  fc.assert(
    fc.property(rawTarget, (raw) => {
      const rawPath = raw.split(/[?#]/)[0] as string;
      const strict = tryNormalize(raw, 'reject');
      if (strict !== undefined) {
        acceptedCount++;
        const meant = decodeURIComponent(strict);
        assert.equal(meant, servletReads(rawPath), 'servlet container');
        assert.equal(meant, decodeFirstReads(rawPath), 'decode-first server');
      }
      // `ignore` is for servlet containers: there, the parameters are not part of the path.
      const lenient = tryNormalize(raw, 'ignore');
      if (lenient !== undefined) assert.equal(decodeURIComponent(lenient), servletReads(rawPath), 'servlet container, parameters ignored');
      if (strict !== undefined) assert.equal(lenient, strict, 'ignore accepts what reject accepts, and reads it the same');
    }),
    { numRuns: 5000 },
  );
  assert.ok(acceptedCount > 250, `only ${acceptedCount} of 5000 targets were accepted: the generator no longer tests acceptance`);
});

/** Any character but '/', ';', '\' and controls; names that are not '.', '..' or empty. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the pattern excludes control characters from generated names.
const nameChar = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }).filter((c) => !/[/;\\\u0000-\u0020\u007f-\u009f]/.test(c));
const name = fc
  .array(nameChar, { minLength: 1, maxLength: 8 })
  .map((c) => c.join(''))
  .filter((n) => n !== '.' && n !== '..');

/** One of the spellings a client or a proxy may use for a character: raw when a URI may hold it, or its UTF-8 escapes in either case. */
function spell(char: string, choice: number): string {
  const escaped = [...new TextEncoder().encode(char)].map((b) => `%${b.toString(16).padStart(2, '0')}`);
  const mayBeRaw = /^[A-Za-z0-9\-._~!$&'()*+,=:@]$/.test(char);
  switch (choice % 3) {
    case 0:
      return mayBeRaw ? char : escaped.join('').toUpperCase();
    case 1:
      return escaped.join('').toLowerCase();
    default:
      return escaped.join('').toUpperCase();
  }
}

test('property: every spelling of a legitimate path is accepted, with one decision path that decodes to it', () => {
  const spelled = fc
    .array(name, { minLength: 1, maxLength: 5 })
    .chain((names) =>
      fc.tuple(
        fc.constant(names),
        fc.array(fc.nat(), { minLength: 64, maxLength: 64 }),
        fc.array(fc.nat(), { minLength: 64, maxLength: 64 }),
        fc.boolean(),
      ),
    );
  fc.assert(
    fc.property(spelled, ([names, choicesA, choicesB, trailingSlash]) => {
      const render = (choices: number[]) =>
        `/${names.map((n) => [...n].map((c, i) => spell(c, choices[i % 64] as number)).join('')).join('/')}${trailingSlash ? '/' : ''}`;
      const a = normalizePath(render(choicesA)).path;
      const b = normalizePath(render(choicesB)).path;
      assert.equal(a, b);
      assert.equal(decodeURIComponent(a), `/${names.join('/')}${trailingSlash ? '/' : ''}`);
      assert.equal(normalizePath(a).path, a, 'a decision path is its own decision path (the compiler relies on it)');
    }),
    { numRuns: 2000 },
  );
});
