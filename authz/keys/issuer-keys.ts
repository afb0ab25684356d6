/**
 * One issuer's verification keys, from its compiled `keySource`: a fixed set (`static`) or a
 * remote JWK set (`jwksUri`, `discovery`) that jose's `createRemoteJWKSet` caches and refetches.
 *
 * Remote key lifecycle (the request path never waits for a refetch because keys got old):
 * ```
 *   seed from snapshot cachedKeys ──▶ start(): first fetch ──▶ every refreshSeconds: refresh()
 *            (verifies at once)          (resolves either way)     (errors logged + counted;
 *                                                                   last good keys keep serving)
 *   request with an unknown kid ──▶ jose refetches, at most once per cooldownSeconds after a
 *                                   success; after a FAILED fetch we also wait cooldownSeconds
 *                                   before the request path may try again (no outage storms)
 * ```
 * Every fetched set passes through {@link selectUsableKeys} before jose sees it: weak keys and
 * published HMAC secrets are dropped, and a set with no usable key counts as a failed fetch so
 * the last good keys stay in use.
 *
 * @example
 * ```ts
 * const keys = new IssuerKeys(snapshot.issuers['ns/idp']!, { metrics, log });
 * await keys.start();
 * await jwtVerify(token, keys.getKey, { algorithms: ['RS256'] });
 * keys.close();
 * ```
 */
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  jwksCache,
  type FetchImplementation,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWKSCacheInput,
  type CryptoKey,
  type JWSHeaderParameters,
  type RemoteJWKSet,
} from 'jose';
import type { Logger } from '../../common/log.ts';
import type { Metrics } from '../metrics.ts';
import type { JwkSet, SnapshotIssuer } from '../../snapshot/types.ts';
import { discoverJwksUri } from '../../common/keys/discover-jwks-uri.ts';
import { KeyFetchError, checkKeyUrl, fetchJson } from '../../common/keys/fetch-json.ts';
import { createSecretKeySet, isHmacAlgorithm } from './secret-key-set.ts';
import { selectUsableKeys } from '../../common/keys/usable-keys.ts';

export interface IssuerKeysDeps {
  metrics: Metrics;
  log: Logger;
  /**
   * The monotonic millisecond clock the failure cooldown is measured on (default
   * `performance.now`); a test moves it by hand, as node:test's mock timers cannot. jose's own
   * cooldown after a success reads `Date.now()`, which mock timers do move.
   */
  now?: () => number;
}

/** Key health of one issuer, for `/readyz` and the operator's `JWTIssuer` status. */
export interface IssuerKeyStatus {
  /**
   * True once the issuer has usable keys OR its initial load has finished (even failed).
   * Readiness must not hang forever on one dead IdP: a replica with one broken issuer still
   * serves every other issuer, and that issuer's tokens get `keys_unavailable` (503) meanwhile.
   */
  ready: boolean;
  keyCount: number;
  /** When the keys in use were fetched (ISO 8601); for seeded keys, the operator's fetch time. */
  fetchedAt?: string;
  /** The last fetch failure, cleared by the next success. */
  lastError?: string;
}

type KeyResolver = (header: JWSHeaderParameters, token?: FlattenedJWSInput) => Promise<CryptoKey>;

/** Mutable on purpose: jose writes `uat` and `jwks` here after each successful fetch. */
type KeyCache = { uat?: number; jwks?: JSONWebKeySet };

export class IssuerKeys {
  readonly id: string;
  readonly #config: SnapshotIssuer;
  readonly #deps: IssuerKeysDeps;
  readonly #publicKeys: KeyResolver;
  readonly #secretKeys: KeyResolver;
  readonly #remote: RemoteJWKSet | undefined;
  readonly #cache: KeyCache = {};
  readonly #staticKeyCount: number;
  #settled: boolean;
  #started = false;
  #closed = false;
  #forceFetch = false;
  #lastFailureAt = -Infinity;
  #lastError: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #now: () => number;

