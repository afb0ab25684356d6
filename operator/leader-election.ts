/**
 * Lease-based leader election (`coordination.k8s.io/v1`), the algorithm of client-go's
 * `tools/leaderelection`: so two operator replicas never publish at once, and a new leader takes
 * over within the lease duration when the old one dies. The decisions are pure functions
 * ({@link observeLease}, {@link isLeaseExpired}, {@link decideLeaseAction}); the loop around them
 * in {@link runLeaderElection} does the I/O.
 *
 * @example
 * ```ts
 * const election = runLeaderElection({ kubeConfig, namespace: 'jwtgate-system', name: 'jwtgate-operator',
 *   identity: process.env.POD_NAME ?? hostname(), log,
 *   onStartedLeading: () => publisher.start(), onStoppedLeading: () => publisher.stop() });
 * process.on('SIGTERM', () => void election.stop());
 * ```
 */
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from '../common/log.ts';
import type { Leadership, LeaseHolder } from './write-fence.ts';

/**
 * client-go's defaults. The lease must outlive the renew deadline, so a leader that cannot renew
 * steps down before anyone else may take over; candidates retry every retry period.
 *
 * @example
 * ```ts
 * LEADER_ELECTION_DEFAULTS.leaseDurationSeconds; // 15
 * ```
 */
export const LEADER_ELECTION_DEFAULTS = Object.freeze({ leaseDurationSeconds: 15, renewDeadlineSeconds: 10, retryPeriodSeconds: 2 });

/** client-go's `JitterFactor`: candidates wait retryPeriod × [1, 1.2) so they do not retry in lock step. */
const JITTER_FACTOR = 1.2;

/**
 * The `spec` of a Lease as the election reads and writes it; times are RFC 3339 strings with
 * microseconds, as the API's MicroTime carries them.
 *
 * @example
 * ```ts
 * const record: LeaseRecord = { holderIdentity: 'op-1', leaseDurationSeconds: 15, leaseTransitions: 0 };
 * ```
 */
export interface LeaseRecord {
  holderIdentity: string;
  leaseDurationSeconds: number;
  leaseTransitions: number;
  acquireTime?: string;
  renewTime?: string;
}

/**
 * A Lease as this candidate last saw it, with the local time at which its record last changed.
 *
 * @example
 * ```ts
 * const seen: ObservedLease = observeLease(undefined, record, '42', Date.now());
 * ```
 */
export interface ObservedLease {
  record: LeaseRecord;
  resourceVersion: string;
  /** Local clock, when this candidate first saw `record`: expiry is measured from here. */
  observedAtMs: number;
}

/**
 * What to do with the Lease now.
 *
 * @example
 * ```ts
 * const action: LeaseAction = decideLeaseAction('op-1', seen, 15, new Date());
 * if (action.kind === 'wait') log.debug({ holder: action.holder }, 'lease held');
 * ```
 */
export type LeaseAction =
  | { kind: 'create'; record: LeaseRecord }
  | { kind: 'update'; record: LeaseRecord; resourceVersion: string }
  | { kind: 'wait'; holder: string };

/**
 * Records a read of the Lease. The observation time moves only when the record changed: as in
 * client-go, expiry is judged by how long *this* process has seen the same record, never by the
 * remote `renewTime`, so a skewed clock on the holder or on us cannot cut a lease short.
 *
 * @example
 * ```ts
 * let seen = observeLease(undefined, record, '41', 1_000);
 * seen = observeLease(seen, record, '41', 5_000); // seen.observedAtMs === 1_000: unchanged record
 * ```
 */
export function observeLease(
  previous: ObservedLease | undefined,
  record: LeaseRecord,
  resourceVersion: string,
  nowMs: number,
): ObservedLease {
  const unchanged = previous !== undefined && sameRecord(previous.record, record);
  return { record, resourceVersion, observedAtMs: unchanged ? previous.observedAtMs : nowMs };
}

/**
 * A lease is free when nobody holds it (a released lease) or its record has not changed for its
 * own `leaseDurationSeconds` since we first saw it.
 *
 * @example
 * ```ts
 * isLeaseExpired(observeLease(undefined, { holderIdentity: 'a', leaseDurationSeconds: 15, leaseTransitions: 0 }, '1', 0), 15_000); // true
 * ```
 */
