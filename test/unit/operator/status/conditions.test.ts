// setStatusCondition: lastTransitionTime moves only when the status flips (apimachinery semantics).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setStatusCondition } from '../../../../operator/status/conditions.ts';

const t1 = new Date('2026-01-01T00:00:00.250Z');
const t2 = new Date('2026-01-01T00:05:00Z');

test('a new condition gets now, at second precision', () => {
  const [c] = setStatusCondition([], { type: 'Ready', status: 'False', reason: 'NotEnforced', message: 'x', observedGeneration: 1 }, t1);
  assert.equal(c?.lastTransitionTime, '2026-01-01T00:00:00Z');
});

test('same status, new reason/message/generation: the transition time stays', () => {
  const a = setStatusCondition([], { type: 'Ready', status: 'False', reason: 'A', message: 'a', observedGeneration: 1 }, t1);
  const b = setStatusCondition(a, { type: 'Ready', status: 'False', reason: 'B', message: 'b', observedGeneration: 2 }, t2);
  assert.deepEqual(b, [
    { type: 'Ready', status: 'False', reason: 'B', message: 'b', observedGeneration: 2, lastTransitionTime: '2026-01-01T00:00:00Z' },
  ]);
});

test('a flip moves the transition time; other conditions and the input are untouched', () => {
  const a = setStatusCondition(
    setStatusCondition([], { type: 'Accepted', status: 'True', reason: 'Accepted', message: '' }, t1),
    { type: 'Ready', status: 'False', reason: 'A', message: '' },
    t1,
  );
  const b = setStatusCondition(a, { type: 'Ready', status: 'True', reason: 'Enforced', message: '' }, t2);
  assert.equal(b[1]?.lastTransitionTime, '2026-01-01T00:05:00Z');
  assert.equal(b[0], a[0]);
  assert.equal(a[1]?.status, 'False');
});
