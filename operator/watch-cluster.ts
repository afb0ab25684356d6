/**
 * Everything the operator keeps warm, on every replica: informers on the jwtgate kinds,
 * on Secrets (only those a JWTIssuer names are ever used) and Namespaces (ClusterJWTPolicy
 * selectors), on the Gateway API's HTTPRoutes and Gateways where it is installed (JWTPolicy
 * targetRefs, watch-gateway-api.ts), and on the published snapshot ConfigMaps, so a head deleted
 * by hand is restored.
 * Each informer event only calls `onChange` (which enqueues); reconcile reads the caches.
 *
 * @example
 * ```ts
 * const cluster = watchCluster({ clients, namespace: 'jwtgate-system', onChange: () => queue.add('snapshot'), log });
 * await cluster.synced;
 * toCompileInput(cluster.objects());
 * ```
 */
import type { KubernetesListObject, KubernetesObject, V1ConfigMap, V1Namespace, V1Secret } from '@kubernetes/client-node';
import type { Logger } from '../common/log.ts';
import { ANNOTATIONS, fromPublishedForm, LABELS, partNames, SNAPSHOT_NAME, type PublishedConfigMap } from '../snapshot/published-form.ts';
import type { Snapshot } from '../snapshot/types.ts';
import type { ResourceKind } from '../compiler/resources.ts';
import type { ApiObject, ClusterObjects } from './compiler-input.ts';
import { GROUP, PLURALS, VERSION, type KubeClients } from './kube-clients.ts';
import { describePublished, type PublishedHead } from './publish-snapshot.ts';
import { watchResource, type WatchedResource } from '../common/watch-resource.ts';
import { watchGatewayApi } from './watch-gateway-api.ts';

export interface ClusterWatch {
  objects(): ClusterObjects;
  /** The published snapshot as the caches see it (may lag behind a write just made). */
  published(): PublishedHead | undefined;
  /** The published snapshot itself, reassembled and verified from the caches; undefined when absent or not intact. */
  publishedSnapshot(): Snapshot | undefined;
  /** Resolves once every informer has listed. */
  synced: Promise<void>;
  stop(): Promise<void>;
}

export interface WatchClusterOptions {
  clients: KubeClients;
  /** Where the snapshot is published. */
  namespace: string;
  onChange: () => void;
  log: Logger;
  /** How often to look for the Gateway API while it is not installed (watch-gateway-api.ts; default 60 s). */
  gatewayApiProbeMs?: number;
}

/**
 * @example
 * ```ts
 * const cluster = watchCluster({ clients, namespace, onChange, log });
 * await cluster.stop();
 * ```
 */
