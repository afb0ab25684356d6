// RemoteKeyStore: fetch when new or due, keep last good keys, stable fetchedAt for an unchanged set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../../../common/log.ts';
import { KeyFetchError } from '../../../../common/keys/fetch-json.ts';
import type { SnapshotIssuer, Snapshot } from '../../../../snapshot/types.ts';
import { RemoteKeyStore } from '../../../../operator/keys/remote-key-store.ts';

const issuer: SnapshotIssuer = {
  id: 'shop/idp',
  issuer: 'https://idp.example',
  audiences: ['a'],
  algorithms: ['RS256'],
  keySource: { kind: 'jwksUri', jwksUri: 'https://idp.example/jwks' },
  remote: { refreshSeconds: 300, cooldownSeconds: 30, timeoutMs: 1000 },
  clockSkewSeconds: 0,
  requireExpiration: true,
  requiredClaims: [],
  claimMappings: [],
};
const snapshot: Snapshot = {
  schemaVersion: 2,
  generation: 1,
  createdAt: '',
  sha256: 'x',
  settings: { unmatched: 'deny' },
  issuers: { 'shop/idp': issuer },
  policies: [],
  grants: [],
};
const K1 = { keys: [{ kty: 'RSA', kid: 'k1', n: 'n', e: 'AQAB' }] };

test('refetch of the same set keeps fetchedAt (no new digest); failure keeps the keys; max-age schedules', async () => {
  let clock = 1_000_000;
  let answer: () => Promise<{ jwks: typeof K1; rejected: []; maxAge?: number }> = async () => ({ jwks: K1, rejected: [], maxAge: 600 });
  let fetches = 0;
  const store = new RemoteKeyStore({
    log: createLogger('silent'),
    now: () => clock,
    fetchKeys: () => {
      fetches += 1;
      return answer();
    },
  });
  await store.refreshDue([issuer]);
  const first = store.embed(snapshot);
  assert.equal(first.issuers['shop/idp']?.cachedKeys?.fetchedAt, new Date(1_000_000).toISOString());
  assert.equal(store.nextRefreshInMs(), 600_000);
  await store.refreshDue([issuer]);
  assert.equal(fetches, 1, 'not due yet');

  clock += 600_000;
  await store.refreshDue([issuer]);
  assert.equal(fetches, 2);
  assert.equal(store.embed(snapshot).sha256, first.sha256, 'same keys, same digest');
  assert.equal(store.state('shop/idp')?.lastFetchTime, new Date(clock).toISOString());

  clock += 600_000;
  answer = async () => {
    throw new KeyFetchError('http_error', 'HTTP 500');
  };
  await store.refreshDue([issuer]);
  assert.equal(store.state('shop/idp')?.lastError, 'HTTP 500');
  assert.equal(store.embed(snapshot).sha256, first.sha256, 'last good keys stay');
  assert.equal(store.nextRefreshInMs(), 30_000, 'a failure is retried after the cooldown');

  await store.refreshDue([{ ...issuer, keySource: { kind: 'jwksUri', jwksUri: 'https://idp.example/other' } }]);
  assert.equal(fetches, 4, 'a changed key source is fetched at once');
  assert.equal(store.state('shop/idp')?.jwks, undefined, 'keys of the old source are not reused');
  await store.refreshDue([]);
  assert.equal(store.state('shop/idp'), undefined);
});

test('adopt: a new leader starts from the published cachedKeys, a returning one from newer ones; a failed fetch keeps them, a changed source drops them', async () => {
  const published: SnapshotIssuer = { ...issuer, cachedKeys: { jwks: K1, fetchedAt: '2024-01-01T00:00:00.000Z' } };
  const store = new RemoteKeyStore({
    log: createLogger('silent'),
    now: () => 5_000,
    fetchKeys: async () => {
      throw new KeyFetchError('network_error', 'IdP down');
    },
  });
  assert.equal(store.state('shop/idp'), undefined);
  store.adopt([published]);
  assert.deepEqual(store.state('shop/idp')?.jwks, K1);
  assert.equal(store.nextRefreshInMs(), 0, 'adopted keys are refetched at once');
  await store.refreshDue([issuer]);
  assert.equal(store.state('shop/idp')?.lastError, 'IdP down');
  assert.deepEqual(
    store.embed(snapshot).issuers['shop/idp']?.cachedKeys,
    published.cachedKeys,
    'same keys, same fetchedAt: nothing new to publish',
  );

  store.adopt([{ ...published, cachedKeys: { jwks: { keys: [] }, fetchedAt: '2023-01-01T00:00:00.000Z' } }]);
  assert.deepEqual(store.state('shop/idp')?.jwks, K1, 'an older published set never replaces a known one');
  const newer = { jwks: { keys: [{ ...K1.keys[0]!, kid: 'k2' }] }, fetchedAt: '2025-01-01T00:00:00.000Z' };
  store.adopt([{ ...published, cachedKeys: newer }]);
  assert.deepEqual(store.state('shop/idp')?.jwks, newer.jwks, 'a replica leading again takes the newer keys its successor published');

  const other = new RemoteKeyStore({
    log: createLogger('silent'),
    fetchKeys: async () => {
      throw new KeyFetchError('network_error', 'IdP down');
    },
  });
  other.adopt([published]);
  await other.refreshDue([{ ...issuer, keySource: { kind: 'jwksUri', jwksUri: 'https://idp.example/other' } }]);
  assert.equal(other.state('shop/idp')?.jwks, undefined, 'keys adopted for another source are not used');
});
