/**
 * The {@link IssuerKeys} of every issuer in the snapshot being enforced, kept across snapshot
 * reloads: an issuer whose key config did not change keeps its keys, its cache and its timer,
 * so a reload never refetches and never drops keys.
 *
 * A reload is two steps, so checks never wait for a fetch:
 * ```
 *   keys = await registry.prepare(next.issuers)   // new issuers fetch; checks use the old map
 *   runtime = { snapshot: next, keys }            // the one reference swap
 *   registry.retainOnly(keys)                     // close what no map uses any more
 * ```
 * Reloads must be serialized (prepare → retainOnly, then the next prepare; RuntimeStore queues
 * them): a preparation reuses instances from the map current when it started. Readiness is read
 * from the map a runtime holds (`IssuerKeys.status()`), not from here.
 *
 * @example
 * ```ts
 * const registry = new KeyRegistry({ metrics, log });
 * const keys = await registry.prepare(snapshot.issuers);
 * registry.retainOnly(keys);
 * keys.get('ns/idp')?.getKey;
 * ```
 */
import type { SnapshotIssuer } from '../../snapshot/types.ts';
import { canonicalJson } from '../../snapshot/digest.ts';
import { IssuerKeys, type IssuerKeysDeps } from './issuer-keys.ts';
import { keyConfigOf } from '../../snapshot/key-config.ts';

export class KeyRegistry {
  readonly #deps: IssuerKeysDeps;
  #current: ReadonlyMap<string, IssuerKeys> = new Map();
  /** canonicalJson of {@link keyConfigOf} per instance: what decides reuse. */
  readonly #fingerprints = new WeakMap<IssuerKeys, string>();

  /**
   * @example
   * ```ts
   * const registry = new KeyRegistry({ metrics: createMetrics(), log: createLogger() });
   * ```
   */
  constructor(deps: IssuerKeysDeps) {
    this.#deps = deps;
  }

  /**
   * Builds the keys for `issuers`, reusing current ones whose key config is unchanged and
   * starting (first fetch of) the new ones. Resolves when every new issuer's first load has
   * finished, successfully or not. Throws a TypeError for an invalid key URL (nothing is kept).
   *
   * @example
   * ```ts
   * const keys = await registry.prepare(next.issuers); // Map<issuer id, IssuerKeys>
   * ```
   */
  async prepare(issuers: Record<string, SnapshotIssuer>): Promise<ReadonlyMap<string, IssuerKeys>> {
    const keys = new Map<string, IssuerKeys>();
    const created: IssuerKeys[] = [];
    try {
      for (const [id, config] of Object.entries(issuers)) {
        const fingerprint = canonicalJson(keyConfigOf(config));
        const current = this.#current.get(id);
        if (current !== undefined && this.#fingerprints.get(current) === fingerprint) {
          keys.set(id, current);
          continue;
        }
        const fresh = new IssuerKeys(config, this.#deps);
        this.#fingerprints.set(fresh, fingerprint);
        created.push(fresh);
        keys.set(id, fresh);
      }
    } catch (error) {
      for (const unused of created) unused.close();
      throw error;
    }
    await Promise.all(created.map((fresh) => fresh.start()));
    return keys;
  }

  /**
   * Makes `keys` (from {@link KeyRegistry.prepare}) the current set, right after swapping in the
   * snapshot that uses it, and closes every issuer not in it.
   *
   * @example
   * ```ts
   * registry.retainOnly(keys);
   * ```
   */
  retainOnly(keys: ReadonlyMap<string, IssuerKeys>): void {
    const kept = new Set(keys.values());
    for (const [id, old] of this.#current) {
      if (kept.has(old)) continue;
      old.close();
      if (!keys.has(id)) this.#deps.metrics.issuerKeys.remove({ issuer: id });
    }
    this.#current = keys;
  }

  /**
   * Stops every refresh timer (shutdown).
   *
   * @example
   * ```ts
   * registry.close();
   * ```
   */
  close(): void {
    for (const keys of this.#current.values()) keys.close();
    this.#current = new Map();
  }
}
