// Rules table: every operator, missing claims, type mismatches, nested paths, prototype keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateRules } from '../../../authz/authorize/evaluate-rules.ts';
import type { Rule } from '../../../snapshot/types.ts';

const CLAIMS = JSON.parse(`{
  "sub": "user-1", "jti": "j-1", "level": 3, "verified": true, "nothing": null,
  "scope": "openid  orders:read orders:write", "groups": ["dev", "ops"], "mixed": ["dev", 1],
  "realm_access": { "roles": ["admin", "user"] }, "email": "a@example.com",
  "__proto__": { "roles": ["x"] }
}`) as Record<string, unknown>;

const rows: [name: string, rule: Rule, pass: boolean, why?: string][] = [
  ['equals string', { claim: ['sub'], op: 'equals', value: 'user-1' }, true],
  [
    'equals other string',
    { claim: ['sub'], op: 'equals', value: 'user-2' },
    false,
    'claim "sub" (equals): does not equal the expected value',
  ],
  ['equals number', { claim: ['level'], op: 'equals', value: 3 }, true],
  ['equals is type-aware', { claim: ['level'], op: 'equals', value: '3' }, false],
  ['equals boolean', { claim: ['verified'], op: 'equals', value: true }, true],
  ['equals boolean vs string', { claim: ['verified'], op: 'equals', value: 'true' }, false],
  ['equals missing', { claim: ['nope'], op: 'equals', value: 'x' }, false, 'claim "nope" (equals): is missing'],
  ['equals null is missing', { claim: ['nothing'], op: 'equals', value: 'x' }, false, 'claim "nothing" (equals): is missing'],
  [
    'equals array',
    { claim: ['groups'], op: 'equals', value: 'dev' },
    false,
    'claim "groups" (equals): is an array; a string, number or boolean is required',
  ],
  [
    'equals object',
    { claim: ['realm_access'], op: 'equals', value: 'x' },
    false,
    'claim "realm_access" (equals): is an object; a string, number or boolean is required',
  ],
  ['in', { claim: ['sub'], op: 'in', values: ['user-0', 'user-1'] }, true],
  ['in not listed', { claim: ['sub'], op: 'in', values: ['user-0'] }, false, 'claim "sub" (in): is not one of the 1 allowed values'],
  ['in is type-aware', { claim: ['level'], op: 'in', values: ['3'] }, false],
  ['in missing', { claim: ['nope'], op: 'in', values: ['x'] }, false],
  ['in array', { claim: ['groups'], op: 'in', values: ['dev'] }, false],
  ['notIn passes', { claim: ['jti'], op: 'notIn', values: ['j-0'] }, true],
  ['notIn revoked', { claim: ['jti'], op: 'notIn', values: ['j-0', 'j-1'] }, false, 'claim "jti" (notIn): is one of the excluded values'],
  ['notIn missing passes', { claim: ['nope'], op: 'notIn', values: ['x'] }, true],
  ['notIn null passes', { claim: ['nothing'], op: 'notIn', values: ['x'] }, true],
  [
    'notIn array fails closed',
    { claim: ['groups'], op: 'notIn', values: ['x'] },
    false,
    'claim "groups" (notIn): is an array; a string, number or boolean is required',
  ],
  ['exists true', { claim: ['email'], op: 'exists', value: true }, true],
  ['exists true missing', { claim: ['nope'], op: 'exists', value: true }, false, 'claim "nope" (exists): is missing'],
  ['exists true null', { claim: ['nothing'], op: 'exists', value: true }, false],
  ['exists false missing', { claim: ['nope'], op: 'exists', value: false }, true],
  [
    'exists false present',
    { claim: ['email'], op: 'exists', value: false },
    false,
    'claim "email" (exists): is present but must be absent',
  ],
  ['containsAll scope string', { claim: ['scope'], op: 'containsAll', values: ['orders:read', 'openid'] }, true],
  [
    'containsAll scope lacks one',
    { claim: ['scope'], op: 'containsAll', values: ['orders:read', 'admin'] },
    false,
    'claim "scope" (containsAll): lacks 1 of the 2 required values',
  ],
  ['containsAll no substring match', { claim: ['scope'], op: 'containsAll', values: ['orders'] }, false],
  ['containsAll array', { claim: ['groups'], op: 'containsAll', values: ['dev', 'ops'] }, true],
  ['containsAll nested path', { claim: ['realm_access', 'roles'], op: 'containsAll', values: ['admin'] }, true],
  [
    'containsAll mixed array',
    { claim: ['mixed'], op: 'containsAll', values: ['dev'] },
    false,
    'claim "mixed" (containsAll): is an array; an array of strings or a space-separated string is required',
  ],
  [
    'containsAll number',
    { claim: ['level'], op: 'containsAll', values: ['3'] },
    false,
    'claim "level" (containsAll): is a number; an array of strings or a space-separated string is required',
  ],
  ['containsAll object', { claim: ['realm_access'], op: 'containsAll', values: ['roles'] }, false],
  ['containsAll missing', { claim: ['nope'], op: 'containsAll', values: ['x'] }, false, 'claim "nope" (containsAll): is missing'],
  ['containsAny one of', { claim: ['groups'], op: 'containsAny', values: ['qa', 'ops'] }, true],
  [
    'containsAny none',
    { claim: ['groups'], op: 'containsAny', values: ['qa'] },
    false,
    'claim "groups" (containsAny): contains none of the 1 listed values',
  ],
  ['containsAny scope', { claim: ['scope'], op: 'containsAny', values: ['orders:write'] }, true],
  ['containsAny empty string claim', { claim: ['nothing'], op: 'containsAny', values: ['x'] }, false],
  ['regex match', { claim: ['email'], op: 'regex', value: '@example\\.com$' }, true],
  ['regex is unanchored', { claim: ['email'], op: 'regex', value: 'example' }, true],
  ['regex no match', { claim: ['email'], op: 'regex', value: '@other\\.com$' }, false, 'claim "email" (regex): does not match the pattern'],
  ['regex u flag', { claim: ['email'], op: 'regex', value: '^\\p{L}@' }, true],
  ['regex on a number', { claim: ['level'], op: 'regex', value: '3' }, false, 'claim "level" (regex): is a number; a string is required'],
  ['regex on an array', { claim: ['groups'], op: 'regex', value: 'dev' }, false],
  [
    'regex that does not compile',
    { claim: ['email'], op: 'regex', value: '(' },
    false,
    'claim "email" (regex): the rule\'s regex does not compile',
  ],
  [
    'nested missing',
    { claim: ['realm_access', 'nope'], op: 'exists', value: true },
    false,
    'claim "realm_access.nope" (exists): is missing',
  ],
  ['prototype key constructor', { claim: ['constructor'], op: 'exists', value: true }, false],
  ['prototype key under an object', { claim: ['realm_access', 'constructor', 'name'], op: 'equals', value: 'Object' }, false],
  ['prototype method name', { claim: ['sub', 'length'], op: 'equals', value: 6 }, false],
  ['own __proto__ claim is data', { claim: ['__proto__', 'roles'], op: 'containsAll', values: ['x'] }, true],
  ['toString is not a claim', { claim: ['toString'], op: 'notIn', values: ['x'] }, true],
];

