// The demo runs examples/envoy/envoy.yaml as users read it: only addresses and ports may differ,
// so none of its safety settings can be lost on the way (and a renamed cluster fails loudly).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoBootstrap, readExampleBootstrap } from '../../../dev/demo-bootstrap.ts';

/** Every leaf path where `a` and `b` differ, e.g. `admin.address.socket_address.port_value`. */
function differences(a: unknown, b: unknown, path = ''): string[] {
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((key) =>
      differences((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], path === '' ? key : `${path}.${key}`),
    );
  }
  return Object.is(a, b) ? [] : [path];
}

const PORTS = { listenerPort: 1001, adminPort: 1002, jwtgatePort: 1003, upstreamPort: 1004 };

test('only the sockets move: every socket on loopback at the chosen port', async () => {
  const example = await readExampleBootstrap();
  const demo = demoBootstrap(example, PORTS);
  assert.deepEqual(differences(example, demo).sort(), [
    'admin.address.socket_address.port_value',
    'static_resources.clusters.0.load_assignment.endpoints.0.lb_endpoints.0.endpoint.address.socket_address.port_value',
    'static_resources.clusters.1.load_assignment.endpoints.0.lb_endpoints.0.endpoint.address.socket_address.port_value',
    'static_resources.listeners.0.address.socket_address.address',
    'static_resources.listeners.0.address.socket_address.port_value',
  ]);
  const sockets = JSON.stringify(demo).match(/"socket_address":\{[^}]*\}/g);
  assert.deepEqual(sockets, [
    '"socket_address":{"address":"127.0.0.1","port_value":1002}',
    '"socket_address":{"address":"127.0.0.1","port_value":1001}',
    '"socket_address":{"address":"127.0.0.1","port_value":1003}',
    '"socket_address":{"address":"127.0.0.1","port_value":1004}',
  ]);
});

test('the example is not changed in place', async () => {
  const example = await readExampleBootstrap();
  const before = structuredClone(example);
  demoBootstrap(example, PORTS);
  assert.deepEqual(example, before);
});

test('an example without the jwtgate cluster is refused, not silently half-adapted', async () => {
  const example = (await readExampleBootstrap()) as { static_resources: { clusters: { name: string }[] } };
  example.static_resources.clusters = example.static_resources.clusters.filter((c) => c.name !== 'jwtgate');
  assert.throws(() => demoBootstrap(example, PORTS), /no cluster named jwtgate/);
});
