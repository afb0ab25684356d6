// Token extraction: header prefixes, repeated and comma-joined headers, query, cookies, ambiguity.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { extractToken, type TokenRequest } from '../../../authz/extract/extract-token.ts';
import { DenyError, type ReasonCode } from '../../../authz/reasons.ts';
import type { TokenSource } from '../../../snapshot/types.ts';

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
    ['custom header without prefix', request({ 'x-jwt': [` ${TOKEN_A} `] }), RAW_HEADER],
    ['an empty extra header line is ignored', request({ authorization: ['', `Bearer ${TOKEN_A}`, ' '] }), BEARER],
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

test('a header with several credentials is malformed (400 invalid_request), never a token', async (t) => {
  const rows: [name: string, req: TokenRequest][] = [
    ['Basic before Bearer, comma-joined', request({ authorization: [`Basic dXNlcjpwYXNz, Bearer ${TOKEN_A}`] })],
    ['Bearer before Basic, comma-joined', request({ authorization: [`Bearer ${TOKEN_A}, Basic dXNlcjpwYXNz`] })],
    ['Basic and Bearer as repeated entries', request({ authorization: ['Basic dXNlcjpwYXNz', `Bearer ${TOKEN_A}`] })],
    ['two Bearer tokens comma-joined', request({ authorization: [`Bearer ${TOKEN_A}, Bearer ${TOKEN_B}`] })],
    ['two Bearer tokens as repeated entries', request({ authorization: [`Bearer ${TOKEN_A}`, `Bearer ${TOKEN_B}`] })],
    ['the same token comma-joined', request({ authorization: [`Bearer ${TOKEN_A},Bearer ${TOKEN_A}`] })],
    ['the same token as repeated entries', request({ authorization: [`Bearer ${TOKEN_A}`, `Bearer ${TOKEN_A}`] })],
    ['an empty Bearer before a real one', request({ authorization: [`Bearer , Bearer ${TOKEN_A}`] })],
    ['a trailing comma', request({ authorization: [`Bearer ${TOKEN_A},`] })],
    ['two Basic credentials (no Bearer at all)', request({ authorization: ['Basic YQ==, Basic Yg=='] })],
    ['a custom header with two raw tokens', request({ 'x-jwt': [`${TOKEN_A}, ${TOKEN_A}`] })],
  ];
  for (const [name, req] of rows) {
    await t.test(name, () => assertDeny(() => extractToken(req, ALL), 'credentials_malformed'));
  }
  await t.test('the description names the header', () => {
    assert.throws(
      () => extractToken(rows[0]![1], ALL),
      (err: unknown) => err instanceof DenyError && /the authorization header must carry exactly one credential/.test(err.description),
    );
  });
});

test('property: only a header that is exactly one `Bearer <token68>` yields a token', () => {
  // RFC 7235 §2.1 token68, as RFC 6750 §2.1 b64token: a JWT is one.
  const token68 = fc.stringMatching(/^[A-Za-z0-9\-._~+/]{1,40}=*$/);
  const scheme = fc.oneof(
    fc.constantFrom('Bearer', 'bearer', 'BEARER', 'Basic', 'Digest', 'Negotiate', 'DPoP', 'Bearerx'),
    fc.stringMatching(/^[A-Za-z]{1,10}$/),
  );
  const credential = fc.record({ scheme, token: token68, spaces: fc.integer({ min: 1, max: 3 }) });
  const separator = fc.constantFrom(',', ', ', ' ,', ' , ');
  fc.assert(
    fc.property(fc.array(credential, { minLength: 1, maxLength: 4 }), separator, fc.boolean(), (credentials, sep, asRepeatedEntries) => {
      const items = credentials.map((c) => `${c.scheme}${' '.repeat(c.spaces)}${c.token}`);
      const values = asRepeatedEntries ? items : [items.join(sep)];
      let outcome: ReturnType<typeof extractToken> | DenyError;
      try {
        outcome = extractToken(request({ authorization: values }), [BEARER]);
      } catch (error) {
        assert.ok(error instanceof DenyError, String(error));
        outcome = error;
      }
      const [only] = credentials;
      if (credentials.length === 1 && only !== undefined && only.scheme.toLowerCase() === 'bearer') {
        assert.equal(outcome instanceof DenyError ? outcome.code : outcome?.token, only.token);
      } else if (credentials.length > 1) {
        assert.equal(outcome instanceof DenyError ? outcome.code : outcome?.token, 'credentials_malformed');
      } else {
        assert.equal(outcome, undefined, 'one credential of another scheme is simply not a bearer token');
      }
    }),
    { numRuns: 1000 },
  );
});

test('two different tokens in different sources are ambiguous', async (t) => {
  const rows: [name: string, req: TokenRequest][] = [
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
  for (const value of ['Bearer', 'Bearer ', 'bearer   ']) {
    await t.test(JSON.stringify(value), () => assertDeny(() => extractToken(request({ authorization: [value] }), ALL), 'token_malformed'));
  }
});
