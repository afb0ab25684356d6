/**
 * Exponential backoff for retries (failed reconciles, informer restarts, re-reads of the
 * published snapshot), capped, as client-go's `ItemExponentialFailureRateLimiter`:
 * base·2^(attempt-1), at most `maxMs`. With `jitter`, a delay is drawn from the upper half of
 * that, so the replicas that lost the apiserver together do not all come back in step.
 *
 * @example
 * ```ts
 * backoffMs(1); // 500
 * backoffMs(4); // 4000
 * backoffMs(4, { baseMs: 500, maxMs: 30_000, jitter: true }); // 2000…4000
 * ```
 */

export interface BackoffSettings {
  baseMs: number;
  maxMs: number;
  /** Draw each delay from [ceiling/2, ceiling] instead of the ceiling itself (default false). */
  jitter?: boolean;
}

export const DEFAULT_BACKOFF: Readonly<BackoffSettings> = Object.freeze({ baseMs: 500, maxMs: 60_000 });

/**
 * Delay before retry number `attempt` (1 for the first retry).
 *
 * @example
 * ```ts
 * backoffMs(30, { baseMs: 100, maxMs: 5000 }); // 5000
 * ```
 */
export function backoffMs(attempt: number, settings: BackoffSettings = DEFAULT_BACKOFF): number {
  const ceiling = Math.min(settings.maxMs, settings.baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  return settings.jitter === true ? Math.round(ceiling / 2 + Math.random() * (ceiling / 2)) : ceiling;
}
