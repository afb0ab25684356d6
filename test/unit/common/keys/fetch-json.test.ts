// Unit tests of the key-plane URL rule and bounded JSON fetch (real loopback HTTP server).
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { KeyFetchError, checkKeyUrl, fetchJson, fetchJsonWithHeaders } from '../../../../common/keys/fetch-json.ts';

describe('checkKeyUrl', () => {
  it('allows https anywhere and http on loopback only', () => {
    assert.equal(checkKeyUrl('https://idp.example/jwks').host, 'idp.example');
    for (const url of ['http://127.0.0.1:1/jwks', 'http://[::1]:1/jwks', 'http://localhost/jwks']) assert.ok(checkKeyUrl(url));
  });

  for (const url of ['http://idp.example/jwks', 'http://10.0.0.1/jwks', 'file:///etc/passwd', 'ftp://idp.example/jwks', 'not a url']) {
    it(`refuses ${url}`, () => {
      assert.throws(
        () => checkKeyUrl(url),
        (e: unknown) => e instanceof KeyFetchError && e.result === 'url_forbidden',
      );
    });
  }
});

describe('fetchJson', () => {
  const server = createServer((req, res) => {
    switch (req.url) {
      case '/ok':
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=600' }).end('{"keys":[]}');
        break;
      case '/big-declared':
        res.writeHead(200, { 'content-length': '5000' }).end('x'.repeat(5000));
        break;
      case '/big-chunked':
        res.writeHead(200);
        res.write('x'.repeat(3000));
        res.end('x'.repeat(3000));
        break;
      case '/redirect':
        res.writeHead(302, { location: '/ok' }).end();
        break;
      case '/text':
        res.writeHead(200).end('<html>');
        break;
      default:
        res.writeHead(404).end();
    }
  });
  let origin = '';
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const get = (path: string) => fetchJson(new URL(path, origin), { signal: AbortSignal.timeout(2000) }, 4096);
  const failsWith = (result: string) => (e: unknown) => e instanceof KeyFetchError && e.result === result;

  it('parses a JSON body', async () => assert.deepEqual(await get('/ok'), { keys: [] }));
  it('hands back the response headers on request', async () => {
    const { body, headers } = await fetchJsonWithHeaders(new URL('/ok', origin), { signal: AbortSignal.timeout(2000) });
    assert.deepEqual(body, { keys: [] });
    assert.equal(headers.get('cache-control'), 'max-age=600');
  });
  it('refuses a body declared too large', () => assert.rejects(get('/big-declared'), failsWith('too_large')));
  it('refuses a body that grows too large', () => assert.rejects(get('/big-chunked'), failsWith('too_large')));
  it('does not follow redirects', () => assert.rejects(get('/redirect'), failsWith('http_error')));
  it('refuses a non-JSON body', () => assert.rejects(get('/text'), failsWith('invalid')));
  it('reports a non-200 status', () => assert.rejects(get('/missing'), failsWith('http_error')));
  it('reports a refused connection', () =>
    assert.rejects(fetchJson(new URL('http://127.0.0.1:1/jwks'), { signal: AbortSignal.timeout(2000) }), failsWith('network_error')));
});
