/**
 * Holds the runtime being enforced and swaps in new ones atomically. A new snapshot is turned
 * into a complete runtime (router built, regexes compiled, issuer keys loaded) before the swap;
 * until then, and if building fails, the previous runtime keeps answering. Applies are queued,
 * so two reloads never interleave.
 *
 * @example
 * ```ts
 * const store = new RuntimeStore({ log, metrics });
 * await store.apply(parseSnapshot(text)); // 'applied' | 'unchanged'
 * decide(store.current, request, limits);
 * ```
 */
import { buildRouter } from '../match/router.ts';
import { KeyRegistry } from '../keys/key-registry.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { Snapshot } from '../snapshot/types.ts';
import type { Runtime } from './runtime.ts';

export interface Readiness {
  ready: boolean;
  detail: Record<string, unknown>;
}

export class RuntimeStore {
  #current: Runtime | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #keys: KeyRegistry;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #listeners: (() => void)[] = [];

  constructor(deps: { log: Logger; metrics: Metrics; keys?: KeyRegistry }) {
    this.#log = deps.log;
    this.#metrics = deps.metrics;
    this.#keys = deps.keys ?? new KeyRegistry({ log: deps.log, metrics: deps.metrics });
  }

  /** The runtime to decide with; undefined until the first snapshot is applied. */
  get current(): Runtime | undefined {
    return this.#current;
  }

  /** Calls `listener` after every swap (e.g. to clear the verified-token cache). */
  onSwap(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** Builds a runtime for `snapshot` and swaps it in; rejects (keeping the old one) when it cannot be built: pass the error to {@link refuse}. */
  apply(snapshot: Snapshot): Promise<'applied' | 'unchanged'> {
    const next = this.#queue.then(() => this.#apply(snapshot));
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** Counts and logs a snapshot that was refused before it reached {@link apply} (unreadable, bad digest, compile failure). */
  refuse(source: string, error: unknown): void {
    this.#metrics.snapshotReloads.inc({ result: 'invalid' });
    this.#log.error({ source, err: error instanceof Error ? error.message : String(error) }, 'snapshot refused; the previous one keeps serving');
  }

  async #apply(snapshot: Snapshot): Promise<'applied' | 'unchanged'> {
    if (this.#current?.snapshot.sha256 === snapshot.sha256) {
      this.#metrics.snapshotReloads.inc({ result: 'unchanged' });
      return 'unchanged';
    }
    const router = buildRouter(snapshot.policies);
    const keys = await this.#keys.prepare(snapshot.issuers);
    const runtime: Runtime = Object.freeze({ snapshot, router, keys });
    this.#current = runtime;
    this.#keys.retainOnly(runtime.keys);
    this.#metrics.snapshotReloads.inc({ result: 'ok' });
    this.#metrics.snapshotGeneration.set(snapshot.generation);
    this.#log.info(
      { generation: snapshot.generation, sha256: snapshot.sha256, issuers: Object.keys(snapshot.issuers).length, policies: snapshot.policies.length },
      'snapshot applied',
    );
    for (const listener of this.#listeners) listener();
    return 'applied';
  }

  /** Ready once a snapshot is enforced and every issuer has keys or has definitively failed to get them. */
  readiness(): Readiness {
    const runtime = this.#current;
    if (runtime === undefined) return { ready: false, detail: { snapshot: 'none loaded' } };
    const issuers = Object.fromEntries([...runtime.keys].map(([id, keys]) => [id, keys.status()]));
    const ready = Object.values(issuers).every((s) => s.ready);
    return { ready, detail: { generation: runtime.snapshot.generation, sha256: runtime.snapshot.sha256, issuers } };
  }

  async close(): Promise<void> {
    await this.#queue;
    this.#keys.close();
  }
}
