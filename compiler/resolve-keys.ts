/**
 * Turns a JWTIssuer's key source into the snapshot's {@link KeySource}: remote sources pass
 * through; static ones (inline JWKS, a Secret with a JWK Set, PEM keys or certificates, or an
 * HMAC secret) become a screened JWK Set. Screening drops weak or unreadable keys with a warning
 * and refuses the issuer when its pinned algorithms and its keys do not fit each other, the
 * guard against algorithm confusion (RFC 8725 §2.1, §3.1).
 *
 * @example
 * ```ts
 * const source = resolveKeySource(spec, 'shop', secretsByName, new Date(), report);
 * // { kind: 'static', jwks: { keys: [{ kty: 'RSA', kid: '…', n: '…', e: 'AQAB' }] } }
 * ```
 */
import { X509Certificate, createHash, createPublicKey } from 'node:crypto';
import { keyWeakness } from '../common/keys/key-strength.ts';
import type { Algorithm, Jwk, KeySource } from '../snapshot/types.ts';
import { DIAGNOSTIC_REASONS, type Report } from './diagnostics.ts';
import type { JWTIssuerSpec, SecretInput } from './resources.ts';

/** A key found in the source, with how messages should name it. */
interface CandidateKey {
  jwk: Jwk;
  label: string;
}

/**
 * Resolves the key source; undefined when the issuer cannot be used (errors were reported).
 *
 * @param secrets Secrets by `namespace/name`.
 * @example
 * ```ts
 * resolveKeySource({ issuer: 'https://idp', jwksUri: 'https://idp/jwks', … }, 'ns', new Map(), now, report);
 * // { kind: 'jwksUri', jwksUri: 'https://idp/jwks' }
 * ```
 */
export function resolveKeySource(
  spec: JWTIssuerSpec,
  namespace: string,
  secrets: ReadonlyMap<string, SecretInput>,
  now: Date,
  report: Report,
): KeySource | undefined {
  if (spec.jwksUri !== undefined) return { kind: 'jwksUri', jwksUri: spec.jwksUri };
  if (spec.discovery !== undefined) {
    // OpenID Connect Discovery 1.0 §4: the issuer, minus a trailing slash, + the well-known path.
    return { kind: 'discovery', discoveryUrl: spec.discovery.url ?? `${spec.issuer.replace(/\/$/, '')}/.well-known/openid-configuration` };
  }
  const field = spec.jwks !== undefined ? 'spec.jwks.keys' : 'spec.secretRef';
  const candidates =
    spec.jwks !== undefined
      ? spec.jwks.keys.map((jwk, i) => ({ jwk: jwk as Jwk, label: `key ${i}` }))
      : readSecretKeys(spec, namespace, secrets, now, report);
  if (candidates === undefined) return undefined;
  const keys = screenKeys(candidates, spec.algorithms, field, report);
  return keys === undefined ? undefined : { kind: 'static', jwks: { keys } };
}

function readSecretKeys(
  spec: JWTIssuerSpec,
  namespace: string,
  secrets: ReadonlyMap<string, SecretInput>,
  now: Date,
  report: Report,
): CandidateKey[] | undefined {
  const ref = spec.secretRef;
  if (ref === undefined) throw new TypeError('a static key source needs jwks or secretRef');
  const secret = secrets.get(`${namespace}/${ref.name}`);
  if (secret === undefined) {
    report({
      severity: 'error',
      field: 'spec.secretRef.name',
      reason: DIAGNOSTIC_REASONS.SecretNotFound,
      message: `Secret ${namespace}/${ref.name} not found`,
    });
    return undefined;
  }
  const bytes = Object.hasOwn(secret.data, ref.key) ? secret.data[ref.key] : undefined;
  if (bytes === undefined) {
    report({
      severity: 'error',
      field: 'spec.secretRef.key',
      reason: DIAGNOSTIC_REASONS.SecretKeyNotFound,
      message: `Secret ${namespace}/${ref.name} has no key "${ref.key}"`,
    });
    return undefined;
  }
  const invalid = (message: string): undefined => {
    report({ severity: 'error', field: 'spec.secretRef', reason: DIAGNOSTIC_REASONS.InvalidKey, message });
    return undefined;
  };
  switch (ref.format) {
    case 'HMAC': {
      // A raw secret carries no metadata, so its kid (if the token issuer stamps one) comes from
      // the reference; selection by kid then works as for any JWK (secret-key-set.ts).
      const jwk: Jwk = { kty: 'oct', k: Buffer.from(bytes).toString('base64url') };
      if (ref.keyId !== undefined) jwk.kid = ref.keyId;
      return [{ jwk, label: 'HMAC secret' }];
    }
    case 'JWKS': {
      const keys = parseJwkSet(bytes);
      return typeof keys === 'string' ? invalid(keys) : keys.map((jwk, i) => ({ jwk, label: `key ${i}` }));
    }
    case 'PEM': {
      const keys = readPemKeys(Buffer.from(bytes).toString('utf8'), now, report);
      return keys.length === 0 ? invalid('no PEM "PUBLIC KEY", "RSA PUBLIC KEY" or "CERTIFICATE" block could be read') : keys;
    }
  }
}

