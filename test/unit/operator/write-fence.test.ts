// The write fence: a write is sent only while the Lease is held in the term the session opened
// in and before the renew deadline, checked before every call; close() + idle() order shutdown.
// The clock is injected: no timers, no sleeps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WriteFence, WriteFencedError, type FenceReason, type Leadership, type WriteKind } from '../../../operator/write-fence.ts';

/** A lease holder and a clock the test moves by hand. */
function harness(initial: Leadership | undefined) {
  const state = { leadership: initial, nowMs: 1_000 };
  const refused: [WriteKind, FenceReason][] = [];
  const fence = new WriteFence({
    lease: { leadership: () => state.leadership },
    now: () => state.nowMs,
    onFenced: (kind, reason) => refused.push([kind, reason]),
  });
  const sent: string[] = [];
  const send = (what: string) => async () => {
    sent.push(what);
    return what;
  };
  return { state, fence, refused, sent, send };
}

const refusedWith = (reason: FenceReason) => (error: unknown) => error instanceof WriteFencedError && error.reason === reason;

test('not leading: nothing is sent, the refusal is counted by kind and reason', async () => {
  const { fence, refused, sent, send } = harness(undefined);
  const writes = fence.session();
  assert.equal(writes.allowed(), false);
  await assert.rejects(writes.write('status', send('status')), refusedWith('not-leading'));
  assert.deepEqual(sent, []);
  assert.deepEqual(refused, [['status', 'not-leading']]);
});

test('leading: writes pass until the renew deadline, and each write checks again (a session outlives no deadline)', async () => {
  const { state, fence, refused, sent, send } = harness({ term: 1, untilMs: 5_000 });
  const writes = fence.session();
  assert.equal(await writes.write('part', send('part')), 'part');
  state.nowMs = 4_999;
  await writes.write('snapshot', send('head'));
  // The reconcile awaited a key refresh; no renewal came in the meantime.
  state.nowMs = 5_000;
  assert.equal(writes.allowed(), false);
  await assert.rejects(writes.write('event', send('event')), refusedWith('renew-deadline-passed'));
  assert.deepEqual(sent, ['part', 'head']);
  assert.deepEqual(refused, [['event', 'renew-deadline-passed']]);
  // A renewal moves the deadline: the same session writes again.
  state.leadership = { term: 1, untilMs: 9_000 };
  await writes.write('event', send('event'));
  assert.deepEqual(sent, ['part', 'head', 'event']);
});

test('a session is bound to its term: lost and won back, the old run stays fenced, a new one writes', async () => {
  const { state, fence, sent, send } = harness({ term: 1, untilMs: 10_000 });
  const oldRun = fence.session();
  state.leadership = undefined; // stepped down
  await assert.rejects(oldRun.write('status', send('stale')), refusedWith('not-leading'));
  state.leadership = { term: 2, untilMs: 20_000 }; // leading again
  await assert.rejects(oldRun.write('status', send('stale')), refusedWith('term-changed'));
  await fence.session().write('status', send('fresh'));
  assert.deepEqual(sent, ['fresh']);
});

test('close() refuses everything after it; idle() waits for the write already sent', async () => {
  const { fence, sent, send } = harness({ term: 1, untilMs: Infinity });
  const writes = fence.session();
  let answer!: () => void;
  const inFlight = writes.write(
    'snapshot',
    () =>
      new Promise<string>((resolve) => {
        answer = () => resolve('head');
      }),
  );
  assert.equal(fence.inFlight, 1);
  fence.close();
  await assert.rejects(writes.write('cleanup', send('delete')), refusedWith('closed'));
  await assert.rejects(fence.session().write('status', send('status')), refusedWith('closed'));
  let idle = false;
  const waiting = fence.idle().then(() => {
    idle = true;
  });
  await Promise.resolve();
  assert.equal(idle, false, 'idle before the in-flight write was answered');
  answer();
  assert.equal(await inFlight, 'head');
  await waiting;
  assert.equal(fence.inFlight, 0);
  assert.deepEqual(sent, []);
});

test('a write that fails still leaves the fence idle', async () => {
  const { fence } = harness({ term: 1, untilMs: Infinity });
  await assert.rejects(
    fence.session().write('secret', async () => {
      throw new Error('apiserver away');
    }),
    /apiserver away/,
  );
  assert.equal(fence.inFlight, 0);
  await fence.idle();
});
