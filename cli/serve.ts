/**
 * `jwtgate serve`: starts the authz service, then feeds it snapshots from a manifests folder
 * (standalone mode, compiled here), a snapshot file, or the snapshot the operator publishes in
 * the Kubernetes API (`--kube`), reloading on every change. A change that cannot be read is
 * refused and the snapshot in force keeps serving.
 *
 * @example
 * ```sh
 * jwtgate serve --policies examples/policies --grpc-port 9001 --http-port 9002
 * jwtgate serve --kube --namespace jwtgate-system
 * jwtgate serve --kube --workload-labels /etc/podinfo/labels   # sidecar: POD_NAMESPACE is the workload's
 * ```
 */
import { readFile, stat } from 'node:fs/promises';
import { resolveServiceConfig } from '../authz/config.ts';
import { createLogger, type Logger } from '../common/log.ts';
import { createMetrics } from '../authz/metrics.ts';
import { RuntimeStore } from '../authz/runtime/runtime-store.ts';
import { startService } from '../authz/service.ts';
import { parseSnapshot } from '../snapshot/parse-snapshot.ts';
import { coalesceReloads } from '../authz/load/coalesce-reloads.ts';
import { watchPath } from '../authz/load/watch-path.ts';
import { readWorkload } from '../authz/request/workload.ts';
import { FolderCompiler } from './folder-compiler.ts';
import { folderLoader } from './folder-loader.ts';

interface ServeOptions {
  policies?: string;
  snapshot?: string;
  grpcPort?: string;
  httpPort?: string;
  listenAddress?: string;
  kube?: boolean;
  namespace?: string;
  kubeconfig?: string;
  unmatched?: 'deny' | 'allow';
  pathParameters?: 'reject' | 'ignore';
  workloadLabels?: string;
  workloadNamespace?: string;
}

/** Where `--kube` looks when `--namespace` is not given: the Pod's own namespace (downward API), else the chart's. */
const DEFAULT_NAMESPACE = 'jwtgate-system';

