// Host index: exact > longest wildcard suffix > any host, case-insensitive, trailing dot ignored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostIndex } from '../../../authz/match/host-index.ts';

function buildIndex(patterns: (string | undefined)[]): HostIndex<string> {
  const index = new HostIndex<string>();
  for (const pattern of patterns) index.upsert(pattern, () => pattern ?? '(any)');
  return index;
}

const index = buildIndex(['example.com', 'api.example.com', '*.example.com', '*.eu.example.com', 'other.org', undefined]);

const cases: [host: string, expected: string[]][] = [
  ['example.com', ['example.com', '(any)']], // *.example.com never matches the apex
  ['api.example.com', ['api.example.com', '*.example.com', '(any)']],
  ['API.Example.COM', ['api.example.com', '*.example.com', '(any)']],
  ['api.example.com.', ['api.example.com', '*.example.com', '(any)']],
  ['www.example.com', ['*.example.com', '(any)']],
  ['a.b.example.com', ['*.example.com', '(any)']], // one or more labels
  ['x.eu.example.com', ['*.eu.example.com', '*.example.com', '(any)']],
  ['eu.example.com', ['*.example.com', '(any)']],
  ['a.b.eu.example.com', ['*.eu.example.com', '*.example.com', '(any)']],
  ['example.org', ['(any)']],
  ['com', ['(any)']],
  ['', ['(any)']],
  ['.example.com', ['(any)']], // an empty label is no host
  ['api..example.com', ['(any)']],
  ['api.example.com..', ['(any)']],
  ['notexample.com', ['(any)']],
];

for (const [host, expected] of cases) {
  test(`lookup(${JSON.stringify(host)})`, () => {
    assert.deepEqual(index.lookup(host), expected);
  });
}

test('without an any-host value, an unknown host finds nothing', () => {
  assert.deepEqual(buildIndex(['*.example.com']).lookup('example.com'), []);
});

test('upsert returns the same value for the same pattern, in any case', () => {
  const idx = new HostIndex<string[]>();
  idx.upsert('*.Example.com', () => []).push('a');
  idx.upsert('*.example.com', () => []).push('b');
  assert.deepEqual(idx.lookup('x.example.com'), [['a', 'b']]);
});

test('values() yields every stored value once', () => {
  assert.deepEqual([...index.values()].sort(), [
    '(any)',
    '*.eu.example.com',
    '*.example.com',
    'api.example.com',
    'example.com',
    'other.org',
  ]);
});

for (const bad of ['*', '*.', 'a.*.example.com', 'api.*', '**.example.com', 'a..b', '']) {
  test(`upsert refuses the pattern ${JSON.stringify(bad)}`, () => {
    assert.throws(() => new HostIndex<number>().upsert(bad, () => 1), TypeError);
  });
}
