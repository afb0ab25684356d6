/**
 * Exponential backoff for retries (failed reconciles, informer restarts), capped, as
 * client-go's `ItemExponentialFailureRateLimiter`: base·2^(attempt-1), at most `maxMs`.
 *
 * @example
 * ```ts
 * backoffMs(1); // 500
 * backoffMs(4); // 4000
 * ```
 */

export interface BackoffSettings {
  baseMs: number;
  maxMs: number;
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
  return Math.min(settings.maxMs, settings.baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
}
