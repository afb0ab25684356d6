// Unit tests for readAttributes: header sources, host normalization, hostile input (namespaces:
// destination-namespace.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeHost, readAttributes, type CheckRequestLike, type HttpRequestLike } from '../../../authz/request/attributes.ts';
import { DenyError } from '../../../authz/reasons.ts';

function request(http: HttpRequestLike | null, extra: Record<string, unknown> = {}): CheckRequestLike {
  return { attributes: { request: { http }, ...extra } };
}

const basic: HttpRequestLike = { method: 'get', host: 'API.Example.com', path: '/a/b?x=1', headers: { authorization: 'Bearer t' } };

function assertInvalid(fn: () => unknown, detail?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof DenyError);
    assert.equal(error.code, 'request_invalid');
    if (detail) assert.match(error.detail ?? '', detail);
    return true;
  });
}

test('reads method, host and path from the http fields', () => {
  const a = readAttributes(request(basic));
  assert.equal(a.method, 'GET');
  assert.equal(a.host, 'api.example.com');
  assert.equal(a.path, '/a/b?x=1');
  assert.deepEqual(a.headers.get('authorization'), ['Bearer t']);
  assert.equal(a.destinationNamespace, undefined);
  assert.equal(a.requestId, undefined);
});

test('falls back to pseudo-headers and keeps them in the header map', () => {
  const a = readAttributes(
    request({ headers: { ':method': 'post', ':authority': 'svc.local:8080', ':path': '/p', 'x-request-id': 'r1' } }),
  );
  assert.equal(a.method, 'POST');
  assert.equal(a.host, 'svc.local');
  assert.equal(a.path, '/p');
  assert.equal(a.requestId, 'r1');
  assert.deepEqual(a.headers.get(':path'), ['/p']);
});

test('falls back to the host header when there is no :authority', () => {
  assert.equal(readAttributes(request({ method: 'GET', path: '/', headers: { host: 'h.example:80' } })).host, 'h.example');
});

test('prefers http.id over x-request-id', () => {
  assert.equal(readAttributes(request({ ...basic, id: 'envoy-id', headers: { 'x-request-id': 'hdr' } })).requestId, 'envoy-id');
});

test('a headers map entry stays one value (Envoy already joined repeats with a comma)', () => {
  const a = readAttributes(request({ ...basic, headers: { Authorization: 'Bearer a,Bearer b' } }));
  assert.deepEqual(a.headers.get('authorization'), ['Bearer a,Bearer b']);
});

test('header_map keeps repeated headers apart and reads raw_value bytes as latin1', () => {
  const a = readAttributes(
    request({
      method: 'GET',
      host: 'h',
      path: '/',
      header_map: {
        headers: [
          { key: 'Authorization', raw_value: Buffer.from('Bearer a') },
          { key: 'authorization', raw_value: Buffer.from('Bearer b') },
          { key: 'x-plain', value: 'v' },
          { key: 'x-bytes', raw_value: Buffer.from([0x63, 0xe9]) },
          { key: 'x-empty', raw_value: Buffer.alloc(0), value: '' },
        ],
      },
    }),
  );
  assert.deepEqual(a.headers.get('authorization'), ['Bearer a', 'Bearer b']);
  assert.deepEqual(a.headers.get('x-plain'), ['v']);
  assert.deepEqual(a.headers.get('x-bytes'), ['c\u00e9']);
  assert.deepEqual(a.headers.get('x-empty'), ['']);
});

test('headers and header_map both set is ambiguous', () => {
  assertInvalid(() => readAttributes(request({ ...basic, header_map: { headers: [{ key: 'a', value: 'b' }] } })), /both/);
});

test('host normalization: case, port, trailing dot, IPv4, IPv6', () => {
  assert.equal(normalizeHost('API.EXAMPLE.COM'), 'api.example.com');
  assert.equal(normalizeHost('api.example.com:443'), 'api.example.com');
  assert.equal(normalizeHost('api.example.com.'), 'api.example.com');
  assert.equal(normalizeHost('api.example.com.:8080'), 'api.example.com');
  assert.equal(normalizeHost('10.0.0.1:80'), '10.0.0.1');
  assert.equal(normalizeHost('[::1]'), '[::1]');
  assert.equal(normalizeHost('[2001:DB8::1]:8443'), '[2001:db8::1]');
});

test('malformed hosts are request_invalid', () => {
  for (const host of ['::1', '[::1', 'a b', 'a/b', 'h:99999', 'h:', '.', 'a..b', 'x@y', 'h:80:80', '[::1]x']) {
    assertInvalid(() => normalizeHost(host), /host/);
  }
});

test('missing or malformed http attributes are request_invalid', () => {
  assertInvalid(() => readAttributes({}), /attributes/);
  assertInvalid(() => readAttributes({ attributes: null }), /attributes/);
  assertInvalid(() => readAttributes(request(null)), /http/);
  assertInvalid(() => readAttributes(null as unknown as CheckRequestLike), /attributes/);
  assertInvalid(() => readAttributes(request({ host: 'h', path: '/' })), /method/);
  assertInvalid(() => readAttributes(request({ method: 'G ET', host: 'h', path: '/' })), /method/);
  assertInvalid(() => readAttributes(request({ method: 'GET', path: '/' })), /host/);
  assertInvalid(() => readAttributes(request({ method: 'GET', host: 'h' })), /path/);
  assertInvalid(() => readAttributes(request({ method: 'GET', host: 'h', path: 'no-slash' })), /path/);
  assertInvalid(() => readAttributes(request({ method: 'GET', host: 'h', path: '/a b' })), /path/);
  assertInvalid(() => readAttributes(request({ method: 42 as unknown as string, host: 'h', path: '/' })), /method/);
  assertInvalid(() => readAttributes(request({ ...basic, headers: { 'x-a': 'v\r\nx-b: smuggled' } })), /forbidden/);
  assertInvalid(() => readAttributes(request({ ...basic, headers: { 'bad name': 'v' } })), /header name/);
  assertInvalid(() => readAttributes(request({ ...basic, headers: { a: 1 as unknown as string } })), /not a string/);
  assertInvalid(() => readAttributes(request({ ...basic, headers: undefined, header_map: { headers: [{ value: 'v' }] } })), /key/);
  assertInvalid(() => readAttributes(request({ ...basic, headers: 'a: b' as unknown as Record<string, string> })), /not a map/);
  assertInvalid(() => readAttributes(request({ ...basic, headers: null, header_map: { headers: {} as unknown as [] } })), /not a list/);
});

test('CONNECT may come without a path', () => {
  assert.equal(readAttributes(request({ method: 'CONNECT', host: 'h:443' })).path, '');
});

test('OPTIONS * is a valid request target', () => {
  assert.equal(readAttributes(request({ method: 'OPTIONS', host: 'h', path: '*' })).path, '*');
});

test('headers over the byte limit are request_invalid; at the limit they pass', () => {
  const value = 'x'.repeat(100);
  // One header: name (1) + value (100) + 32 overhead = 133 bytes.
  assert.doesNotThrow(() => readAttributes(request({ ...basic, headers: { a: value } }), { maxHeaderBytes: 133 }));
  assertInvalid(() => readAttributes(request({ ...basic, headers: { a: value } }), { maxHeaderBytes: 132 }), /exceed/);
  // Many empty headers still count.
  const many = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`h${i}`, '']));
  assertInvalid(() => readAttributes(request({ ...basic, headers: many })), /exceed/);
  // The default limit is 64 KiB.
  assertInvalid(() => readAttributes(request({ ...basic, headers: { big: 'y'.repeat(64 * 1024) } })), /65536/);
});
