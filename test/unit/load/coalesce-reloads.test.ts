// coalesceReloads: never two runs at once; requests during a run collapse into one more run,
// with the latest request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coalesceReloads } from '../../../authz/load/coalesce-reloads.ts';

/** A run that stays open until the test releases it, recording what it was asked and how many ran at once. */
function gatedRuns() {
  const started: string[] = [];
  const releases: (() => void)[] = [];
  let active = 0;
  let maxActive = 0;
  const run = async (request: string) => {
    started.push(request);
    active++;
    maxActive = Math.max(maxActive, active);
    await new Promise<void>((resolve) => releases.push(resolve));
    active--;
    if (request === 'boom') throw new Error('boom');
  };
  return { run, started, release: () => releases.shift()!(), maxActive: () => maxActive };
}

test('requests during a run collapse into one more run with the latest request', async () => {
  const runs = gatedRuns();
  const reload = coalesceReloads(runs.run);
  const first = reload('a');
  void reload('b');
  const last = reload('c');
  assert.deepEqual(runs.started, ['a']);
  runs.release();
  await new Promise(setImmediate);
  assert.deepEqual(runs.started, ['a', 'c']);
  runs.release();
  await Promise.all([first, last]);
  assert.equal(runs.maxActive(), 1);
});

test('a failed run does not stop the next one', async () => {
  const runs = gatedRuns();
  const reload = coalesceReloads(runs.run);
  const failing = reload('boom');
  const next = reload('d');
  runs.release();
  await new Promise(setImmediate);
  runs.release();
  await Promise.all([failing, next]);
  assert.deepEqual(runs.started, ['boom', 'd']);
});
