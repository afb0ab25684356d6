/**
 * Writes a resource's whole `status` through the status subresource. A JSON patch `add` of
 * `/status` (RFC 6902 §4.1: replaces the member if present) rather than a merge patch, because
 * a merge patch cannot drop a field such as a cleared `keys.lastError` without writing nulls.
 *
 * @example
 * ```ts
 * await writeStatus(clients, { kind: 'JWTPolicy', namespace: 'shop', name: 'api' }, status);
 * ```
 */
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { ResourceKind } from '../../compiler/resources.ts';
import { apiStatus, GROUP, PLURALS, VERSION, type KubeClients } from '../kube-clients.ts';
import type { ResourceStatus } from './next-status.ts';

export interface StatusTarget {
  kind: ResourceKind;
  namespace?: string;
  name: string;
}

/**
 * Replaces the status; a resource deleted meanwhile (404) is not an error.
 *
 * @example
 * ```ts
 * await writeStatus(clients, { kind: 'ClusterJWTPolicy', name: 'corp' }, { conditions: [] });
 * ```
 */
export async function writeStatus(clients: KubeClients, target: StatusTarget, status: ResourceStatus): Promise<void> {
  const body = [{ op: 'add', path: '/status', value: status }];
  const options = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
  const where = { group: GROUP, version: VERSION, plural: PLURALS[target.kind], name: target.name, body };
  try {
    if (target.namespace === undefined) await clients.custom.patchClusterCustomObjectStatus(where, options);
    else await clients.custom.patchNamespacedCustomObjectStatus({ ...where, namespace: target.namespace }, options);
  } catch (error) {
    if (apiStatus(error) !== 404) throw error;
  }
}
