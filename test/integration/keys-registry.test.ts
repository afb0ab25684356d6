// Integration: the key registry across snapshot reloads — reuse without refetch, replacement,
// removal, readiness, and the prepare/commit/discard swap protocol.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KeyRegistry } from '../../authz/keys/key-registry.ts';
import { createLogger } from '../../authz/log.ts';
import { createMetrics } from '../../authz/metrics.ts';
import type { SnapshotIssuer } from '../../authz/snapshot/types.ts';
import { startJwksServer, type JwksServer } from '../support/jwks-server.ts';
import { generateTestKey, issuerConfig, jwksOf, type TestKey } from '../support/tokens.ts';

describe('KeyRegistry', () => {
  let idp: JwksServer;
  let key: TestKey;
  const remote = (overrides: Partial<SnapshotIssuer> = {}) =>
    issuerConfig({ id: 'ns/remote', keySource: { kind: 'jwksUri', jwksUri: idp.jwksUrl }, ...overrides });
  const local = () => issuerConfig({ id: 'ns/static', issuer: 'https://static.test', keySource: { kind: 'static', jwks: jwksOf(key) } });
  const newRegistry = () => new KeyRegistry({ metrics: createMetrics({ defaultMetrics: false }), log: createLogger('silent') });

  before(async () => {
    key = await generateTestKey('RS256', 'k1');
    idp = await startJwksServer({ jwks: jwksOf(key) });
  });
  after(() => idp.close());

  it('reuses an issuer whose key config is unchanged: a reload does not refetch', async () => {
    const registry = newRegistry();
    await registry.update({ 'ns/remote': remote(), 'ns/static': local() });
    const first = registry.get('ns/remote');
    const fetched = idp.requests.jwks;
    // Same keys, other audiences and newer operator-embedded cachedKeys: still the same keys.
    await registry.update({
      'ns/remote': remote({ audiences: ['other'], cachedKeys: { jwks: jwksOf(key), fetchedAt: new Date().toISOString() } }),
      'ns/static': local(),
    });
    assert.equal(registry.get('ns/remote'), first);
    assert.equal(idp.requests.jwks, fetched);
    registry.close();
  });

  it('replaces an issuer whose key config changed and closes removed ones', async () => {
    const registry = newRegistry();
    await registry.update({ 'ns/remote': remote(), 'ns/static': local() });
    const before = registry.get('ns/remote');
    const fetched = idp.requests.jwks;
    await registry.update({ 'ns/remote': remote({ remote: { refreshSeconds: 60, cooldownSeconds: 30, timeoutMs: 1000 } }) });
    assert.notEqual(registry.get('ns/remote'), before);
    assert.equal(idp.requests.jwks, fetched + 1);
    assert.equal(registry.get('ns/static'), undefined);
    assert.deepEqual(Object.keys(registry.readiness().issuers), ['ns/remote']);
    registry.close();
  });

  it('prepare leaves the current map serving until retainOnly; discard closes only what it created', async () => {
    const registry = newRegistry();
    await registry.update({ 'ns/remote': remote() });
    const current = registry.get('ns/remote');
    const prepared = await registry.prepare({ 'ns/remote': remote(), 'ns/other': remote({ id: 'ns/other', issuer: 'https://other.test' }) });
    assert.equal(registry.get('ns/other'), undefined, 'not visible before retainOnly');
    assert.equal(prepared.get('ns/other')?.status().keyCount, 1, 'already loaded when prepare resolves');
    assert.equal(prepared.get('ns/remote'), current, 'unchanged issuers are shared');
    registry.discard(prepared);
    const fetched = idp.requests.jwks;
    await current?.refresh();
    assert.equal(idp.requests.jwks, fetched + 1, 'the shared current issuer was not closed by discard');
    await prepared.get('ns/other')?.refresh();
    assert.equal(idp.requests.jwks, fetched + 1, 'the discarded new issuer was closed');
    registry.retainOnly(await registry.prepare({ 'ns/other': remote({ id: 'ns/other', issuer: 'https://other.test' }) }));
    assert.ok(registry.get('ns/other'));
    assert.equal(registry.get('ns/remote'), undefined);
    registry.close();
  });

  it('is ready once every issuer has keys or has failed its first load', async () => {
    const registry = newRegistry();
    await registry.update({
      'ns/remote': remote(),
      'ns/dead': remote({ id: 'ns/dead', keySource: { kind: 'jwksUri', jwksUri: 'http://127.0.0.1:1/jwks' } }),
    });
    const readiness = registry.readiness();
    assert.equal(readiness.ready, true);
    assert.equal(readiness.issuers['ns/remote']?.keyCount, 1);
    assert.equal(readiness.issuers['ns/dead']?.keyCount, 0);
    assert.match(readiness.issuers['ns/dead']?.lastError ?? '', /could not be fetched/);
    registry.close();
  });

  it('refuses a snapshot with an unparseable key URL without keeping anything', async () => {
    const registry = newRegistry();
    await assert.rejects(registry.prepare({ 'ns/bad': remote({ keySource: { kind: 'jwksUri', jwksUri: 'not a url' } }) }), TypeError);
    assert.deepEqual(registry.readiness(), { ready: true, issuers: {} });
  });
});
