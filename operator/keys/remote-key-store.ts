/**
 * The operator's copy of every remote issuer's keys: fetched when an issuer appears or its key
 * settings change, refreshed on the IdP's schedule (see refresh-delay.ts), kept when a fetch
 * fails, and embedded in the snapshot as `cachedKeys` so new authz replicas verify at once and
 * N replicas do not each hammer the IdP at start.
 *
 * `cachedKeys.fetchedAt` is when the current key SET was first fetched, not the last fetch: the
 * snapshot digest covers it, and refetching identical keys must not publish a new snapshot. The
 * last fetch time is reported on the JWTIssuer's status instead.
 *
 * @example
 * ```ts
 * const store = new RemoteKeyStore({ log });
 * await store.refreshDue(Object.values(snapshot.issuers));
 * const withKeys = store.embed(snapshot);
 * setTimeout(again, store.nextRefreshInMs());
 * ```
 */
import { keyConfigOf } from '../../snapshot/key-config.ts';
import { KeyFetchError } from '../../common/keys/fetch-json.ts';
import type { Logger } from '../../common/log.ts';
import { canonicalJson, snapshotDigest } from '../../snapshot/digest.ts';
import type { JwkSet, Snapshot, SnapshotIssuer } from '../../snapshot/types.ts';
import { fetchRemoteKeys, type FetchedKeys } from './fetch-remote-keys.ts';
import { MIN_REFRESH_SECONDS, refreshDelaySeconds } from './refresh-delay.ts';

/** What the operator knows about one remote issuer's keys (reported on the JWTIssuer). */
export interface RemoteKeyState {
  /** Last good keys; absent until a fetch succeeded. */
  jwks?: JwkSet;
  /** When {@link jwks} was first fetched (ISO 8601); unchanged while refetches return the same set. */
  keysSince?: string;
  /** When the last fetch finished, successful or not (ISO 8601). */
  lastFetchTime?: string;
  /** The last fetch's error; cleared by a success. */
  lastError?: string;
  /** Keys refused by screening at the last successful fetch. */
  rejectedKeys: number;
}

export interface RemoteKeyStoreOptions {
  log: Logger;
  /** The fetcher (tests swap it). */
  fetchKeys?: (issuer: SnapshotIssuer) => Promise<FetchedKeys>;
  /** Clock in ms (tests freeze it). */
  now?: () => number;
  /** Lower bound of the refresh period (default {@link MIN_REFRESH_SECONDS}); tests lower it. */
  minRefreshSeconds?: number;
}

interface Entry extends RemoteKeyState {
  /** The key-deciding config the state belongs to; a change means fetch again at once. */
  config: string;
  nextFetchAt: number;
}

export class RemoteKeyStore {
  readonly #entries = new Map<string, Entry>();
  readonly #log: Logger;
  readonly #fetchKeys: (issuer: SnapshotIssuer) => Promise<FetchedKeys>;
  readonly #now: () => number;
  readonly #minRefreshSeconds: number;

  /**
   * @example
   * ```ts
   * new RemoteKeyStore({ log, minRefreshSeconds: 1 });
   * ```
   */
  constructor(options: RemoteKeyStoreOptions) {
    this.#log = options.log;
    this.#fetchKeys = options.fetchKeys ?? fetchRemoteKeys;
    this.#now = options.now ?? Date.now;
    this.#minRefreshSeconds = options.minRefreshSeconds ?? MIN_REFRESH_SECONDS;
  }

