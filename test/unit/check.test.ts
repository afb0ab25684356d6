// The check's one boundary for request targets: common/normalize-path.ts throws a neutral
// PathRefusedError (the compiler reads it too); decide() turns it into 400 request_invalid with
// the form refused as the public description and where it is as the private detail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide } from '../../authz/check.ts';
import { createMetrics } from '../../authz/metrics.ts';
import { RuntimeStore } from '../../authz/runtime/runtime-store.ts';
import { httpCheckRequest } from '../../cli/grpc-client.ts';
import { createLogger } from '../../common/log.ts';
import { compile } from '../../compiler/compile.ts';
import { schema } from '../support/schema.ts';

const LIMITS = { maxTokenBytes: 8192, maxHeaderBytes: 65536 };

async function decideOn(path: string) {
  const store = new RuntimeStore({ log: createLogger('silent'), metrics: createMetrics({ defaultMetrics: false }) });
  // No policy: a target that normalizes is unmatched (denied by default), one that does not is refused first.
  await store.apply(compile({ schema, resources: [], now: new Date(0) }).snapshot);
  try {
    return await decide(store.current, httpCheckRequest({ method: 'GET', host: 'api.example', path }), LIMITS);
  } finally {
    await store.close();
  }
}

test('a refused request target is a request_invalid deny naming the form, with the place in the detail', async () => {
  const decision = await decideOn('/public/%2e%2e/admin');
  assert.equal(decision.kind, 'deny');
  assert.equal(decision.reason, 'request_invalid');
  assert.match(decision.description, /"\." or "\.\." segment/);
  assert.ok((decision.detail ?? '').length > 0, 'a detail for the log');
});

test('the same target without the dot segment is normalized and goes on to routing (no_policy)', async () => {
  const decision = await decideOn('/public/admin');
  assert.equal(decision.kind, 'deny');
  assert.equal(decision.reason, 'no_policy');
});
