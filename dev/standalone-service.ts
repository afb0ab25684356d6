/**
 * `jwtgate serve --policies DIR` as tests and the benchmark use it: manifests written to a fresh
 * temporary folder, the CLI started on it, the first snapshot awaited, a gRPC client connected;
 * `close()` undoes all of it.
 *
 * @example
 * ```ts
 * const standalone = await startStandalone({ 'all.yaml': joinManifests(issuerYaml, policyYaml) });
 * const response = await standalone.client.check(httpCheckRequest({ method: 'GET', host: 'orders.test', path: '/orders' }));
 * await standalone.close();
 * ```
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGrpcClient, type GrpcClient } from '../cli/grpc-client.ts';
import { startServeProcess, type ServeProcess } from './serve-process.ts';

/**
 * A running standalone service and the folder it watches.
 *
 * @example
 * ```ts
 * await standalone.writeFile('policy.yaml', jwtPolicy({ name: 'orders', namespace: 'shop', spec }));
 * ```
 */
export interface StandaloneService {
  /** The `--policies` folder. */
  dir: string;
  svc: ServeProcess;
  client: GrpcClient;
  /** Writes (or overwrites) `name` in the watched folder; the service reloads on its own. */
  writeFile(name: string, text: string): Promise<void>;
  /** Closes the client, stops the service (if still running) and removes the folder. */
  close(): Promise<void>;
}

/**
 * Writes `files` (name → YAML text) to a new temporary folder, starts `jwtgate serve --policies`
 * on it with `env` added to its environment and `args` added to its flags, and resolves once the
 * first snapshot is applied.
 *
 * @example
 * ```ts
 * const standalone = await startStandalone({ 'bench.yaml': text }, { JWTGATE_TOKEN_CACHE_SIZE: '0' });
 * await startStandalone(files, {}, ['--workload-labels', labelsFile, '--workload-namespace', 'shop']);
 * ```
 */
export async function startStandalone(
  files: Record<string, string>,
  env: Record<string, string> = {},
  args: string[] = [],
): Promise<StandaloneService> {
  const dir = await mkdtemp(join(tmpdir(), 'jwtgate-standalone-'));
  const removeDir = () => rm(dir, { recursive: true, force: true });
  let svc: ServeProcess | undefined;
  try {
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    svc = await startServeProcess(['--policies', dir, ...args], env);
    await svc.waitForLog((l) => l.msg === 'snapshot applied');
  } catch (error) {
    // A failed start must not leave a child process or a folder behind for the test runner.
    await svc?.stop();
    await removeDir();
    throw error;
  }
  const started = svc;
  const client = createGrpcClient(`127.0.0.1:${started.grpcPort}`);
  return {
    dir,
    svc: started,
    client,
    writeFile: (name, text) => writeFile(join(dir, name), text),
    async close() {
      client.close();
      await started.stop();
      await removeDir();
    },
  };
}
