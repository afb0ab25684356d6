/**
 * Turns what the informers hold into the compiler's input: jwtgate objects become
 * {@link Resource}s (metadata trimmed to what the compiler reads), the Secrets that JWTIssuers
 * reference become {@link SecretInput}s with their base64 `data` decoded to bytes,
 * Namespaces become their labels, and Gateway API HTTPRoutes and Gateways are passed with their
 * spec and status (the compiler reads them defensively). Pure, so it is unit-tested without a cluster.
 *
 * @example
 * ```ts
 * const input = toCompileInput({ resources, secrets: secretCache.list(), namespaces: nsCache.list() });
 * compile({ ...input, generation: 1 });
 * ```
 */
import type { V1Namespace, V1Secret } from '@kubernetes/client-node';
import type { CompileInput } from '../compiler/compile.ts';
import type { GatewayApiObject, GatewayInput, HTTPRouteInput, NamespaceInput, Resource, SecretInput } from '../compiler/resources.ts';

/** A jwtgate object as the API returns it (list items and watch events are plain JSON). */
export interface ApiObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    creationTimestamp?: string | Date;
    generation?: number;
    uid?: string;
    resourceVersion?: string;
  };
  spec?: unknown;
  status?: unknown;
}

export interface ClusterObjects {
  /** JWTIssuers, JWTPolicies and ClusterJWTPolicies. */
  resources: readonly ApiObject[];
  secrets: readonly V1Secret[];
  namespaces: readonly V1Namespace[];
  /** Gateway API objects; absent while the Gateway API is not installed (watch-gateway-api.ts). */
  httpRoutes?: readonly ApiObject[];
  gateways?: readonly ApiObject[];
}

/**
 * The compiler input for the current cluster state. Only Secrets a JWTIssuer names are passed
 * (the operator sees every Secret; the compiler needs, and should hold, only those).
 *
 * @example
 * ```ts
 * toCompileInput({ resources: [], secrets: [], namespaces: [] }); // { resources: [], secrets: [], namespaces: [] }
 * ```
 */
export function toCompileInput(
  objects: ClusterObjects,
): Required<Pick<CompileInput, 'resources' | 'secrets' | 'namespaces'>> & Pick<CompileInput, 'httpRoutes' | 'gateways'> {
  const resources = objects.resources.map(toResource);
  const wanted = referencedSecrets(resources);
  const secrets = objects.secrets.filter((s) => wanted.has(`${s.metadata?.namespace ?? ''}/${s.metadata?.name ?? ''}`)).map(toSecretInput);
  return {
    resources,
    secrets,
    namespaces: objects.namespaces.map(toNamespaceInput),
    ...(objects.httpRoutes === undefined ? {} : { httpRoutes: objects.httpRoutes.map((o) => toGatewayApiObject(o) as HTTPRouteInput) }),
    ...(objects.gateways === undefined ? {} : { gateways: objects.gateways.map((o) => toGatewayApiObject(o) as GatewayInput) }),
  };
}

/**
 * A Gateway API object as the compiler takes it: name, namespace and generation, spec and
 * status as the API has them (the compiler checks each field it reads).
 *
 * @example
 * ```ts
 * toGatewayApiObject({ kind: 'HTTPRoute', metadata: { name: 'r', namespace: 'shop', generation: 2 }, spec: {}, status: {} });
 * ```
 */
export function toGatewayApiObject(object: ApiObject): GatewayApiObject<unknown> {
  const m = object.metadata ?? {};
  return {
    ...(object.apiVersion === undefined ? {} : { apiVersion: object.apiVersion }),
    ...(object.kind === undefined ? {} : { kind: object.kind }),
    metadata: {
      name: m.name ?? '',
      ...(m.namespace === undefined ? {} : { namespace: m.namespace }),
      ...(m.generation === undefined ? {} : { generation: m.generation }),
    },
    ...(object.spec === undefined ? {} : { spec: object.spec as Partial<unknown> }),
    ...(object.status === undefined ? {} : { status: object.status as Partial<unknown> }),
  };
}

/**
 * An API object as a compiler {@link Resource}; `creationTimestamp` is RFC 3339 either way.
 *
 * @example
 * ```ts
 * toResource({ apiVersion: 'jwtgate.dev/v1alpha1', kind: 'JWTIssuer', metadata: { name: 'a', namespace: 'b' }, spec: {} });
 * ```
 */
export function toResource(object: ApiObject): Resource {
  const m = object.metadata ?? {};
  const created = m.creationTimestamp instanceof Date ? m.creationTimestamp.toISOString() : m.creationTimestamp;
  return {
    apiVersion: object.apiVersion ?? '',
    kind: object.kind ?? '',
    metadata: {
      name: m.name ?? '',
      ...(m.namespace === undefined ? {} : { namespace: m.namespace }),
      ...(m.labels === undefined ? {} : { labels: m.labels }),
      ...(created === undefined ? {} : { creationTimestamp: created }),
      ...(m.generation === undefined ? {} : { generation: m.generation }),
    },
    spec: object.spec,
  };
}

/**
 * A Secret with its values decoded (the API carries `data` as base64, RFC 4648 §4).
 *
 * @example
 * ```ts
 * toSecretInput({ metadata: { name: 'k', namespace: 'n' }, data: { key: 'aGk=' } }).data.key; // bytes of 'hi'
 * ```
 */
export function toSecretInput(secret: V1Secret): SecretInput {
  const data: Record<string, Uint8Array> = {};
  for (const [key, value] of Object.entries(secret.data ?? {})) data[key] = new Uint8Array(Buffer.from(value, 'base64'));
  return { namespace: secret.metadata?.namespace ?? '', name: secret.metadata?.name ?? '', data };
}

/**
 * A Namespace's name and labels, for ClusterJWTPolicy namespace selectors.
 *
 * @example
 * ```ts
 * toNamespaceInput({ metadata: { name: 'shop', labels: { team: 'a' } } }); // { name: 'shop', labels: { team: 'a' } }
 * ```
 */
export function toNamespaceInput(namespace: V1Namespace): NamespaceInput {
  return { name: namespace.metadata?.name ?? '', labels: { ...(namespace.metadata?.labels ?? {}) } };
}

/**
 * `namespace/name` of every Secret a JWTIssuer's `spec.secretRef` names (an issuer can only
 * name a Secret in its own namespace).
 *
 * @example
 * ```ts
 * referencedSecrets(resources).has('shop/idp-keys'); // true
 * ```
 */
export function referencedSecrets(resources: readonly Resource[]): Set<string> {
  const names = new Set<string>();
  for (const r of resources) {
    if (r.kind !== 'JWTIssuer' || r.spec === null || typeof r.spec !== 'object') continue;
    const ref = (r.spec as { secretRef?: { name?: unknown } }).secretRef;
    if (typeof ref?.name === 'string') names.add(`${r.metadata.namespace ?? ''}/${ref.name}`);
  }
  return names;
}