export function watchCluster(options: WatchClusterOptions): ClusterWatch {
  const { clients, namespace, log } = options;
  const { kubeConfig } = clients;
  const specGenerations = new Map<string, number | undefined>();

  // A status write by the operator itself changes no generation; reacting to it would only
  // run a reconcile that finds nothing to do.
  const onJwtgateChange = (object: ApiObject, verb: 'add' | 'update' | 'delete'): void => {
    const uid = object.metadata?.uid ?? '';
    const generation = object.metadata?.generation;
    if (verb === 'delete') specGenerations.delete(uid);
    else if (specGenerations.has(uid) && specGenerations.get(uid) === generation) return;
    else specGenerations.set(uid, generation);
    options.onChange();
  };
  const jwtgate = (kind: ResourceKind): WatchedResource<KubernetesObject> =>
    watchResource<KubernetesObject>({
      kubeConfig,
      log,
      name: PLURALS[kind],
      path: `/apis/${GROUP}/${VERSION}/${PLURALS[kind]}`,
      list: () =>
        clients.custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURALS[kind] }) as Promise<
          KubernetesListObject<KubernetesObject>
        >,
      onChange: (object, verb) => onJwtgateChange(object as ApiObject, verb),
    });
  const kinds = (Object.keys(PLURALS) as ResourceKind[]).map(jwtgate);

  const secrets = watchResource<V1Secret>({
    kubeConfig,
    log,
    name: 'secrets',
    path: '/api/v1/secrets',
    list: () => clients.core.listSecretForAllNamespaces(),
    onChange: () => options.onChange(),
  });
  const namespaces = watchResource<V1Namespace>({
    kubeConfig,
    log,
    name: 'namespaces',
    path: '/api/v1/namespaces',
    list: () => clients.core.listNamespace(),
    onChange: () => options.onChange(),
  });
  const labelSelector = Object.entries(LABELS)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const configMaps = watchResource<V1ConfigMap>({
    kubeConfig,
    log,
    name: 'snapshot-configmaps',
    path: `/api/v1/namespaces/${namespace}/configmaps`,
    labelSelector,
    list: () => clients.core.listNamespacedConfigMap({ namespace, labelSelector }),
    onChange: () => options.onChange(),
  });
  const all = [...kinds, secrets, namespaces, configMaps];
  const gatewayApi = watchGatewayApi({
    clients,
    log,
    onChange: () => options.onChange(),
    ...(options.gatewayApiProbeMs === undefined ? {} : { probeEveryMs: options.gatewayApiProbeMs }),
  });

  return {
    objects: () => ({
      resources: kinds.flatMap((k) => k.cache.list() as ApiObject[]),
      secrets: secrets.cache.list(),
      namespaces: namespaces.cache.list(),
      ...optional('httpRoutes', gatewayApi.httpRoutes()),
      ...optional('gateways', gatewayApi.gateways()),
    }),
    ...publishedView(namespace, {
      configMap: (name) => configMaps.cache.get(name, namespace),
      secret: (name) => secrets.cache.get(name, namespace),
    }),
    synced: Promise.all([...all.map((w) => w.synced), gatewayApi.synced]).then(() => {}),
    async stop() {
      await Promise.all([...all.map((w) => w.stop()), gatewayApi.stop()]);
    },
  };
}

/**
 * The published snapshot as seen through `lookup` (the informer caches here; a fake API's store
 * in the reconcile unit tests, so both judge a head the same way).
 *
 * @example
 * ```ts
 * publishedView('jwtgate-system', { configMap: (n) => cache.get(n, ns), secret: (n) => secrets.get(n, ns) }).published();
 * ```
 */
export function publishedView(
  namespace: string,
  lookup: { configMap(name: string): V1ConfigMap | undefined; secret(name: string): V1Secret | undefined },
): Pick<ClusterWatch, 'published' | 'publishedSnapshot'> {
  return {
    published: () =>
      describePublished({
        head: asPublished(lookup.configMap(SNAPSHOT_NAME)),
        configMap: (name) => asPublished(lookup.configMap(name)),
        secret: (name) => lookup.secret(name),
      }),
    publishedSnapshot: () => {
      const head = asPublished(lookup.configMap(SNAPSHOT_NAME));
      if (head === undefined) return undefined;
      try {
        // A missing part is left out: fromPublishedForm then refuses the whole form.
        const parts = partNames(head).flatMap((name) => asPublished(lookup.configMap(name)) ?? []);
        const secretName = head.metadata.annotations?.[ANNOTATIONS.secretKeys];
        const secret = secretName === undefined ? undefined : lookup.secret(secretName);
        return fromPublishedForm(
          head,
          parts,
          secret === undefined || secretName === undefined
            ? undefined
            : { metadata: { name: secretName, namespace, annotations: secret.metadata?.annotations ?? {} }, data: secret.data ?? {} },
        );
      } catch {
        return undefined; // missing or broken: the leader fetches keys afresh and publishes anew
      }
    },
  };
}

/** `{ [key]: value }`, or nothing when the value is unknown (exactOptionalPropertyTypes). */
function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

function asPublished(cm: V1ConfigMap | undefined): PublishedConfigMap | undefined {
  if (cm === undefined) return undefined;
  return {
    metadata: { name: cm.metadata?.name ?? '', namespace: cm.metadata?.namespace ?? '', annotations: cm.metadata?.annotations ?? {} },
    ...(cm.data === undefined ? {} : { data: cm.data }),
    ...(cm.binaryData === undefined ? {} : { binaryData: cm.binaryData }),
  };
}