for (const [name, rule, pass, why] of rows) {
  test(`${name} → ${pass ? 'pass' : 'fail'}`, () => {
    const outcome = evaluateRules([rule], CLAIMS);
    assert.equal(outcome.ok, pass);
    if (!outcome.ok) {
      assert.equal(outcome.rule, rule);
      if (why !== undefined) assert.equal(outcome.why, why);
    }
  });
}

test('all rules must pass; the first failure is reported', () => {
  const first: Rule = { claim: ['sub'], op: 'equals', value: 'user-1' };
  const second: Rule = { claim: ['groups'], op: 'containsAll', values: ['admin'] };
  const third: Rule = { claim: ['nope'], op: 'exists', value: true };
  const outcome = evaluateRules([first, second, third], CLAIMS);
  assert.equal(outcome.ok, false);
  assert.equal(!outcome.ok && outcome.rule, second);
  assert.deepEqual(evaluateRules([first], CLAIMS), { ok: true });
  assert.deepEqual(evaluateRules([], CLAIMS), { ok: true });
});

test('why never contains the claim value', () => {
  const outcome = evaluateRules([{ claim: ['email'], op: 'in', values: ['b@example.com'] }], CLAIMS);
  assert.equal(outcome.ok, false);
  assert.ok(!outcome.ok && !outcome.why.includes('a@example.com') && !outcome.why.includes('b@example.com'));
});

test('a regex rule is compiled once and keeps no state between requests', () => {
  const rule: Rule = { claim: ['email'], op: 'regex', value: 'example' };
  for (let i = 0; i < 3; i++) assert.deepEqual(evaluateRules([rule], CLAIMS), { ok: true });
});
