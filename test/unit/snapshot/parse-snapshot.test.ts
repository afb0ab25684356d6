// Snapshot settings as loaded: pathParameters is absent (reject), reject or ignore, nothing else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { snapshotDigest } from '../../../snapshot/digest.ts';
import { parseSnapshot, SnapshotError } from '../../../snapshot/parse-snapshot.ts';
import type { Snapshot } from '../../../snapshot/types.ts';

/** A snapshot text with `settings`, sealed with its true digest (so only the settings check can refuse it). */
function sealed(settings: Record<string, unknown>): string {
  const body = { schemaVersion: 2, generation: 1, createdAt: '2026-01-01T00:00:00Z', settings, issuers: {}, policies: [], grants: [] };
  return JSON.stringify({ ...body, sha256: snapshotDigest(body as unknown as Snapshot) });
}

test('pathParameters absent, reject or ignore loads as written', () => {
  assert.deepEqual(parseSnapshot(sealed({ unmatched: 'deny' })).settings, { unmatched: 'deny' });
  assert.deepEqual(parseSnapshot(sealed({ unmatched: 'deny', pathParameters: 'reject' })).settings, {
    unmatched: 'deny',
    pathParameters: 'reject',
  });
  assert.deepEqual(parseSnapshot(sealed({ unmatched: 'allow', pathParameters: 'ignore' })).settings, {
    unmatched: 'allow',
    pathParameters: 'ignore',
  });
});

test('any other pathParameters refuses the snapshot, naming the value', () => {
  for (const value of ['strip', '', 'IGNORE', true, null]) {
    assert.throws(
      () => parseSnapshot(sealed({ unmatched: 'deny', pathParameters: value })),
      (err: unknown) => err instanceof SnapshotError && err.message.includes(`settings.pathParameters ${JSON.stringify(value)}`),
      String(value),
    );
  }
});

test('a version 1 snapshot (before grants, digest without a grants key) reads as version 2 without grants', () => {
  const body = {
    schemaVersion: 1,
    generation: 4,
    createdAt: '2026-01-01T00:00:00Z',
    settings: { unmatched: 'deny' },
    issuers: {},
    policies: [],
  };
  const sha256 = snapshotDigest(body as unknown as Snapshot);
  const read = parseSnapshot(JSON.stringify({ ...body, sha256 }));
  assert.deepEqual([read.schemaVersion, read.grants, read.sha256, read.generation], [2, [], sha256, 4]);
  assert.throws(() => parseSnapshot(JSON.stringify({ ...body, grants: [], sha256 })), /a version 1 snapshot has no grants/);
  assert.throws(
    () => parseSnapshot(JSON.stringify({ ...body, schemaVersion: 3, sha256 })),
    /schemaVersion 3 is not supported \(expected 1 or 2\)/,
  );
});

test('grants must be a list of { id, hosts (non-empty), namespaces } of strings', () => {
  const withGrants = (grants: unknown): string => {
    const body = {
      schemaVersion: 2,
      generation: 1,
      createdAt: '2026-01-01T00:00:00Z',
      settings: { unmatched: 'deny' },
      issuers: {},
      policies: [],
      grants,
    };
    return JSON.stringify({ ...body, sha256: snapshotDigest(body as unknown as Snapshot) });
  };
  assert.equal(parseSnapshot(withGrants([{ id: 'JWTHostGrant/g', hosts: ['*.example.com'], namespaces: ['a'] }])).grants.length, 1);
  for (const bad of [undefined, {}, [{ id: 'g', hosts: [], namespaces: [] }], [{ id: 'g', hosts: ['a'], namespaces: [7] }], [null]]) {
    assert.throws(() => parseSnapshot(withGrants(bad)), /grants missing or malformed/, JSON.stringify(bad));
  }
});
