/**
 * A compiled policy for router tests and the route-lookup benchmark: only `id`, `scope`,
 * `targets` and `workloadSelector` matter to the router; everything else is a neutral default.
 *
 * @example
 * ```ts
 * routePolicy('JWTPolicy/a/p', { hosts: ['api.example.com'] });
 * routePolicy('JWTPolicy/shop/w', {}, { scope: { kind: 'namespaced', namespace: 'shop' }, workloadSelector: { app: 'orders' } });
 * ```
 */
import type { PolicyScope, SnapshotPolicy, Target } from '../../snapshot/types.ts';

export function routePolicy(
  id: string,
  target: Partial<Target>,
  options: { scope?: PolicyScope; workloadSelector?: Record<string, string>; mode?: SnapshotPolicy['mode'] } = {},
): SnapshotPolicy {
  const policy: SnapshotPolicy = {
    id,
    scope: options.scope ?? { kind: 'namespaced', namespace: 'a' },
    targets: [{ hosts: [], paths: [], methods: [], ...target }],
    mode: options.mode ?? 'required',
    issuers: [],
    issuerMatch: 'anyOf',
    tokenSources: [],
    rules: [],
    forward: { claimHeaders: [], stripToken: false, metadataClaims: [] },
    deny: { realm: 'jwtgate', exposeReason: true, headers: [] },
  };
  if (options.workloadSelector !== undefined) policy.workloadSelector = options.workloadSelector;
  return policy;
}
