// writeStatus on the fake API (test/support/fake-kube-clients.ts, the apiserver's optimistic
// concurrency): the whole status is replaced, a JWTPolicy's GEP-713 ancestors included, and
// removed with it when no longer wanted; a write over an outdated resourceVersion is a conflict,
// a deleted object is gone, and a replica that may not write sends nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeStatus } from '../../../../operator/status/write-status.ts';
import type { ResourceStatus } from '../../../../operator/status/next-status.ts';
import { WriteFence, WriteFencedError } from '../../../../operator/write-fence.ts';
import { fakeKubeClients } from '../../../support/fake-kube-clients.ts';
import { policy } from '../../compiler/builders.ts';

const at = '2026-01-01T00:00:00Z';
const withAncestors: ResourceStatus = {
  observedGeneration: 1,
  conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'the spec is valid', lastTransitionTime: at }],
  ancestors: [
    {
      ancestorRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'infra', name: 'public', sectionName: 'api' },
      controllerName: 'jwtgate.dev/operator',
      conditions: [
        {
          type: 'Accepted',
          status: 'False',
          reason: 'TargetNotFound',
          message: 'not admitted',
          observedGeneration: 1,
          lastTransitionTime: at,
        },
      ],
    },
  ],
};

function setup(leader = true) {
  const fake = fakeKubeClients('jwtgate-system');
  const stored = fake.apply(policy('orders', { targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'orders' }] }));
  const fence = new WriteFence({ lease: { leadership: () => (leader ? { term: 1, untilMs: Infinity } : undefined) } });
  const target = { kind: 'JWTPolicy' as const, namespace: 'shop', name: 'orders', resourceVersion: stored.metadata?.resourceVersion ?? '' };
  return { fake, writes: fence.session(), target };
}

test('the whole status is written, ancestors included, and a later status without them removes them', async () => {
  const { fake, writes, target } = setup();
  const first = await writeStatus(fake.clients, writes, target, withAncestors);
  assert.equal(first.outcome, 'written');
  assert.deepEqual(fake.resource('JWTPolicy', 'orders', 'shop')?.status, withAncestors);
  const { ancestors: _gone, ...plain } = withAncestors;
  const version = first.outcome === 'written' ? first.resourceVersion : '';
  assert.equal((await writeStatus(fake.clients, writes, { ...target, resourceVersion: version }, plain)).outcome, 'written');
  assert.deepEqual(fake.resource('JWTPolicy', 'orders', 'shop')?.status, plain);
});

test('a write over an outdated version is a conflict; a missing object is gone; a fenced replica sends nothing', async () => {
  const { fake, writes, target } = setup();
  await writeStatus(fake.clients, writes, target, withAncestors);
  assert.deepEqual(await writeStatus(fake.clients, writes, target, { conditions: [] }), { outcome: 'conflict' });
  assert.deepEqual(fake.resource('JWTPolicy', 'orders', 'shop')?.status, withAncestors, 'the newer status stands');
  assert.deepEqual(await writeStatus(fake.clients, writes, { ...target, name: 'deleted' }, withAncestors), { outcome: 'gone' });

  const follower = setup(false);
  const calls = follower.fake.calls.length;
  await assert.rejects(writeStatus(follower.fake.clients, follower.writes, follower.target, withAncestors), WriteFencedError);
  assert.equal(follower.fake.calls.length, calls);
});