  /**
   * Builds the key set; does not fetch yet (see {@link IssuerKeys.start}). Throws a TypeError for
   * an unparseable key URL: the snapshot is invalid and must not be swapped in.
   *
   * @example
   * ```ts
   * const keys = new IssuerKeys({ ...issuer, keySource: { kind: 'static', jwks } }, { metrics, log });
   * ```
   */
  constructor(config: SnapshotIssuer, deps: IssuerKeysDeps) {
    this.id = config.id;
    this.#config = config;
    this.#deps = deps;
    this.#now = deps.now ?? (() => performance.now());
    const source = config.keySource;
    if (source.kind === 'static') {
      const jwks = this.#usable(source.jwks, true);
      this.#publicKeys = createLocalJWKSet(asJose({ keys: jwks.keys.filter((jwk) => jwk.kty !== 'oct') }));
      this.#secretKeys = createSecretKeySet(jwks);
      this.#staticKeyCount = jwks.keys.length;
      this.#remote = undefined;
      this.#settled = true;
      if (jwks.keys.length === 0) this.#lastError = 'the static key set has no usable key';
      deps.metrics.issuerKeys.set({ issuer: this.id }, jwks.keys.length);
      return;
    }
    const url = source.kind === 'jwksUri' ? source.jwksUri : source.discoveryUrl;
    if (!URL.canParse(url)) throw new TypeError(`issuer ${this.id}: key URL ${JSON.stringify(url)} is not a URL`);
    const { cachedKeys } = config;
    const seed = cachedKeys === undefined ? undefined : this.#usable(cachedKeys.jwks, false);
    if (cachedKeys !== undefined && seed !== undefined && seed.keys.length > 0) {
      // An unparseable or future fetchedAt must neither expire the seed nor hold off the
      // unknown-kid refetch (jose's cooldown counts from `uat`), so clamp it to [0, now].
      this.#cache.uat = Math.min(Date.parse(cachedKeys.fetchedAt) || 0, Date.now());
      this.#cache.jwks = asJose(seed);
    }
    this.#remote = createRemoteJWKSet(new URL(url), {
      timeoutDuration: Math.round(config.remote.timeoutMs),
      cooldownDuration: config.remote.cooldownSeconds * 1000,
      // Keys never expire by age: the background refresh replaces them, and when the IdP is down
      // the last good keys keep verifying instead of every request failing.
      cacheMaxAge: Infinity,
      [customFetch]: this.#fetchKeySet,
      [jwksCache]: this.#cache as JWKSCacheInput,
    });
    this.#publicKeys = this.#remote;
    this.#secretKeys = createSecretKeySet({ keys: [] });
    this.#staticKeyCount = 0;
    this.#settled = false;
    if (this.#cache.jwks !== undefined) deps.metrics.issuerKeys.set({ issuer: this.id }, this.#cache.jwks.keys.length);
  }

  /**
   * A jose key resolver (`JWTVerifyGetKey`). HMAC algorithms resolve shared secrets, the others
   * public keys; `alg` must already be pinned to the issuer's list by the caller.
   *
   * @example
   * ```ts
   * await jwtVerify(token, keys.getKey, { algorithms: issuer.algorithms });
   * ```
   */
  readonly getKey = (header: JWSHeaderParameters, token?: FlattenedJWSInput): Promise<CryptoKey> =>
    isHmacAlgorithm(header.alg) ? this.#secretKeys(header) : this.#publicKeys(header, token);

  /**
   * First fetch of a remote set, then the background refresh timer. Resolves whether or not the
   * fetch worked (the error is kept for {@link IssuerKeys.status}); a no-op for static keys.
   *
   * @example
   * ```ts
   * await keys.start(); keys.status().ready; // true
   * ```
   */
  async start(): Promise<void> {
    if (this.#remote === undefined || this.#started || this.#closed) return;
    this.#started = true;
    const period = this.#config.remote.refreshSeconds * 1000;
    // Seeded with the operator's last good keys: verify from them at once and leave the IdP
    // alone; the first refresh comes at a random point of the period, so N replicas starting
    // together do not all fetch at once (an unknown kid still refetches, rate-limited by jose).
    const seeded = this.#cache.jwks !== undefined && this.#cache.jwks.keys.length > 0;
    if (!seeded) await this.refresh();
    this.#settled = true;
    if (this.#closed) return;
    const every = () => {
      this.#timer = setInterval(() => void this.refresh(), period);
      // The refresh must never keep the process alive on its own (graceful shutdown, tests).
      this.#timer.unref();
    };
    if (!seeded) return every();
    this.#timer = setTimeout(() => {
      void this.refresh();
      if (!this.#closed) every();
    }, Math.random() * period);
    this.#timer.unref();
  }

  /**
   * Refetches the remote set now, bypassing both cooldowns. Never throws: a failure is logged,
   * counted and kept in the status, and the keys in use stay.
   *
   * @example
   * ```ts
   * await keys.refresh();
   * ```
   */
  async refresh(): Promise<void> {
    if (this.#remote === undefined || this.#closed) return;
    this.#forceFetch = true;
    try {
      await this.#remote.reload();
    } catch (error) {
      if (!(error instanceof KeyFetchError)) this.#recordFailure(error);
    } finally {
      this.#forceFetch = false;
    }
  }

  /**
   * @example
   * ```ts
   * keys.status(); // { ready: true, keyCount: 2, fetchedAt: '2026-01-01T00:00:00.000Z' }
   * ```
   */
  status(): IssuerKeyStatus {
    const keyCount = this.#remote === undefined ? this.#staticKeyCount : (this.#remote.jwks()?.keys.length ?? 0);
    return {
      ready: keyCount > 0 || this.#settled,
      keyCount,
      ...(this.#cache.uat === undefined ? {} : { fetchedAt: new Date(this.#cache.uat).toISOString() }),
      ...(this.#lastError === undefined ? {} : { lastError: this.#lastError }),
    };
  }

  /**
   * Stops the refresh timer. Keys already loaded still resolve, so checks in flight on an old
   * snapshot finish normally.
   *
   * @example
   * ```ts
   * keys.close();
   * ```
   */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    clearInterval(this.#timer);
  }

  /** jose's fetch hook: fetch (after discovery), filter, count; jose does caching and cooldown. */
  readonly #fetchKeySet: FetchImplementation = async (url, init) => {
    const sinceFailure = this.#now() - this.#lastFailureAt;
    if (!this.#forceFetch && sinceFailure < this.#config.remote.cooldownSeconds * 1000) {
      throw new KeyFetchError('cooling_down', `last key fetch failed ${Math.round(sinceFailure)} ms ago; waiting out the cooldown`);
    }
    const { metrics } = this.#deps;
    try {
      const target = checkKeyUrl(url);
      const jwksUrl = this.#config.keySource.kind === 'discovery' ? await discoverJwksUri(target, this.#config.issuer, init) : target;
      const fetched = selectUsableKeys(await fetchJson(jwksUrl, init), { allowSecrets: false });
      if (fetched === undefined) throw new KeyFetchError('invalid', `${jwksUrl.href} is not a JWK set`);
      const jwks = this.#reportRejected(fetched);
      if (jwks.keys.length === 0) throw new KeyFetchError('invalid', `${jwksUrl.href} has no usable key`);
      metrics.jwksFetches.inc({ issuer: this.id, result: 'ok' });
      metrics.issuerKeys.set({ issuer: this.id }, jwks.keys.length);
      this.#lastError = undefined;
      return Response.json(jwks);
    } catch (error) {
      const failure = error instanceof KeyFetchError ? error : new KeyFetchError('network_error', String(error), { cause: error });
      metrics.jwksFetches.inc({ issuer: this.id, result: failure.result });
      this.#recordFailure(failure);
      throw failure;
    }
  };

  #recordFailure(error: unknown): void {
    this.#lastFailureAt = this.#now();
    this.#lastError = error instanceof Error ? error.message : String(error);
    this.#deps.log.warn({ issuer: this.id, err: this.#lastError }, 'issuer keys could not be loaded; keeping the last good keys');
  }

  /** Static or seeded keys: filter, and treat anything that is not a JWK set as empty. */
  #usable(jwks: JwkSet, allowSecrets: boolean): JwkSet {
    return this.#reportRejected(selectUsableKeys(jwks, { allowSecrets }) ?? { jwks: { keys: [] }, rejected: [] });
  }

  #reportRejected({ jwks, rejected }: NonNullable<ReturnType<typeof selectUsableKeys>>): JwkSet {
    if (rejected.length > 0) {
      this.#deps.metrics.keysRejected.inc({ issuer: this.id }, rejected.length);
      for (const { kid, reason } of rejected) this.#deps.log.warn({ issuer: this.id, kid, reason }, 'key refused');
    }
    return jwks;
  }
}

/** Our `Jwk` is jose's `JWK` with looser optional fields; the JSON is the same. */
function asJose(jwks: JwkSet): JSONWebKeySet {
  return jwks as unknown as JSONWebKeySet;
}
