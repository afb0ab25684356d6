/**
 * One resource kind kept in memory by a `@kubernetes/client-node` informer that never gives up.
 * The informer re-lists by itself on `410 Gone` and reconnects after a watch timeout, but it
 * STOPS on any other error (apiserver unreachable, 5xx, auth): this wrapper restarts it with
 * exponential backoff, resuming from the last resourceVersion, so nothing is lost while the
 * apiserver is away (a too-old version answers 410, and the informer re-lists).
 *
 * The one restarting informer of both planes: the operator's watches (operator/watch-cluster.ts)
 * and the data plane's watch on the published snapshot (authz/load/kube-source.ts).
 *
 * @example
 * ```ts
 * const secrets = watchResource({ kubeConfig, name: 'secrets', path: '/api/v1/secrets',
 *   list: () => core.listSecretForAllNamespaces(), onChange: () => queue.add('snapshot'), log });
 * await secrets.synced;
 * secrets.cache.get('idp-keys', 'shop');
 * ```
 */
import {
  ListWatch,
  Watch,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ObjectCache,
} from '@kubernetes/client-node';
import type { Logger } from './log.ts';
import { backoffMs, type BackoffSettings } from './backoff.ts';

export interface WatchResourceOptions<T extends KubernetesObject> {
  kubeConfig: KubeConfig;
  /** For logs. */
  name: string;
  /** The collection's API path, e.g. `/apis/jwtgate.dev/v1alpha1/jwtissuers`. */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  labelSelector?: string;
  /** E.g. `metadata.name=jwtgate-snapshot`, to follow one object. */
  fieldSelector?: string;
  /** Any add, update or delete; must only enqueue work (level-based reconcile reads the cache). */
  onChange: (object: T, verb: 'add' | 'update' | 'delete') => void;
  log: Logger;
  /** Restart delays (default 500 ms doubling to 30 s, jittered: every replica restarts at once otherwise). */
  backoff?: BackoffSettings;
}

export interface WatchedResource<T extends KubernetesObject> {
  cache: ObjectCache<T>;
  /** Resolves when the first start has ended: listed, or failed with a restart scheduled. */
  started: Promise<void>;
  /** Resolves after the first complete list. */
  synced: Promise<void>;
  /** Restarts after an error so far (for tests and metrics). */
  readonly restarts: number;
  stop(): Promise<void>;
}

/** After this long without an error, the next error starts the backoff from the beginning again. */
const HEALTHY_AFTER_MS = 60_000;

const DEFAULT_RESTART_BACKOFF: Readonly<BackoffSettings> = Object.freeze({ baseMs: 500, maxMs: 30_000, jitter: true });

/**
 * Starts the informer.
 *
 * @example
 * ```ts
 * const ns = watchResource({ kubeConfig, name: 'namespaces', path: '/api/v1/namespaces',
 *   list: () => core.listNamespace(), onChange: enqueue, log });
 * ```
 */
export function watchResource<T extends KubernetesObject>(options: WatchResourceOptions<T>): WatchedResource<T> {
  const { log, name } = options;
  const informer = new ListWatch<T>(
    options.path,
    new Watch(options.kubeConfig),
    options.list,
    false,
    options.labelSelector,
    options.fieldSelector,
  );
  let stopped = false;
  let failures = 0;
  let restarts = 0;
  let lastErrorAt = 0;
  let erroredSinceStart = false;
  let retry: NodeJS.Timeout | undefined;
  let markSynced: () => void = () => {};
  const synced = new Promise<void>((resolve) => {
    markSynced = resolve;
  });

  const scheduleRestart = (error: unknown): void => {
    erroredSinceStart = true;
    if (stopped) return;
    const now = Date.now();
    failures = now - lastErrorAt > HEALTHY_AFTER_MS ? 1 : failures + 1;
    lastErrorAt = now;
    const delay = backoffMs(failures, options.backoff ?? DEFAULT_RESTART_BACKOFF);
    log.warn({ resource: name, attempt: failures, retryInMs: delay, err: describe(error) }, 'informer stopped; restarting');
    clearTimeout(retry);
    retry = setTimeout(() => {
      restarts += 1;
      void start();
    }, delay);
  };
  const start = async (): Promise<void> => {
    if (stopped) return;
    erroredSinceStart = false;
    try {
      await informer.start();
    } catch (error) {
      // List and watch failures arrive through 'error'; anything thrown here (an auth plugin, a
      // bad kubeconfig) takes the same restart path.
      scheduleRestart(error);
      return;
    }
    if (!erroredSinceStart) markSynced();
  };
  for (const verb of ['add', 'update', 'delete'] as const) informer.on(verb, (object) => options.onChange(object, verb));
  informer.on('error', scheduleRestart);
  const started = start();

  return {
    cache: informer,
    started,
    synced,
    get restarts() {
      return restarts;
    },
    async stop() {
      stopped = true;
      clearTimeout(retry);
      await informer.stop();
    },
  };
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