/** The JWK Set in a Secret value, or why it is not one. */
function parseJwkSet(bytes: Uint8Array): Jwk[] | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return 'the Secret value is not UTF-8 JSON';
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) return 'the Secret value is not a JWK Set ({"keys": [...]}, RFC 7517 §5)';
  if (!keys.every((k) => k !== null && typeof k === 'object' && typeof (k as Jwk).kty === 'string'))
    return 'every JWK needs a string "kty"';
  return keys as Jwk[];
}

/**
 * Public keys from PEM text: SPKI (`PUBLIC KEY`), PKCS#1 (`RSA PUBLIC KEY`) and X.509
 * (`CERTIFICATE`) blocks, several allowed. Keys get their RFC 7638 thumbprint as `kid`;
 * certificates get `x5t` (RFC 7517 §4.8), also as `kid`, the convention of IdPs that publish
 * certificates (AD FS, Entra ID). Private key blocks are refused.
 */
function readPemKeys(text: string, now: Date, report: Report): CandidateKey[] {
  const keys: CandidateKey[] = [];
  const blocks = text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g);
  let index = 0;
  for (const [block, type] of blocks) {
    const label = `PEM block ${index++} (${type})`;
    const drop = (reason: DropReason, message: string): void => {
      reportDropped(report, 'spec.secretRef', reason, label, message);
    };
    if (type?.includes('PRIVATE KEY') === true) {
      drop(DIAGNOSTIC_REASONS.WeakKey, 'a private key does not belong here');
      continue;
    }
    try {
      if (type === 'CERTIFICATE') {
        const cert = new X509Certificate(block);
        if (Date.parse(cert.validTo) < now.getTime()) {
          report({
            severity: 'warning',
            field: 'spec.secretRef',
            reason: DIAGNOSTIC_REASONS.ExpiredCertificate,
            message: `${label}: certificate expired ${cert.validTo}; its key is still used (JWS does not check certificate validity)`,
          });
        }
        const x5t = createHash('sha1').update(cert.raw).digest('base64url');
        keys.push({ jwk: { ...(cert.publicKey.export({ format: 'jwk' }) as Jwk), kid: x5t, x5t }, label });
      } else if (type === 'PUBLIC KEY' || type === 'RSA PUBLIC KEY') {
        const jwk = createPublicKey(block).export({ format: 'jwk' }) as Jwk;
        keys.push({ jwk: { ...jwk, kid: jwkThumbprint(jwk) }, label });
      } else {
        drop(DIAGNOSTIC_REASONS.InvalidKey, 'not a public key or certificate');
      }
    } catch (error) {
      drop(DIAGNOSTIC_REASONS.InvalidKey, (error as Error).message);
    }
  }
  return keys;
}

type DropReason = typeof DIAGNOSTIC_REASONS.WeakKey | typeof DIAGNOSTIC_REASONS.InvalidKey | typeof DIAGNOSTIC_REASONS.AlgorithmMismatch;

/** A key is left out but the issuer may live on: a warning, not an error. */
function reportDropped(report: Report, field: string, reason: DropReason, label: string, message: string): void {
  report({ severity: 'warning', field, reason, message: `${label}: ${message}; dropped` });
}

