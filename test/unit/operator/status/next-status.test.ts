// nextStatus: writes only when something changed, and reports transitions for Events.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextStatus } from '../../../../operator/status/next-status.ts';

const now = new Date('2026-01-01T00:00:00Z');
const ready = { type: 'Ready', status: 'True' as const, reason: 'Enforced', message: 'ok', observedGeneration: 2 };

test('an equal status is not written and has no transitions', () => {
  const first = nextStatus(undefined, { observedGeneration: 2, conditions: [ready] }, now);
  assert.equal(first.changed, true);
  assert.deepEqual(
    first.transitions.map((c) => c.reason),
    ['Enforced'],
  );
  const again = nextStatus(first.status, { observedGeneration: 2, conditions: [ready] }, new Date('2026-01-02T00:00:00Z'));
  assert.equal(again.changed, false);
  assert.deepEqual(again.transitions, []);
});

test('a message change is written but is no transition; a reason change is', () => {
  const { status } = nextStatus(undefined, { conditions: [ready] }, now);
  assert.deepEqual(nextStatus(status, { conditions: [{ ...ready, message: 'other' }] }, now).transitions, []);
  assert.equal(nextStatus(status, { conditions: [{ ...ready, message: 'other' }] }, now).changed, true);
  assert.equal(nextStatus(status, { conditions: [{ ...ready, reason: 'X' }] }, now).transitions.length, 1);
});

test('malformed conditions from the API are dropped, unknown types removed', () => {
  const { status } = nextStatus(
    { conditions: [{ type: 'Old', status: 'True', lastTransitionTime: 'x' }, 'junk'] },
    { conditions: [ready] },
    now,
  );
  assert.deepEqual(
    status.conditions.map((c) => c.type),
    ['Ready'],
  );
});

test('a JWTHostGrant status carries namespaces: a change of them is written without a transition, and they go when the grant leaves the snapshot', () => {
  const { status } = nextStatus(undefined, { conditions: [ready], namespaces: ['a'] }, now);
  assert.deepEqual(status.namespaces, ['a']);
  const widened = nextStatus(status, { conditions: [ready], namespaces: ['a', 'b'] }, now);
  assert.deepEqual([widened.changed, widened.transitions, widened.status.namespaces], [true, [], ['a', 'b']]);
  const gone = nextStatus(widened.status, { conditions: [ready] }, now);
  assert.deepEqual([gone.changed, 'namespaces' in gone.status], [true, false]);
});

test('GEP-713 ancestors: matched by ancestorRef + controllerName, lastTransitionTime kept until Accepted flips, no transitions of their own', () => {
  const gatewayRef = { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'infra', name: 'public', sectionName: 'api' };
  const ancestor = (status: 'True' | 'False', reason: string, message = reason, ref: object = gatewayRef) => ({
    ancestorRef: ref as typeof gatewayRef,
    controllerName: 'jwtgate.dev/operator',
    conditions: [{ type: 'Accepted', status, reason, message, observedGeneration: 2 }],
  });
  const t1 = new Date('2026-01-01T00:00:01Z');
  const t2 = new Date('2026-01-01T00:00:02Z');
  const t3 = new Date('2026-01-01T00:00:03Z');
  const pending = nextStatus(undefined, { conditions: [ready], ancestors: [ancestor('False', 'TargetNotFound')] }, now);
  assert.deepEqual(pending.status.ancestors, [
    {
      ...ancestor('False', 'TargetNotFound'),
      conditions: [{ ...ancestor('False', 'TargetNotFound').conditions[0], lastTransitionTime: '2026-01-01T00:00:00Z' }],
    },
  ]);
  const time = (s: typeof pending) => s.status.ancestors?.[0]?.conditions[0]?.lastTransitionTime;

  // A new message or reason with the same status: written, the time kept, no transition.
  const reworded = nextStatus(pending.status, { conditions: [ready], ancestors: [ancestor('False', 'Invalid', 'other')] }, t1);
  assert.deepEqual([reworded.changed, reworded.transitions, time(reworded)], [true, [], '2026-01-01T00:00:00Z']);
  // Accepted flips: the time moves.
  const accepted = nextStatus(reworded.status, { conditions: [ready], ancestors: [ancestor('True', 'Accepted')] }, t2);
  assert.deepEqual([accepted.changed, accepted.transitions, time(accepted)], [true, [], '2026-01-01T00:00:02Z']);
  // Nothing new: nothing written.
  assert.equal(nextStatus(accepted.status, { conditions: [ready], ancestors: [ancestor('True', 'Accepted')] }, t3).changed, false);
  // Another listener of the same Gateway is another ancestor: a new entry, its own time.
  const other = { ...gatewayRef, sectionName: 'web' };
  const two = nextStatus(
    accepted.status,
    { conditions: [ready], ancestors: [ancestor('True', 'Accepted'), ancestor('True', 'Accepted', 'Accepted', other)] },
    t3,
  );
  assert.deepEqual(
    two.status.ancestors?.map((a) => a.conditions[0]?.lastTransitionTime),
    ['2026-01-01T00:00:02Z', '2026-01-01T00:00:03Z'],
  );
  // The same ancestorRef under another controllerName is not ours: it does not lend its time.
  const foreign = { ...accepted.status, ancestors: accepted.status.ancestors?.map((a) => ({ ...a, controllerName: 'example.com/other' })) };
  assert.equal(time(nextStatus(foreign, { conditions: [ready], ancestors: [ancestor('True', 'Accepted')] }, t3)), '2026-01-01T00:00:03Z');
  // No longer wanted (the policy moved to targets): the field goes.
  const gone = nextStatus(two.status, { conditions: [ready] }, t3);
  assert.deepEqual([gone.changed, 'ancestors' in gone.status], [true, false]);
});

test('malformed ancestor entries from the API are dropped and rewritten', () => {
  const ref = { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'infra', name: 'public' };
  const want = {
    ancestorRef: ref,
    controllerName: 'jwtgate.dev/operator',
    conditions: [{ ...ready, type: 'Accepted', reason: 'Accepted' }],
  };
  const current = {
    conditions: [],
    ancestors: [
      'junk',
      { ancestorRef: { name: 'public' }, controllerName: 'jwtgate.dev/operator', conditions: [] },
      { ancestorRef: ref, controllerName: 'jwtgate.dev/operator', conditions: [{ type: 'Accepted', status: 'True' }] },
    ],
  };
  const { status } = nextStatus(current, { conditions: [], ancestors: [want] }, now);
  assert.deepEqual(status.ancestors, [{ ...want, conditions: [{ ...want.conditions[0], lastTransitionTime: '2026-01-01T00:00:00Z' }] }]);
});
