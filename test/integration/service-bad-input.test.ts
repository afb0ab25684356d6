// End to end, the bad-input table: every hostile or broken token sent through the real
// `jwtgate serve` CLI over real gRPC gets its exact reason code, HTTP status and RFC 6750
// challenge; header-named keys (jku, x5u, jwk, x5c) cause no fetch; the service keeps serving
// and counts each reason in /metrics.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, randomUUID } from 'node:crypto';
import { headerRecord, httpCheckRequest, type GrpcClient } from '../../cli/grpc-client.ts';
import { denied, type Denial } from '../support/decisions.ts';
import { jwtIssuer, jwtPolicy, joinManifests } from '../../dev/fixtures/manifests.ts';
import type { ServeProcess } from '../../dev/serve-process.ts';
import { startStandalone, type StandaloneService } from '../../dev/standalone-service.ts';
import { startJwksServer, type JwksServer } from '../support/jwks-server.ts';
import {
  craftToken,
  generateTestKey,
  jwksOf,
  segment,
  signHmacWith,
  signToken,
  standardClaims,
  TEST_AUDIENCE,
  TEST_ISSUER,
  type TestKey,
} from '../../dev/fixtures/tokens.ts';

const HOST = 'orders.test';
const REALM = 'orders';

function manifests(jwksUri: string): string {
  return joinManifests(
    jwtIssuer({
      name: 'idp',
      namespace: 'shop',
      spec: {
        issuer: TEST_ISSUER,
        audiences: [TEST_AUDIENCE],
        jwksUri,
        algorithms: ['RS256'],
        clockSkewSeconds: 0,
        remote: { cooldownSeconds: 1, timeoutMs: 1500 },
      },
    }),
    jwtPolicy({
      name: 'orders',
      namespace: 'shop',
      spec: {
        targets: [{ hosts: [HOST], paths: [{ prefix: '/orders' }] }],
        issuers: { anyOf: [{ name: 'idp' }] },
        forward: { claimsToHeaders: [{ claim: 'sub', header: 'x-user-id' }] },
        deny: { realm: REALM },
      },
    }),
  );
}

/** What a denial must look like on the wire: reason, HTTP status name, RFC 6750 `error` (or none). */
interface Expected {
  reason: string;
  status: 'Unauthorized' | 'Forbidden' | 'BadRequest';
  bearerError: 'invalid_token' | 'invalid_request' | undefined;
}
const unauthorized = (reason: string): Expected => ({ reason, status: 'Unauthorized', bearerError: 'invalid_token' });

const request = (headers: Record<string, string> = {}) => httpCheckRequest({ method: 'GET', host: HOST, path: '/orders/1', headers });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const now = () => Math.floor(Date.now() / 1000);

