/**
 * Token fixtures for tests: real key pairs and secrets made with jose, tokens signed with them,
 * and hand-built hostile tokens whose segments jose would never produce.
 *
 * @example
 * ```ts
 * const key = await generateTestKey('RS256', 'k1');
 * const token = await signToken(key, standardClaims());
 * const hostile = craftToken({ alg: 'none' }, standardClaims(), '');
 * ```
 */
import assert from 'node:assert/strict';
import { createSign, generateKeyPairSync } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, generateSecret, type CryptoKey, type JWTPayload } from 'jose';
import { DenyError, type ReasonCode } from '../../authz/reasons.ts';
import type { Algorithm, Jwk, JwkSet, SnapshotIssuer } from '../../snapshot/types.ts';

export const TEST_ISSUER = 'https://issuer.test';
export const TEST_AUDIENCE = 'api://orders';

export type TestAlgorithm = 'RS256' | 'PS256' | 'ES256' | 'EdDSA' | 'HS256';

export interface TestKey {
  alg: TestAlgorithm;
  kid: string;
  /** Private key, or the HMAC secret. */
  signingKey: CryptoKey | Uint8Array;
  /** What a JWK set publishes: the public key, or for HS256 the secret as an `oct` JWK. */
  jwk: Jwk;
}

/**
 * A fresh key for `alg` (Ed25519 for EdDSA, P-256 for ES256, 2048-bit RSA, 32-byte secret).
 *
 * @example
 * ```ts
 * const { jwk } = await generateTestKey('ES256', 'ec-1'); // jwk.crv === 'P-256'
 * ```
 */
export async function generateTestKey(alg: TestAlgorithm, kid: string = `${alg.toLowerCase()}-${crypto.randomUUID()}`): Promise<TestKey> {
  if (alg === 'HS256') {
    const secret = await generateSecret('HS256', { extractable: true });
    const jwk = (await exportJWK(secret)) as Jwk;
    return { alg, kid, signingKey: secret, jwk: { ...jwk, kid } };
  }
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
  const jwk = (await exportJWK(publicKey)) as Jwk;
  return { alg, kid, signingKey: privateKey, jwk: { ...jwk, kid } };
}

/**
 * Claims of a token that every default test issuer accepts; `overrides` set or (with undefined)
 * remove claims.
 *
 * @example
 * ```ts
 * standardClaims({ aud: 'other' }); // { iss: TEST_ISSUER, aud: 'other', sub: 'alice', iat, exp }
 * ```
 */
export function standardClaims(overrides: Record<string, unknown> = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = { iss: TEST_ISSUER, aud: TEST_AUDIENCE, sub: 'alice', iat: now, exp: now + 300, ...overrides };
  for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name];
  return claims;
}

/**
 * Signs `claims` with `key`. `header.kid: undefined` omits the kid; other header fields are added.
 *
 * @example
 * ```ts
 * await signToken(key, standardClaims(), { typ: 'at+jwt' });
 * ```
 */
export async function signToken(key: TestKey, claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  const protectedHeader: Record<string, unknown> = { alg: key.alg, kid: key.kid, ...header };
  if (Object.hasOwn(header, 'kid') && header.kid === undefined) delete protectedHeader.kid;
  return new SignJWT(claims).setProtectedHeader(protectedHeader as { alg: string }).sign(key.signingKey);
}

/**
 * Base64url of JSON (or of a string taken verbatim), i.e. one compact JWS segment.
 *
 * @example
 * ```ts
 * segment({ alg: 'none' }); // 'eyJhbGciOiJub25lIn0'
 * ```
 */
export function segment(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

/**
 * A hand-built compact token: JSON (or raw strings) for header and payload, a literal signature.
 *
 * @example
 * ```ts
 * craftToken({ alg: 'RS256', jku: 'https://evil.example/jwks' }, standardClaims()); // header_key_source_forbidden
 * ```
 */
export function craftToken(header: unknown, payload: unknown, signature = 'c2lnbmF0dXJl'): string {
  return `${segment(header)}.${segment(payload)}.${signature}`;
}

/**
 * An HS256 token whose HMAC key is `secret` (e.g. the issuer's RSA public key as PEM or JWK
 * JSON): the algorithm-confusion attack of RFC 8725 §2.1.
 *
 * @example
 * ```ts
 * await signHmacWith(publicPem, standardClaims(), 'k1');
 * ```
 */
export async function signHmacWith(secret: string, claims: JWTPayload, kid?: string): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', ...(kid === undefined ? {} : { kid }) }).sign(new TextEncoder().encode(secret));
}

/**
 * A 1024-bit RSA key (too weak: jose refuses to sign with it) and a token signed with it by
 * node:crypto directly, to prove a fetched JWKS drops such keys.
 *
 * @example
 * ```ts
 * const { jwk, token } = weakRsaToken('weak', standardClaims()); // jwk.n is 128 bytes
 * ```
 */
export function weakRsaToken(kid: string, claims: JWTPayload): { jwk: Jwk; token: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const signingInput = `${segment({ alg: 'RS256', kid })}.${segment(claims)}`;
  const signature = createSign('RSA-SHA256').update(signingInput).sign(privateKey).toString('base64url');
  return { jwk: { ...(publicKey.export({ format: 'jwk' }) as Jwk), kid }, token: `${signingInput}.${signature}` };
}

/**
 * A JWK set publishing `keys`.
 *
 * @example
 * ```ts
 * jwksOf(k1, k2); // { keys: [k1.jwk, k2.jwk] }
 * ```
 */
export function jwksOf(...keys: TestKey[]): JwkSet {
  return { keys: keys.map((key) => key.jwk) };
}

/**
 * A compiled issuer as the snapshot carries it, with test defaults (static keys, short remote
 * timings) and `overrides`.
 *
 * @example
 * ```ts
 * issuerConfig({ algorithms: ['ES256'], keySource: { kind: 'static', jwks: jwksOf(key) } });
 * ```
 */
export function issuerConfig(overrides: Partial<SnapshotIssuer> = {}): SnapshotIssuer {
  return {
    id: 'test/issuer',
    issuer: TEST_ISSUER,
    audiences: [TEST_AUDIENCE],
    algorithms: ['RS256'] satisfies Algorithm[],
    keySource: { kind: 'static', jwks: { keys: [] } },
    remote: { refreshSeconds: 300, cooldownSeconds: 30, timeoutMs: 1000 },
    clockSkewSeconds: 0,
    requireExpiration: true,
    requiredClaims: [],
    claimMappings: [],
    ...overrides,
  };
}

/**
 * Asserts that `promise` rejects with a {@link DenyError} of exactly `code`; returns the error.
 *
 * @example
 * ```ts
 * await assertDenied(verifyToken(expired, candidates), 'token_expired');
 * ```
 */
export async function assertDenied(promise: Promise<unknown>, code: ReasonCode): Promise<DenyError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof DenyError, `expected DenyError ${code}, got ${error === undefined ? 'success' : String(error)}`);
  assert.equal(error.code, code, `${error.code}: ${error.detail ?? ''}`);
  return error;
}
