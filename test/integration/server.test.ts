// Integration tests for the gRPC and HTTP servers over loopback: protobuf round trips, fail-closed
// check errors, gRPC health, and the /metrics /healthz /readyz endpoints.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Registry } from 'prom-client';
import { createLogger } from '../../common/log.ts';
import type { CheckRequestLike } from '../../authz/request/attributes.ts';
import { readAttributes } from '../../authz/request/attributes.ts';
import { toCheckResponse, type CheckResponse } from '../../authz/respond/check-response.ts';
import { startGrpcServer, type GrpcServerHandle, type ServingStatus } from '../../authz/server/grpc-server.ts';
import { startHttpServer, type HttpServerHandle, type Readiness } from '../../authz/server/http-server.ts';
import { createGrpcClient, headerRecord, httpCheckRequest, structToJson, type GrpcClient } from '../../cli/grpc-client.ts';

const log = createLogger('silent');

describe('gRPC server', () => {
  let server: GrpcServerHandle;
  let client: GrpcClient;
  let health: ServingStatus = 'SERVING';
  let seen: CheckRequestLike | undefined;
  /** Each test sets what the stub check does. */
  let behaviour: (req: CheckRequestLike) => Promise<CheckResponse> = async () => {
    throw new Error('unset');
  };

  before(async () => {
    server = await startGrpcServer({
      host: '127.0.0.1',
      port: 0,
      log,
      watchIntervalMs: 20,
      check: (req) => {
        seen = req;
        return behaviour(req);
      },
      health: () => health,
    });
    client = createGrpcClient(`127.0.0.1:${server.port}`);
  });

  after(async () => {
    client.close();
    await server.shutdown(1000);
  });

  test('an allow round-trips: headers with append_action, removals, Struct metadata', async () => {
    behaviour = async () =>
      toCheckResponse({
        kind: 'allow',
        reason: 'allowed',
        trace: [],
        headersToSet: [{ name: 'x-user-id', value: 'alice' }],
        headersToRemove: ['authorization'],
        queryParametersToRemove: ['access_token'],
        metadata: { sub: 'alice', policy: 'JWTPolicy/shop/api', roles: ['admin', 'dev'], claims: { n: 3, ok: true, nil: null } },
      });
    const res = await client.check(
      httpCheckRequest({ method: 'GET', host: 'api.example.com', path: '/orders?access_token=x', headers: { Authorization: 'Bearer t' } }),
    );
    assert.equal(res.status.code, 0);
    assert.equal(res.http_response, 'ok_response');
    const ok = res.ok_response!;
    assert.equal(ok.headers.length, 1);
    assert.deepEqual(ok.headers[0]!.header.key, 'x-user-id');
    assert.deepEqual(ok.headers[0]!.header.value, 'alice');
    assert.deepEqual(ok.headers[0]!.append, { value: false });
    assert.equal(ok.headers[0]!.append_action, 'OVERWRITE_IF_EXISTS_OR_ADD');
    assert.deepEqual(ok.headers_to_remove, ['authorization']);
    assert.deepEqual(ok.query_parameters_to_remove, ['access_token']);
    assert.deepEqual(structToJson(res.dynamic_metadata!), {
      sub: 'alice',
      policy: 'JWTPolicy/shop/api',
      roles: ['admin', 'dev'],
      claims: { n: 3, ok: true, nil: null },
    });
  });

  test('the server hands check a CheckRequest readAttributes understands', async () => {
    behaviour = async () =>
      toCheckResponse({
        kind: 'deny',
        reason: 'no_policy',
        description: 'x',
        deny: { realm: 'r', exposeReason: true, headers: [] },
        trace: [],
      });
    await client.check(
      httpCheckRequest({
        method: 'POST',
        host: 'API.example.com:8443',
        path: '/a?b=1',
        headers: { 'X-Thing': 'v' },
        destinationPrincipal: 'spiffe://cluster.local/ns/shop/sa/api',
      }),
    );
    const attrs = readAttributes(seen!);
    assert.equal(attrs.method, 'POST');
    assert.equal(attrs.host, 'api.example.com');
    assert.equal(attrs.path, '/a?b=1');
    assert.equal(attrs.destinationNamespace, 'shop');
    assert.deepEqual(attrs.headers.get('x-thing'), ['v']);
    assert.match(attrs.requestId ?? '', /^[0-9a-f-]{36}$/);
  });

  test('a denial round-trips: HTTP status enum, challenge, body, gRPC code', async () => {
    behaviour = async () =>
      toCheckResponse({
        kind: 'deny',
        reason: 'token_expired',
        description: 'token is expired',
        trace: [],
        deny: { realm: 'shop', exposeReason: true, headers: [{ name: 'x-deny', value: 'yes' }] },
      });
    const res = await client.check(httpCheckRequest({ method: 'GET', host: 'h', path: '/' }));
    assert.deepEqual(res.status, { code: 7, message: 'token_expired', details: [] });
    assert.equal(res.http_response, 'denied_response');
    const denied = res.denied_response!;
    assert.deepEqual(denied.status, { code: 'Unauthorized' });
    assert.deepEqual(headerRecord(denied.headers), {
      'www-authenticate': 'Bearer realm="shop", error="invalid_token", error_description="token is expired"',
      'content-type': 'application/json',
      'x-deny': 'yes',
    });
    assert.ok(denied.headers.every((h) => h.append_action === 'OVERWRITE_IF_EXISTS_OR_ADD' && h.append?.value === false));
    assert.deepEqual(JSON.parse(denied.body), { error: 'invalid_token', error_description: 'token is expired', reason: 'token_expired' });
  });

  const internalErrorCases: [string, (req: CheckRequestLike) => Promise<CheckResponse>][] = [
    [
      'rejects',
      async () => {
        throw new Error('boom');
      },
    ],
    [
      'throws synchronously',
      () => {
        throw new Error('sync boom');
      },
    ],
    [
      'answers without a status',
      async () => ({ ok_response: { headers: [], headers_to_remove: [], query_parameters_to_remove: [] } }) as unknown as CheckResponse,
    ],
    [
      'answers something protobuf cannot encode',
      async () => ({ status: { code: 0, message: 'x' }, ok_response: { headers: 5 } }) as unknown as CheckResponse,
    ],
  ];
  for (const [name, failing] of internalErrorCases) {
    test(`a check that ${name} yields a 503 denial, not a gRPC error`, async () => {
      behaviour = failing;
      const res = await client.check(httpCheckRequest({ method: 'GET', host: 'h', path: '/' }));
      assert.equal(res.status.code, 14);
      assert.equal(res.http_response, 'denied_response');
      assert.equal(res.denied_response!.status.code, 'ServiceUnavailable');
      assert.equal(JSON.parse(res.denied_response!.body).reason, 'internal_error');
    });
  }

  test('health Check answers SERVING / NOT_SERVING for "" and the Authorization service', async () => {
    health = 'SERVING';
    assert.equal(await client.health(''), 'SERVING');
    assert.equal(await client.health('envoy.service.auth.v3.Authorization'), 'SERVING');
    health = 'NOT_SERVING';
    assert.equal(await client.health(''), 'NOT_SERVING');
    health = 'SERVING';
  });

  test('health Check for an unknown service is NOT_FOUND', async () => {
    await assert.rejects(client.health('some.Other'), (error: { code?: number }) => error.code === 5);
  });

  test('health Watch sends the current status first', async () => {
    health = 'NOT_SERVING';
    assert.equal(await client.watchFirst(''), 'NOT_SERVING');
    health = 'SERVING';
    assert.equal(await client.watchFirst('envoy.service.auth.v3.Authorization'), 'SERVING');
    assert.equal(await client.watchFirst('some.Other'), 'SERVICE_UNKNOWN');
  });
});