export function isLeaseExpired(observed: ObservedLease, nowMs: number): boolean {
  if (observed.record.holderIdentity === '') return true;
  return observed.observedAtMs + observed.record.leaseDurationSeconds * 1000 <= nowMs;
}

/**
 * client-go's `tryAcquireOrRenew` as a decision: create an absent Lease, renew our own, take over
 * an expired one (counting a transition), otherwise wait for the holder.
 *
 * @example
 * ```ts
 * decideLeaseAction('op-1', undefined, 15, new Date()).kind; // 'create'
 * ```
 */
export function decideLeaseAction(
  identity: string,
  observed: ObservedLease | undefined,
  leaseDurationSeconds: number,
  now: Date,
): LeaseAction {
  const stamp = formatMicroTime(now);
  if (observed === undefined) {
    return {
      kind: 'create',
      record: { holderIdentity: identity, leaseDurationSeconds, leaseTransitions: 0, acquireTime: stamp, renewTime: stamp },
    };
  }
  const old = observed.record;
  if (old.holderIdentity === identity) {
    return { kind: 'update', resourceVersion: observed.resourceVersion, record: { ...old, leaseDurationSeconds, renewTime: stamp } };
  }
  if (!isLeaseExpired(observed, now.getTime())) return { kind: 'wait', holder: old.holderIdentity };
  return {
    kind: 'update',
    resourceVersion: observed.resourceVersion,
    record: {
      holderIdentity: identity,
      leaseDurationSeconds,
      leaseTransitions: old.leaseTransitions + 1,
      acquireTime: stamp,
      renewTime: stamp,
    },
  };
}

/**
 * The record a leader writes when it stops: no holder and a one-second lease, so a successor
 * takes over at its next retry instead of waiting out the lease (client-go `ReleaseOnCancel`).
 *
 * @example
 * ```ts
 * releasedRecord(record, new Date()).holderIdentity; // ''
 * ```
 */
export function releasedRecord(record: LeaseRecord, now: Date): LeaseRecord {
  const stamp = formatMicroTime(now);
  return { holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: record.leaseTransitions, acquireTime: stamp, renewTime: stamp };
}

/**
 * What {@link runLeaderElection} needs.
 *
 * @example
 * ```ts
 * const opts: LeaderElectionOptions = { kubeConfig, namespace: 'jwtgate-system', name: 'jwtgate-operator',
 *   identity: 'op-1', log, onStartedLeading() {}, onStoppedLeading() {} };
 * ```
 */
export interface LeaderElectionOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  /** Name of the Lease. */
  name: string;
  /** Unique per replica (the Pod name); two replicas with one identity would both lead. */
  identity: string;
  leaseDurationSeconds?: number;
  renewDeadlineSeconds?: number;
  retryPeriodSeconds?: number;
  /** Called each time this replica wins the lease. */
  onStartedLeading: () => void;
  /** Called when it loses the lease, cannot renew within the renew deadline, or stops while leading. */
  onStoppedLeading: () => void;
  log: Logger;
}

/**
 * A running election.
 *
 * @example
 * ```ts
 * if (election.isLeader()) await publish(snapshot);
 * await election.stop(); // releases the lease when leading
 * ```
 */
export interface LeaderElection extends LeaseHolder {
  /** Stops campaigning and, when leading, releases the lease so a successor takes over at once. */
  stop(): Promise<void>;
  /** True only while the last successful renewal is younger than the renew deadline. */
  isLeader(): boolean;
  /**
   * The current term and until when this replica may act as leader (the write fence's input);
   * undefined while not leading or once stopping.
   */
  leadership(): Leadership | undefined;
}

/**
 * Campaigns for the Lease until stopped. A leader renews every retry period and steps down when
 * no renewal succeeded within the renew deadline, or as soon as it sees another holder; it then
 * campaigns again. Writes carry the Lease's resourceVersion, so of two candidates racing for an
 * expired lease exactly one wins (the other gets 409 Conflict).
 *
 * @throws TypeError when the timings cannot be safe (lease ≤ renew deadline ≤ jittered retry).
 * @example
 * ```ts
 * const election = runLeaderElection({ kubeConfig, namespace: 'jwtgate-system', name: 'jwtgate-operator',
 *   identity: 'op-1', log, onStartedLeading: () => log.info('leading'), onStoppedLeading: () => process.exit(0) });
 * ```
 */
