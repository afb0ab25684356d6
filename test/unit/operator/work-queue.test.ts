// The work queue: de-duplication, debouncing, retry with backoff, requeueAfter, one run at a
// time. The clock is node:test's mock: a tick runs every timer that falls due synchronously, so
// "not yet" and "never again" are definite, and each delay is checked to the millisecond.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../../common/log.ts';
import { WorkQueue, type ReconcileResult } from '../../../operator/work-queue.ts';

const log = createLogger('silent');

/** Mocks setTimeout and Date; `tick(ms)` moves the clock, then lets the handlers' promises settle. */
function mockClock(t: TestContext) {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  return async (ms: number): Promise<void> => {
    t.mock.timers.tick(ms);
    await new Promise((resolve) => setImmediate(resolve)); // setImmediate is not mocked
  };
}

test("a burst of adds becomes one run per key, when the first add's debounce is over", async (t) => {
  const tick = mockClock(t);
  const runs: string[] = [];
  const queue = new WorkQueue({
    log,
    debounceMs: 30,
    handle: async (k) => {
      runs.push(k);
      return {};
    },
  });
  queue.add('snapshot');
  await tick(10);
  for (let i = 0; i < 20; i++) queue.add('snapshot'); // later adds keep the earlier due time
  queue.add('other');
  await tick(19);
  assert.deepEqual(runs, [], 'nothing runs before the debounce');
  await tick(1);
  assert.deepEqual(runs, ['snapshot']);
  await tick(10);
  assert.deepEqual(runs, ['snapshot', 'other']);
  await tick(60_000);
  assert.deepEqual(runs, ['snapshot', 'other'], 'the burst left no further run behind');
  await queue.stop();
});

test('a throwing handler is retried after backoffMs(1), backoffMs(2), …; results are reported', async (t) => {
  const tick = mockClock(t);
  const results: string[] = [];
  let calls = 0;
  const queue = new WorkQueue({
    log,
    debounceMs: 1,
    backoff: { baseMs: 10, maxMs: 40 },
    handle: async () => {
      calls += 1;
      if (calls < 3) throw new Error('apiserver away');
      return {};
    },
    onResult: (_k, r) => results.push(r),
  });
  queue.add('snapshot');
  await tick(1);
  assert.equal(calls, 1);
  await tick(9);
  assert.equal(calls, 1, 'the first retry waits 10 ms');
  await tick(1);
  assert.equal(calls, 2);
  await tick(19);
  assert.equal(calls, 2, 'the second retry waits 20 ms');
  await tick(1);
  assert.equal(calls, 3);
  await tick(60_000);
  assert.equal(calls, 3, 'a success ends the retries');
  assert.deepEqual(results, ['error', 'error', 'success']);
  await queue.stop();
});

test('an add while running runs the key once more, after the run; requeueAfter runs it again; a stopped queue runs nothing', async (t) => {
  const tick = mockClock(t);
  let release = () => {};
  const firstRunHeld = new Promise<void>((resolve) => {
    release = resolve;
  });
  let calls = 0;
  const queue = new WorkQueue({
    log,
    debounceMs: 1,
    handle: async (): Promise<ReconcileResult> => {
      calls += 1;
      if (calls === 1) {
        queue.add('k');
        await firstRunHeld;
      }
      return calls === 2 ? { requeueAfter: 10 } : {};
    },
  });
  queue.add('k');
  await tick(1);
  assert.equal(calls, 1);
  await tick(1_000);
  assert.equal(calls, 1, 'the key added while running waits for the run in progress');
  release();
  await tick(0);
  assert.equal(calls, 2);
  await tick(9);
  assert.equal(calls, 2, 'requeueAfter: 10 waits 10 ms');
  await tick(1);
  assert.equal(calls, 3);
  await queue.stop();
  queue.add('k');
  await tick(60_000);
  assert.equal(calls, 3, 'a stopped queue runs nothing');
  assert.equal(queue.size, 0);
});
