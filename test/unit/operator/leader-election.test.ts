// Unit tests for the pure decisions of Lease-based leader election: when a lease is expired
// (by the local observation time, not the remote clock), and what a candidate does next.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KubeConfig } from '@kubernetes/client-node';
import { createLogger } from '../../../common/log.ts';
import {
  decideLeaseAction,
  isLeaseExpired,
  LEADER_ELECTION_DEFAULTS,
  observeLease,
  releasedRecord,
  runLeaderElection,
  type LeaseRecord,
} from '../../../operator/leader-election.ts';

const held = (holderIdentity: string, overrides: Partial<LeaseRecord> = {}): LeaseRecord => ({
  holderIdentity,
  leaseDurationSeconds: 15,
  leaseTransitions: 3,
  acquireTime: '2026-01-01T00:00:00.000000Z',
  renewTime: '2026-01-01T00:00:10.000000Z',
  ...overrides,
});
const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms);

test("the defaults are client-go's", () => {
  assert.deepEqual({ ...LEADER_ELECTION_DEFAULTS }, { leaseDurationSeconds: 15, renewDeadlineSeconds: 10, retryPeriodSeconds: 2 });
});

test('an unchanged record keeps its first observation time; a changed one restarts the clock', () => {
  const first = observeLease(undefined, held('a'), '1', 1_000);
  assert.equal(observeLease(first, held('a'), '1', 9_000).observedAtMs, 1_000);
  const renewed = observeLease(first, held('a', { renewTime: '2026-01-01T00:00:12.000000Z' }), '2', 9_000);
  assert.equal(renewed.observedAtMs, 9_000);
  assert.equal(renewed.resourceVersion, '2');
});

test('expiry is measured from the local observation, so a remote clock far behind cannot expire a live lease', () => {
  // renewTime says 2026-01-01T00:00:10Z, an hour before our clock: client-go ignores it, and so do we.
  const seen = observeLease(undefined, held('a'), '1', at(3_600_000).getTime());
  assert.equal(isLeaseExpired(seen, at(3_600_000 + 14_999).getTime()), false);
  assert.equal(isLeaseExpired(seen, at(3_600_000 + 15_000).getTime()), true);
});

test('a released lease (no holder) is free at once', () => {
  const seen = observeLease(undefined, releasedRecord(held('a'), at(0)), '1', 0);
  assert.equal(isLeaseExpired(seen, 0), true);
});

test('no lease: create it holding it, with zero transitions and microsecond times', () => {
  const action = decideLeaseAction('me', undefined, 15, at(0));
  assert.deepEqual(action, {
    kind: 'create',
    record: {
      holderIdentity: 'me',
      leaseDurationSeconds: 15,
      leaseTransitions: 0,
      acquireTime: '2026-01-01T00:00:00.000000Z',
      renewTime: '2026-01-01T00:00:00.000000Z',
    },
  });
});

test('our own lease: renew it, keeping acquireTime and transitions, on the observed resourceVersion', () => {
  const seen = observeLease(undefined, held('me'), '42', 0);
  assert.deepEqual(decideLeaseAction('me', seen, 15, at(20_123)), {
    kind: 'update',
    resourceVersion: '42',
    record: { ...held('me'), renewTime: '2026-01-01T00:00:20.123000Z' },
  });
});

test("another holder's live lease: wait", () => {
  const seen = observeLease(undefined, held('other'), '7', at(0).getTime());
  assert.deepEqual(decideLeaseAction('me', seen, 15, at(14_000)), { kind: 'wait', holder: 'other' });
});

test("another holder's expired lease: take it over and count a transition", () => {
  const seen = observeLease(undefined, held('other'), '7', at(0).getTime());
  const action = decideLeaseAction('me', seen, 15, at(15_000));
  assert.equal(action.kind, 'update');
  assert.deepEqual(action.kind === 'update' && action, {
    kind: 'update',
    resourceVersion: '7',
    record: {
      holderIdentity: 'me',
      leaseDurationSeconds: 15,
      leaseTransitions: 4,
      acquireTime: '2026-01-01T00:00:15.000000Z',
      renewTime: '2026-01-01T00:00:15.000000Z',
    },
  });
});

test("the lease duration judged is the record's own: a released 1 s lease is taken at once, a 60 s one is waited out", () => {
  const long = observeLease(undefined, held('other', { leaseDurationSeconds: 60 }), '7', at(0).getTime());
  assert.equal(decideLeaseAction('me', long, 15, at(30_000)).kind, 'wait');
  const released = observeLease(undefined, releasedRecord(held('other'), at(0)), '8', at(0).getTime());
  assert.equal(decideLeaseAction('me', released, 15, at(0)).kind, 'update');
});

test('releasing keeps the transition count and leaves a one-second lease with no holder', () => {
  assert.deepEqual(releasedRecord(held('me', { leaseTransitions: 5 }), at(1_000)), {
    holderIdentity: '',
    leaseDurationSeconds: 1,
    leaseTransitions: 5,
    acquireTime: '2026-01-01T00:00:01.000000Z',
    renewTime: '2026-01-01T00:00:01.000000Z',
  });
});

test('timings that could let two replicas lead at once are refused up front', () => {
  const base = {
    kubeConfig: new KubeConfig(),
    namespace: 'n',
    name: 'l',
    identity: 'me',
    log: createLogger('silent'),
    onStartedLeading() {},
    onStoppedLeading() {},
  };
  assert.throws(
    () => runLeaderElection({ ...base, leaseDurationSeconds: 10, renewDeadlineSeconds: 10 }),
    /leaseDurationSeconds must be greater than renewDeadlineSeconds/,
  );
  assert.throws(
    () => runLeaderElection({ ...base, renewDeadlineSeconds: 2, retryPeriodSeconds: 2 }),
    /renewDeadlineSeconds must be greater than 1.2/,
  );
  assert.throws(() => runLeaderElection({ ...base, identity: '' }), /identity must not be empty/);
});
