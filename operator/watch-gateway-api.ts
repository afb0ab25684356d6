/**
 * The Gateway API objects JWTPolicy targetRefs name (gateway.networking.k8s.io/v1 HTTPRoutes, with
 * the status their Gateway controller writes, and Gateways), watched only where the Gateway API
 * is installed. Its CRDs are optional: where they are absent the caches hold nothing, the
 * compiler is told the Gateway API is unknown (targetRefs report TargetNotFound, saying so), and
 * the API is probed again every `probeEveryMs`, so CRDs installed later are picked up without a
 * restart. An informer on a collection that does not exist would fail and restart forever, and
 * would never report synced, holding up every reconcile; hence the probe first.
 *
 * Every event only enqueues (`onChange`), status changes included: a route that a Gateway
 * accepts or stops accepting changes what the snapshot holds.
 *
 * @example
 * ```ts
 * const api = watchGatewayApi({ clients, log, onChange: () => queue.add('snapshot') });
 * await api.synced;
 * api.httpRoutes(); // undefined while the Gateway API is not installed
 * ```
 */
import type { KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../common/log.ts';
import { watchResource, type WatchedResource } from '../common/watch-resource.ts';
import { GATEWAY_API_GROUP } from '../compiler/resources.ts';
import type { ApiObject } from './compiler-input.ts';
import { apiStatus, type KubeClients } from './kube-clients.ts';

/** The Gateway API version read (standard channel, GA). */
export const GATEWAY_API_VERSION = 'v1';

export interface GatewayApiWatch {
  /** Undefined while the Gateway API is not installed (or not readable). */
  httpRoutes(): readonly ApiObject[] | undefined;
  gateways(): readonly ApiObject[] | undefined;
  /** Resolves once the first probe has ended and, if the API is there, both informers have listed. */
  synced: Promise<void>;
  stop(): Promise<void>;
}

export interface WatchGatewayApiOptions {
  clients: KubeClients;
  log: Logger;
  onChange: () => void;
  /** How often to look again for the Gateway API while it is absent (default 60 s). */
  probeEveryMs?: number;
}

/**
 * @example
 * ```ts
 * const api = watchGatewayApi({ clients, log, onChange });
 * await api.stop();
 * ```
 */
export function watchGatewayApi(options: WatchGatewayApiOptions): GatewayApiWatch {
  const { clients, log } = options;
  const probeEveryMs = options.probeEveryMs ?? 60_000;
  let watches: { routes: WatchedResource<KubernetesObject>; gateways: WatchedResource<KubernetesObject> } | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let reportedAbsent = false;

  const watch = (plural: string): WatchedResource<KubernetesObject> =>
    watchResource<KubernetesObject>({
      kubeConfig: clients.kubeConfig,
      log,
      name: plural,
      path: `/apis/${GATEWAY_API_GROUP}/${GATEWAY_API_VERSION}/${plural}`,
      list: () =>
        clients.custom.listClusterCustomObject({ group: GATEWAY_API_GROUP, version: GATEWAY_API_VERSION, plural }) as Promise<
          KubernetesListObject<KubernetesObject>
        >,
      onChange: () => options.onChange(),
    });

  /** True when the API answered: the informers are started (and have listed). */
  const probe = async (): Promise<boolean> => {
    try {
      await clients.custom.listClusterCustomObject({
        group: GATEWAY_API_GROUP,
        version: GATEWAY_API_VERSION,
        plural: 'httproutes',
        limit: 1,
      });
    } catch (error) {
      const status = apiStatus(error);
      if (!reportedAbsent) {
        reportedAbsent = true;
        log.info(
          { status, retryInMs: probeEveryMs },
          status === 404
            ? 'the Gateway API (gateway.networking.k8s.io/v1) is not installed: JWTPolicy targetRefs will report TargetNotFound'
            : 'the Gateway API cannot be read (RBAC on httproutes and gateways?): JWTPolicy targetRefs will report TargetNotFound',
        );
      }
      return false;
    }
    if (stopped) return false;
    watches = { routes: watch('httproutes'), gateways: watch('gateways') };
    log.info('watching the Gateway API (httproutes, gateways) for JWTPolicy targetRefs');
    await Promise.all([watches.routes.synced, watches.gateways.synced]);
    return true;
  };
  const probeUntilFound = async (): Promise<void> => {
    if (stopped || (await probe())) return;
    timer = setTimeout(() => {
      void probeUntilFound().then(() => {
        // Found later: what targetRefs name is known now.
        if (watches !== undefined) options.onChange();
      });
    }, probeEveryMs);
  };
  const synced = probeUntilFound();

  return {
    httpRoutes: () => watches?.routes.cache.list() as ApiObject[] | undefined,
    gateways: () => watches?.gateways.cache.list() as ApiObject[] | undefined,
    synced,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await Promise.all([watches?.routes.stop(), watches?.gateways.stop()]);
    },
  };
}
