/**
 * A runtime: everything a check needs, built once per snapshot and never mutated, so a reload is
 * one reference assignment and a check in flight keeps the runtime it started with.
 *
 * @example
 * ```ts
 * const runtime: Runtime = { snapshot, router: buildRouter(snapshot.policies), keys };
 * ```
 */
import type { Router } from '../match/router.ts';
import type { IssuerKeys } from '../keys/issuer-keys.ts';
import type { Snapshot } from '../../snapshot/types.ts';

export interface Runtime {
  readonly snapshot: Snapshot;
  readonly router: Router;
  /** Key sets by issuer id; shared across runtimes while an issuer's config is unchanged. */
  readonly keys: ReadonlyMap<string, IssuerKeys>;
}
