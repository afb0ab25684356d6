/**
 * One leader-election candidate as its own process, so a test can kill it with SIGKILL (no
 * release, as when a node dies) and watch another process take over. Prints one JSON line per
 * transition, and one per round of the election (it read the Lease):
 * `{"event":"started"|"stopped"|"round","identity":…,"at":<epoch ms>}`; SIGTERM stops it
 * gracefully (releasing the lease).
 *
 * @example
 * ```sh
 * node test/support/run-elector.ts KUBECONFIG NAMESPACE LEASE IDENTITY '{"leaseDurationSeconds":3}'
 * ```
 */
import { KubeConfig } from '@kubernetes/client-node';
import { createLogger } from '../../common/log.ts';
import { runLeaderElection } from '../../operator/leader-election.ts';
import { spyOnLeaseReads } from './lease-read-spy.ts';

const [kubeconfigPath, namespace, name, identity, timings = '{}'] = process.argv.slice(2);
if (!kubeconfigPath || !namespace || !name || !identity)
  throw new TypeError('usage: run-elector.ts KUBECONFIG NAMESPACE LEASE IDENTITY [TIMINGS_JSON]');

const kubeConfig = new KubeConfig();
kubeConfig.loadFromFile(kubeconfigPath);
const report = (event: string) => process.stdout.write(`${JSON.stringify({ event, identity, at: Date.now() })}\n`);
const election = runLeaderElection({
  kubeConfig: spyOnLeaseReads(kubeConfig, () => report('round')),
  namespace,
  name,
  identity,
  log: createLogger('silent'),
  ...(JSON.parse(timings) as { leaseDurationSeconds?: number; renewDeadlineSeconds?: number; retryPeriodSeconds?: number }),
  onStartedLeading: () => report('started'),
  onStoppedLeading: () => report('stopped'),
});
process.once('SIGTERM', () => void election.stop().then(() => process.exit(0)));
