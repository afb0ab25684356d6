// Token stripping: headers removed, query parameters named, cookie header rewritten.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stripToken } from '../../../authz/respond/strip-token.ts';
import type { TokenSource } from '../../../snapshot/types.ts';

const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln';
const BEARER: TokenSource = { kind: 'header', name: 'Authorization', prefix: 'Bearer ' };
const QUERY: TokenSource = { kind: 'query', name: 'access_token' };
const COOKIE: TokenSource = { kind: 'cookie', name: 'jwt' };
const OTHER_COOKIE: TokenSource = { kind: 'cookie', name: 'id_jwt' };

function request(headers: Record<string, string[]>, query = '') {
  return { headers: new Map(Object.entries(headers)), query };
}

test('a header source removes the header by its lower-case name', () => {
  assert.deepEqual(stripToken([BEARER], request({ authorization: [`Bearer ${TOKEN}`] })), {
    headersToRemove: ['authorization'],
    queryParametersToRemove: [],
    headersToSet: [],
  });
});

test('a query source names the parameter, decoded and as the client spelled it', () => {
  assert.deepEqual(stripToken([QUERY], request({}, `a=1&access%5Ftoken=${TOKEN}&access_token=${TOKEN}`)).queryParametersToRemove, [
    'access_token',
    'access%5Ftoken',
  ]);
  assert.deepEqual(stripToken([QUERY], request({}, 'a=1')).queryParametersToRemove, ['access_token']);
});

test('a cookie source rewrites the cookie header without that cookie', () => {
  assert.deepEqual(stripToken([COOKIE], request({ cookie: [`theme=dark; jwt=${TOKEN}`, 'lang=en'] })), {
    headersToRemove: [],
    queryParametersToRemove: [],
    headersToSet: [{ name: 'cookie', value: 'theme=dark; lang=en' }],
  });
});

test('every cookie with the name goes, and nothing is set when none remains', () => {
  assert.deepEqual(stripToken([COOKIE], request({ cookie: [`jwt=${TOKEN}`, `jwt="${TOKEN}"`] })), {
    headersToRemove: ['cookie'],
    queryParametersToRemove: [],
    headersToSet: [],
  });
});

test('two cookie sources are stripped in one rewrite', () => {
  const result = stripToken([COOKIE, OTHER_COOKIE], request({ cookie: [`jwt=${TOKEN}; a=1; id_jwt=${TOKEN}`] }));
  assert.deepEqual(result.headersToSet, [{ name: 'cookie', value: 'a=1' }]);
});

test('a cookie header without the token cookie is left alone', () => {
  assert.deepEqual(stripToken([COOKIE], request({ cookie: ['theme=dark'] })).headersToSet, []);
});

test('all sources of one token at once', () => {
  assert.deepEqual(stripToken([BEARER, QUERY, COOKIE], request({ cookie: [`jwt=${TOKEN}; x=1`] }, `access_token=${TOKEN}`)), {
    headersToRemove: ['authorization'],
    queryParametersToRemove: ['access_token'],
    headersToSet: [{ name: 'cookie', value: 'x=1' }],
  });
});
