// Token extraction: header prefixes, repeated and comma-joined headers, query, cookies, ambiguity.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { extractToken, type TokenRequest } from '../../../authz/extract/extract-token.ts';
import { DenyError, type ReasonCode } from '../../../authz/reasons.ts';
import type { TokenSource } from '../../../authz/snapshot/types.ts';

/** Shaped like a JWT; extraction never parses it. */
const TOKEN_A = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln';
const TOKEN_B = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJiIn0.c2ln';

const BEARER: TokenSource = { kind: 'header', name: 'Authorization', prefix: 'Bearer ' };
const RAW_HEADER: TokenSource = { kind: 'header', name: 'x-jwt' };
const QUERY: TokenSource = { kind: 'query', name: 'access_token' };
const COOKIE: TokenSource = { kind: 'cookie', name: 'jwt' };
const ALL = [BEARER, RAW_HEADER, QUERY, COOKIE];

function request(headers: Record<string, string[]>, query = ''): TokenRequest {
  return { headers: new Map(Object.entries(headers)), query };
}

function assertDeny(fn: () => unknown, code: ReasonCode): void {
  assert.throws(fn, (err: unknown) => err instanceof DenyError && err.code === code);
}

test('found tokens', async (t) => {
  const rows: [name: string, req: TokenRequest, source: TokenSource][] = [
    ['bearer header', request({ authorization: [`Bearer ${TOKEN_A}`] }), BEARER],
    ['prefix is case-insensitive', request({ authorization: [`bEARER ${TOKEN_A}`] }), BEARER],
    ['extra spaces after the scheme', request({ authorization: [`Bearer   ${TOKEN_A}  `] }), BEARER],
    ['Basic before Bearer, comma-joined', request({ authorization: [`Basic dXNlcjpwYXNz, Bearer ${TOKEN_A}`] }), BEARER],
    ['Basic and Bearer as repeated entries', request({ authorization: ['Basic dXNlcjpwYXNz', `Bearer ${TOKEN_A}`] }), BEARER],
    ['same token repeated and comma-joined', request({ authorization: [`Bearer ${TOKEN_A},Bearer ${TOKEN_A}`, `Bearer ${TOKEN_A}`] }), BEARER],
    ['custom header without prefix', request({ 'x-jwt': [` ${TOKEN_A} `] }), RAW_HEADER],
    ['query parameter among others', request({}, `a=1&access_token=${TOKEN_A}&b=2`), QUERY],
    ['query parameter percent-encoded', request({}, `access_token=${encodeURIComponent(TOKEN_A).replace(/\./g, '%2E')}`), QUERY],
    ['query parameter with an encoded name', request({}, `access%5Ftoken=${TOKEN_A}`), QUERY],
    ['cookie among others', request({ cookie: [`theme=dark; jwt=${TOKEN_A}; lang=en`] }), COOKIE],
    ['cookie in a second cookie header', request({ cookie: ['theme=dark', `jwt=${TOKEN_A}`] }), COOKIE],
    ['quoted cookie', request({ cookie: [`jwt="${TOKEN_A}"`] }), COOKIE],
  ];
  for (const [name, req, source] of rows) {
    await t.test(name, () => {
      const found = extractToken(req, ALL);
      assert.equal(found?.token, TOKEN_A);
      assert.equal(found?.source, source);
    });
  }
});

test('no token', async (t) => {
  const rows: [name: string, req: TokenRequest][] = [
    ['no headers', request({})],
    ['Basic auth only', request({ authorization: ['Basic dXNlcjpwYXNz'] })],
    ['scheme without the space', request({ authorization: [`Bearer${TOKEN_A}`] })],
    ['a cookie with a similar name', request({ cookie: [`xjwt=${TOKEN_A}; jwt2=${TOKEN_A}`] })],
    ['a query parameter with a similar name', request({}, `access_token2=${TOKEN_A}&xaccess_token=1`)],
    ['empty query parameter', request({}, 'access_token=')],
    ['empty cookie', request({ cookie: ['jwt=; theme=dark'] })],
    ['empty custom header', request({ 'x-jwt': [''] })],
  ];
  for (const [name, req] of rows) {
    await t.test(name, () => assert.equal(extractToken(req, ALL), undefined));
  }
});

test('the cookie header is not split on commas', () => {
  assert.equal(extractToken(request({ cookie: [`a=1,jwt=${TOKEN_A}`] }), [COOKIE]), undefined);
});

test('only the listed sources are read', () => {
  assert.equal(extractToken(request({ authorization: [`Bearer ${TOKEN_A}`] }), [QUERY, COOKIE]), undefined);
});

test('two different tokens are ambiguous', async (t) => {
  const rows: [name: string, req: TokenRequest][] = [
    ['comma-joined in one header', request({ authorization: [`Bearer ${TOKEN_A}, Bearer ${TOKEN_B}`] })],
    ['repeated header entries', request({ authorization: [`Bearer ${TOKEN_A}`, `Bearer ${TOKEN_B}`] })],
    ['header and query', request({ authorization: [`Bearer ${TOKEN_A}`] }, `access_token=${TOKEN_B}`)],
    ['header and cookie', request({ authorization: [`Bearer ${TOKEN_A}`], cookie: [`jwt=${TOKEN_B}`] })],
    ['query parameter twice', request({}, `access_token=${TOKEN_A}&access_token=${TOKEN_B}`)],
    ['cookie twice', request({ cookie: [`jwt=${TOKEN_A}`, `jwt=${TOKEN_B}`] })],
  ];
  for (const [name, req] of rows) {
    await t.test(name, () => assertDeny(() => extractToken(req, ALL), 'token_ambiguous'));
  }
});

test('the same token in several sources is one token, and every source is reported', () => {
  const found = extractToken(request({ authorization: [`Bearer ${TOKEN_A}`], cookie: [`jwt=${TOKEN_A}`] }, `access_token=${TOKEN_A}`), ALL);
  assert.deepEqual(found, { token: TOKEN_A, source: BEARER, sources: [BEARER, QUERY, COOKIE] });
});

test('the scheme with nothing after it is malformed', async (t) => {
  for (const value of ['Bearer', 'Bearer ', 'bearer   ', `Bearer , Bearer ${TOKEN_A}`]) {
    await t.test(JSON.stringify(value), () => assertDeny(() => extractToken(request({ authorization: [value] }), ALL), 'token_malformed'));
  }
});
