// Unit tests of the verified-token cache: keying, lifetimes bounded by exp / max age / a minute,
// size bound. Lifetimes are checked on node:test's mock clock, to the millisecond.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { createMetrics } from '../../../authz/metrics.ts';
import { MAX_TOKEN_CACHE_TTL_MS, TokenCache, type VerifiedToken } from '../../../authz/verify/token-cache.ts';
import { issuerConfig } from '../../../dev/fixtures/tokens.ts';

const nowSeconds = () => Math.floor(Date.now() / 1000);
const verifiedWith = (claims: Record<string, unknown>): VerifiedToken => ({ issuerId: 'test/issuer', header: { alg: 'RS256' }, claims });
const AUD = ['api'];

/** A cache that ages entries by the mocked `Date` (lru-cache's resolution timer is a mocked setTimeout too). */
function cacheOnMockClock(t: TestContext): TokenCache {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.parse('2026-03-01T00:00:00Z') });
  return new TokenCache({ clock: { now: () => Date.now() } });
}

async function counts(metrics: ReturnType<typeof createMetrics>) {
  const { values } = await metrics.tokenCache.get();
  const of = (result: string) => values.find((v) => v.labels.result === result)?.value ?? 0;
  return { hit: of('hit'), miss: of('miss') };
}

describe('TokenCache', () => {
  it('misses, then hits after remember, counting both', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const cache = new TokenCache({ metrics });
    const config = issuerConfig();
    const verified = verifiedWith({ exp: nowSeconds() + 300 });
    assert.equal(cache.lookup('t1', config, AUD), undefined);
    cache.remember('t1', config, AUD, verified, new Date());
    assert.equal(cache.lookup('t1', config, AUD), verified);
    assert.deepEqual(await counts(metrics), { hit: 1, miss: 1 });
  });

  it('keys by token, audiences and issuer settings', () => {
    const cache = new TokenCache();
    const config = issuerConfig();
    cache.remember('t1', config, AUD, verifiedWith({ exp: nowSeconds() + 300 }), new Date());
    assert.equal(cache.lookup('t2', config, AUD), undefined);
    assert.equal(cache.lookup('t1', config, ['other']), undefined);
    assert.equal(cache.lookup('t1', config, undefined), undefined, 'a waived audience check is a different key');
    assert.equal(cache.lookup('t1', issuerConfig({ clockSkewSeconds: 60 }), AUD), undefined, 'changed issuer settings');
    assert.ok(cache.lookup('t1', issuerConfig(), AUD), 'an equal config from a new snapshot still hits');
    assert.ok(
      cache.lookup('t1', issuerConfig({ cachedKeys: { jwks: { keys: [] }, fetchedAt: '2026-01-01T00:00:00Z' } }), AUD),
      'operator-refreshed cachedKeys do not change verification',
    );
  });

  it('never keeps an entry past exp', (t) => {
    const cache = cacheOnMockClock(t);
    const exp = nowSeconds() + 300;
    cache.remember('t1', issuerConfig(), AUD, verifiedWith({ exp }), new Date(exp * 1000 - 40));
    t.mock.timers.tick(40);
    assert.ok(cache.lookup('t1', issuerConfig(), AUD), 'kept until exp');
    t.mock.timers.tick(1);
    assert.equal(cache.lookup('t1', issuerConfig(), AUD), undefined, 'gone once exp has passed');
  });

  it('does not store an already expired token', () => {
    const cache = new TokenCache();
    cache.remember('t1', issuerConfig(), AUD, verifiedWith({ exp: nowSeconds() - 1 }), new Date());
    assert.equal(cache.size, 0);
  });

  it('never keeps an entry past iat + maxTokenAgeSeconds', (t) => {
    const cache = cacheOnMockClock(t);
    const config = issuerConfig({ maxTokenAgeSeconds: 60 });
    const iat = nowSeconds();
    cache.remember('t1', config, AUD, verifiedWith({ iat, exp: iat + 3600 }), new Date((iat + 60) * 1000 - 40));
    t.mock.timers.tick(40);
    assert.ok(cache.lookup('t1', config, AUD), 'kept until the maximum age');
    t.mock.timers.tick(1);
    assert.equal(cache.lookup('t1', config, AUD), undefined, 'gone once the token is older than that');
  });

  it('keeps an entry at most a minute, however far away exp is', (t) => {
    const cache = cacheOnMockClock(t);
    cache.remember('t1', issuerConfig(), AUD, verifiedWith({ exp: nowSeconds() + 3600 }), new Date());
    t.mock.timers.tick(MAX_TOKEN_CACHE_TTL_MS);
    assert.ok(cache.lookup('t1', issuerConfig(), AUD));
    t.mock.timers.tick(1);
    assert.equal(cache.lookup('t1', issuerConfig(), AUD), undefined);
  });

  it('is bounded in entries', () => {
    const cache = new TokenCache({ max: 2 });
    for (const token of ['a', 'b', 'c']) cache.remember(token, issuerConfig(), AUD, verifiedWith({ exp: nowSeconds() + 300 }), new Date());
    assert.equal(cache.size, 2);
    assert.equal(cache.lookup('a', issuerConfig(), AUD), undefined, 'the least recently used entry went first');
    cache.clear();
    assert.equal(cache.size, 0);
  });
});
