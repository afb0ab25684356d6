/**
 * `jwtgate serve --kube`: follows the snapshot the operator publishes in the Kubernetes API. An
 * informer watches the head ConfigMap (and the HMAC Secret when the head names one); on every
 * change the head's parts and Secret are read, reassembled and verified with
 * {@link fromPublishedForm}, and applied to the store. Anything unreadable is refused and the
 * snapshot in force keeps serving. The informers restart themselves (common/watch-resource.ts);
 * the store comes in as a {@link SnapshotSink}.
 *
 * @example
 * ```ts
 * const kubeConfig = new KubeConfig();
 * kubeConfig.loadFromDefault();
 * const source = await watchKubeSnapshot({ kubeConfig, namespace: 'jwtgate-system', store, log });
 * await source.stop();
 * ```
 */
import { CoreV1Api, type KubeConfig, type V1ConfigMap, type V1Secret } from '@kubernetes/client-node';
import { backoffMs } from '../../common/backoff.ts';
import type { Logger } from '../../common/log.ts';
import { watchResource, type WatchedResource } from '../../common/watch-resource.ts';
import { coalesceReloads } from './coalesce-reloads.ts';
import {
  ANNOTATIONS,
  fromPublishedForm,
  partNames,
  SNAPSHOT_NAME,
  type PublishedConfigMap,
  type PublishedSecret,
} from '../../snapshot/published-form.ts';
import type { Snapshot } from '../../snapshot/types.ts';

/** Waits before re-reading after an API failure: jittered, so replicas do not retry in step. */
const READ_BACKOFF = Object.freeze({ baseMs: 500, maxMs: 30_000, jitter: true });

/**
 * What the source feeds: the runtime store (authz/runtime/runtime-store.ts), as far as a loader
 * needs it. Passed in, so a loader does not reach up into the runtime.
 *
 * @example
 * ```ts
 * const sink: SnapshotSink = new RuntimeStore({ log, metrics });
 * ```
 */
export interface SnapshotSink {
  /** The snapshot in force, if any: a head that names its digest needs no read. */
  readonly current: { readonly snapshot: Pick<Snapshot, 'sha256'> } | undefined;
  /** Swaps `snapshot` in; rejects (keeping the one in force) when it cannot be built. */
  apply(snapshot: Snapshot): Promise<unknown>;
  /** Counts and logs a refused reload; the snapshot in force keeps serving. */
  refuse(source: string, error: unknown): void;
}

/**
 * Where to find the published snapshot and what to feed it to.
 *
 * @example
 * ```ts
 * const opts: KubeSnapshotOptions = { kubeConfig, namespace: process.env.POD_NAMESPACE ?? 'jwtgate-system', store, log };
 * ```
 */
export interface KubeSnapshotOptions {
  kubeConfig: KubeConfig;
  /** The operator's namespace, where the head ConfigMap lives. */
  namespace: string;
  /** Name of the head ConfigMap (default `jwtgate-snapshot`). */
  name?: string;
  store: SnapshotSink;
  log: Logger;
}

/**
 * A running watch on the published snapshot.
 *
 * @example
 * ```ts
 * process.on('SIGTERM', () => void source.stop());
 * ```
 */
export interface KubeSnapshotSource {
  /** Stops the informers and any pending retry. */
  stop(): Promise<void>;
}

/**
 * Starts watching; resolves once the head informer has made its first list (whether or not a
 * snapshot exists yet: the service stays not ready until one is applied).
 *
 * Failures split in two. Reading the API (a part or the Secret not found, the apiserver away) is
 * retried with backoff, since a newer head may be on its way; a published form that is read but
 * does not verify (digest, version mix-up) is refused once and waits for the next change.
 *
 * @example
 * ```ts
 * const source = await watchKubeSnapshot({ kubeConfig, namespace: 'jwtgate-system', store, log });
 * ```
 */
