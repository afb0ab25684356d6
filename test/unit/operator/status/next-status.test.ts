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
