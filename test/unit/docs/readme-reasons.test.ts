// The README's reason table is what client authors read: every code, with the HTTP status and
// the RFC 6750 `error` the service really sends (authz/reasons.ts), and nothing else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { REASONS } from '../../../authz/reasons.ts';

const README = new URL('../../../README.md', import.meta.url);

test('the README reason table lists every code with its status and error, as REASONS has them', () => {
  const rows = readFileSync(README, 'utf8')
    .split('\n')
    .map((line) => /^\| `([a-z_]+)` \| (\d{3}) \| ?([a-z_]*) ?\|/.exec(line))
    .filter((m) => m !== null)
    .map(([, code, status, error]) => [code!, Number(status), error === '' ? undefined : error] as const);
  const table = Object.entries(REASONS).map(([code, info]) => [code, info.status, info.bearerError] as const);
  assert.deepEqual(
    rows.toSorted(([a], [b]) => a.localeCompare(b)),
    table.toSorted(([a], [b]) => a.localeCompare(b)),
  );
});
