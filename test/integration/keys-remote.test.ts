// Integration: remote key sets against a real loopback JWKS/discovery server — rotation, outages,
// seeded keys, cooldown, discovery issuer check, weak-key filtering, metrics.
import assert from 'node:assert/strict';
import { afterEach, before, beforeEach, describe, it } from 'node:test';
import { IssuerKeys } from '../../authz/keys/issuer-keys.ts';
import { createLogger } from '../../common/log.ts';
import { createMetrics } from '../../authz/metrics.ts';
import { REASONS } from '../../authz/reasons.ts';
import type { SnapshotIssuer } from '../../snapshot/types.ts';
import { verifyToken } from '../../authz/verify/verify-token.ts';
import { startJwksServer, type JwksServer } from '../support/jwks-server.ts';
import {
  TEST_AUDIENCE,
  TEST_ISSUER,
  generateTestKey,
  issuerConfig,
  jwksOf,
  signToken,
  standardClaims,
  weakRsaToken,
  type TestKey,
} from '../../dev/fixtures/tokens.ts';
import { assertDenied } from '../support/assert-denied.ts';

describe('remote issuer keys', () => {
  let metrics: ReturnType<typeof createMetrics>;
  let idp: JwksServer;
  let k1: TestKey;
  let k2: TestKey;
  const opened: IssuerKeys[] = [];

  before(async () => {
    [k1, k2] = await Promise.all([generateTestKey('RS256', 'k1'), generateTestKey('ES256', 'k2')]);
  });
  beforeEach(async () => {
    metrics = createMetrics({ defaultMetrics: false });
    idp = await startJwksServer({ jwks: jwksOf(k1), discoveryIssuer: TEST_ISSUER });
  });
  afterEach(async () => {
    for (const keys of opened.splice(0)) keys.close();
    await idp.close();
  });

  /** An IssuerKeys on `idp` (not started) and a helper verifying a token signed by a key. */
  function setUp(overrides: Partial<SnapshotIssuer> = {}, source: 'jwksUri' | 'discovery' = 'jwksUri', now?: () => number) {
    const config = issuerConfig({
      algorithms: ['RS256', 'ES256'],
      keySource: source === 'jwksUri' ? { kind: 'jwksUri', jwksUri: idp.jwksUrl } : { kind: 'discovery', discoveryUrl: idp.discoveryUrl },
      remote: { refreshSeconds: 300, cooldownSeconds: 30, timeoutMs: 300 },
      ...overrides,
    });
    const keys = new IssuerKeys(config, { metrics, log: createLogger('silent'), ...(now === undefined ? {} : { now }) });
    opened.push(keys);
    const verify = async (key: TestKey, header: Record<string, unknown> = {}) =>
      verifyToken(await signToken(key, standardClaims(), header), [{ keys, config, audiences: [TEST_AUDIENCE] }]);
    return { keys, verify };
  }
  const fetches = async (result: string) => (await metrics.jwksFetches.get()).values.find((v) => v.labels.result === result)?.value ?? 0;

  it('is not ready before its first load, unless seeded with cached keys', () => {
    assert.deepEqual(setUp().keys.status(), { ready: false, keyCount: 0 });
    const seeded = setUp({ cachedKeys: { jwks: jwksOf(k1), fetchedAt: '2026-01-01T00:00:00Z' } }).keys.status();
    assert.deepEqual(seeded, { ready: true, keyCount: 1, fetchedAt: '2026-01-01T00:00:00.000Z' });
    assert.equal(idp.requests.jwks, 0, 'constructing fetches nothing');
  });

  it('loads the set once at start and verifies without refetching', async () => {
    const { keys, verify } = setUp();
    await keys.start();
    assert.deepEqual({ ...keys.status(), fetchedAt: undefined }, { ready: true, keyCount: 1, fetchedAt: undefined });
    for (let i = 0; i < 5; i++) await verify(k1);
    assert.equal(idp.requests.jwks, 1);
    assert.equal(await fetches('ok'), 1);
    assert.equal((await metrics.issuerKeys.get()).values[0]?.value, 1);
  });

  it('rotation: a new kid is picked up by the unknown-kid refetch; a removed kid is refused after refresh', async () => {
    const { keys, verify } = setUp({ remote: { refreshSeconds: 300, cooldownSeconds: 0, timeoutMs: 300 } });
    await keys.start();
    idp.setKeys(jwksOf(k2));
    assert.equal((await verify(k2)).header.kid, 'k2');
    assert.equal(idp.requests.jwks, 2);
    await keys.refresh();
    await assertDenied(verify(k1), 'kid_unknown');
  });

  it('the cooldown bounds refetches: many unknown kids cause a single fetch', async () => {
    // Seeded keys fetched long ago: the first unknown kid may refetch, the rest must wait.
    const { verify } = setUp({ cachedKeys: { jwks: jwksOf(k1), fetchedAt: '2020-01-01T00:00:00Z' } });
    const unknown = await Promise.all(Array.from({ length: 10 }, (_, i) => generateTestKey('RS256', `rogue-${i}`)));
    await Promise.all(unknown.map((key) => assertDenied(verify(key), 'kid_unknown')));
    for (const key of unknown) await assertDenied(verify(key), 'kid_unknown');
    assert.equal(idp.requests.jwks, 1);
  });

  for (const mode of ['status500', 'hang', 'close'] as const) {
    it(`IdP down after the first load (${mode}): the last good keys keep verifying`, async () => {
      const { keys, verify } = setUp();
      await keys.start();
      idp.failWith(mode);
      await keys.refresh();
      const status = keys.status();
      assert.equal(status.keyCount, 1);
      assert.ok(status.lastError, 'the failure is reported');
      assert.equal((await verify(k1)).claims.sub, 'alice');
      assert.equal(await fetches({ status500: 'http_error', hang: 'timeout', close: 'network_error' }[mode]), 1);
    });
  }

  it('seeded with cachedKeys: start() does not fetch, so N replicas starting together leave the IdP alone', async () => {
    const { keys, verify } = setUp({ cachedKeys: { jwks: jwksOf(k1), fetchedAt: new Date().toISOString() } });
    await keys.start();
    assert.equal((await verify(k1)).claims.sub, 'alice');
    assert.equal(idp.requests.jwks, 0);
  });

  it('IdP down at start with cachedKeys: verifies at once from the seed', async () => {
    idp.failWith('status500');
    const { keys, verify } = setUp({ cachedKeys: { jwks: jwksOf(k1), fetchedAt: '2026-01-01T00:00:00Z' } });
    await keys.start();
    assert.equal(keys.status().ready, true);
    assert.equal(keys.status().fetchedAt, '2026-01-01T00:00:00.000Z');
    assert.equal((await verify(k1)).claims.sub, 'alice');
  });

  it('IdP down at start without cached keys: keys_unavailable (503, not 401), and no fetch storm', async () => {
    idp.failWith('status500');
    const { keys, verify } = setUp();
    await keys.start();
    assert.deepEqual({ ready: keys.status().ready, keyCount: keys.status().keyCount }, { ready: true, keyCount: 0 });
    for (let i = 0; i < 5; i++) {
      const denied = await assertDenied(verify(k1), 'keys_unavailable');
      assert.equal(REASONS[denied.code].status, 503);
    }
    assert.equal(idp.requests.jwks, 1, 'requests inside the failure cooldown do not hit the IdP');
    idp.failWith('none');
    await keys.refresh();
    assert.equal((await verify(k1)).claims.sub, 'alice', 'recovers on the next refresh');
  });

  it('a fetched set with weak keys: they are dropped and counted, strong ones still verify', async () => {
    const weak = weakRsaToken('weak', standardClaims());
    idp.setKeys({ keys: [weak.jwk, k1.jwk, { ...k2.jwk, use: 'enc' }] });
    const { keys, verify } = setUp();
    await keys.start();
    assert.equal(keys.status().keyCount, 1);
    assert.equal((await metrics.keysRejected.get()).values[0]?.value, 2);
    assert.ok(await verify(k1));
    await assertDenied(
      verifyToken(weak.token, [{ keys, config: issuerConfig({ algorithms: ['RS256'] }), audiences: [TEST_AUDIENCE] }]),
      'kid_unknown',
    );
  });

  it('a set with no usable key, or not a JWK set, or too large, counts as a failure and keeps the last good keys', async () => {
    const { keys, verify } = setUp();
    await keys.start();
    idp.setKeys({ keys: [weakRsaToken('weak', {}).jwk] });
    await keys.refresh();
    idp.setRawJwks('{"not":"a jwks"}');
    await keys.refresh();
    idp.setRawJwks(JSON.stringify({ keys: [k1.jwk], padding: 'x'.repeat(1024 * 1024) }));
    await keys.refresh();
    assert.equal(await fetches('invalid'), 2);
    assert.equal(await fetches('too_large'), 1);
    assert.ok(await verify(k1));
  });

  it('discovery: a document whose issuer matches supplies the jwks_uri', async () => {
    const { keys, verify } = setUp({}, 'discovery');
    await keys.start();
    assert.ok(await verify(k1));
    assert.deepEqual(idp.requests, { discovery: 1, jwks: 1 });
  });

  it('discovery: a document for another issuer is refused and its keys never used', async () => {
    idp.setDiscoveryIssuer('https://someone-else.test');
    const { keys, verify } = setUp({}, 'discovery');
    await keys.start();
    assert.match(keys.status().lastError ?? '', /does not equal the configured issuer/);
    assert.equal(idp.requests.jwks, 0);
    await assertDenied(verify(k1), 'keys_unavailable');
  });

  // The timers below are node:test's mocks: a tick runs what falls due synchronously, so each
  // count is definite the moment the tick returns. `refresh` is wrapped to count the timer's calls.
  it('the background refresh runs every refreshSeconds, fetching; close() stops the timer', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    const { keys } = setUp();
    const refresh = t.mock.method(keys, 'refresh');
    await keys.start();
    assert.equal(refresh.mock.callCount(), 1, 'the first load');
    t.mock.timers.tick(299_999);
    assert.equal(refresh.mock.callCount(), 1, 'not before the period is over');
    t.mock.timers.tick(1);
    assert.equal(refresh.mock.callCount(), 2);
    await refresh.mock.calls[1]!.result;
    assert.equal(idp.requests.jwks, 2, "the timer's refresh fetched");
    t.mock.timers.tick(300_000);
    assert.equal(refresh.mock.callCount(), 3);
    await refresh.mock.calls[2]!.result;
    keys.close();
    t.mock.timers.tick(3 * 300_000);
    assert.equal(refresh.mock.callCount(), 3, 'close() stops the timer');
    assert.equal(idp.requests.jwks, 3);
  });

  it('seeded: the first refresh comes at a random point of the period, then one every period', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    t.mock.method(Math, 'random', () => 0.25);
    const { keys } = setUp({ cachedKeys: { jwks: jwksOf(k1), fetchedAt: new Date().toISOString() } });
    const refresh = t.mock.method(keys, 'refresh', async () => {});
    await keys.start();
    t.mock.timers.tick(74_999);
    assert.equal(refresh.mock.callCount(), 0, 'a quarter of the period (Math.random() = 0.25) is not over');
    t.mock.timers.tick(1);
    assert.equal(refresh.mock.callCount(), 1);
    t.mock.timers.tick(299_999);
    assert.equal(refresh.mock.callCount(), 1);
    t.mock.timers.tick(1);
    assert.equal(refresh.mock.callCount(), 2);
    keys.close();
    t.mock.timers.tick(3 * 300_000);
    assert.equal(refresh.mock.callCount(), 2, 'close() stops the timer');
  });

  it("an unknown kid refetches only once cooldownSeconds have passed since the last fetch (jose's cooldown, on Date)", async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const { keys, verify } = setUp();
    await keys.start();
    idp.setKeys(jwksOf(k1, k2));
    t.mock.timers.tick(29_999);
    await assertDenied(verify(k2), 'kid_unknown');
    assert.equal(idp.requests.jwks, 1, 'inside the cooldown the IdP is not asked');
    t.mock.timers.tick(1);
    assert.equal((await verify(k2)).header.kid, 'k2');
    assert.equal(idp.requests.jwks, 2, 'one refetch once the cooldown is over');
  });

  it('after a failed fetch, the request path asks the IdP again only once cooldownSeconds have passed (our cooldown, on the injected clock)', async () => {
    let nowMs = 1_000_000;
    idp.failWith('status500');
    const { keys, verify } = setUp({}, 'jwksUri', () => nowMs);
    await keys.start();
    assert.equal(idp.requests.jwks, 1);
    nowMs += 29_999;
    await assertDenied(verify(k1), 'keys_unavailable');
    assert.equal(idp.requests.jwks, 1, 'inside the cooldown the IdP is not asked');
    nowMs += 1;
    await assertDenied(verify(k1), 'keys_unavailable');
    assert.equal(idp.requests.jwks, 2, 'asked once the cooldown is over; failed again, so a new cooldown starts');
    idp.failWith('none');
    await assertDenied(verify(k1), 'keys_unavailable');
    assert.equal(idp.requests.jwks, 2);
    nowMs += 30_000;
    assert.equal((await verify(k1)).claims.sub, 'alice');
    assert.equal(idp.requests.jwks, 3);
  });
});