export async function watchKubeSnapshot(opts: KubeSnapshotOptions): Promise<KubeSnapshotSource> {
  const { namespace, store } = opts;
  const name = opts.name ?? SNAPSHOT_NAME;
  const source = `ConfigMap ${namespace}/${name}`;
  const log = opts.log.child({ source });
  const core = opts.kubeConfig.makeApiClient(CoreV1Api);
  let stopped = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let retries = 0;
  let secretInformer: { name: string; informer: WatchedResource<V1Secret> } | undefined;

  const readAndApply = async (): Promise<void> => {
    clearTimeout(retryTimer);
    const head = headInformer.cache.get(name, namespace);
    if (head === undefined) {
      log.warn('no published snapshot found; the snapshot in force (if any) keeps serving');
      return;
    }
    const published = toPublishedConfigMap(head);
    const annotations = published.metadata.annotations ?? {};
    // Every replica sees every event of the Secret and the head: nothing to do for the version in force.
    if (annotations[ANNOTATIONS.sha256] !== undefined && annotations[ANNOTATIONS.sha256] === store.current?.snapshot.sha256) return;
    const secretName = annotations[ANNOTATIONS.secretKeys];
    if (secretName !== undefined) await followSecret(secretName);

    let names: string[];
    try {
      names = partNames(published);
    } catch (err) {
      store.refuse(source, err);
      return;
    }
    let parts: PublishedConfigMap[];
    let secret: PublishedSecret | undefined;
    try {
      parts = await Promise.all(
        names.map(async (part) => toPublishedConfigMap(await core.readNamespacedConfigMap({ name: part, namespace }))),
      );
      secret = secretName === undefined ? undefined : toPublishedSecret(await core.readNamespacedSecret({ name: secretName, namespace }));
    } catch (err) {
      store.refuse(source, err);
      scheduleRetry();
      return;
    }
    retries = 0;
    let snapshot: Snapshot;
    try {
      snapshot = fromPublishedForm(published, parts, secret);
    } catch (err) {
      store.refuse(source, err);
      return;
    }
    // apply() counts and logs its own outcome; a runtime that cannot be built is refused here.
    await store.apply(snapshot).catch((err: unknown) => store.refuse(source, err));
  };

  const scheduleRetry = (): void => {
    if (stopped) return;
    retries += 1;
    const delay = backoffMs(retries, READ_BACKOFF);
    log.info({ retryInMs: delay }, 'will read the published snapshot again');
    retryTimer = setTimeout(reload, delay);
  };

  // One read at a time; events during a read coalesce into one more read after it. An
  // unexpected failure is refused, and the next change reads again.
  const read = coalesceReloads<void>(async () => {
    if (!stopped) await readAndApply().catch((err: unknown) => store.refuse(source, err));
  });
  let reading: Promise<void> = Promise.resolve();
  const reload = (): void => {
    if (!stopped) reading = read();
  };

  /** Watches the Secret the head names (switching if the name changes), so a late or fixed Secret triggers a re-read. */
  const followSecret = async (secretName: string): Promise<void> => {
    if (secretInformer?.name === secretName) return;
    await secretInformer?.informer.stop();
    const informer = watchResource<V1Secret>({
      kubeConfig: opts.kubeConfig,
      name: `secret ${namespace}/${secretName}`,
      path: `/api/v1/namespaces/${namespace}/secrets`,
      list: () => core.listNamespacedSecret({ namespace, fieldSelector: `metadata.name=${secretName}` }),
      fieldSelector: `metadata.name=${secretName}`,
      onChange: reload,
      log: log.child({ secret: secretName }),
    });
    secretInformer = { name: secretName, informer };
    await informer.started;
  };

  const headInformer = watchResource<V1ConfigMap>({
    kubeConfig: opts.kubeConfig,
    name: source,
    path: `/api/v1/namespaces/${namespace}/configmaps`,
    list: () => core.listNamespacedConfigMap({ namespace, fieldSelector: `metadata.name=${name}` }),
    fieldSelector: `metadata.name=${name}`,
    onChange: reload,
    log,
  });
  // Resolves after the first list or its failure: the service stays not ready until a snapshot applies.
  await headInformer.started;

  return {
    async stop() {
      stopped = true;
      clearTimeout(retryTimer);
      await Promise.all([headInformer.stop(), secretInformer?.informer.stop()]);
      await reading;
    },
  };
}

/** The fields {@link fromPublishedForm} reads, from client-node's looser types (a name is optional there). */
function toPublishedConfigMap(cm: V1ConfigMap): PublishedConfigMap {
  return {
    metadata: { name: cm.metadata?.name ?? '', namespace: cm.metadata?.namespace ?? '', annotations: cm.metadata?.annotations },
    data: cm.data,
    binaryData: cm.binaryData,
  };
}

function toPublishedSecret(secret: V1Secret): PublishedSecret {
  return {
    metadata: { name: secret.metadata?.name ?? '', namespace: secret.metadata?.namespace ?? '', annotations: secret.metadata?.annotations },
    type: secret.type,
    data: secret.data,
  };
}
