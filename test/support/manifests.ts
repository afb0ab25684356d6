/**
 * Manifest text for tests: jwtgate resources and Secrets built as objects and serialized with
 * `yaml`, so quoting is always right and only the boilerplate (apiVersion, kind, metadata) is
 * hidden; the spec stays at the call site, where the test's intent is.
 *
 * @example
 * ```ts
 * await writeFile(join(dir, 'all.yaml'), joinManifests(
 *   jwtIssuer({ name: 'idp', namespace: 'shop', spec: { issuer: TEST_ISSUER, algorithms: ['RS256'], jwksUri } }),
 *   jwtPolicy({ name: 'orders', namespace: 'shop', spec: { targets: [{ hosts: ['orders.test'] }] } }),
 * ));
 * ```
 */
import { stringify } from 'yaml';
import type { JwkSet } from '../../snapshot/types.ts';
import { API_VERSION, type ClusterJWTPolicySpec, type JWTIssuerSpec, type JWTPolicySpec } from '../../compiler/resources.ts';

/** A spec as a manifest author writes it: any field may be left out, the CRD schema fills defaults. */
type Authored<T> = T extends (infer U)[] ? Authored<U>[] : T extends object ? { [K in keyof T]?: Authored<T[K]> } : T;

/**
 * JWTIssuer.spec as written: `issuer` and `algorithms` are required by the CRD, the rest optional.
 *
 * @example
 * ```ts
 * const spec: IssuerManifestSpec = { issuer: 'https://idp.test', algorithms: ['ES256'], jwks: jwksOf(key) };
 * ```
 */
export type IssuerManifestSpec = Omit<Authored<JWTIssuerSpec>, 'jwks'> & Pick<JWTIssuerSpec, 'issuer' | 'algorithms'> & { jwks?: JwkSet };

/**
 * JWTPolicy.spec as written: `targets` is required by the CRD, the rest optional.
 *
 * @example
 * ```ts
 * const spec: PolicyManifestSpec = { mode: 'Disabled', targets: [{ hosts: ['api.test'], paths: [{ prefix: '/public' }] }] };
 * ```
 */
export type PolicyManifestSpec = Authored<JWTPolicySpec> & Pick<JWTPolicySpec, 'targets'>;

/**
 * A namespaced object's identity and body.
 *
 * @example
 * ```ts
 * const input: ManifestInput<PolicyManifestSpec> = { name: 'orders', namespace: 'shop', spec: { targets: [] } };
 * ```
 */
export interface ManifestInput<Spec> {
  name: string;
  namespace: string;
  spec: Spec;
}

/** `namespace` undefined: a cluster-scoped object. */
function manifest(apiVersion: string, kind: string, name: string, namespace: string | undefined, body: Record<string, unknown>): string {
  // YAML 1.1 quoting, as kubectl reads manifests: a JWK's `n` and `y` keys must come out quoted.
  return stringify({ apiVersion, kind, metadata: namespace === undefined ? { name } : { name, namespace }, ...body }, { version: '1.1' });
}

/**
 * A JWTIssuer manifest as YAML text.
 *
 * @example
 * ```ts
 * jwtIssuer({ name: 'idp', namespace: 'shop', spec: { issuer: TEST_ISSUER, audiences: [TEST_AUDIENCE], algorithms: ['RS256'], jwksUri } });
 * ```
 */
export function jwtIssuer({ name, namespace, spec }: ManifestInput<IssuerManifestSpec>): string {
  return manifest(API_VERSION, 'JWTIssuer', name, namespace, { spec });
}

/**
 * A JWTPolicy manifest as YAML text.
 *
 * @example
 * ```ts
 * jwtPolicy({ name: 'orders', namespace: 'shop', spec: { targets: [{ hosts: ['orders.test'] }], issuers: { anyOf: [{ name: 'idp' }] } } });
 * ```
 */
export function jwtPolicy({ name, namespace, spec }: ManifestInput<PolicyManifestSpec>): string {
  return manifest(API_VERSION, 'JWTPolicy', name, namespace, { spec });
}

/**
 * A ClusterJWTPolicy manifest as YAML text (cluster-scoped: no namespace; its issuer references
 * name their namespace).
 *
 * @example
 * ```ts
 * clusterJwtPolicy('baseline', { enforcement: 'Default', targets: [{ hosts: ['a.test'] }], issuers: { anyOf: [{ name: 'idp', namespace: 'shop' }] } });
 * ```
 */
export function clusterJwtPolicy(name: string, spec: PolicyManifestSpec & Partial<Pick<ClusterJWTPolicySpec, 'enforcement' | 'namespaceSelector'>>): string {
  return manifest(API_VERSION, 'ClusterJWTPolicy', name, undefined, { spec });
}

/**
 * An Opaque Secret manifest as YAML text; `data` values are raw bytes, base64-encoded here the
 * way a Secret's `data` carries them.
 *
 * @example
 * ```ts
 * k8sSecret({ name: 'hmac-secret', namespace: 'shop', data: { secret: Buffer.from(key.jwk.k, 'base64url') } });
 * ```
 */
export function k8sSecret({ name, namespace, data }: { name: string; namespace: string; data: Record<string, Uint8Array> }): string {
  const encoded = Object.fromEntries(Object.entries(data).map(([key, bytes]) => [key, Buffer.from(bytes).toString('base64')]));
  return manifest('v1', 'Secret', name, namespace, { type: 'Opaque', data: encoded });
}

/**
 * Several manifests as one multi-document YAML file.
 *
 * @example
 * ```ts
 * await writeFile(join(dir, 'all.yaml'), joinManifests(issuerYaml, policyYaml));
 * ```
 */
export function joinManifests(...docs: string[]): string {
  return docs.join('---\n');
}
