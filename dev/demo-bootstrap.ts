/**
 * The demo's Envoy bootstrap: examples/envoy/envoy.yaml with only its addresses changed (every
 * socket on loopback, the ports the demo chose). Its safety settings (path normalization,
 * fail-closed ext_authz, status_on_error, the exact /healthz bypass, underscores refused) are
 * left exactly as a user reads them; test/unit/dev/demo-bootstrap.test.ts holds it to that.
 *
 * @example
 * ```ts
 * const bootstrap = demoBootstrap(await readExampleBootstrap(), { listenerPort: 10000, adminPort: 9901, jwtgatePort: 9001, upstreamPort: 8080 });
 * ```
 */
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';

/** The example the demo runs, shipped in the repository. */
export const EXAMPLE_BOOTSTRAP_FILE = new URL('../examples/envoy/envoy.yaml', import.meta.url).pathname;

/**
 * Where each of the example's sockets goes. Port 0 lets the kernel choose (the demo's test does).
 *
 * @example
 * ```ts
 * const ports: DemoPorts = { listenerPort: 0, adminPort: 0, jwtgatePort: 40123, upstreamPort: 40124 };
 * ```
 */
export interface DemoPorts {
  /** Envoy's listener (the example's 10000). */
  listenerPort: number;
  /** Envoy's admin interface (the example's 9901). */
  adminPort: number;
  /** jwtgate's gRPC port: the `jwtgate` cluster (the example's 9001). */
  jwtgatePort: number;
  /** The app behind Envoy: the `app` cluster (the example's 8080). */
  upstreamPort: number;
}

interface SocketAddress {
  address: string;
  port_value: number;
}
interface Cluster {
  name: string;
  load_assignment: { endpoints: { lb_endpoints: { endpoint: { address: { socket_address: SocketAddress } } }[] }[] };
}
interface Bootstrap {
  admin: { address: { socket_address: SocketAddress } };
  static_resources: { listeners: { address: { socket_address: SocketAddress } }[]; clusters: Cluster[] };
}

/**
 * Reads examples/envoy/envoy.yaml.
 *
 * @example
 * ```ts
 * const example = await readExampleBootstrap();
 * ```
 */
export async function readExampleBootstrap(): Promise<Record<string, unknown>> {
  return parse(await readFile(EXAMPLE_BOOTSTRAP_FILE, 'utf8')) as Record<string, unknown>;
}

/**
 * A copy of `example` whose admin address, listeners and the `jwtgate` and `app` clusters'
 * endpoints are on 127.0.0.1 at `ports`; nothing else changes.
 *
 * @throws {Error} when the example no longer has the `jwtgate` or `app` cluster (the demo
 *   would otherwise send traffic somewhere unexpected).
 * @example
 * ```ts
 * demoBootstrap(example, { listenerPort: 10000, adminPort: 9901, jwtgatePort: 9001, upstreamPort: 8080 });
 * ```
 */
export function demoBootstrap(example: Record<string, unknown>, ports: DemoPorts): Record<string, unknown> {
  const bootstrap = structuredClone(example) as unknown as Bootstrap;
  const loopback = (port: number): SocketAddress => ({ address: '127.0.0.1', port_value: port });
  bootstrap.admin.address.socket_address = loopback(ports.adminPort);
  for (const listener of bootstrap.static_resources.listeners) listener.address.socket_address = loopback(ports.listenerPort);
  for (const [name, port] of [
    ['jwtgate', ports.jwtgatePort],
    ['app', ports.upstreamPort],
  ] as const) {
    const cluster = bootstrap.static_resources.clusters.find((c) => c.name === name);
    if (cluster === undefined) throw new Error(`${EXAMPLE_BOOTSTRAP_FILE} has no cluster named ${name}`);
    for (const locality of cluster.load_assignment.endpoints) {
      for (const { endpoint } of locality.lb_endpoints) endpoint.address.socket_address = loopback(port);
    }
  }
  return bootstrap as unknown as Record<string, unknown>;
}
