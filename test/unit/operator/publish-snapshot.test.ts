// The snapshot publisher on a fake API with optimistic concurrency: the head is replaced only on
// the resourceVersion it was read at, a stale writer fails instead of overwriting and deletes
// nothing, the generation must increase, garbage is collected only by the head's writer and
// only of what its head does not reference, and a fence that closes mid-publish stops it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ANNOTATIONS, SECRET_KEYS_NAME, SNAPSHOT_NAME, toPublishedForm } from '../../../snapshot/published-form.ts';
import type { Snapshot } from '../../../snapshot/types.ts';
import { PublishConflictError, publishSnapshot } from '../../../operator/publish-snapshot.ts';
import { selectGarbage } from '../../../operator/select-garbage.ts';
import { WriteFence, WriteFencedError, type Leadership } from '../../../operator/write-fence.ts';
import { fakeKubeClients } from '../../support/fake-kube-clients.ts';
import { buildSnapshot, buildSplitSnapshot } from '../../support/kube-snapshot.ts';
import { issuerConfig } from '../../../dev/fixtures/tokens.ts';

const NS = 'jwtgate-system';
const HMAC_ISSUER = issuerConfig({
  algorithms: ['HS256'],
  keySource: { kind: 'static', jwks: { keys: [{ kty: 'oct', kid: 'h1', k: Buffer.alloc(32, 7).toString('base64url') }] } },
});

/** Split into parts, and with an HMAC key (so a keys Secret). */
const bigSnapshot = (generation: number): Snapshot => buildSplitSnapshot({ generation, issuer: HMAC_ISSUER });
const small = (generation: number): Snapshot => buildSnapshot({ generation, issuer: issuerConfig() });
const partsOf = (s: Snapshot) => toPublishedForm(s, { namespace: NS }).parts.map((p) => p.metadata.name);

function setup() {
  const fake = fakeKubeClients(NS);
  const lease: { held: Leadership | undefined } = { held: { term: 1, untilMs: Infinity } };
  const fence = new WriteFence({ lease: { leadership: () => lease.held } });
  const headVersion = () => fake.get('ConfigMap', SNAPSHOT_NAME)?.metadata?.resourceVersion ?? '';
  const headGeneration = () => Number(fake.get('ConfigMap', SNAPSHOT_NAME)?.metadata?.annotations?.[ANNOTATIONS.generation]);
  /** Publishes as a writer that read the head now (or at `over`). */
  const publish = (
    snapshot: Snapshot,
    over = fake.get('ConfigMap', SNAPSHOT_NAME) === undefined
      ? undefined
      : { resourceVersion: headVersion(), generation: headGeneration() },
    writer = 'op-1',
  ) => publishSnapshot(fake.clients, snapshot, { namespace: NS, writes: fence.session(), over, writer });
  return { fake, lease, fence, publish, headVersion };
}

const first = bigSnapshot(1);
const second = bigSnapshot(2);
const stale = bigSnapshot(2);

test('first publish: parts, then the Secret, then the head (created, naming its writer)', async () => {
  const { fake, publish } = setup();
  const { collected } = await publish(first);
  assert.ok(partsOf(first).length >= 2, 'the fixture is split into parts');
  assert.deepEqual(fake.names('ConfigMap'), [SNAPSHOT_NAME, ...partsOf(first)].sort());
  const head = fake.get('ConfigMap', SNAPSHOT_NAME)!;
  assert.equal(head.metadata?.annotations?.[ANNOTATIONS.writtenBy], 'op-1');
  assert.equal(head.metadata?.annotations?.[ANNOTATIONS.sha256], first.sha256);
  assert.equal(fake.get('Secret', SECRET_KEYS_NAME)?.metadata?.annotations?.[ANNOTATIONS.sha256], first.sha256);
  const writes = fake.calls.filter((c) => !c.startsWith('read') && !c.startsWith('list'));
  assert.deepEqual(writes, [
    ...partsOf(first).map(() => 'createNamespacedConfigMap'),
    'createNamespacedSecret',
    'createNamespacedConfigMap',
  ]);
  assert.deepEqual(collected, []);
});

test('replace: conditional on the version read; the old parts are collected by the writer of the new head', async () => {
  const { fake, publish } = setup();
  await publish(first);
  const { collected } = await publish(second);
  assert.equal(fake.get('ConfigMap', SNAPSHOT_NAME)?.metadata?.annotations?.[ANNOTATIONS.sha256], second.sha256);
  assert.deepEqual(collected.sort(), partsOf(first).sort());
  assert.deepEqual(fake.names('ConfigMap'), [SNAPSHOT_NAME, ...partsOf(second)].sort());
  // Back to one object and no HMAC keys: every part and the Secret go.
  const { collected: again } = await publish(small(3));
  assert.deepEqual(again.sort(), [...partsOf(second), SECRET_KEYS_NAME].sort());
  assert.deepEqual(fake.names('ConfigMap'), [SNAPSHOT_NAME]);
  assert.equal(fake.get('Secret', SECRET_KEYS_NAME), undefined);
});

