// The regex screen: compiles in Unicode mode, refuses nested unbounded quantifiers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkRegex } from '../../../compiler/check-regex.ts';

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
