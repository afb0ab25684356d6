/**
 * `jwtgate serve --kube`: follows the snapshot the operator publishes in the Kubernetes API. An
 * informer watches the head ConfigMap (and the HMAC Secret when the head names one); on every
 * change the head's parts and Secret are read, reassembled and verified with
 * {@link fromPublishedForm}, and applied to the store. Anything unreadable is refused and the
 * snapshot in force keeps serving.
 *
 * @example
 * ```ts
 * const kubeConfig = new KubeConfig();
 * kubeConfig.loadFromDefault();
 * const source = await watchKubeSnapshot({ kubeConfig, namespace: 'jwtgate-system', store, log });
 * await source.stop();
 * ```
 */
import { CoreV1Api, ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject, type V1ConfigMap, type V1Secret } from '@kubernetes/client-node';
import type { Logger } from '../../common/log.ts';
import type { RuntimeStore } from '../runtime/runtime-store.ts';
import {
  ANNOTATIONS, fromPublishedForm, partNames, SNAPSHOT_NAME, type PublishedConfigMap, type PublishedSecret,
} from '../../snapshot/published-form.ts';
import type { Snapshot } from '../../snapshot/types.ts';

/** First and longest wait before re-reading after an API failure, or restarting a failed informer. */
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;

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
  store: RuntimeStore;
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
  const watch = new Watch(opts.kubeConfig);
  let stopped = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let retries = 0;
  let secretInformer: { name: string; informer: RestartingInformer<V1Secret> } | undefined;

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
      parts = await Promise.all(names.map(async (part) => toPublishedConfigMap(await core.readNamespacedConfigMap({ name: part, namespace }))));
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
    const delay = backoff(retries++);
    log.info({ retryInMs: delay }, 'will read the published snapshot again');
    retryTimer = setTimeout(reload, delay);
  };

  // One read at a time; events during a read coalesce into one more read after it.
  let reading: Promise<void> | undefined;
  let again = false;
  const reload = (): void => {
    if (stopped) return;
    if (reading !== undefined) {
      again = true;
      return;
    }
    reading = (async () => {
      do {
        again = false;
        // Never let an unexpected failure end the loop: refuse, and wait for the next change.
        await readAndApply().catch((err: unknown) => store.refuse(source, err));
      } while (again && !stopped);
      reading = undefined;
    })();
  };

  /** Watches the Secret the head names (switching if the name changes), so a late or fixed Secret triggers a re-read. */
  const followSecret = async (secretName: string): Promise<void> => {
    if (secretInformer?.name === secretName) return;
    await secretInformer?.informer.stop();
    const informer = createRestartingInformer<V1Secret>({
      path: `/api/v1/namespaces/${namespace}/secrets`,
      watch,
      list: () => core.listNamespacedSecret({ namespace, fieldSelector: `metadata.name=${secretName}` }),
      fieldSelector: `metadata.name=${secretName}`,
      onChange: reload,
      log: log.child({ secret: secretName }),
    });
    secretInformer = { name: secretName, informer };
    await informer.start();
  };

  const headInformer = createRestartingInformer<V1ConfigMap>({
    path: `/api/v1/namespaces/${namespace}/configmaps`,
    watch,
    list: () => core.listNamespacedConfigMap({ namespace, fieldSelector: `metadata.name=${name}` }),
    fieldSelector: `metadata.name=${name}`,
    onChange: reload,
    log,
  });
  await headInformer.start();

  return {
    async stop() {
      stopped = true;
      clearTimeout(retryTimer);
      await Promise.all([headInformer.stop(), secretInformer?.informer.stop()]);
      await reading;
    },
  };
}

interface RestartingInformer<T extends KubernetesObject> {
  cache: ListWatch<T>;
  /** Resolves after the first list (or its failure, which schedules a restart). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A client-node informer on one object (by field selector) that calls `onChange` on every add,
 * update and delete, and restarts with backoff: client-node's ListWatch stops for good on any
 * error other than 410 Gone (which it handles by re-listing).
 */
function createRestartingInformer<T extends KubernetesObject>(opts: {
  path: string;
  watch: Watch;
  list: () => Promise<KubernetesListObject<T>>;
  fieldSelector: string;
  onChange: () => void;
  log: Logger;
}): RestartingInformer<T> {
  const informer = new ListWatch<T>(opts.path, opts.watch, opts.list, false, undefined, opts.fieldSelector);
  let failures = 0;
  let stopped = false;
  let restartTimer: NodeJS.Timeout | undefined;
  const changed = (): void => {
    failures = 0;
    opts.onChange();
  };
  informer.on('change', changed);
  informer.on('error', (err: unknown) => {
    if (stopped) return;
    const delay = backoff(failures++);
    opts.log.warn({ err: err instanceof Error ? err.message : String(err), restartInMs: delay }, 'watch failed; restarting it');
    restartTimer = setTimeout(() => void informer.start(), delay);
  });
  return {
    cache: informer,
    start: () => informer.start(),
    async stop() {
      stopped = true;
      clearTimeout(restartTimer);
      await informer.stop();
    },
  };
}

/** Exponential backoff with full jitter's upper half, so replicas do not retry in step. */
function backoff(attempt: number): number {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(attempt, 16));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
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