describe('gRPC server shutdown', () => {
  test('health Watch reports changes, then NOT_SERVING and the end of the stream on shutdown', async () => {
    let health: ServingStatus = 'SERVING';
    const server = await startGrpcServer({
      host: '127.0.0.1',
      port: 0,
      log,
      watchIntervalMs: 10,
      health: () => health,
      check: () => Promise.reject(new Error('unused')),
    });
    const client = createGrpcClient(`127.0.0.1:${server.port}`);
    try {
      const seen: string[] = [];
      let onSeen: () => void = () => {};
      const watch = client.watch('', (status) => {
        seen.push(status);
        onSeen();
      });
      const waitFor = (count: number) =>
        new Promise<void>((resolve) => {
          onSeen = () => {
            if (seen.length >= count) resolve();
          };
          onSeen();
        });
      await waitFor(1);
      health = 'NOT_SERVING';
      await waitFor(2);
      health = 'SERVING';
      await waitFor(3);
      await server.shutdown(2000);
      await watch.ended;
      assert.deepEqual(seen, ['SERVING', 'NOT_SERVING', 'SERVING', 'NOT_SERVING']);
    } finally {
      client.close();
    }
  });

  test('shutdown drains an in-flight check, then calls fail', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered: () => void = () => {};
    const checking = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const server = await startGrpcServer({
      host: '127.0.0.1',
      port: 0,
      log,
      health: () => 'SERVING',
      check: async () => {
        entered();
        await gate;
        return toCheckResponse({
          kind: 'allow',
          reason: 'allowed',
          headersToSet: [],
          headersToRemove: [],
          queryParametersToRemove: [],
          metadata: {},
          trace: [],
        });
      },
    });
    const client = createGrpcClient(`127.0.0.1:${server.port}`);
    try {
      const inFlight = client.check(httpCheckRequest({ method: 'GET', host: 'h', path: '/' }));
      await checking; // the server is inside the check
      const stopped = server.shutdown(5000);
      release();
      assert.equal((await inFlight).status.code, 0);
      await stopped;
      await assert.rejects(client.health(''));
    } finally {
      client.close();
    }
  });

  test('shutdown forces connections closed after the grace period', async () => {
    let entered: () => void = () => {};
    const checking = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const server = await startGrpcServer({
      host: '127.0.0.1',
      port: 0,
      log,
      health: () => 'SERVING',
      check: () => {
        entered();
        return new Promise<CheckResponse>(() => {});
      },
    });
    const client = createGrpcClient(`127.0.0.1:${server.port}`);
    try {
      const stuck = client.check(httpCheckRequest({ method: 'GET', host: 'h', path: '/' }));
      stuck.catch(() => {});
      await checking; // the server is inside the check that never ends
      const started = Date.now();
      await server.shutdown(100);
      assert.ok(Date.now() - started < 2000);
      await assert.rejects(stuck);
    } finally {
      client.close();
    }
  });
});

