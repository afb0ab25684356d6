/**
 * The API clients the operator uses, made once from a KubeConfig, plus the names of jwtgate's
 * API group. Everything that talks to the apiserver takes this bundle, so tests can point it at
 * any cluster.
 *
 * @example
 * ```ts
 * const clients = createKubeClients(kubeConfig);
 * await clients.core.readNamespacedConfigMap({ name: 'jwtgate-snapshot', namespace: 'jwtgate-system' });
 * ```
 */
import { CoreV1Api, CustomObjectsApi, KubernetesObjectApi, type KubeConfig } from '@kubernetes/client-node';
import type { ResourceKind } from '../compiler/resources.ts';

export const GROUP = 'jwtgate.dev';
export const VERSION = 'v1alpha1';
/** Resource (plural) name of each kind, as in crds/*.yaml. */
export const PLURALS: Readonly<Record<ResourceKind, string>> = Object.freeze({
  JWTIssuer: 'jwtissuers',
  JWTPolicy: 'jwtpolicies',
  ClusterJWTPolicy: 'clusterjwtpolicies',
  JWTHostGrant: 'jwthostgrants',
});
/** The field manager of every write (server-side apply ownership, `kubectl get --show-managed-fields`). */
export const FIELD_MANAGER = 'jwtgate-operator';

export interface KubeClients {
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  custom: CustomObjectsApi;
  objects: KubernetesObjectApi;
}

/**
 * @example
 * ```ts
 * const kc = new KubeConfig(); kc.loadFromDefault();
 * const clients = createKubeClients(kc);
 * ```
 */
export function createKubeClients(kubeConfig: KubeConfig): KubeClients {
  return {
    kubeConfig,
    core: kubeConfig.makeApiClient(CoreV1Api),
    custom: kubeConfig.makeApiClient(CustomObjectsApi),
    objects: KubernetesObjectApi.makeApiClient(kubeConfig),
  };
}

/**
 * The HTTP status of a failed API call (client-node's ApiException carries it as `code`).
 *
 * @example
 * ```ts
 * if (apiStatus(error) === 404) return; // already gone
 * ```
 */
export function apiStatus(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}
