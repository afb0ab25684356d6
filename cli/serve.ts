/**
 * `jwtgate serve`: starts the authz service, then feeds it snapshots from a manifests folder
 * (standalone mode, compiled here) or a snapshot file, reloading on every change. A change that
 * cannot be read is refused and the snapshot in force keeps serving.
 *
 * @example
 * ```sh
 * jwtgate serve --policies examples/policies --grpc-port 9001 --http-port 9002
 * ```
 */
import { readFile } from 'node:fs/promises';
import { resolveServiceConfig } from '../authz/config.ts';
import { createLogger, type Logger } from '../authz/log.ts';
import { createMetrics } from '../authz/metrics.ts';
import { RuntimeStore } from '../authz/runtime/runtime-store.ts';
import { startService } from '../authz/service.ts';
import { parseSnapshot } from '../authz/snapshot/parse-snapshot.ts';
import { watchPath } from '../authz/snapshot/watch-path.ts';
import { compileFolder, formatDiagnostic } from './standalone.ts';

interface ServeOptions {
  policies?: string;
  snapshot?: string;
  grpcPort?: string;
  httpPort?: string;
  listenAddress?: string;
}

export async function serveCommand(options: ServeOptions): Promise<void> {
  if (!options.policies && !options.snapshot) throw new Error('serve needs --policies DIR or --snapshot FILE');
  const config = resolveServiceConfig(process.env, {
    grpcPort: options.grpcPort === undefined ? undefined : Number(options.grpcPort),
    httpPort: options.httpPort === undefined ? undefined : Number(options.httpPort),
    listenAddress: options.listenAddress,
  });
  const log = createLogger(config.logLevel);
  const metrics = createMetrics();
  const store = new RuntimeStore({ log, metrics });
  const service = await startService({ config, log, metrics, store });

  const reload = options.policies
    ? folderLoader(options.policies, store, log)
    : fileLoader(options.snapshot!, store);
  await reload();
  const stopWatching = watchPath(options.policies ?? options.snapshot!, () => void reload());

  if (options.policies) printHowToTry(options.policies, service.grpcPort, service.httpPort);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    stopWatching();
    await service.shutdown();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

/**
 * Compiles the folder on every change; each diagnostic is logged and good resources are
 * enforced (an invalid resource is left out, as the apiserver would refuse it). A file that
 * cannot even be parsed, typically caught mid-edit, refuses the whole reload instead: the
 * snapshot in force keeps serving rather than losing that file's policies.
 */
function folderLoader(dir: string, store: RuntimeStore, log: Logger): () => Promise<void> {
  let generation = 0;
  return async () => {
    try {
      const { snapshot, diagnostics, unreadable } = await compileFolder(dir, ++generation);
      for (const d of diagnostics) log[d.severity === 'error' ? 'error' : 'warn']({ resource: d.resource, field: d.field, reason: d.reason }, formatDiagnostic(d));
      if (unreadable > 0 && store.current !== undefined) throw new Error(`${unreadable} manifest document(s) could not be parsed`);
      await store.apply(snapshot);
    } catch (err) {
      store.refuse(dir, err);
    }
  };
}

function fileLoader(file: string, store: RuntimeStore): () => Promise<void> {
  return async () => {
    try {
      await store.apply(parseSnapshot(await readFile(file, 'utf8')));
    } catch (err) {
      store.refuse(file, err);
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
  npm run -s jwtgate -- check --policies ${dir} --url https://api.example.com/api/orders --token "$TOKEN"
  npm run -s jwtgate -- check --policies ${dir} --url https://api.example.com/api/orders

`);
}
