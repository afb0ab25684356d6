/**
 * The reconcile queue (controller-runtime's, reduced to what one operator needs): informer
 * events only `add` a key; keys are de-duplicated and debounced, handled one at a time, retried
 * with exponential backoff when the handler throws, and re-run after `requeueAfter` when it asks.
 *
 * ```
 *  add(k) ──▶ pending k, due = min(due, now + delay) ──timer──▶ handle(k)
 *                  ▲                                             │ throws: due = now + backoff(n)
 *                  └──────── added while running: run again ─────┘ { requeueAfter }: due = now + it
 * ```
 *
 * @example
 * ```ts
 * const queue = new WorkQueue({ handle: async (key) => reconcile(key), log });
 * informer.on('change', () => queue.add('snapshot'));
 * await queue.stop();
 * ```
 */
import type { Logger } from '../common/log.ts';
import { backoffMs, DEFAULT_BACKOFF, type BackoffSettings } from '../common/backoff.ts';

/** What a handler returns; a thrown error means retry with backoff. */
export interface ReconcileResult {
  /** Run this key again after this many milliseconds (level-based resync, key refresh). */
  requeueAfter?: number;
}

export interface WorkQueueOptions {
  handle: (key: string) => Promise<ReconcileResult>;
  log: Logger;
  /** How long a new event waits for others to fold into the same run (default 200 ms). */
  debounceMs?: number;
  backoff?: BackoffSettings;
  /** Called after every run, for metrics. */
  onResult?: (key: string, result: 'success' | 'error', seconds: number) => void;
}

interface Pending {
  due: number;
  timer: NodeJS.Timeout;
}

export class WorkQueue {
  readonly #options: WorkQueueOptions;
  readonly #debounceMs: number;
  readonly #pending = new Map<string, Pending>();
  readonly #failures = new Map<string, number>();
  readonly #ready: string[] = [];
  #running: Promise<void> | undefined;
  #stopped = false;

  /**
   * @example
   * ```ts
   * new WorkQueue({ handle, log, debounceMs: 100 });
   * ```
   */
  constructor(options: WorkQueueOptions) {
    this.#options = options;
    this.#debounceMs = options.debounceMs ?? 200;
  }

  /**
   * Schedules `key` in `delayMs` (default: the debounce). A key already pending keeps the
   * earlier of the two times, so a burst of events becomes one run.
   *
   * @example
   * ```ts
   * queue.add('snapshot'); queue.add('snapshot'); // one run, ~200 ms later
   * ```
   */
  add(key: string, delayMs: number = this.#debounceMs): void {
    if (this.#stopped) return;
    const due = Date.now() + delayMs;
    const pending = this.#pending.get(key);
    if (pending !== undefined) {
      if (pending.due <= due) return;
      clearTimeout(pending.timer);
    }
    const timer = setTimeout(() => this.#makeReady(key), delayMs);
    this.#pending.set(key, { due, timer });
  }

  /** Keys waiting for their time (for tests and readiness). */
  get size(): number {
    return this.#pending.size + this.#ready.length;
  }

  /**
   * Drops pending keys and waits for the run in progress.
   *
   * @example
   * ```ts
   * await queue.stop();
   * ```
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const { timer } of this.#pending.values()) clearTimeout(timer);
    this.#pending.clear();
    this.#ready.length = 0;
    await this.#running;
  }

  #makeReady(key: string): void {
    this.#pending.delete(key);
    if (!this.#ready.includes(key)) this.#ready.push(key);
    this.#running ??= this.#drain().finally(() => {
      this.#running = undefined;
    });
  }

  async #drain(): Promise<void> {
    for (let key = this.#ready.shift(); key !== undefined && !this.#stopped; key = this.#ready.shift()) {
      await this.#run(key);
    }
  }

  async #run(key: string): Promise<void> {
    const started = performance.now();
    try {
      const { requeueAfter } = await this.#options.handle(key);
      this.#failures.delete(key);
      this.#options.onResult?.(key, 'success', (performance.now() - started) / 1000);
      if (requeueAfter !== undefined) this.add(key, requeueAfter);
    } catch (error) {
      const attempt = (this.#failures.get(key) ?? 0) + 1;
      this.#failures.set(key, attempt);
      const delay = backoffMs(attempt, this.#options.backoff ?? DEFAULT_BACKOFF);
      this.#options.onResult?.(key, 'error', (performance.now() - started) / 1000);
      this.#options.log.warn({ key, attempt, retryInMs: delay, err: error }, 'reconcile failed; retrying with backoff');
      this.add(key, delay);
    }
  }
}
