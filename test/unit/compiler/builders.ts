/**
 * Builders for compiler tests: resources with sensible defaults, keys generated once per run,
 * and helpers to pick diagnostics apart. Not a test file itself.
 *
 * @example
 * ```ts
 * const { snapshot, diagnostics } = compile({ resources: [issuer('idp', jwksUriIssuer()), policy('api', requiredPolicy())], now: NOW });
 * ```
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { Jwk } from '../../../snapshot/types.ts';
import type { Diagnostic } from '../../../compiler/diagnostics.ts';
import { API_VERSION, type Resource, type SecretInput } from '../../../compiler/resources.ts';

/** The frozen compile clock. */
export const NOW = new Date('2026-01-01T00:00:00Z');

/**
 * A JWTIssuer in namespace `shop` (or `namespace`).
 *
 * @example
 * ```ts
 * issuer('idp', { issuer: 'https://idp', algorithms: ['RS256'], jwksUri: 'https://idp/jwks' });
 * ```
 */
export function issuer(name: string, spec: Record<string, unknown>, namespace = 'shop', extra: Partial<Resource> = {}): Resource {
  return { apiVersion: API_VERSION, kind: 'JWTIssuer', metadata: { name, namespace }, spec, ...extra };
}

/**
 * A JWTPolicy in namespace `shop` (or `namespace`).
 *
 * @example
 * ```ts
 * policy('api', { targets: [{ hosts: ['a.example'] }], issuers: { anyOf: [{ name: 'idp' }] } });
 * ```
 */
export function policy(name: string, spec: Record<string, unknown>, namespace = 'shop', creationTimestamp?: string): Resource {
  return {
    apiVersion: API_VERSION,
    kind: 'JWTPolicy',
    metadata: { name, namespace, ...(creationTimestamp === undefined ? {} : { creationTimestamp }) },
    spec,
  };
}

/**
 * A ClusterJWTPolicy.
 *
 * @example
 * ```ts
 * clusterPolicy('baseline', { enforcement: 'Override', targets: [{}], mode: 'Disabled' });
 * ```
 */
export function clusterPolicy(name: string, spec: Record<string, unknown>): Resource {
  return { apiVersion: API_VERSION, kind: 'ClusterJWTPolicy', metadata: { name }, spec };
}

/**
 * A remote-keys issuer spec for `https://idp.example.com`, audience `shop`.
 *
 * @example
 * ```ts
 * jwksUriIssuer({ audiences: [] });
 * ```
 */
export function jwksUriIssuer(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    issuer: 'https://idp.example.com',
    audiences: ['shop'],
    algorithms: ['RS256'],
    jwksUri: 'https://idp.example.com/jwks',
    ...overrides,
  };
}

/**
 * A Required policy spec on `host` trusting issuer `idp`.
 *
 * @example
 * ```ts
 * requiredPolicy('shop.example.com', { rules: [{ claim: 'sub', exists: true }] });
 * ```
 */
export function requiredPolicy(host = 'shop.example.com', overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { targets: [{ hosts: [host], paths: [{ prefix: '/api' }] }], issuers: { anyOf: [{ name: 'idp' }] }, ...overrides };
}

/**
 * A Secret in `shop` with one data key.
 *
 * @example
 * ```ts
 * secret('keys', 'jwks.json', JSON.stringify({ keys: [rsaPublicJwk] }));
 * ```
 */
export function secret(name: string, key: string, value: string | Uint8Array, namespace = 'shop'): SecretInput {
  return { namespace, name, data: { [key]: typeof value === 'string' ? Buffer.from(value, 'utf8') : value } };
}

/** Generated once: RSA key generation is slow. */
export const rsa2048: KeyObject = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
export const rsa1024: KeyObject = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
export const ecP256: KeyObject = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;

/**
 * A public key as a JWK, with extra members.
 *
 * @example
 * ```ts
 * jwkOf(rsa2048, { kid: 'a', use: 'sig' });
 * ```
 */
export function jwkOf(key: KeyObject, extra: Partial<Jwk> = {}): Jwk {
  return { ...(key.export({ format: 'jwk' }) as Jwk), ...extra };
}

/**
 * `reason field` strings of the diagnostics of one severity, for compact assertions.
 *
 * @example
 * ```ts
 * errorsOf(diagnostics); // ['InvalidRegex spec.targets[0].paths[0].regex']
 * ```
 */
export function errorsOf(diagnostics: Diagnostic[], severity: Diagnostic['severity'] = 'error'): string[] {
  return diagnostics.filter((d) => d.severity === severity).map((d) => `${d.reason} ${d.field ?? '-'}`);
}

/**
 * `id mode` of every policy in a snapshot: which are enforced as written and which are held
 * closed (`invalid`).
 *
 * @example
 * ```ts
 * modesOf(snapshot); // ['JWTPolicy/shop/a required', 'JWTPolicy/shop/b invalid']
 * ```
 */
export function modesOf(snapshot: { policies: { id: string; mode: string }[] }): string[] {
  return snapshot.policies.map((p) => `${p.id} ${p.mode}`);
}
