// Integration: the key registry across snapshot reloads — reuse without refetch, replacement,
// removal, readiness of what it prepares, and the prepare/retainOnly swap protocol.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KeyRegistry } from '../../authz/keys/key-registry.ts';
import { createLogger } from '../../common/log.ts';
import { createMetrics } from '../../authz/metrics.ts';
import type { SnapshotIssuer } from '../../snapshot/types.ts';
import { startJwksServer, type JwksServer } from '../support/jwks-server.ts';
import { generateTestKey, issuerConfig, jwksOf, type TestKey } from '../../dev/fixtures/tokens.ts';

describe('KeyRegistry', () => {
  let idp: JwksServer;
  let key: TestKey;
  const remote = (overrides: Partial<SnapshotIssuer> = {}) =>
    issuerConfig({ id: 'ns/remote', keySource: { kind: 'jwksUri', jwksUri: idp.jwksUrl }, ...overrides });
  const local = () => issuerConfig({ id: 'ns/static', issuer: 'https://static.test', keySource: { kind: 'static', jwks: jwksOf(key) } });
  const newRegistry = () => new KeyRegistry({ metrics: createMetrics({ defaultMetrics: false }), log: createLogger('silent') });
  /** What RuntimeStore does on a reload: prepare, swap, retain. */
  const reload = async (registry: KeyRegistry, issuers: Record<string, SnapshotIssuer>) => {
    const keys = await registry.prepare(issuers);
    registry.retainOnly(keys);
    return keys;
  };

  before(async () => {
    key = await generateTestKey('RS256', 'k1');
    idp = await startJwksServer({ jwks: jwksOf(key) });
  });
  after(() => idp.close());

  it('reuses an issuer whose key config is unchanged: a reload does not refetch', async () => {
    const registry = newRegistry();
    const first = (await reload(registry, { 'ns/remote': remote(), 'ns/static': local() })).get('ns/remote');
    const fetched = idp.requests.jwks;
    // Same keys, other audiences and newer operator-embedded cachedKeys: still the same keys.
    const second = await reload(registry, {
      'ns/remote': remote({ audiences: ['other'], cachedKeys: { jwks: jwksOf(key), fetchedAt: new Date().toISOString() } }),
      'ns/static': local(),
    });
    assert.equal(second.get('ns/remote'), first);
    assert.equal(idp.requests.jwks, fetched);
    registry.close();
  });

  it('replaces an issuer whose key config changed and closes removed ones', async () => {
    const registry = newRegistry();
    const first = await reload(registry, { 'ns/remote': remote(), 'ns/static': local() });
    const fetched = idp.requests.jwks;
    const second = await reload(registry, {
      'ns/remote': remote({ remote: { refreshSeconds: 60, cooldownSeconds: 30, timeoutMs: 1000 } }),
    });
    assert.notEqual(second.get('ns/remote'), first.get('ns/remote'));
    assert.equal(idp.requests.jwks, fetched + 1);
    assert.deepEqual([...second.keys()], ['ns/remote']);
    await first.get('ns/remote')?.refresh();
    assert.equal(idp.requests.jwks, fetched + 1, 'the replaced issuer was closed');
    registry.close();
  });

  it('prepare leaves the current map serving until retainOnly, which closes only what is no longer used', async () => {
    const registry = newRegistry();
    const current = await reload(registry, { 'ns/remote': remote() });
    const prepared = await registry.prepare({
      'ns/remote': remote(),
      'ns/other': remote({ id: 'ns/other', issuer: 'https://other.test' }),
    });
    assert.equal(prepared.get('ns/other')?.status().keyCount, 1, 'already loaded when prepare resolves');
    assert.equal(prepared.get('ns/remote'), current.get('ns/remote'), 'unchanged issuers are shared');
    registry.retainOnly(prepared);
    const fetched = idp.requests.jwks;
    await current.get('ns/remote')?.refresh();
    assert.equal(idp.requests.jwks, fetched + 1, 'the shared issuer stays open');
    const last = await reload(registry, { 'ns/other': remote({ id: 'ns/other', issuer: 'https://other.test' }) });
    assert.equal(last.get('ns/other'), prepared.get('ns/other'));
    await current.get('ns/remote')?.refresh();
    assert.equal(idp.requests.jwks, fetched + 1, 'the dropped issuer was closed');
    registry.close();
  });

  it('is ready once every issuer has keys or has failed its first load', async () => {
    const registry = newRegistry();
    const keys = await registry.prepare({
      'ns/remote': remote(),
      'ns/dead': remote({ id: 'ns/dead', keySource: { kind: 'jwksUri', jwksUri: 'http://127.0.0.1:1/jwks' } }),
    });
    const remoteStatus = keys.get('ns/remote')!.status();
    const deadStatus = keys.get('ns/dead')!.status();
    assert.deepEqual([remoteStatus.ready, remoteStatus.keyCount], [true, 1]);
    assert.deepEqual([deadStatus.ready, deadStatus.keyCount], [true, 0]);
    assert.match(deadStatus.lastError ?? '', /could not be fetched/);
    registry.retainOnly(keys);
    registry.close();
  });

  it('refuses a snapshot with an unparseable key URL and keeps the current keys as they were', async () => {
    const registry = newRegistry();
    const current = await reload(registry, { 'ns/remote': remote() });
    await assert.rejects(
      registry.prepare({ 'ns/remote': remote(), 'ns/bad': remote({ id: 'ns/bad', keySource: { kind: 'jwksUri', jwksUri: 'not a url' } }) }),
      TypeError,
    );
    const fetched = idp.requests.jwks;
    const next = await registry.prepare({ 'ns/remote': remote() });
    assert.equal(next.get('ns/remote'), current.get('ns/remote'), 'still the current instance, not refetched');
    assert.equal(idp.requests.jwks, fetched);
    registry.close();
  });
});