describe('jwtgate serve refuses bad input with the exact reason', () => {
  let standalone: StandaloneService;
  let idp: JwksServer;
  /** Serves the attacker's key at the URL the hostile headers name; it must never be asked. */
  let attacker: JwksServer;
  let key: TestKey;
  let attackerKey: TestKey;
  let svc: ServeProcess;
  let client: GrpcClient;
  /** How many denials of each reason this file caused, to compare with /metrics at the end. */
  const seen = new Map<string, number>();

  /** A valid token for the policy, unique per call (a fresh `jti`) so the token cache never answers. */
  const sign = (claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) =>
    signToken(key, standardClaims({ jti: randomUUID(), ...claims }), header);

  /** Sends one Check and asserts the whole denial: reason, status, challenge. */
  async function expectDenied(headers: Record<string, string>, expected: Expected, label: string): Promise<Denial> {
    const d = denied(await client.check(request(headers)));
    assert.deepEqual({ reason: d.body.reason, status: d.status }, { reason: expected.reason, status: expected.status }, label);
    const challenge = `Bearer realm="${REALM}"${expected.bearerError === undefined ? '' : `, error="${expected.bearerError}"`}`;
    assert.ok(
      d.headers['www-authenticate']?.startsWith(challenge),
      `${label}: ${d.headers['www-authenticate']} should start with ${challenge}`,
    );
    seen.set(expected.reason, (seen.get(expected.reason) ?? 0) + 1);
    return d;
  }

  before(async () => {
    [key, attackerKey] = await Promise.all([generateTestKey('RS256', 'k1'), generateTestKey('RS256', 'attacker')]);
    idp = await startJwksServer({ jwks: jwksOf(key) });
    attacker = await startJwksServer({ jwks: jwksOf(attackerKey) });
    standalone = await startStandalone({ 'all.yaml': manifests(idp.jwksUrl) });
    ({ svc, client } = standalone);
  });

  after(async () => {
    await standalone?.close();
    await idp?.close();
    await attacker?.close();
  });

  test('the baseline token is allowed, so each row below fails for its own reason', async () => {
    const response = await client.check(request(bearer(await sign())));
    assert.equal(response.http_response, 'ok_response');
    assert.equal(headerRecord(response.ok_response!.headers ?? [])['x-user-id'], 'alice');
  });

  test('no token → 401 token_missing, a challenge without error= (RFC 6750 §3.1)', async () => {
    const d = await expectDenied({}, { reason: 'token_missing', status: 'Unauthorized', bearerError: undefined }, 'no token');
    assert.equal(d.headers['www-authenticate'], `Bearer realm="${REALM}"`);
  });

  test('malformed tokens → 401 with their own reason', async () => {
    const good = await sign();
    const [h, p, s] = good.split('.') as [string, string, string];
    const rows: [string, string, string][] = [
      ['1 part', segment({ alg: 'RS256', kid: 'k1' }), 'token_malformed'],
      ['2 parts', `${h}.${p}`, 'token_malformed'],
      ['4 parts', `${good}.${s}`, 'token_malformed'],
      ['non-base64url character in the header', `${h.slice(0, -1)}*.${p}.${s}`, 'token_malformed'],
      ['non-base64url character in the payload', `${h}.${p.slice(0, -1)}+.${s}`, 'token_malformed'],
      ['impossible base64url length (4n+1) in the header', `${padTo4nPlus1(h)}.${p}.${s}`, 'token_malformed'],
      ['impossible base64url length (4n+1) in the payload', `${h}.${padTo4nPlus1(p)}.${s}`, 'token_malformed'],
      ['impossible base64url length (4n+1) in the signature', `${h}.${p}.${padTo4nPlus1(s)}`, 'token_malformed'],
      // The real signature spelled differently: same bytes, so it would verify (RFC 4648 §3.5).
      ['non-zero pad bits in the signature', `${h}.${p}.${flipPadBit(s)}`, 'token_malformed'],
      ['bad JSON in the header', craftToken('{"alg":"RS256",', standardClaims()), 'header_invalid'],
      ['bad JSON in the payload', craftToken({ alg: 'RS256', kid: 'k1' }, '{"iss":'), 'payload_invalid'],
    ];
    for (const [label, token, reason] of rows) await expectDenied(bearer(token), unauthorized(reason), label);
  });

  test('alg none in any letter case → 401 alg_none', async () => {
    for (const alg of ['none', 'None', 'NONE'])
      await expectDenied(bearer(craftToken({ alg }, standardClaims(), '')), unauthorized('alg_none'), alg);
  });

  test("HS256 signed with the issuer's RSA public key as the HMAC secret → 401 alg_not_allowed (RFC 8725 §2.1)", async () => {
    const pem = createPublicKey({ key: key.jwk as never, format: 'jwk' })
      .export({ type: 'spki', format: 'pem' })
      .toString();
    await expectDenied(
      bearer(await signHmacWith(pem, standardClaims({ jti: randomUUID() }), 'k1')),
      unauthorized('alg_not_allowed'),
      'HS256 with the PEM',
    );
  });

  test('claims and keys → their own reason and status', async () => {
    const rows: [string, Promise<string>, Expected][] = [
      ['unknown kid', sign({}, { kid: 'nope' }), unauthorized('kid_unknown')],
      ['expired', sign({ exp: now() - 10 }), unauthorized('token_expired')],
      ['not yet valid', sign({ nbf: now() + 120 }), unauthorized('token_not_yet_valid')],
      ['wrong iss', sign({ iss: 'https://evil.test' }), unauthorized('issuer_untrusted')],
      // A valid token for another audience: a new token would not help, so 403 (reasons.ts).
      // RFC 6750 §3.1: invalid_token is a 401, also for a token meant for another audience.
      ['wrong aud', sign({ aud: 'api://billing' }), unauthorized('audience_mismatch')],
      ['oversized', sign({ padding: 'x'.repeat(9000) }), unauthorized('token_too_large')],
    ];
    for (const [label, token, expected] of rows) await expectDenied(bearer(await token), expected, label);
  });

  test('jku, x5u, jwk and x5c headers → 401 header_key_source_forbidden, and nothing is fetched', async () => {
    const fetched = { idp: idp.requests.jwks, attacker: attacker.requests.jwks };
    const certificate = ['MIIBszCCAVmgAwIBAgIUTestOnlyNotARealCertificate'];
    const headers: Record<string, unknown>[] = [
      { jku: attacker.jwksUrl },
      { x5u: attacker.jwksUrl },
      { jwk: attackerKey.jwk },
      { x5c: certificate },
    ];
    for (const header of headers) {
      // Signed by the attacker's key, which the named source really serves: the classic injection.
      const token = await signToken(attackerKey, standardClaims({ jti: randomUUID() }), header);
      await expectDenied(bearer(token), unauthorized('header_key_source_forbidden'), Object.keys(header)[0]!);
    }
    assert.deepEqual({ idp: idp.requests.jwks, attacker: attacker.requests.jwks }, fetched);
    assert.equal(attacker.requests.jwks, 0);
  });

  test('several credentials in the authorization header → 400 credentials_malformed (RFC 6750 §3.1 invalid_request), never a token', async () => {
    const [first, second] = await Promise.all([sign(), sign({ sub: 'mallory' })]);
    const malformed: Expected = { reason: 'credentials_malformed', status: 'BadRequest', bearerError: 'invalid_request' };
    // Each carries a valid token for this route: alone, it would be allowed.
    await expectDenied({ authorization: `Bearer ${first}, Bearer ${second}` }, malformed, 'two tokens, comma-joined');
    await expectDenied({ authorization: `Basic dXNlcjpwYXNz, Bearer ${first}` }, malformed, 'Basic, then Bearer');
    await expectDenied({ authorization: `Bearer ${first}, Bearer ${first}` }, malformed, 'the same token twice');
  });

  test('afterwards the service still answers, health is SERVING, and /metrics counts every reason seen', async () => {
    assert.equal((await client.check(request(bearer(await sign())))).http_response, 'ok_response');
    assert.equal(await client.health(''), 'SERVING');
    const metrics = await (await fetch(`http://127.0.0.1:${svc.httpPort}/metrics`)).text();
    assert.deepEqual(
      [...seen.keys()].sort(),
      [
        'alg_none',
        'alg_not_allowed',
        'audience_mismatch',
        'credentials_malformed',
        'header_invalid',
        'header_key_source_forbidden',
        'issuer_untrusted',
        'kid_unknown',
        'payload_invalid',
        'token_expired',
        'token_malformed',
        'token_missing',
        'token_not_yet_valid',
        'token_too_large',
      ],
      'the whole table ran',
    );
    for (const [reason, count] of seen) {
      assert.match(metrics, new RegExp(`^jwtgate_checks_total\\{decision="deny",reason="${reason}"\\} ${count}$`, 'm'), reason);
    }
  });
});

/** `value` (of length 4n+2 or 4n+3) with the lowest bit of its last character, a pad bit, set. */
function flipPadBit(value: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  assert.ok(value.length % 4 >= 2, 'a segment of length 4n has no pad bits');
  const flipped = value.slice(0, -1) + alphabet.charAt(alphabet.indexOf(value.at(-1) ?? '') ^ 1);
  assert.deepEqual(Buffer.from(flipped, 'base64url'), Buffer.from(value, 'base64url'), 'the flipped spelling decodes to the same bytes');
  return flipped;
}

/** Adds characters until the segment's length is 4n+1, a length no byte string encodes to (RFC 4648 §5). */
function padTo4nPlus1(value: string): string {
  return value + 'A'.repeat((5 - (value.length % 4)) % 4);
}