  /**
   * Fetches, in parallel, the keys of each remote issuer that is new, changed or due; forgets
   * issuers that are gone. Never throws: a failure is kept in the issuer's state.
   *
   * @example
   * ```ts
   * await store.refreshDue(Object.values(compiled.snapshot.issuers));
   * ```
   */
  async refreshDue(issuers: readonly SnapshotIssuer[]): Promise<void> {
    const remote = issuers.filter((i) => i.keySource.kind !== 'static');
    const ids = new Set(remote.map((i) => i.id));
    for (const id of this.#entries.keys()) if (!ids.has(id)) this.#entries.delete(id);
    const now = this.#now();
    await Promise.all(
      remote.map(async (issuer) => {
        const config = canonicalJson(keyConfigOf(issuer));
        let entry = this.#entries.get(issuer.id);
        if (entry === undefined || entry.config !== config) {
          entry = { config, nextFetchAt: now, rejectedKeys: 0 };
          this.#entries.set(issuer.id, entry);
        }
        if (entry.nextFetchAt <= now) await this.#fetchInto(issuer, entry);
      }),
    );
  }

  /**
   * Takes over the last good keys another replica embedded in the published snapshot, for each
   * remote issuer this store does not know yet or knows an OLDER key set of (a replica that led
   * before and leads again); a newly adopted set is refetched at once by the next
   * {@link refreshDue}. Without it a new leader that cannot reach an IdP would publish that
   * issuer without keys, or with keys older than those in force. Called on every reconcile: the
   * leader's own published keys are never newer than its entries, so for it this is a no-op.
   *
   * @example
   * ```ts
   * store.adopt(Object.values(published.issuers));
   * await store.refreshDue(Object.values(compiled.snapshot.issuers)); // a failure keeps the adopted keys
   * ```
   */
  adopt(published: readonly SnapshotIssuer[]): void {
    const now = this.#now();
    for (const issuer of published) {
      const cached = issuer.cachedKeys;
      if (issuer.keySource.kind === 'static' || cached === undefined) continue;
      const known = this.#entries.get(issuer.id)?.keysSince;
      if (known !== undefined && !(Date.parse(cached.fetchedAt) > Date.parse(known))) continue;
      // The config travels with the keys: refreshDue drops them if the issuer's key source changed since.
      this.#entries.set(issuer.id, {
        config: canonicalJson(keyConfigOf(issuer)),
        nextFetchAt: now,
        rejectedKeys: 0,
        jwks: cached.jwks,
        keysSince: cached.fetchedAt,
      });
    }
  }

  /**
   * The state of one issuer, for its status.
   *
   * @example
   * ```ts
   * store.state('shop/idp')?.lastError; // 'http://127.0.0.1:1/jwks could not be fetched: …'
   * ```
   */
  state(issuerId: string): RemoteKeyState | undefined {
    const entry = this.#entries.get(issuerId);
    if (entry === undefined) return undefined;
    const { config: _config, nextFetchAt: _next, ...state } = entry;
    return state;
  }

  /**
   * Milliseconds until the earliest due refresh (0 if one is overdue), or undefined with no
   * remote issuer.
   *
   * @example
   * ```ts
   * return { requeueAfter: store.nextRefreshInMs() };
   * ```
   */
  nextRefreshInMs(): number | undefined {
    let next: number | undefined;
    for (const entry of this.#entries.values()) next = Math.min(next ?? Infinity, entry.nextFetchAt);
    return next === undefined ? undefined : Math.max(0, next - this.#now());
  }

  /**
   * The snapshot with each remote issuer's last good keys as `cachedKeys`, and its digest
   * recomputed (the digest covers the issuers).
   *
   * @example
   * ```ts
   * store.embed(snapshot).issuers['shop/idp']?.cachedKeys?.jwks.keys.length; // 2
   * ```
   */
  embed(snapshot: Snapshot): Snapshot {
    const issuers: Record<string, SnapshotIssuer> = {};
    for (const [id, issuer] of Object.entries(snapshot.issuers)) {
      const entry = this.#entries.get(id);
      issuers[id] =
        entry?.jwks !== undefined && entry.keysSince !== undefined && issuer.keySource.kind !== 'static'
          ? { ...issuer, cachedKeys: { jwks: entry.jwks, fetchedAt: entry.keysSince } }
          : issuer;
    }
    const next = { ...snapshot, issuers };
    return { ...next, sha256: snapshotDigest(next) };
  }

  async #fetchInto(issuer: SnapshotIssuer, entry: Entry): Promise<void> {
    const at = new Date(this.#now()).toISOString();
    try {
      const fetched = await this.#fetchKeys(issuer);
      if (entry.jwks === undefined || canonicalJson(entry.jwks) !== canonicalJson(fetched.jwks)) {
        entry.jwks = fetched.jwks;
        entry.keysSince = at;
        this.#log.info({ issuer: issuer.id, keys: fetched.jwks.keys.length }, 'issuer keys changed');
      }
      entry.lastFetchTime = at;
      entry.rejectedKeys = fetched.rejected.length;
      delete entry.lastError;
      entry.nextFetchAt = this.#now() + refreshDelaySeconds(fetched.maxAge, issuer.remote.refreshSeconds, this.#minRefreshSeconds) * 1000;
    } catch (error) {
      if (!(error instanceof KeyFetchError)) throw error;
      entry.lastFetchTime = at;
      entry.lastError = error.message;
      // Retry a failure sooner than the regular refresh, but only after the issuer's cooldown: an
      // IdP in trouble is not helped by a storm of retries.
      entry.nextFetchAt = this.#now() + Math.min(issuer.remote.cooldownSeconds, issuer.remote.refreshSeconds) * 1000;
      this.#log.warn({ issuer: issuer.id, err: error.message }, 'issuer keys could not be fetched; keeping the last good keys');
    }
  }
}
