/**
 * A bounded cache of verified tokens, so a hot token skips the signature check. An entry never
 * outlives the token's `exp` (nor its `maxTokenAgeSeconds`), and lives at most a minute, which
 * bounds how long a key removed at the IdP can still vouch for a token it signed.
 *
 * The key is sha256(token) + the issuer's verification settings + the audiences checked, so the
 * same token checked for another audience, or under a changed issuer config, is verified again.
 *
 * @example
 * ```ts
 * const cache = new TokenCache({ metrics });
 * await verifyToken(token, candidates, { cache });
 * ```
 */
import { createHash } from 'node:crypto';
import { LRUCache, type Perf } from 'lru-cache';
import type { Metrics } from '../metrics.ts';
import { canonicalJson } from '../../snapshot/digest.ts';
import type { SnapshotIssuer } from '../../snapshot/types.ts';

/** What verification proved: the issuer that vouched for the token and its protected contents. */
export interface VerifiedToken {
  issuerId: string;
  header: Readonly<Record<string, unknown>>;
  claims: Readonly<Record<string, unknown>>;
}

export const DEFAULT_TOKEN_CACHE_ENTRIES = 10_000;
export const MAX_TOKEN_CACHE_TTL_MS = 60_000;

export class TokenCache {
  readonly #entries: LRUCache<string, VerifiedToken>;
  readonly #metrics: Metrics | undefined;
  /** Snapshot issuer objects are immutable, so their digest is computed once per object. */
  readonly #configDigests = new WeakMap<SnapshotIssuer, string>();

  /**
   * `clock` is the millisecond clock entries age by (default `performance`, as lru-cache's):
   * tests pass the mocked `Date`, since node:test's mock timers do not mock `performance.now()`.
   *
   * @example
   * ```ts
   * const cache = new TokenCache({ max: 1000, metrics });
   * ```
   */
  constructor(options: { max?: number; metrics?: Metrics; clock?: Perf } = {}) {
    this.#entries = new LRUCache({
      max: options.max ?? DEFAULT_TOKEN_CACHE_ENTRIES,
      ttl: MAX_TOKEN_CACHE_TTL_MS,
      ...(options.clock === undefined ? {} : { perf: options.clock }),
    });
    this.#metrics = options.metrics;
  }

  /**
   * The cached verification of `token` by `config` for `audiences`, if still fresh.
   *
   * @example
   * ```ts
   * cache.lookup(token, issuer, ['api']); // VerifiedToken | undefined
   * ```
   */
  lookup(token: string, config: SnapshotIssuer, audiences: readonly string[] | undefined): VerifiedToken | undefined {
    const hit = this.#entries.get(this.#keyOf(token, config, audiences));
    this.#metrics?.tokenCache.inc({ result: hit === undefined ? 'miss' : 'hit' });
    return hit;
  }

  /**
   * Remembers a verification until the earliest of `exp`, `iat + maxTokenAgeSeconds` and one
   * minute from `now`; not at all when that is already past.
   *
   * @example
   * ```ts
   * cache.remember(token, issuer, ['api'], verified, new Date());
   * ```
   */
  remember(token: string, config: SnapshotIssuer, audiences: readonly string[] | undefined, verified: VerifiedToken, now: Date): void {
    const { exp, iat } = verified.claims;
    const limits = [MAX_TOKEN_CACHE_TTL_MS];
    if (typeof exp === 'number') limits.push(exp * 1000 - now.getTime());
    if (config.maxTokenAgeSeconds !== undefined && typeof iat === 'number') {
      limits.push((iat + config.maxTokenAgeSeconds) * 1000 - now.getTime());
    }
    const ttl = Math.floor(Math.min(...limits));
    if (ttl > 0) this.#entries.set(this.#keyOf(token, config, audiences), verified, { ttl });
  }

  /**
   * Forgets everything, e.g. after a snapshot swap so no token outlives a key rotation there.
   *
   * @example
   * ```ts
   * cache.clear();
   * ```
   */
  clear(): void {
    this.#entries.clear();
  }

  /**
   * @example
   * ```ts
   * cache.size; // 0
   * ```
   */
  get size(): number {
    return this.#entries.size;
  }

  #keyOf(token: string, config: SnapshotIssuer, audiences: readonly string[] | undefined): string {
    let digest = this.#configDigests.get(config);
    if (digest === undefined) {
      const { cachedKeys: _operatorRefreshOnly, ...settings } = config;
      digest = createHash('sha256').update(canonicalJson(settings)).digest('base64url');
      this.#configDigests.set(config, digest);
    }
    const tokenHash = createHash('sha256').update(token).digest('base64url');
    return `${tokenHash} ${config.id} ${digest} ${audiences === undefined ? '*' : JSON.stringify(audiences)}`;
  }
}
