// Backoff: doubling up to the cap, and with jitter a delay from the upper half of that ceiling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffMs } from '../../../common/backoff.ts';

test('backoffMs doubles up to the cap', () => {
  assert.deepEqual(
    [1, 2, 3, 10].map((n) => backoffMs(n, { baseMs: 100, maxMs: 1000 })),
    [100, 200, 400, 1000],
  );
});

test('with jitter, the delay is drawn from [ceiling/2, ceiling]: the ends are reachable, nothing outside', (t) => {
  const settings = { baseMs: 100, maxMs: 1000, jitter: true };
  const draws = [0, 0.5, 0.999_999];
  t.mock.method(Math, 'random', () => draws.shift() ?? 0);
  assert.deepEqual([backoffMs(3, settings), backoffMs(3, settings), backoffMs(10, settings)], [200, 300, 1000]);
});
