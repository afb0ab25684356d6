// Claim headers: encodings, missing claims removed, unsafe values and names refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { claimHeaders, MAX_HEADER_VALUE_BYTES } from '../../../authz/respond/claim-headers.ts';
import { DenyError } from '../../../authz/reasons.ts';
import type { ClaimHeader, ForwardSettings, HeaderEncoding } from '../../../snapshot/types.ts';

const CLAIMS: Record<string, unknown> = {
  sub: 'user-1',
  level: 3,
  verified: false,
  nothing: null,
  groups: ['dev', 'ops'],
  numbers: [1, true, 'x'],
  nested: [['a']],
  comma: ['a,b'],
  realm_access: { roles: ['admin'] },
  name: 'José',
  empty: '',
};

function forward(claimHeaders: ClaimHeader[], payloadHeader?: string): ForwardSettings {
  return { claimHeaders, payloadHeader, stripToken: false, metadataClaims: [] };
}

function headerFor(claim: string[], encoding: HeaderEncoding = 'json'): ClaimHeader {
  return { claim, header: 'x-claim', encoding };
}

function assertRefused(fn: () => unknown): void {
  assert.throws(fn, (err: unknown) => err instanceof DenyError && err.code === 'header_value_invalid');
}

const values: [name: string, header: ClaimHeader, value: string][] = [
  ['string as is', headerFor(['sub']), 'user-1'],
  ['empty string', headerFor(['empty']), ''],
  ['non-ASCII string', headerFor(['name']), 'José'],
  ['number as text', headerFor(['level'], 'csv'), '3'],
  ['boolean as text', headerFor(['verified'], 'base64json'), 'false'],
  ['array json', headerFor(['groups'], 'json'), '["dev","ops"]'],
  ['array csv', headerFor(['groups'], 'csv'), 'dev,ops'],
  ['array csv of scalars', headerFor(['numbers'], 'csv'), '1,true,x'],
  ['array base64json', headerFor(['groups'], 'base64json'), Buffer.from('["dev","ops"]').toString('base64url')],
  ['object json', headerFor(['realm_access'], 'json'), '{"roles":["admin"]}'],
  ['nested path', headerFor(['realm_access', 'roles'], 'csv'), 'admin'],
  ['object base64json', headerFor(['realm_access'], 'base64json'), 'eyJyb2xlcyI6WyJhZG1pbiJdfQ'],
];

for (const [name, header, value] of values) {
  test(`encodes ${name}`, () => {
    assert.deepEqual(claimHeaders(CLAIMS, forward([header])), { set: [{ name: 'x-claim', value }], remove: [] });
  });
}

test('a missing or null claim sets nothing and removes the header', () => {
  const result = claimHeaders(
    CLAIMS,
    forward([
      { claim: ['sub'], header: 'x-user-id', encoding: 'json' },
      { claim: ['email'], header: 'x-user-email', encoding: 'json' },
      { claim: ['nothing'], header: 'x-nothing', encoding: 'json' },
      { claim: ['constructor'], header: 'x-proto', encoding: 'json' },
    ]),
  );
  assert.deepEqual(result, { set: [{ name: 'x-user-id', value: 'user-1' }], remove: ['x-user-email', 'x-nothing', 'x-proto'] });
});

test('payloadHeader carries base64url of the payload JSON', () => {
  const payloadJson = '{"sub":"user-1","x":"\u00e9"}';
  const result = claimHeaders(CLAIMS, forward([], 'x-jwt-payload'), payloadJson);
  assert.deepEqual(result.set, [{ name: 'x-jwt-payload', value: Buffer.from(payloadJson).toString('base64url') }]);
  assert.equal(Buffer.from(result.set[0]!.value, 'base64url').toString(), payloadJson);
});

test('an anonymous request (no payload) removes the payload header and every claim header', () => {
  assert.deepEqual(claimHeaders({}, forward([headerFor(['sub'])], 'x-jwt-payload')), { set: [], remove: ['x-claim', 'x-jwt-payload'] });
});

test('csv refuses what it cannot represent', async (t) => {
  for (const claim of ['realm_access', 'nested', 'comma']) {
    await t.test(claim, () => assertRefused(() => claimHeaders(CLAIMS, forward([headerFor([claim], 'csv')]))));
  }
});

test('control characters are refused in every encoding that could carry them', async (t) => {
  const hostile = ['a\r\nx-admin: true', 'a\nb', 'a\rb', 'a\u0000b', 'a\tb', 'a\u007fb', 'a\u0085b'];
  for (const value of hostile) {
    await t.test(JSON.stringify(value), () => {
      assertRefused(() => claimHeaders({ v: value }, forward([headerFor(['v'])])));
      assertRefused(() => claimHeaders({ v: [value] }, forward([headerFor(['v'], 'csv')])));
    });
  }
  await t.test('json escapes them, so json of an array is safe', () => {
    assert.equal(claimHeaders({ v: ['a\r\nb'] }, forward([headerFor(['v'])])).set[0]?.value, '["a\\r\\nb"]');
  });
});

test('values over the size cap are refused; at the cap they pass', () => {
  const atCap = 'a'.repeat(MAX_HEADER_VALUE_BYTES);
  assert.equal(claimHeaders({ v: atCap }, forward([headerFor(['v'])])).set[0]?.value, atCap);
  assertRefused(() => claimHeaders({ v: `${atCap}a` }, forward([headerFor(['v'])])));
  assertRefused(() => claimHeaders({ v: 'é'.repeat(MAX_HEADER_VALUE_BYTES / 2 + 1) }, forward([headerFor(['v'])])));
  assertRefused(() => claimHeaders({}, forward([], 'x-jwt-payload'), JSON.stringify({ v: atCap })));
});

test('header names must be lower-case tokens and not framing headers', async (t) => {
  for (const header of [
    'X-User',
    'x user',
    'x-user:',
    ':path',
    '',
    'x-\u00e9',
    'host',
    'content-length',
    'transfer-encoding',
    'connection',
  ]) {
    await t.test(JSON.stringify(header), () => {
      assertRefused(() => claimHeaders(CLAIMS, forward([{ claim: ['sub'], header, encoding: 'json' }])));
      assertRefused(() => claimHeaders(CLAIMS, forward([], header), '{}'));
    });
  }
});