describe('HTTP server', () => {
  let server: HttpServerHandle;
  let readiness: () => Readiness = () => ({ ready: true, detail: { generation: 3 } });
  const registry = new Registry();
  const counter = new Counter({ name: 'jwtgate_test_total', help: 'test counter', registers: [registry] });

  before(async () => {
    server = await startHttpServer({ host: '127.0.0.1', port: 0, registry, ready: () => readiness(), log });
  });
  after(() => server.close());

  const get = (path: string, method = 'GET') => fetch(`http://127.0.0.1:${server.port}${path}`, { method });

  test('/metrics serves the registry in Prometheus text format', async () => {
    counter.inc(2);
    const res = await get('/metrics');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), registry.contentType);
    assert.match(await res.text(), /^jwtgate_test_total 2$/m);
  });

  test('/healthz is 200', async () => {
    const res = await get('/healthz');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ok' });
  });

  test('/readyz follows ready() with the detail as JSON', async () => {
    readiness = () => ({ ready: true, detail: { generation: 3 } });
    let res = await get('/readyz');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ready: true, detail: { generation: 3 } });

    readiness = () => ({ ready: false, detail: { snapshot: 'not loaded' } });
    res = await get('/readyz?verbose=1');
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), { ready: false, detail: { snapshot: 'not loaded' } });
  });

  test('/readyz is 503 when ready() throws', async () => {
    readiness = () => {
      throw new Error('broken');
    };
    const res = await get('/readyz');
    assert.equal(res.status, 503);
    assert.equal(((await res.json()) as Readiness).ready, false);
  });

  test('unknown paths and other methods are 404', async () => {
    assert.equal((await get('/nope')).status, 404);
    assert.equal((await get('/metrics', 'POST')).status, 404);
  });
});