/** RFC 7638 §3: SHA-256 over the required members, in lexicographic order, base64url. */
function jwkThumbprint(jwk: Jwk): string {
  const members: Record<string, string[]> = { RSA: ['e', 'kty', 'n'], EC: ['crv', 'kty', 'x', 'y'], OKP: ['crv', 'kty', 'x'] };
  const required = Object.fromEntries((members[jwk.kty] ?? ['kty']).map((m) => [m, jwk[m]]));
  return createHash('sha256').update(JSON.stringify(required)).digest('base64url');
}

/** RFC 7518 §3.2: an HMAC key at least as long as the hash output. */
const HMAC_MIN_BYTES: Partial<Record<Algorithm, number>> = { HS256: 32, HS384: 48, HS512: 64 };
const EC_CURVES: Partial<Record<Algorithm, string>> = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' };

/**
 * Whether a key can verify signatures of `alg`. A key that names its own `alg` serves only
 * that one (RFC 7517 §4.4).
 *
 * @example
 * ```ts
 * keyServes({ kty: 'EC', crv: 'P-256', x: '…', y: '…' }, 'ES256'); // true
 * keyServes({ kty: 'RSA', n: '…', e: 'AQAB' }, 'HS256'); // false
 * ```
 */
export function keyServes(jwk: Jwk, alg: Algorithm): boolean {
  if (jwk.alg !== undefined && jwk.alg !== alg) return false;
  if (alg.startsWith('RS') || alg.startsWith('PS')) return jwk.kty === 'RSA';
  if (alg.startsWith('ES')) return jwk.kty === 'EC' && jwk.crv === EC_CURVES[alg];
  if (alg.startsWith('HS')) return jwk.kty === 'oct' && Buffer.from(jwk.k ?? '', 'base64url').length >= (HMAC_MIN_BYTES[alg] ?? Infinity);
  return jwk.kty === 'OKP' && jwk.crv === 'Ed25519';
}

/** Drops unusable keys (warnings), then refuses the set when an algorithm has no key (error). */
function screenKeys(candidates: CandidateKey[], algorithms: Algorithm[], field: string, report: Report): Jwk[] | undefined {
  const keys: Jwk[] = [];
  const drop = (reason: DropReason, label: string, message: string): void => {
    reportDropped(report, field, reason, label, message);
  };
  for (const { jwk, label } of candidates) {
    const named = jwk.kid === undefined ? label : `${label} (kid "${jwk.kid}")`;
    const weakness = keyWeakness(jwk);
    if (weakness !== undefined) {
      drop(DIAGNOSTIC_REASONS.WeakKey, named, weakness);
      continue;
    }
    const unreadable = jwk.kty === 'oct' ? undefined : importProblem(jwk);
    if (unreadable !== undefined) {
      drop(DIAGNOSTIC_REASONS.InvalidKey, named, unreadable);
      continue;
    }
    if (!algorithms.some((alg) => keyServes(jwk, alg))) {
      drop(
        DIAGNOSTIC_REASONS.AlgorithmMismatch,
        named,
        `a ${jwk.kty} key${jwk.alg === undefined ? '' : ` for ${jwk.alg}`} serves none of ${algorithms.join(', ')}`,
      );
      continue;
    }
    keys.push(jwk);
  }
  if (keys.length === 0) {
    report({ severity: 'error', field, reason: DIAGNOSTIC_REASONS.NoUsableKey, message: 'no usable key is left for this issuer' });
    return undefined;
  }
  const unserved = algorithms.filter((alg) => !keys.some((jwk) => keyServes(jwk, alg)));
  if (unserved.length > 0) {
    report({
      severity: 'error',
      field: 'spec.algorithms',
      reason: DIAGNOSTIC_REASONS.AlgorithmMismatch,
      message: `no key can verify ${unserved.join(', ')}; pin only the algorithms the keys serve`,
    });
    return undefined;
  }
  return keys;
}

function importProblem(jwk: Jwk): string | undefined {
  try {
    createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
    return undefined;
  } catch (error) {
    return `not a valid public key: ${(error as Error).message}`;
  }
}