export function runLeaderElection(opts: LeaderElectionOptions): LeaderElection {
  const leaseDurationSeconds = opts.leaseDurationSeconds ?? LEADER_ELECTION_DEFAULTS.leaseDurationSeconds;
  const renewDeadlineMs = (opts.renewDeadlineSeconds ?? LEADER_ELECTION_DEFAULTS.renewDeadlineSeconds) * 1000;
  const retryPeriodMs = (opts.retryPeriodSeconds ?? LEADER_ELECTION_DEFAULTS.retryPeriodSeconds) * 1000;
  // client-go's NewLeaderElector checks the same inequalities.
  if (!(leaseDurationSeconds * 1000 > renewDeadlineMs))
    throw new TypeError('leaseDurationSeconds must be greater than renewDeadlineSeconds');
  if (!(renewDeadlineMs > JITTER_FACTOR * retryPeriodMs) || retryPeriodMs <= 0)
    throw new TypeError('renewDeadlineSeconds must be greater than 1.2 × retryPeriodSeconds > 0');
  if (opts.identity === '') throw new TypeError('identity must not be empty');

  const api = opts.kubeConfig.makeApiClient(CoordinationV1Api);
  const where = { name: opts.name, namespace: opts.namespace };
  const log = opts.log.child({ lease: `${opts.namespace}/${opts.name}`, identity: opts.identity });
  let observed: ObservedLease | undefined;
  let leading = false;
  /** Counts the times this replica started leading: a write fence session is bound to one. */
  let term = 0;
  let renewedAtMs = 0;
  let stopped = false;
  let attempts = 0;
  let loopTimer: NodeJS.Timeout | undefined;
  let deadlineTimer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> = Promise.resolve();

  const stepDown = (why: string): void => {
    clearTimeout(deadlineTimer);
    if (!leading) return;
    leading = false;
    log.warn({ why }, 'stopped leading');
    opts.onStoppedLeading();
  };

  /** One read-decide-write round; a result that arrives after a newer round started, or too late to be safe, is ignored. */
  const tryAcquireOrRenew = async (): Promise<void> => {
    const attempt = ++attempts;
    const startedMs = Date.now();
    // Observations are recorded even while stopping, so a release carries the latest resourceVersion.
    const current = (action: () => void): void => {
      if (attempt === attempts) action();
    };
    const lease = await readLease(api, where);
    current(() => {
      observed =
        lease === undefined ? undefined : observeLease(observed, recordOf(lease), lease.metadata?.resourceVersion ?? '', Date.now());
    });
    if (attempt !== attempts || stopped) return;
    const action = decideLeaseAction(opts.identity, observed, leaseDurationSeconds, new Date());
    if (action.kind === 'wait') {
      stepDown(`lease is held by ${action.holder}`);
      return;
    }
    const written = await writeLease(api, where, action);
    current(() => {
      observed = observeLease(observed, recordOf(written), written.metadata?.resourceVersion ?? '', Date.now());
      // The renewal is only as fresh as the moment we sent it: a reply that took longer than the
      // renew deadline proves nothing a rival could not have overtaken.
      if (stopped || Date.now() - startedMs >= renewDeadlineMs) return;
      renewedAtMs = startedMs;
      clearTimeout(deadlineTimer);
      deadlineTimer = setTimeout(() => stepDown('no renewal within the renew deadline'), startedMs + renewDeadlineMs - Date.now());
      if (!leading) {
        leading = true;
        term += 1;
        log.info({ leaseTransitions: action.record.leaseTransitions }, 'started leading');
        opts.onStartedLeading();
      }
    });
  };

  const loop = (): void => {
    if (stopped) return;
    inFlight = withTimeout(tryAcquireOrRenew(), renewDeadlineMs)
      .catch((err: unknown) => {
        const conflict = statusOf(err) === 409;
        log[conflict ? 'debug' : 'warn'](
          { err: messageOf(err) },
          conflict ? 'lease changed under us; another candidate won' : 'lease read or write failed',
        );
      })
      .finally(() => {
        if (stopped) return;
        // The leader renews on the beat; candidates jitter so they do not all retry together.
        const delay = leading ? retryPeriodMs : retryPeriodMs * (1 + Math.random() * (JITTER_FACTOR - 1));
        loopTimer = setTimeout(loop, delay);
      });
  };
  loop();

  const leadership = (): Leadership | undefined => (leading ? { term, untilMs: renewedAtMs + renewDeadlineMs } : undefined);
  return {
    leadership,
    isLeader: () => (leadership()?.untilMs ?? 0) > Date.now(),
    async stop() {
      if (stopped) return;
      stopped = true;
      // Leadership ends now, before the release below: nothing may write while it is in flight.
      const wasLeading = leading;
      leading = false;
      clearTimeout(loopTimer);
      await inFlight;
      clearTimeout(deadlineTimer);
      // Also when a takeover landed while stopping: holding the lease unannounced would make the successor wait it out.
      if (observed?.record.holderIdentity === opts.identity) {
        try {
          await writeLease(api, where, {
            kind: 'update',
            resourceVersion: observed.resourceVersion,
            record: releasedRecord(observed.record, new Date()),
          });
          log.info('released the lease');
        } catch (err) {
          log.warn({ err: messageOf(err) }, 'could not release the lease; a successor waits for it to expire');
        }
      }
      if (wasLeading) opts.onStoppedLeading();
    },
  };
}

