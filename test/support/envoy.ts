/**
 * Runs a real Envoy (installed by test/peers/envoy/install.sh) in front of an upstream, with the
 * ext_authz HTTP filter calling an authorization server over gRPC: builds the tests' v3 static
 * bootstrap from a few knobs and starts it on loopback with dev/envoy-process.ts.
 *
 * @example
 * ```ts
 * const envoy = await startEnvoy({ authzPort: svc.grpcPort, upstreamPort: echo.port });
 * await fetch(`${envoy.url}/public/x`);
 * await envoy.stop();
 * ```
 */
import { startEnvoyProcess, type EnvoyProcess } from '../../dev/envoy-process.ts';

export { locateEnvoy, validateEnvoyConfig, type EnvoyProcess } from '../../dev/envoy-process.ts';

/** Path answered by Envoy itself (a direct response, ext_authz off) to tell that it is up. */
const READY_PATH = '/__envoy_ready';

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
  /**
   * Routes (by prefix, matched before every other route) whose ext_authz call carries these
   * `check_settings.context_extensions`, e.g. `{ '/shop': { namespace: 'shop' } }`.
   */
  contextExtensions?: Record<string, Record<string, string>>;
}

/** `envoy.type.v3.StatusCode` names of the statuses {@link EnvoyOptions.statusOnError} allows. */
const STATUS_NAMES = { 403: 'Forbidden', 500: 'InternalServerError', 503: 'ServiceUnavailable' } as const;

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

/** The per-route ext_authz config that sends `extensions` with every check of the route. */
function withContextExtensions(extensions: Record<string, string>): Record<string, unknown> {
  return {
    'envoy.filters.http.ext_authz': {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute',
      check_settings: { context_extensions: extensions },
    },
  };
}

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
      listeners: [
        {
          name: 'ingress',
          address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                    stat_prefix: 'ingress',
                    ...pathSettings(options.pathHandling ?? 'recommended'),
                    route_config: {
                      virtual_hosts: [
                        {
                          name: 'all',
                          domains: ['*'],
                          routes: [
                            { match: { path: READY_PATH }, direct_response: { status: 200 }, typed_per_filter_config: EXT_AUTHZ_DISABLED },
                            ...Object.entries(options.contextExtensions ?? {}).map(([prefix, extensions]) => ({
                              match: { prefix },
                              route: { cluster: 'upstream' },
                              typed_per_filter_config: withContextExtensions(extensions),
                            })),
                            ...(bypassPrefix === false
                              ? []
                              : [
                                  {
                                    match: { prefix: bypassPrefix },
                                    route: { cluster: 'upstream' },
                                    typed_per_filter_config: EXT_AUTHZ_DISABLED,
                                  },
                                ]),
                            { match: { prefix: '/' }, route: { cluster: 'upstream' } },
                          ],
                        },
                      ],
                    },
                    http_filters: [
                      { name: 'envoy.filters.http.ext_authz', typed_config: extAuthz },
                      {
                        name: 'envoy.filters.http.router',
                        typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
                      },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
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
  return startEnvoyProcess(envoyBootstrap(options), { readyPath: READY_PATH });
}
