/**
 * Compiles one validated JWTIssuer into a {@link SnapshotIssuer}: keys resolved and screened,
 * claim-mapping paths split. Returns undefined (with errors reported) when the issuer cannot be
 * trusted; policies that name it are then left out too.
 *
 * @example
 * ```ts
 * const issuer = compileIssuer(valid, secrets, now, report);
 * // { id: 'shop/idp', issuer: 'https://idp.example', algorithms: ['RS256'], keySource: {…}, … }
 * ```
 */
import type { ClaimMapping, SnapshotIssuer } from '../snapshot/types.ts';
import { DIAGNOSTIC_REASONS, type Report } from './diagnostics.ts';
import type { SecretInput } from './resources.ts';
import { resolveKeySource } from './resolve-keys.ts';
import { splitClaimPath } from './split-claim-path.ts';
import type { ValidResource } from './validate.ts';

/** A validated JWTIssuer. */
export type ValidIssuer = Extract<ValidResource, { kind: 'JWTIssuer' }>;

/**
 * @param secrets Secrets by `namespace/name`.
 * @example
 * ```ts
 * compileIssuer(validIssuer, new Map(), new Date(), report)?.keySource.kind; // 'jwksUri'
 * ```
 */
export function compileIssuer(
  resource: ValidIssuer,
  secrets: ReadonlyMap<string, SecretInput>,
  now: Date,
  report: Report,
): SnapshotIssuer | undefined {
  const { spec } = resource;
  const namespace = resource.ref.namespace as string;
  const keySource = resolveKeySource(spec, namespace, secrets, now, report);
  const claimMappings: ClaimMapping[] = [];
  let mappingsOk = true;
  (spec.claimMappings ?? []).forEach((mapping, i) => {
    const from = splitClaimPath(mapping.from);
    if (from.ok) claimMappings.push({ from: from.value, to: mapping.to });
    else {
      mappingsOk = false;
      report({
        severity: 'error',
        field: `spec.claimMappings[${i}].from`,
        reason: DIAGNOSTIC_REASONS.InvalidClaimPath,
        message: from.problem,
      });
    }
  });
  if (keySource === undefined || !mappingsOk) return undefined;
  return {
    id: issuerId(namespace, resource.ref.name),
    issuer: spec.issuer,
    audiences: spec.audiences ?? [],
    algorithms: spec.algorithms,
    keySource,
    remote: spec.remote,
    clockSkewSeconds: spec.clockSkewSeconds,
    ...(spec.maxTokenAgeSeconds === undefined ? {} : { maxTokenAgeSeconds: spec.maxTokenAgeSeconds }),
    requireExpiration: spec.requireExpiration,
    requiredClaims: spec.requiredClaims ?? [],
    ...(spec.tokenType === undefined ? {} : { tokenType: spec.tokenType }),
    claimMappings,
  };
}

/**
 * The snapshot id of a JWTIssuer.
 *
 * @example
 * ```ts
 * issuerId('shop', 'idp'); // 'shop/idp'
 * ```
 */
export function issuerId(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}