/** GETs the Lease; undefined when it does not exist yet. */
async function readLease(api: CoordinationV1Api, where: { name: string; namespace: string }): Promise<V1Lease | undefined> {
  try {
    return await api.readNamespacedLease(where);
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}

/** Creates or replaces the Lease; a replace carries the resourceVersion it was decided on (409 if it moved). */
function writeLease(
  api: CoordinationV1Api,
  where: { name: string; namespace: string },
  action: Exclude<LeaseAction, { kind: 'wait' }>,
): Promise<V1Lease> {
  const r = action.record;
  const body: V1Lease = {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { ...where, ...(action.kind === 'update' ? { resourceVersion: action.resourceVersion } : {}) },
    spec: {
      holderIdentity: r.holderIdentity,
      leaseDurationSeconds: r.leaseDurationSeconds,
      leaseTransitions: r.leaseTransitions,
      acquireTime: r.acquireTime === undefined ? undefined : new V1MicroTime(r.acquireTime),
      renewTime: r.renewTime === undefined ? undefined : new V1MicroTime(r.renewTime),
    },
  };
  return action.kind === 'create'
    ? api.createNamespacedLease({ namespace: where.namespace, body })
    : api.replaceNamespacedLease({ ...where, body });
}

/** The election's view of a Lease's spec; times stay strings (client-node hands MicroTime back unparsed). */
function recordOf(lease: V1Lease): LeaseRecord {
  const spec = lease.spec ?? {};
  const time = (t: unknown): string | undefined =>
    t === undefined || t === null ? undefined : t instanceof Date ? formatMicroTime(t) : String(t);
  return {
    holderIdentity: spec.holderIdentity ?? '',
    leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
    leaseTransitions: spec.leaseTransitions ?? 0,
    acquireTime: time(spec.acquireTime),
    renewTime: time(spec.renewTime),
  };
}

function sameRecord(a: LeaseRecord, b: LeaseRecord): boolean {
  return (
    a.holderIdentity === b.holderIdentity &&
    a.leaseDurationSeconds === b.leaseDurationSeconds &&
    a.leaseTransitions === b.leaseTransitions &&
    a.acquireTime === b.acquireTime &&
    a.renewTime === b.renewTime
  );
}

/** RFC 3339 with microseconds, the wire form of a Kubernetes MicroTime. */
function formatMicroTime(date: Date): string {
  return date.toISOString().replace(/Z$/, '000Z');
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from the apiserver within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function statusOf(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'number' ? err.code : undefined;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
