// The regex screen: compiles in Unicode mode, refuses nested unbounded quantifiers; the portable
// screen for HTTPRoute regexes also refuses what RE2 and ECMAScript read differently.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkPortableRegex, checkRegex } from '../../../compiler/check-regex.ts';

test('ordinary patterns pass', () => {
  for (const source of ['^/orders/[0-9]+$', '(ab)+', '(a{2})+', '(a?)+', '\\p{L}+', '^(?:/v[0-9]+)?/items$', '[(+]+', '(x)(a+)']) {
    assert.equal(checkRegex(source).ok, true, source);
  }
});

test('patterns that do not compile in Unicode mode are refused', () => {
  for (const source of ['(', '[z-a]', '\\k', 'a{2,1}']) {
    const checked = checkRegex(source);
    assert.equal(checked.ok, false, source);
    assert.match(checked.ok ? '' : checked.problem, /^invalid regular expression/);
  }
});

test('a repeated group containing an unbounded quantifier is refused (ReDoS)', () => {
  for (const source of ['(a+)+$', '(.*x)*', '(a|b+)*', '([a-z]+\\.)+com', '(\\p{L}{2,})+', '((a*)b){3}']) {
    const checked = checkRegex(source);
    assert.equal(checked.ok, false, source);
    assert.match(checked.ok ? '' : checked.problem, /nested quantifier/);
  }
});

test('checkPortableRegex: what RE2 (the proxy) and ECMAScript (jwtgate) read alike passes; the rest is refused, naming the construct', () => {
  for (const ok of ['/orders/[0-9]+', '/a(?:b|c)?/.*', '/(?<id>[a-z]+)/x', '/[\\]\\[]+', '/v[12]/\\d{1,3}', '/files/[^/]+\\.pdf']) {
    assert.equal(checkPortableRegex(ok).ok, true, ok);
  }
  const refused: [string, RegExp][] = [
    ['/(?=a)a', /lookahead \(\?=/],
    ['/(?!admin).*', /lookahead \(\?!/],
    ['/(?<=a)b', /lookbehind \(\?<=/],
    ['/(?<!a)b', /lookbehind \(\?<!/],
    ['/(a)\\1', /backreference \\1/],
    ['/(?<n>a)\\k<n>', /escape \\k/],
    ['/\\u0041', /escape \\u/],
    ['/\\p{L}', /escape \\p/],
    ['/[\\p{L}]', /escape \\p/],
    ['/[x[:alpha:]', /POSIX class/],
    ['/a[]', /empty class \[\]/],
    ['/a[^]', /class \[\^\]/],
    ['/(?i:admin)', /flag group|invalid regular expression/],
    ['/\\z', /invalid regular expression/],
    ['/(a+)+', /nested quantifier/],
  ];
  for (const [source, why] of refused) {
    const checked = checkPortableRegex(source);
    assert.equal(checked.ok, false, source);
    if (!checked.ok) assert.match(checked.problem, why, source);
  }
});
