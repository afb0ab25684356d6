// Unit tests for the published form of a snapshot: plain, gzip and split encodings, HMAC keys
// kept out of ConfigMaps, and every way a reader could see a mixed or partial version.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { snapshotDigest } from '../../../snapshot/digest.ts';
import { ANNOTATIONS, fromPublishedForm, PART_LIMIT_BYTES, partNames, toPublishedForm } from '../../../snapshot/published-form.ts';
import type { Snapshot, SnapshotIssuer, SnapshotPolicy } from '../../../snapshot/types.ts';

const hmac = { kty: 'oct', k: randomBytes(32).toString('base64url') };
const rsa = { kty: 'RSA', kid: 'r1', n: 'AQAB', e: 'AQAB' };

function issuer(id: string, keys: SnapshotIssuer['keySource']): SnapshotIssuer {
  return {
    id,
    issuer: `https://${id}`,
    audiences: ['api'],
    algorithms: ['RS256'],
    keySource: keys,
    remote: { refreshSeconds: 300, cooldownSeconds: 30, timeoutMs: 5000 },
    clockSkewSeconds: 60,
    requireExpiration: true,
    requiredClaims: [],
    claimMappings: [],
  };
}

function policy(i: number, noise = ''): SnapshotPolicy {
  return {
    id: `JWTPolicy/ns/p${i}`,
    scope: { kind: 'namespaced', namespace: 'ns' },
    targets: [{ hosts: [`h${i}.test`], paths: [{ kind: 'exact', value: `/${noise}` }], methods: [] }],
    mode: 'required',
    issuers: [{ issuerId: 'ns/a', audienceWaived: false }],
    issuerMatch: 'anyOf',
    tokenSources: [{ kind: 'header', name: 'authorization', prefix: 'Bearer ' }],
    rules: [],
    forward: { claimHeaders: [], stripToken: true, metadataClaims: [] },
    deny: { realm: 'r', exposeReason: true, headers: [] },
  };
}

function snapshot(
  policies: SnapshotPolicy[],
  issuers: Record<string, SnapshotIssuer> = { 'ns/a': issuer('ns/a', { kind: 'jwksUri', jwksUri: 'https://a/jwks' }) },
): Snapshot {
  const s: Snapshot = {
    schemaVersion: 2,
    generation: 7,
    createdAt: '2026-01-01T00:00:00Z',
    sha256: '',
    settings: { unmatched: 'deny' },
    issuers,
    policies,
    grants: [],
  };
  return { ...s, sha256: snapshotDigest(s) };
}

test('a small snapshot is readable JSON in the head ConfigMap with its digest in annotations', () => {
  const s = snapshot([policy(1)]);
  const published = toPublishedForm(s, { namespace: 'jwtgate-system' });
  assert.equal(published.head.metadata.name, 'jwtgate-snapshot');
  assert.equal(published.head.metadata.annotations?.[ANNOTATIONS.sha256], s.sha256);
  assert.equal(published.head.metadata.annotations?.[ANNOTATIONS.generation], '7');
  assert.equal(published.head.metadata.annotations?.[ANNOTATIONS.encoding], 'json');
  assert.ok(published.head.data?.['snapshot.json']);
  assert.deepEqual([published.parts, published.secret], [[], undefined]);
  assert.deepEqual(fromPublishedForm(published.head, [], undefined), s);
});

test('a large snapshot is gzip-compressed in binaryData', () => {
  const s = snapshot(Array.from({ length: 3000 }, (_, i) => policy(i)));
  const published = toPublishedForm(s, { namespace: 'n' });
  assert.equal(published.head.metadata.annotations?.[ANNOTATIONS.encoding], 'gzip');
  assert.equal(published.head.data, undefined);
  assert.ok(Buffer.from(published.head.binaryData!['snapshot.json.gz']!, 'base64').length < JSON.stringify(s).length / 5);
  assert.deepEqual(fromPublishedForm(published.head, [], undefined), s);
});

test('a snapshot beyond one object is split into content-addressed parts and reassembled', () => {
  // Random path segments defeat compression, as many distinct regexes or hosts would.
  const s = snapshot(Array.from({ length: 2000 }, (_, i) => policy(i, randomBytes(600).toString('hex'))));
  const published = toPublishedForm(s, { namespace: 'n' });
  assert.ok(published.parts.length >= 2);
  for (const part of published.parts) assert.ok(Buffer.from(part.binaryData!.chunk!, 'base64').length <= PART_LIMIT_BYTES);
  assert.deepEqual(
    published.parts.map((p) => p.metadata.name),
    partNames(published.head),
  );
  assert.ok(published.parts.every((p) => p.metadata.name.startsWith(`jwtgate-snapshot-${s.sha256.slice(0, 12)}-`)));
  assert.deepEqual(fromPublishedForm(published.head, [...published.parts].reverse(), undefined), s);
  assert.throws(() => fromPublishedForm(published.head, published.parts.slice(1), undefined), /part .* is missing/);
});

test('HMAC secrets go to a Secret, never to the ConfigMap, and merge back exactly', () => {
  const s = snapshot([policy(1)], {
    'ns/a': issuer('ns/a', { kind: 'static', jwks: { keys: [hmac, rsa] } }),
    'ns/b': issuer('ns/b', { kind: 'static', jwks: { keys: [rsa] } }),
  });
  const published = toPublishedForm(s, { namespace: 'n' });
  assert.ok(!JSON.stringify(published.head).includes(hmac.k));
  assert.equal(published.secret?.metadata.name, 'jwtgate-snapshot-keys');
  assert.equal(published.head.metadata.annotations?.[ANNOTATIONS.secretKeys], 'jwtgate-snapshot-keys');
  assert.deepEqual(fromPublishedForm(published.head, [], published.secret), s);
  assert.throws(() => fromPublishedForm(published.head, [], undefined), /HMAC keys is missing/);
});

test('a Secret or a head from another version is refused', () => {
  const mk = (k: string) => snapshot([policy(1)], { 'ns/a': issuer('ns/a', { kind: 'static', jwks: { keys: [{ kty: 'oct', k }] } }) });
  const v1 = toPublishedForm(mk(hmac.k), { namespace: 'n' });
  const v2 = toPublishedForm(mk(randomBytes(32).toString('base64url')), { namespace: 'n' });
  assert.throws(() => fromPublishedForm(v2.head, [], v1.secret), /another snapshot version/);
  const forged = structuredClone(v1.head);
  forged.data!['snapshot.json'] = forged.data!['snapshot.json']!.replace('"realm":"r"', '"realm":"x"');
  assert.throws(() => fromPublishedForm(forged, [], v1.secret), /sha256 mismatch/);
});

test('a head whose digest annotation does not match its content is refused', () => {
  const s = snapshot([policy(1)]);
  const published = toPublishedForm(s, { namespace: 'n' });
  const relabelled = structuredClone(published.head);
  relabelled.metadata.annotations![ANNOTATIONS.sha256] = 'f'.repeat(64);
  assert.throws(() => fromPublishedForm(relabelled, [], undefined), /annotation jwtgate.dev\/sha256 says f{64}/);
});
