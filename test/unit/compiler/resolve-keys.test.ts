// Key sources: every format a JWTIssuer can hold keys in, and every way keys are refused
// (weak keys, wrong algorithms, missing Secrets) without crashing the compile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import type { Jwk } from '../../../snapshot/types.ts';
import { compile } from '../../../compiler/compile.ts';
import { loadManifests } from '../../../cli/load-manifests.ts';
import type { SecretInput } from '../../../compiler/resources.ts';
import { NOW, ecP256, errorsOf, issuer, jwkOf, rsa1024, rsa2048, secret } from './builders.ts';
import { schema } from '../../support/schema.ts';

const pemSecrets = (await loadManifests(join(import.meta.dirname, '../../fixtures/manifests/pem'))).secrets;

function compileIssuer(spec: Record<string, unknown>, secrets: SecretInput[] = [], now = NOW) {
  const { snapshot, diagnostics } = compile({
    schema,
    resources: [issuer('idp', { issuer: 'https://idp.example.com', ...spec })],
    secrets,
    now,
  });
  return { issuer: snapshot.issuers['shop/idp'], diagnostics };
}

const staticKeys = (spec: Record<string, unknown>, secrets: SecretInput[] = []): Jwk[] => {
  const { issuer: compiled, diagnostics } = compileIssuer(spec, secrets);
  assert.deepEqual(errorsOf(diagnostics), []);
  assert.equal(compiled?.keySource.kind, 'static');
  return compiled?.keySource.kind === 'static' ? compiled.keySource.jwks.keys : [];
};

const pemRef = (key: string) => ({ secretRef: { name: 'pem-keys', key, format: 'PEM' } });

test("remote sources pass through; discovery defaults to the issuer's well-known URL (OIDC Discovery §4)", () => {
  assert.deepEqual(compileIssuer({ algorithms: ['RS256'], jwksUri: 'https://idp.example.com/jwks' }).issuer?.keySource, {
    kind: 'jwksUri',
    jwksUri: 'https://idp.example.com/jwks',
  });
  const discovered = compile({
    schema,
    resources: [issuer('idp', { issuer: 'https://idp.example.com/realms/a/', algorithms: ['ES256'], discovery: {} })],
    now: NOW,
  });
  assert.deepEqual(discovered.snapshot.issuers['shop/idp']?.keySource, {
    kind: 'discovery',
    discoveryUrl: 'https://idp.example.com/realms/a/.well-known/openid-configuration',
  });
});

test('inline JWKS keeps its public keys', () => {
  const jwk = jwkOf(rsa2048, { kid: 'r1', use: 'sig' });
  assert.deepEqual(staticKeys({ algorithms: ['RS256', 'PS256'], jwks: { keys: [jwk] } }), [jwk]);
});

test('a JWKS Secret may hold EC keys, or oct keys for HS*', () => {
  const ec = jwkOf(ecP256, { kid: 'e1' });
  assert.deepEqual(
    staticKeys({ algorithms: ['ES256'], secretRef: { name: 'k', key: 'jwks.json', format: 'JWKS' } }, [
      secret('k', 'jwks.json', JSON.stringify({ keys: [ec] })),
    ]),
    [ec],
  );
  const oct = { kty: 'oct', kid: 'h1', k: Buffer.alloc(64, 7).toString('base64url') };
  assert.deepEqual(
    staticKeys({ algorithms: ['HS512'], secretRef: { name: 'k', key: 'jwks.json', format: 'JWKS' } }, [
      secret('k', 'jwks.json', JSON.stringify({ keys: [oct] })),
    ]),
    [oct],
  );
});

test('PEM: SPKI and PKCS#1 keys get their RFC 7638 thumbprint as kid', () => {
  const [ec] = staticKeys({ algorithms: ['ES256'], ...pemRef('spki-ec.pem') }, pemSecrets);
  assert.equal(ec?.kty, 'EC');
  assert.equal(ec?.crv, 'P-256');
  assert.match(ec?.kid ?? '', /^[A-Za-z0-9_-]{43}$/);
  const [rsa] = staticKeys({ algorithms: ['RS256'], ...pemRef('pkcs1.pem') }, pemSecrets);
  assert.equal(rsa?.kty, 'RSA');
});

/** RFC 7638 §3.1: the example RSA key and its published SHA-256 thumbprint. */
const RFC7638_KEY = {
  kty: 'RSA',
  e: 'AQAB',
  n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
};
const RFC7638_THUMBPRINT = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs';

