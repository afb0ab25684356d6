/**
 * Counts a leader-election candidate's rounds: every round of operator/leader-election.ts starts
 * by reading the Lease, so a spy on `readNamespacedLease` of the clients made from this KubeConfig
 * says that a candidate has tried (and, when nothing changed hands, that it found the Lease held).
 * A test that asserts "no change of hands" waits for these rounds instead of sleeping.
 *
 * @example
 * ```ts
 * let rounds = 0;
 * runLeaderElection({ kubeConfig: spyOnLeaseReads(kubeConfig, () => rounds++), ... });
 * ```
 */
import { CoordinationV1Api, type KubeConfig } from '@kubernetes/client-node';

export function spyOnLeaseReads(kubeConfig: KubeConfig, onRead: () => void): KubeConfig {
  const spied = Object.create(kubeConfig) as KubeConfig;
  spied.makeApiClient = ((type: new (...args: never[]) => unknown) => {
    const api = kubeConfig.makeApiClient(type as never) as object;
    if (!(api instanceof CoordinationV1Api)) return api;
    const read = api.readNamespacedLease.bind(api);
    api.readNamespacedLease = ((...args: Parameters<typeof read>) => {
      onRead();
      return read(...args);
    }) as typeof read;
    return api;
  }) as KubeConfig['makeApiClient'];
  return spied;
}
