// The work queue: de-duplication, debouncing, retry with backoff, requeueAfter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../../authz/log.ts';
import { backoffMs } from '../../../operator/backoff.ts';
import { WorkQueue } from '../../../operator/work-queue.ts';

const log = createLogger('silent');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a burst of adds becomes one run', async () => {
  const runs: string[] = [];
  const queue = new WorkQueue({ log, debounceMs: 30, handle: async (k) => { runs.push(k); return {}; } });
  for (let i = 0; i < 20; i++) queue.add('snapshot');
  queue.add('other');
  await sleep(100);
  assert.deepEqual(runs.sort(), ['other', 'snapshot']);
  await queue.stop();
});

test('a throwing handler is retried with backoff; results are reported', async () => {
  const results: string[] = [];
  let calls = 0;
  const queue = new WorkQueue({
    log, debounceMs: 1, backoff: { baseMs: 10, maxMs: 40 },
    handle: async () => { calls += 1; if (calls < 3) throw new Error('apiserver away'); return {}; },
    onResult: (_k, r) => results.push(r),
  });
  queue.add('snapshot');
  await sleep(150);
  assert.equal(calls, 3);
  assert.deepEqual(results, ['error', 'error', 'success']);
  await queue.stop();
});

test('requeueAfter runs the key again; an add while running runs it once more', async () => {
  let calls = 0;
  const queue = new WorkQueue({ log, debounceMs: 1, handle: async () => { calls += 1; if (calls === 1) { queue.add('k'); await sleep(20); } return calls === 2 ? { requeueAfter: 10 } : {}; } });
  queue.add('k');
  await sleep(120);
  assert.equal(calls, 3);
  await queue.stop();
  queue.add('k');
  await sleep(20);
  assert.equal(calls, 3, 'a stopped queue runs nothing');
});

test('backoffMs doubles up to the cap', () => {
  assert.deepEqual([1, 2, 3, 10].map((n) => backoffMs(n, { baseMs: 100, maxMs: 1000 })), [100, 200, 400, 1000]);
});
