// Canonical paths: hostile targets either normalise to what an upstream would serve, or are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_TARGET_LENGTH, normalizePath } from '../../../authz/match/normalize-path.ts';
import { DenyError } from '../../../authz/reasons.ts';

const canonical: [raw: string, path: string, query: string][] = [
  ['/', '/', ''],
  ['/api/users', '/api/users', ''],
  ['/api/users?x=1&y=%2F', '/api/users', 'x=1&y=%2F'],
  ['/api/users#frag', '/api/users', ''],
  ['/api?q=1#frag?x', '/api', 'q=1'],
  ['/api/../admin', '/admin', ''],
  ['/api/%2e%2e/admin', '/admin', ''],
  ['/api/%2E%2E/admin', '/admin', ''],
  ['/api/.%2e/admin', '/admin', ''],
  ['/api/./users/.', '/api/users/', ''],
  ['/../../etc', '/etc', ''],
  ['/..', '/', ''],
  ['//admin', '/admin', ''],
  ['/api//users///', '/api/users/', ''],
  ['/api/', '/api/', ''],
  ['/api/x/..', '/api/', ''],
  ['/API', '/API', ''], // case-sensitive: not folded to /api
  ['/%7Euser/%41bc', '/~user/Abc', ''],
  ['/a%3ab', '/a%3Ab', ''], // reserved escapes kept, hex upper-cased
  ['/a%25b', '/a%25b', ''], // '%' itself stays encoded: no double decoding
  ['/caf\u00e9', '/caf%C3%A9', ''],
  ['/caf%c3%a9', '/caf%C3%A9', ''],
  ['/a;b=c/d', '/a;b=c/d', ''],
  ['/...', '/...', ''],
];

for (const [raw, path, query] of canonical) {
  test(`normalizePath(${JSON.stringify(raw)}) → ${path}`, () => {
    assert.deepEqual(normalizePath(raw), { path, query });
  });
}

const refused: [name: string, raw: string][] = [
  ['encoded slash', '/api%2Fx'],
  ['encoded slash lower-case', '/api%2fx'],
  ['encoded slash used to climb', '/api/..%2Fadmin'],
  ['encoded backslash', '/api%5C..%5Cadmin'],
  ['raw backslash', '/api\\..\\admin'],
  ['invalid escape', '/api/%zz'],
  ['truncated escape', '/api/%2'],
  ['NUL', '/api\u0000/x'],
  ['encoded NUL', '/api%00.json'],
  ['CR LF', '/api\r\nx-injected: 1'],
  ['tab', '/api\t'],
  ['space', '/api x'],
  ['DEL', '/api\u007f'],
  ['C1 control', '/api\u0085'],
  ['control character in query', '/api?x=\u0001'],
  ['relative path', 'api/users'],
  ['empty target', ''],
  ['asterisk form', '*'],
  ['absolute form', 'http://evil.example/admin'],
  ['Tomcat path parameter on ..', '/public/..;/admin'],
  ['encoded path parameter on ..', '/public/..%3b/admin'],
  ['encoded dots with parameter', '/public/%2e%2e;x/admin'],
  ['lone surrogate', '/a\ud800'],
  ['too long', '/' + 'a'.repeat(MAX_TARGET_LENGTH)],
];

for (const [name, raw] of refused) {
  test(`normalizePath refuses ${name}`, () => {
    assert.throws(() => normalizePath(raw), (err: unknown) => err instanceof DenyError && err.code === 'request_invalid');
  });
}

test('a target at the length limit is accepted', () => {
  const raw = '/' + 'a'.repeat(MAX_TARGET_LENGTH - 1);
  assert.equal(normalizePath(raw).path, raw);
});
