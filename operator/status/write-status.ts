/**
 * Writes a resource's whole `status` through the status subresource (conditions,
 * observedGeneration, a JWTIssuer's `keys`, a JWTHostGrant's `namespaces`, a JWTPolicy's GEP-713
 * `ancestors`: all of it comes from next-status.ts, so a field that is no longer wanted is removed). A JSON patch `add` of
 * `/status` (RFC 6902 §4.1: replaces the member if present) rather than a merge patch, because
 * a merge patch cannot drop a field such as a cleared `keys.lastError` without writing nulls.
 *
 * The patch also sets `metadata.resourceVersion` to the version the status was computed from:
 * the apiserver then applies it only to that version and answers 409 otherwise (a patch that
 * names a resourceVersion is a precondition, never retried by the server). So a status computed
 * from an outdated object, or by a writer that lost the Lease while a newer one already wrote,
 * is refused rather than written over a newer one; the caller re-reads and reconciles again.
 * The write passes the write fence (write-fence.ts) like every other.
 *
 * @example
 * ```ts
 * await writeStatus(clients, writes, { kind: 'JWTPolicy', namespace: 'shop', name: 'api', resourceVersion: '812' }, status);
 * ```
 */
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { ResourceKind } from '../../compiler/resources.ts';
import { apiStatus, GROUP, PLURALS, VERSION, type KubeClients } from '../kube-clients.ts';
import type { WriteSession } from '../write-fence.ts';
import type { ResourceStatus } from './next-status.ts';

export interface StatusTarget {
  kind: ResourceKind;
  namespace?: string;
  name: string;
  /** The version the status was computed from; the write is refused (409) if the object moved on. */
  resourceVersion: string;
}

/**
 * What a status write did.
 *
 * @example
 * ```ts
 * const result: StatusWrite = { outcome: 'written', resourceVersion: '813' };
 * ```
 */
export type StatusWrite =
  | { outcome: 'written'; resourceVersion: string }
  /** The object changed since the status was computed: reconcile again. */
  | { outcome: 'conflict' }
  /** Deleted meanwhile: nothing to report on. */
  | { outcome: 'gone' };

/**
 * Replaces the status if the object is still at `target.resourceVersion`.
 *
 * @throws WriteFencedError when this replica may not write.
 * @example
 * ```ts
 * const { outcome } = await writeStatus(clients, writes, { kind: 'ClusterJWTPolicy', name: 'corp', resourceVersion: '9' }, { conditions: [] });
 * ```
 */
export async function writeStatus(
  clients: KubeClients,
  writes: WriteSession,
  target: StatusTarget,
  status: ResourceStatus,
): Promise<StatusWrite> {
  const body = [
    { op: 'add', path: '/metadata/resourceVersion', value: target.resourceVersion },
    { op: 'add', path: '/status', value: status },
  ];
  const options = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
  const where = { group: GROUP, version: VERSION, plural: PLURALS[target.kind], name: target.name, body };
  try {
    const written = (await writes.write('status', () =>
      target.namespace === undefined
        ? clients.custom.patchClusterCustomObjectStatus(where, options)
        : clients.custom.patchNamespacedCustomObjectStatus({ ...where, namespace: target.namespace }, options),
    )) as { metadata?: { resourceVersion?: string } };
    return { outcome: 'written', resourceVersion: written.metadata?.resourceVersion ?? '' };
  } catch (error) {
    if (apiStatus(error) === 404) return { outcome: 'gone' };
    if (apiStatus(error) === 409) return { outcome: 'conflict' };
    throw error;
  }
}
