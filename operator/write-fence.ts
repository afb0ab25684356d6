/**
 * The one gate every write of the operator passes (snapshot head, parts, the keys Secret,
 * garbage collection, statuses, Events): a write is sent only while this replica holds the Lease,
 * checked immediately before each API call, not once per reconcile (a reconcile awaits key
 * refreshes between its writes, and the Lease can be lost meanwhile). Issue 8, case 3.
 *
 * Why "holds the Lease" means *leadership term unchanged and renew deadline not passed*:
 * ```
 *  renewal sent at t0 ──▶ we may write until t0 + renewDeadline            (10 s)
 *                         nobody else may acquire before t0 + leaseDuration (15 s)
 *                         └──── margin for a write to land: leaseDuration − renewDeadline (5 s)
 * ```
 * A rival judges expiry by how long it has seen our last record unchanged, and that record was
 * written after t0, so it cannot take over before t0 + leaseDuration (client-go's argument for
 * renewDeadline < leaseDuration, with clocks that run at the same rate). A leader that cannot
 * renew therefore stops writing before anyone else can start. The term guards the other way: a
 * reconcile that began in one term and resumes after the Lease was lost and won back must not
 * write what it computed in the old term; a {@link WriteSession} is bound to the term it opened in.
 *
 * The fence is the primary guarantee; the resourceVersion preconditions (publish-snapshot.ts,
 * write-status.ts) catch what it cannot: a write that passed the gate and lands late, or a
 * writer whose clock misbehaves. {@link WriteFence.close} shuts the gate for good on SIGTERM, and
 * {@link WriteFence.idle} says when no write is in flight, so the Lease is released only after the
 * last write has been answered.
 *
 * @example
 * ```ts
 * const fence = new WriteFence({ lease: election });
 * const writes = fence.session();
 * await writes.write('status', () => clients.custom.patchNamespacedCustomObjectStatus(request));
 * ```
 */

/** What a write does, a bounded metric label. */
export type WriteKind = 'snapshot' | 'part' | 'secret' | 'cleanup' | 'status' | 'event';

/** Why a write was refused, a bounded metric label. */
export type FenceReason = 'not-leading' | 'renew-deadline-passed' | 'term-changed' | 'closed';

/**
 * This replica's hold on the Lease, as the election knows it.
 *
 * @example
 * ```ts
 * const held: Leadership = { term: 2, untilMs: renewStartedMs + 10_000 };
 * ```
 */
export interface Leadership {
  /** Increases each time this replica starts leading. */
  term: number;
  /** Local clock: the last renewal's start plus the renew deadline. */
  untilMs: number;
}

/**
 * Where the fence learns about leadership ({@link LeaderElection} implements it).
 *
 * @example
 * ```ts
 * const alwaysLeading: LeaseHolder = { leadership: () => ({ term: 1, untilMs: Infinity }) };
 * ```
 */
export interface LeaseHolder {
  /** Undefined while not leading. */
  leadership(): Leadership | undefined;
}

/**
 * A write refused by the fence: this replica must not write now. Not a failure to retry; the
 * next term starts a fresh reconcile.
 *
 * @example
 * ```ts
 * if (error instanceof WriteFencedError) log.info({ reason: error.reason }, 'stopped writing');
 * ```
 */
export class WriteFencedError extends Error {
  readonly code = 'WriteFenced';
  readonly reason: FenceReason;
  readonly kind: WriteKind;

  constructor(kind: WriteKind, reason: FenceReason) {
    super(`${kind} write refused: ${reason}`);
    this.name = 'WriteFencedError';
    this.kind = kind;
    this.reason = reason;
  }
}

/**
 * What {@link WriteFence} needs.
 *
 * @example
 * ```ts
 * const options: WriteFenceOptions = { lease: election, onFenced: (kind, reason) => metrics.fencedWrites.inc({ kind, reason }) };
 * ```
 */
export interface WriteFenceOptions {
  lease: LeaseHolder;
  /** The clock leadership deadlines are read on (default Date.now); tests inject one. */
  now?: () => number;
  /** Called for every refused write (metrics). */
  onFenced?: (kind: WriteKind, reason: FenceReason) => void;
}

/**
 * Writes bound to the leadership term they were opened in.
 *
 * @example
 * ```ts
 * const writes = fence.session();
 * if (!writes.allowed()) return {};
 * await writes.write('event', () => clients.core.createNamespacedEvent({ namespace, body }));
 * ```
 */
export interface WriteSession {
  /** True while a write would pass the gate (no side effects, nothing counted). */
  allowed(): boolean;
  /** Throws {@link WriteFencedError} unless a write may be sent now. */
  check(kind: WriteKind): void;
  /** Checks, then sends `call`; the write counts as in flight until it settles. */
  write<T>(kind: WriteKind, call: () => Promise<T>): Promise<T>;
}

/**
 * @example
 * ```ts
 * const fence = new WriteFence({ lease: election });
 * process.once('SIGTERM', async () => { fence.close(); await fence.idle(); await election.stop(); });
 * ```
 */
export class WriteFence {
  readonly #lease: LeaseHolder;
  readonly #now: () => number;
  readonly #onFenced: ((kind: WriteKind, reason: FenceReason) => void) | undefined;
  #closed = false;
  #inFlight = 0;
  #idleWaiters: (() => void)[] = [];

  /**
   * @example
   * ```ts
   * new WriteFence({ lease: { leadership: () => undefined } }).session().allowed(); // false
   * ```
   */
  constructor(options: WriteFenceOptions) {
    this.#lease = options.lease;
    this.#now = options.now ?? Date.now;
    this.#onFenced = options.onFenced;
  }

  /**
   * Opens a session in the current term (or in none: every write of it is refused).
   *
   * @example
   * ```ts
   * const writes = fence.session();
   * ```
   */
  session(): WriteSession {
    const term = this.#lease.leadership()?.term;
    const refusal = (): FenceReason | undefined => this.#refusal(term);
    const check = (kind: WriteKind): void => {
      const reason = refusal();
      if (reason === undefined) return;
      this.#onFenced?.(kind, reason);
      throw new WriteFencedError(kind, reason);
    };
    return {
      allowed: () => refusal() === undefined,
      check,
      write: async <T>(kind: WriteKind, call: () => Promise<T>): Promise<T> => {
        check(kind);
        this.#inFlight += 1;
        try {
          return await call();
        } finally {
          this.#inFlight -= 1;
          if (this.#inFlight === 0) for (const wake of this.#idleWaiters.splice(0)) wake();
        }
      },
    };
  }

  /**
   * Refuses every write from now on (shutdown); writes already sent are not cancelled.
   *
   * @example
   * ```ts
   * fence.close();
   * ```
   */
  close(): void {
    this.#closed = true;
  }

  /** Writes sent and not yet answered. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Resolves once no write is in flight (at once when none is).
   *
   * @example
   * ```ts
   * fence.close(); await fence.idle(); // now the Lease may be released
   * ```
   */
  idle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #refusal(term: number | undefined): FenceReason | undefined {
    if (this.#closed) return 'closed';
    const held = this.#lease.leadership();
    if (held === undefined || term === undefined) return 'not-leading';
    if (held.term !== term) return 'term-changed';
    if (this.#now() >= held.untilMs) return 'renew-deadline-passed';
    return undefined;
  }
}