test('PEM: the kid is the RFC 7638 thumbprint (published vector)', () => {
  const spki = createPublicKey({ key: RFC7638_KEY, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
  const [key] = staticKeys({ algorithms: ['RS256'], secretRef: { name: 'p', key: 'k', format: 'PEM' } }, [secret('p', 'k', spki)]);
  assert.equal(key?.kid, RFC7638_THUMBPRINT);
  assert.equal(key?.n, RFC7638_KEY.n);
});

test('PEM: an X.509 certificate yields its public key with x5t as kid', () => {
  const [cert] = staticKeys({ algorithms: ['RS256'], ...pemRef('certificate.pem') }, pemSecrets);
  assert.equal(cert?.kty, 'RSA');
  const pem = Buffer.from(pemSecrets[0]?.data['certificate.pem'] ?? []).toString();
  // x5t is the SHA-1 fingerprint of the DER, base64url (RFC 7517 §4.8).
  const x5t = Buffer.from(new X509Certificate(pem).fingerprint.replaceAll(':', ''), 'hex').toString('base64url');
  assert.deepEqual([cert?.kid, cert?.x5t], [x5t, x5t]);
  assert.equal(cert?.n, new X509Certificate(pem).publicKey.export({ format: 'jwk' }).n);
});

test('PEM: several concatenated blocks; keys the algorithms cannot use are dropped with a warning', () => {
  const { issuer: compiled, diagnostics } = compileIssuer({ algorithms: ['RS256'], ...pemRef('bundle.pem') }, pemSecrets);
  assert.equal(compiled?.keySource.kind === 'static' && compiled.keySource.jwks.keys.map((k) => k.kty).join(), 'RSA,RSA');
  assert.deepEqual(errorsOf(diagnostics, 'warning'), ['AlgorithmMismatch spec.secretRef']);
});

test('PEM: an expired certificate is used, with a warning', () => {
  const { issuer: compiled, diagnostics } = compileIssuer(
    { algorithms: ['RS256'], ...pemRef('certificate.pem') },
    pemSecrets,
    new Date('2200-01-01T00:00:00Z'),
  );
  assert.ok(compiled !== undefined);
  assert.deepEqual(errorsOf(diagnostics, 'warning'), ['ExpiredCertificate spec.secretRef']);
});

test('PEM: a private key is refused, and with nothing else the issuer is out', () => {
  const privatePem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const { issuer: compiled, diagnostics } = compileIssuer({ algorithms: ['ES256'], secretRef: { name: 'p', key: 'k', format: 'PEM' } }, [
    secret('p', 'k', privatePem),
  ]);
  assert.equal(compiled, undefined);
  assert.deepEqual(errorsOf(diagnostics, 'warning'), ['WeakKey spec.secretRef']);
  assert.deepEqual(errorsOf(diagnostics), ['InvalidKey spec.secretRef']);
  assert.match(diagnostics[0]?.message ?? '', /private key/);
});

test('HMAC: the raw Secret bytes become an oct key', () => {
  const bytes = Buffer.alloc(48, 1);
  assert.deepEqual(
    staticKeys({ algorithms: ['HS256', 'HS384'], secretRef: { name: 'h', key: 'secret', format: 'HMAC' } }, [secret('h', 'secret', bytes)]),
    [{ kty: 'oct', k: bytes.toString('base64url') }],
  );
});

test("HMAC: secretRef.keyId becomes the oct key's kid; without it the key has none", () => {
  const bytes = Buffer.alloc(32, 7);
  const ref = { name: 'h', key: 'secret', format: 'HMAC' };
  assert.deepEqual(staticKeys({ algorithms: ['HS256'], secretRef: { ...ref, keyId: 'hs-2026' } }, [secret('h', 'secret', bytes)]), [
    { kty: 'oct', k: bytes.toString('base64url'), kid: 'hs-2026' },
  ]);
  assert.deepEqual(staticKeys({ algorithms: ['HS256'], secretRef: ref }, [secret('h', 'secret', bytes)]), [
    { kty: 'oct', k: bytes.toString('base64url') },
  ]);
});

test('keyId with a JWKS or PEM secretRef is refused (the keys name their own kids)', () => {
  for (const format of ['JWKS', 'PEM']) {
    const { issuer: compiled, diagnostics } = compileIssuer(
      { algorithms: ['RS256'], secretRef: { name: 'pem-keys', key: 'pkcs1.pem', format, keyId: 'k1' } },
      pemSecrets,
    );
    assert.equal(compiled, undefined, format);
    assert.deepEqual(errorsOf(diagnostics), ['InvalidSpec spec.secretRef'], format);
  }
});

test('HMAC: a secret shorter than the hash output is refused (RFC 7518 §3.2)', () => {
  const short = compileIssuer({ algorithms: ['HS256'], secretRef: { name: 'h', key: 's', format: 'HMAC' } }, [
    secret('h', 's', Buffer.alloc(31)),
  ]);
  assert.equal(short.issuer, undefined);
  assert.deepEqual(
    [...errorsOf(short.diagnostics, 'warning'), ...errorsOf(short.diagnostics)],
    ['WeakKey spec.secretRef', 'NoUsableKey spec.secretRef'],
  );
  const forHs512 = compileIssuer({ algorithms: ['HS256', 'HS512'], secretRef: { name: 'h', key: 's', format: 'HMAC' } }, [
    secret('h', 's', Buffer.alloc(32)),
  ]);
  assert.equal(forHs512.issuer, undefined);
  assert.deepEqual(errorsOf(forHs512.diagnostics), ['AlgorithmMismatch spec.algorithms']);
});

test('weak keys are dropped with WeakKey: RSA-1024, e=1, use=enc; an issuer left with none is an error', () => {
  const strong = jwkOf(rsa2048, { kid: 'ok' });
  const weak = [jwkOf(rsa1024, { kid: 'short' }), jwkOf(rsa2048, { kid: 'e1', e: 'AQ' }), jwkOf(rsa2048, { kid: 'enc', use: 'enc' })];
  const { issuer: compiled, diagnostics } = compileIssuer({ algorithms: ['RS256'], jwks: { keys: [...weak, strong] } });
  assert.deepEqual(compiled?.keySource, { kind: 'static', jwks: { keys: [strong] } });
  const warnings = diagnostics.filter((d) => d.severity === 'warning');
  assert.deepEqual(
    warnings.map((d) => d.reason),
    ['WeakKey', 'WeakKey', 'WeakKey'],
  );
  assert.match(warnings[0]?.message ?? '', /kid "short".*1024 bits/);
  assert.match(warnings[1]?.message ?? '', /exponent 1/);
  assert.match(warnings[2]?.message ?? '', /use is "enc"/);
  const none = compileIssuer({ algorithms: ['RS256'], jwks: { keys: weak } });
  assert.equal(none.issuer, undefined);
  assert.deepEqual(errorsOf(none.diagnostics), ['NoUsableKey spec.jwks.keys']);
});

test('an unreadable JWK is dropped with InvalidKey', () => {
  const broken = { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' };
  const { diagnostics } = compileIssuer({ algorithms: ['RS256', 'ES256'], jwks: { keys: [broken, jwkOf(rsa2048)] } });
  assert.deepEqual(errorsOf(diagnostics, 'warning'), ['InvalidKey spec.jwks.keys']);
  assert.deepEqual(errorsOf(diagnostics), ['AlgorithmMismatch spec.algorithms']);
});

test('HS* algorithms with public keys are refused (algorithm confusion, RFC 8725 §2.1)', () => {
  const spki = rsa2048.export({ type: 'spki', format: 'pem' }).toString();
  const { issuer: compiled, diagnostics } = compileIssuer({ algorithms: ['HS256'], secretRef: { name: 'p', key: 'k', format: 'PEM' } }, [
    secret('p', 'k', spki),
  ]);
  assert.equal(compiled, undefined);
  assert.deepEqual(
    [...errorsOf(diagnostics, 'warning'), ...errorsOf(diagnostics)],
    ['AlgorithmMismatch spec.secretRef', 'NoUsableKey spec.secretRef'],
  );
});

test('asymmetric algorithms with only an HMAC key are refused', () => {
  const oct = { kty: 'oct', k: Buffer.alloc(32, 9).toString('base64url') };
  const { issuer: compiled, diagnostics } = compileIssuer({ algorithms: ['RS256'], secretRef: { name: 'k', key: 'j', format: 'JWKS' } }, [
    secret('k', 'j', JSON.stringify({ keys: [oct] })),
  ]);
  assert.equal(compiled, undefined);
  assert.deepEqual(errorsOf(diagnostics), ['NoUsableKey spec.secretRef']);
});

test('an algorithm no key can serve is refused; a key pinned to another alg does not count', () => {
  const { diagnostics } = compileIssuer({ algorithms: ['RS256', 'ES256'], jwks: { keys: [jwkOf(rsa2048)] } });
  assert.deepEqual(errorsOf(diagnostics), ['AlgorithmMismatch spec.algorithms']);
  assert.match(diagnostics[0]?.message ?? '', /ES256/);
  const pinned = compileIssuer({ algorithms: ['RS256', 'PS256'], jwks: { keys: [jwkOf(rsa2048, { alg: 'PS256' })] } });
  assert.deepEqual(errorsOf(pinned.diagnostics), ['AlgorithmMismatch spec.algorithms']);
});

test('a missing Secret, a missing key and bad Secret content are specific errors', () => {
  const ref = { algorithms: ['RS256'], secretRef: { name: 'k', key: 'jwks.json', format: 'JWKS' } };
  assert.deepEqual(errorsOf(compileIssuer(ref).diagnostics), ['SecretNotFound spec.secretRef.name']);
  assert.deepEqual(errorsOf(compileIssuer(ref, [secret('k', 'other', '{}')]).diagnostics), ['SecretKeyNotFound spec.secretRef.key']);
  assert.deepEqual(errorsOf(compileIssuer(ref, [secret('k', 'jwks.json', 'not json')]).diagnostics), ['InvalidKey spec.secretRef']);
  assert.deepEqual(errorsOf(compileIssuer(ref, [secret('k', 'jwks.json', '{"keys":[]}')]).diagnostics), ['InvalidKey spec.secretRef']);
  assert.deepEqual(errorsOf(compileIssuer(ref, [secret('k', 'jwks.json', '{"keys":"x"}', 'other')]).diagnostics), [
    'SecretNotFound spec.secretRef.name',
  ]);
  const pem = { algorithms: ['RS256'], secretRef: { name: 'p', key: 'k', format: 'PEM' } };
  assert.deepEqual(errorsOf(compileIssuer(pem, [secret('p', 'k', 'no blocks here')]).diagnostics), ['InvalidKey spec.secretRef']);
});
