// Cache-Control parsing and the bounded refresh schedule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_REFRESH_SECONDS, parseMaxAge, refreshDelaySeconds } from '../../../../operator/keys/refresh-delay.ts';

test('parseMaxAge', () => {
  assert.equal(parseMaxAge('public, max-age=3600'), 3600);
  assert.equal(parseMaxAge('MAX-AGE="600"'), 600);
  assert.equal(parseMaxAge('max-age=600, s-maxage=60'), 60);
  assert.equal(parseMaxAge('max-age=10, max-age=99'), 10);
  assert.equal(parseMaxAge('no-cache, max-age=600'), 0);
  assert.equal(parseMaxAge('no-store'), 0);
  assert.equal(parseMaxAge('max-age=-1'), undefined);
  assert.equal(parseMaxAge('max-age=abc'), undefined);
  assert.equal(parseMaxAge('private'), undefined);
  assert.equal(parseMaxAge(null), undefined);
});

test('refreshDelaySeconds honours max-age within bounds, else the default', () => {
  assert.equal(refreshDelaySeconds(3600, 300), 3600);
  assert.equal(refreshDelaySeconds(undefined, 300), 300);
  assert.equal(refreshDelaySeconds(0, 300), 60);
  assert.equal(refreshDelaySeconds(10 ** 9, 300), MAX_REFRESH_SECONDS);
  assert.equal(refreshDelaySeconds(5, 300, 1), 5);
});
