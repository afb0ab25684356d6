/**
 * Gateway API objects as standalone mode reads them: an HTTPRoute counts for a JWTPolicy's
 * `targetRefs` only with the status its Gateway controller wrote (README "Attaching to Gateway
 * API routes"), so tests that run `jwtgate serve --policies` without a controller write that
 * status themselves, the way `kubectl get httproute -o yaml` prints it once a controller has
 * judged the route: `metadata.generation`, and per `spec.parentRefs` entry one `status.parents`
 * entry with an `Accepted` condition for that generation.
 *
 * @example
 * ```ts
 * const judged = judgeRoute(route, { accepted: false, reason: 'NotAllowedByListeners', controllerName: 'example.com/gw' });
 * await standalone.writeFile('route.yaml', toYaml(judged));
 * ```
 */
import { stringify } from 'yaml';
import { GATEWAY_API_GROUP, type GatewayParentRef, type HTTPRouteInput } from '../../compiler/resources.ts';

/** What the Gateway controller says about a route, for every parent it names. */
export interface RouteVerdict {
  accepted: boolean;
  /** The controller that writes the status, e.g. `gateway.envoyproxy.io/gatewayclass-controller`. */
  controllerName: string;
  /** The condition's reason; `Accepted` when accepted, else `NotAllowedByListeners` unless given. */
  reason?: string;
  /** The route's generation the verdict is for (default: the route's own, else 1). */
  observedGeneration?: number;
}

/**
 * `route` with `metadata.generation` set (kept when present, else 1) and the status a Gateway
 * controller writes: one `status.parents` entry per `spec.parentRefs` entry, `Accepted` per the
 * verdict. A verdict for an older generation than the route's models a route edited since.
 *
 * @example
 * ```ts
 * judgeRoute(route, { accepted: true, controllerName: 'istio.io/gateway-controller' }).status?.parents?.[0]?.conditions;
 * // [{ type: 'Accepted', status: 'True', reason: 'Accepted', observedGeneration: 1, … }]
 * ```
 */
export function judgeRoute(route: HTTPRouteInput, verdict: RouteVerdict): HTTPRouteInput {
  const generation = route.metadata.generation ?? 1;
  const reason = verdict.reason ?? (verdict.accepted ? 'Accepted' : 'NotAllowedByListeners');
  const parentRefs: GatewayParentRef[] = route.spec?.parentRefs ?? [];
  return {
    ...route,
    metadata: { ...route.metadata, generation },
    status: {
      parents: parentRefs.map((parentRef) => ({
        // Controllers write the reference with its defaults filled in.
        parentRef: { group: GATEWAY_API_GROUP, kind: 'Gateway', ...parentRef },
        controllerName: verdict.controllerName,
        conditions: [
          {
            type: 'Accepted',
            status: verdict.accepted ? 'True' : 'False',
            reason,
            message: verdict.accepted ? 'Route is accepted' : `Route is not accepted (${reason})`,
            observedGeneration: verdict.observedGeneration ?? generation,
            lastTransitionTime: '2026-01-01T00:00:00Z',
          },
        ],
      })),
    },
  };
}

/**
 * A v1 Namespace manifest with the label the API server always sets
 * (`kubernetes.io/metadata.name`) plus `labels`, as `kubectl get namespace -o yaml` prints it:
 * standalone mode reads Namespaces for Gateway `allowedRoutes` selectors.
 *
 * @example
 * ```ts
 * namespace('shop', { 'shared-gateway-access': 'true' });
 * ```
 */
export function namespace(name: string, labels: Record<string, string> = {}): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kubernetes.io/metadata.name': name, ...labels } } };
}

/**
 * Objects as one multi-document YAML file (YAML 1.1, as kubectl reads manifests).
 *
 * @example
 * ```ts
 * await writeFile(join(dir, 'gateway-api.yaml'), toYaml(gateway, judgeRoute(route, verdict)));
 * ```
 */
export function toYaml(...objects: object[]): string {
  return objects.map((o) => stringify(o, { version: '1.1' })).join('---\n');
}
