// Claim paths never reach prototypes; mappings copy remote claims to local names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyClaimMappings, readClaim } from '../../../authz/authorize/claims.ts';

/** As jose returns it: JSON.parse makes `__proto__` an own data property. */
const PAYLOAD = JSON.parse(
  '{"sub":"u1","realm_access":{"roles":["admin"]},"n":null,"list":[{"a":1}],"__proto__":{"isAdmin":true}}',
) as Record<string, unknown>;

test('readClaim', async (t) => {
  const rows: [path: string[], expected: unknown][] = [
    [['sub'], 'u1'],
    [['realm_access', 'roles'], ['admin']],
    [['realm_access', 'missing'], undefined],
    [['sub', 'length'], undefined],
    [['n'], null],
    [['n', 'x'], undefined],
    [['list', '0', 'a'], undefined],
    [['list', 'length'], undefined],
    [['constructor'], undefined],
    [['constructor', 'name'], undefined],
    [['toString'], undefined],
    [['realm_access', 'hasOwnProperty'], undefined],
    [['__proto__', 'isAdmin'], true], // the token's own claim named __proto__, not Object.prototype
    [[], PAYLOAD],
  ];
  for (const [path, expected] of rows) {
    await t.test(path.join('.') || '(empty path)', () => assert.deepEqual(readClaim(PAYLOAD, path), expected));
  }
});

test('readClaim does not find Object.prototype through a plain object', () => {
  assert.equal(readClaim({}, ['__proto__']), undefined);
  assert.equal(readClaim({ a: {} }, ['a', '__proto__', 'constructor']), undefined);
});

test('applyClaimMappings copies remote claims and leaves the input alone', () => {
  const claims = { sub: 'u1', realm_access: { roles: ['a'] }, roles: ['forged'] };
  const mapped = applyClaimMappings(claims, [
    { from: ['realm_access', 'roles'], to: 'roles' },
    { from: ['sub'], to: 'user' },
  ]);
  assert.deepEqual({ ...mapped }, { sub: 'u1', realm_access: { roles: ['a'] }, roles: ['a'], user: 'u1' });
  assert.deepEqual(claims.roles, ['forged']);
});

test('a mapping whose remote claim is absent removes the local name', () => {
  const mapped = applyClaimMappings({ roles: ['forged'] }, [{ from: ['realm_access', 'roles'], to: 'roles' }]);
  assert.equal(Object.hasOwn(mapped, 'roles'), false);
});

test('mappings read the original claims, and the last mapping to a name wins', () => {
  const mapped = applyClaimMappings({ a: 1, b: 2 }, [
    { from: ['a'], to: 'b' },
    { from: ['b'], to: 'c' },
    { from: ['a'], to: 'd' },
    { from: ['b'], to: 'd' },
  ]);
  assert.deepEqual({ ...mapped }, { a: 1, b: 1, c: 2, d: 2 });
});

test('a mapping to __proto__ creates a claim, not a prototype', () => {
  const mapped = applyClaimMappings({ groups: { isAdmin: true } }, [{ from: ['groups'], to: '__proto__' }]);
  assert.equal(Object.getPrototypeOf(mapped), null);
  assert.equal((mapped as { isAdmin?: unknown }).isAdmin, undefined);
  assert.deepEqual(readClaim(mapped, ['__proto__', 'isAdmin']), true);
});
