/**
 * Kubernetes Events (core/v1) about jwtgate resources, de-duplicated: the same reason and
 * message for the same object is recorded at most once per window, as client-go's
 * EventCorrelator spares the apiserver from an Event per reconcile. The operator only records
 * on state changes anyway; this is the second line of defence for repeating errors. Events are
 * writes like any other: they pass the write fence (write-fence.ts), so a replica that lost the
 * Lease records none.
 *
 * @example
 * ```ts
 * const events = new EventRecorder(clients, { component: 'jwtgate-operator', instance: hostname(), log });
 * await events.record(writes, object, 'Warning', 'SecretNotFound', 'Secret shop/idp-keys does not exist');
 * ```
 */
import type { CoreV1Event } from '@kubernetes/client-node';
import type { Logger } from '../common/log.ts';
import { DEFAULT_NAMESPACE } from '../compiler/resources.ts';
import type { KubeClients } from './kube-clients.ts';
import { WriteFencedError, type WriteSession } from './write-fence.ts';

/** The object an Event is about. */
export interface EventSubject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
}

export interface EventRecorderOptions {
  component: string;
  /** This replica (pod name). */
  instance: string;
  log: Logger;
  /** Same object, reason and message within this window are dropped (default 10 min). */
  windowMs?: number;
}

export class EventRecorder {
  readonly #clients: KubeClients;
  readonly #options: EventRecorderOptions;
  readonly #seen = new Map<string, number>();

  /**
   * @example
   * ```ts
   * new EventRecorder(clients, { component: 'jwtgate-operator', instance: 'pod-1', log });
   * ```
   */
  constructor(clients: KubeClients, options: EventRecorderOptions) {
    this.#clients = clients;
    this.#options = options;
  }

  /**
   * Records an Event unless the same one was recorded within the window. An API failure is only
   * logged (an Event is best effort and must not fail a reconcile); a write the fence refuses
   * throws {@link WriteFencedError}, which ends the reconcile.
   *
   * @example
   * ```ts
   * await events.record(writes, subject, 'Normal', 'Enforced', 'Ready: enforced by the published snapshot');
   * ```
   */
  async record(writes: WriteSession, subject: EventSubject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const now = Date.now();
    const windowMs = this.#options.windowMs ?? 10 * 60_000;
    for (const [key, at] of this.#seen) if (now - at > windowMs) this.#seen.delete(key);
    const key = `${subject.uid ?? `${subject.kind}/${subject.namespace}/${subject.name}`}\u0000${reason}\u0000${message}`;
    if (this.#seen.has(key)) return;
    this.#seen.set(key, now);
    // Events about cluster-scoped objects live in `default`, as kubectl describe expects.
    const namespace = subject.namespace ?? DEFAULT_NAMESPACE;
    const time = new Date(now);
    const body: CoreV1Event = {
      metadata: { generateName: `${subject.name}.`, namespace },
      involvedObject: {
        apiVersion: subject.apiVersion,
        kind: subject.kind,
        name: subject.name,
        namespace: subject.namespace,
        uid: subject.uid,
      },
      type,
      reason,
      message: message.slice(0, 1024),
      firstTimestamp: time,
      lastTimestamp: time,
      count: 1,
      source: { component: this.#options.component },
      reportingComponent: this.#options.component,
      reportingInstance: this.#options.instance,
    };
    try {
      await writes.write('event', () => this.#clients.core.createNamespacedEvent({ namespace, body }));
    } catch (error) {
      this.#seen.delete(key);
      if (error instanceof WriteFencedError) throw error;
      this.#options.log.warn({ err: error, reason, object: `${subject.kind}/${subject.name}` }, 'could not record an Event');
    }
  }
}
