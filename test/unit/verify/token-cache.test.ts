// Unit tests of the verified-token cache: keying, lifetimes bounded by exp / max age, size bound.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createMetrics } from '../../../authz/metrics.ts';
import { TokenCache, type VerifiedToken } from '../../../authz/verify/token-cache.ts';
import { issuerConfig } from '../../support/tokens.ts';

const nowSeconds = () => Math.floor(Date.now() / 1000);
const verifiedWith = (claims: Record<string, unknown>): VerifiedToken => ({ issuerId: 'test/issuer', header: { alg: 'RS256' }, claims });
const AUD = ['api'];

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
    assert.ok(cache.lookup('t1', issuerConfig({ cachedKeys: { jwks: { keys: [] }, fetchedAt: '2026-01-01T00:00:00Z' } }), AUD),
      'operator-refreshed cachedKeys do not change verification');
  });

  it('never keeps an entry past exp', async () => {
    const cache = new TokenCache();
    const exp = nowSeconds() + 300;
    cache.remember('t1', issuerConfig(), AUD, verifiedWith({ exp }), new Date(exp * 1000 - 40));
    assert.ok(cache.lookup('t1', issuerConfig(), AUD));
    await sleep(80);
    assert.equal(cache.lookup('t1', issuerConfig(), AUD), undefined);
  });

  it('does not store an already expired token', () => {
    const cache = new TokenCache();
    cache.remember('t1', issuerConfig(), AUD, verifiedWith({ exp: nowSeconds() - 1 }), new Date());
    assert.equal(cache.size, 0);
  });

  it('never keeps an entry past iat + maxTokenAgeSeconds', async () => {
    const cache = new TokenCache();
    const config = issuerConfig({ maxTokenAgeSeconds: 60 });
    const iat = nowSeconds();
    cache.remember('t1', config, AUD, verifiedWith({ iat, exp: iat + 3600 }), new Date((iat + 60) * 1000 - 40));
    assert.ok(cache.lookup('t1', config, AUD));
    await sleep(80);
    assert.equal(cache.lookup('t1', config, AUD), undefined);
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
