// Claim paths: dots split, backslash escapes, empty and prototype segments refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitClaimPath } from '../../../compiler/split-claim-path.ts';

test('dots split; \\. and \\\\ escape', () => {
  assert.deepEqual(splitClaimPath('sub'), { ok: true, value: ['sub'] });
  assert.deepEqual(splitClaimPath('realm_access.roles'), { ok: true, value: ['realm_access', 'roles'] });
  assert.deepEqual(splitClaimPath('https://example\\.com/roles'), { ok: true, value: ['https://example.com/roles'] });
  assert.deepEqual(splitClaimPath('a\\\\.b'), { ok: true, value: ['a\\', 'b'] });
});

test('empty segments, stray backslashes and prototype names are refused', () => {
  for (const [path, problem] of [
    ['a..b', /empty segment/],
    ['.a', /empty segment/],
    ['a.', /empty segment/],
    ['a\\b', /backslash/],
    ['a\\', /backslash/],
    ['x.__proto__', /reserved/],
    ['constructor', /reserved/],
  ] as const) {
    const split = splitClaimPath(path);
    assert.equal(split.ok, false, path);
    assert.match(split.ok ? '' : split.problem, problem);
  }
});