export async function serveCommand(options: ServeOptions): Promise<void> {
  if (!options.policies && !options.snapshot && !options.kube) throw new Error('serve needs --policies DIR, --snapshot FILE or --kube');
  for (const [flag, value] of [
    ['--unmatched', options.unmatched],
    ['--path-parameters', options.pathParameters],
  ] as const) {
    if (value !== undefined && !options.policies)
      throw new Error(`${flag} applies to --policies only: a snapshot carries its own setting (compile it, or set it on the operator)`);
  }
  const config = resolveServiceConfig(process.env, {
    grpcPort: options.grpcPort === undefined ? undefined : Number(options.grpcPort),
    httpPort: options.httpPort === undefined ? undefined : Number(options.httpPort),
    listenAddress: options.listenAddress,
  });
  // Sidecar mode: read once before serving, so a bad labels file stops the start-up rather than
  // serving with an unknown workload (the kubelet writes the file before the container starts).
  const workload =
    options.workloadLabels === undefined
      ? undefined
      : await readWorkload(options.workloadLabels, options.workloadNamespace ?? process.env.POD_NAMESPACE);
  if (workload === undefined && options.workloadNamespace !== undefined)
    throw new Error('--workload-namespace needs --workload-labels FILE');
  const log = createLogger(config.logLevel);
  const metrics = createMetrics();
  const store = new RuntimeStore({ log, metrics });
  const service = await startService({ config, log, metrics, store, workload });
  if (workload !== undefined)
    log.info({ namespace: workload.namespace, labels: workload.labels }, 'sidecar mode: every request is bound for this workload');

  const stopWatching = options.kube ? await watchCluster(options, store, log) : await watchFiles(options, store, log, config.rescanMs);

  if (options.policies) printHowToTry(options.policies, service.grpcPort, service.httpPort);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await stopWatching();
    await service.shutdown();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

/**
 * Watches the folder or file (every way it can be replaced, `watch-path.ts`), then loads it, and
 * again on every change; reloads run one at a time, the latest request winning. A folder is
 * compiled on a worker thread, so checks keep being answered during a big reload. Resolves with
 * the function that stops watching.
 */
async function watchFiles(options: ServeOptions, store: RuntimeStore, log: Logger, rescanMs: number): Promise<() => Promise<void>> {
  const path = options.policies ?? options.snapshot;
  if (path === undefined) throw new TypeError('watchFiles needs --policies or --snapshot');
  await stat(path); // a path that does not exist at start is a typo: fail the start (later it may briefly vanish)
  const compiler = options.policies === undefined ? undefined : new FolderCompiler();
  const load = compiler === undefined ? fileLoader(path, store) : await folderReload(path, compiler, store, log, options);
  const reload = coalesceReloads(load);
  const watcher = await watchPath(path, (trigger) => void reload(trigger), {
    rescanMs,
    onError: (err: unknown) =>
      log.warn(
        { source: path, err: err instanceof Error ? err.message : String(err) },
        'watch rescan failed; retrying on the next change or rescan',
      ),
  });
  await reload('start');
  return async () => {
    watcher.close();
    await compiler?.close();
  };
}

/** The folder reload; the compiler's helpers are loaded only in this mode. */
async function folderReload(
  dir: string,
  compiler: FolderCompiler,
  store: RuntimeStore,
  log: Logger,
  flags: Pick<ServeOptions, 'unmatched' | 'pathParameters'>,
): Promise<(trigger: string) => Promise<void>> {
  const { formatDiagnostic, snapshotSettings } = await import('./standalone.ts');
  const settings = snapshotSettings(flags);
  return folderLoader({ dir, store, log, compiler, formatDiagnostic, ...(settings === undefined ? {} : { settings }) });
}

/**
 * Follows the published snapshot with the Pod's ServiceAccount in a cluster, or `--kubeconfig`
 * (else `$KUBECONFIG`, else `~/.kube/config`) outside one.
 */
async function watchCluster(options: ServeOptions, store: RuntimeStore, log: Logger): Promise<() => Promise<void>> {
  // Loaded only in this mode: the Kubernetes client is the largest dependency (BENCHMARKS.md).
  const [{ KubeConfig }, { watchKubeSnapshot }] = await Promise.all([
    import('@kubernetes/client-node'),
    import('../authz/load/kube-source.ts'),
  ]);
  const kubeConfig = new KubeConfig();
  if (options.kubeconfig) kubeConfig.loadFromFile(options.kubeconfig);
  else kubeConfig.loadFromDefault();
  const namespace = options.namespace ?? process.env.POD_NAMESPACE ?? DEFAULT_NAMESPACE;
  const source = await watchKubeSnapshot({ kubeConfig, namespace, store, log });
  return () => source.stop();
}

/** `--snapshot FILE`: read, verify (digest, schema version) and apply; anything wrong is refused. */
function fileLoader(file: string, store: RuntimeStore): (trigger: string) => Promise<void> {
  return async (trigger) => {
    try {
      await store.apply(parseSnapshot(await readFile(file, 'utf8')), { trigger });
    } catch (err) {
      store.refuse(file, err, { trigger });
    }
  };
}

function printHowToTry(dir: string, grpcPort: number, httpPort: number): void {
  process.stderr.write(`
jwtgate is enforcing ${dir}: Envoy ext_authz gRPC on :${grpcPort}, metrics and health on http://localhost:${httpPort}
Try it (in another terminal):
  curl -s localhost:${httpPort}/readyz
  TOKEN=$(npm run -s jwtgate -- sign --key examples/keys/demo-private.jwk.json \\
          --claims '{"iss":"https://idp.example.com","aud":"orders-api","sub":"alice","scope":"orders:read"}')
  npm run -s jwtgate -- check --policies ${dir} --url https://api.example.com/api/orders --token "$TOKEN"   # explained step by step
  npm run -s jwtgate -- check --server localhost:${grpcPort} --url https://api.example.com/api/orders --token "$TOKEN"   # asks this server
  npm run -s jwtgate -- check --server localhost:${grpcPort} --url https://api.example.com/api/orders

`);
}