test('a stale writer (read the head before a newer one was written) fails with a conflict, writes no head or Secret, deletes nothing', async () => {
  const { fake, publish, headVersion } = setup();
  await publish(first);
  const readByStale = { resourceVersion: headVersion(), generation: 1 };
  await publish(second, undefined, 'op-2'); // the new leader, over the same head
  const newer = { head: fake.get('ConfigMap', SNAPSHOT_NAME), secret: fake.get('Secret', SECRET_KEYS_NAME) };
  fake.calls.length = 0;

  await assert.rejects(publish(stale, readByStale, 'op-1'), (e) => e instanceof PublishConflictError && e.kind === 'snapshot');
  assert.deepEqual(fake.get('ConfigMap', SNAPSHOT_NAME), newer.head, 'the newer head is untouched');
  assert.deepEqual(fake.get('Secret', SECRET_KEYS_NAME), newer.secret, 'its keys Secret is untouched');
  for (const part of partsOf(second)) assert.ok(fake.get('ConfigMap', part), `part ${part} of the newer head survives`);
  assert.deepEqual(
    fake.calls.filter((c) => c.startsWith('delete') || c.startsWith('replace')),
    [],
  );

  // Its orphaned parts are collected by the next writer of the head, never the newer head's.
  const { collected } = await publish(bigSnapshot(3), undefined, 'op-2');
  assert.deepEqual(collected.sort(), [...partsOf(second), ...partsOf(stale)].sort());
});

test('the head moves between the Secret check and the head write: 409, never forced', async () => {
  const { fake, publish } = setup();
  await publish(small(1));
  fake.before = (call) => {
    if (call !== 'replaceNamespacedConfigMap') return;
    fake.before = undefined;
    fake.put('ConfigMap', {
      ...fake.get('ConfigMap', SNAPSHOT_NAME)!,
      metadata: { ...fake.get('ConfigMap', SNAPSHOT_NAME)!.metadata, annotations: { [ANNOTATIONS.generation]: '9' } },
    });
  };
  await assert.rejects(publish(small(2)), (e) => e instanceof PublishConflictError && e.kind === 'snapshot');
  assert.equal(fake.get('ConfigMap', SNAPSHOT_NAME)?.metadata?.annotations?.[ANNOTATIONS.generation], '9');
});

test('the keys Secret changed after it was read: 409 on the Secret, the head is not written', async () => {
  const { fake, publish, headVersion } = setup();
  await publish(first);
  const before = headVersion();
  fake.before = (call) => {
    if (call !== 'replaceNamespacedSecret') return;
    fake.before = undefined;
    fake.put('Secret', fake.get('Secret', SECRET_KEYS_NAME)!);
  };
  await assert.rejects(publish(second), (e) => e instanceof PublishConflictError && e.kind === 'secret');
  assert.equal(headVersion(), before);
});

test('the generation must increase over the head read', async () => {
  const { fake, publish } = setup();
  await publish(small(5));
  fake.calls.length = 0;
  await assert.rejects(publish(small(5)), TypeError);
  await assert.rejects(publish(small(4)), TypeError);
  assert.deepEqual(fake.calls, []);
});

test('no garbage collection when another head replaced ours before the re-read', async () => {
  const { fake, publish } = setup();
  await publish(first);
  fake.before = (call, name) => {
    // The re-read after our head write: a newer writer got in first, its head referring to the old parts.
    if (call === 'readNamespacedConfigMap' && name === SNAPSHOT_NAME && fake.calls.includes('replaceNamespacedConfigMap')) {
      fake.before = undefined;
      const oldHead = toPublishedForm({ ...first, generation: 3 }, { namespace: NS }).head;
      fake.put('ConfigMap', oldHead);
    }
  };
  const { collected } = await publish(second);
  assert.deepEqual(collected, []);
  for (const part of partsOf(first)) assert.ok(fake.get('ConfigMap', part), `${part}, referenced by the newer head, is kept`);
  assert.deepEqual(
    fake.calls.filter((c) => c.startsWith('delete')),
    [],
  );
});

test('the Lease is lost mid-publish (after the parts): the head is never written', async () => {
  const { fake, lease, publish, headVersion } = setup();
  await publish(small(1));
  const before = headVersion();
  const lastPart = partsOf(second).at(-1);
  fake.before = (call, name) => {
    if (call === 'createNamespacedConfigMap' && name === lastPart) lease.held = undefined;
  };
  await assert.rejects(publish(second), (e) => e instanceof WriteFencedError && e.reason === 'not-leading' && e.kind === 'secret');
  assert.equal(headVersion(), before);
  assert.equal(fake.get('Secret', SECRET_KEYS_NAME), undefined);
});

test('selectGarbage: only unreferenced objects of older generations, only while the head is ours', () => {
  const part = (name: string, generation: number) => ({ name: `${SNAPSHOT_NAME}-${name}`, resourceVersion: `rv-${name}`, generation });
  const configMaps = [
    part('reused', 2),
    part('old', 4),
    part('racing', 6),
    { name: 'unrelated', resourceVersion: '1', generation: 1 },
    { name: SNAPSHOT_NAME, resourceVersion: '50', generation: 5 },
  ];
  const head = { resourceVersion: '50', parts: [part('reused', 2).name] };
  const written = { resourceVersion: '50', generation: 5 };
  const secret = { name: SECRET_KEYS_NAME, resourceVersion: '7', generation: 4 };
  assert.deepEqual(selectGarbage({ head, written, configMaps, secret }), { configMaps: [part('old', 4)], secret });
  assert.deepEqual(selectGarbage({ head: { ...head, secretName: SECRET_KEYS_NAME }, written, configMaps, secret }).secret, undefined);
  assert.deepEqual(selectGarbage({ head, written, configMaps, secret: { ...secret, generation: 6 } }).secret, undefined);
  assert.deepEqual(selectGarbage({ head: { ...head, resourceVersion: '51' }, written, configMaps, secret }), { configMaps: [] });
});
