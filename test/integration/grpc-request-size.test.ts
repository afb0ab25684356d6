// A CheckRequest over the size limit, or one that is not protobuf, is an ordinary denial with a
// reason (413 request_too_large, 400 request_invalid), never a gRPC error: over real gRPC against
// the server alone, and against `jwtgate serve` configured with JWTGATE_MAX_REQUEST_BYTES.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, credentials, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { createLogger } from '../../common/log.ts';
import type { CheckRequestLike } from '../../authz/request/attributes.ts';
import { toCheckResponse } from '../../authz/respond/check-response.ts';
import { startGrpcServer, type GrpcServerHandle, type UnreadReason } from '../../authz/server/grpc-server.ts';
import { authorizationService } from '../../authz/server/protos.ts';
import { createGrpcClient, httpCheckRequest, type DecodedCheckResponse, type GrpcClient } from '../../cli/grpc-client.ts';
import { denied } from '../support/decisions.ts';
import { jwtIssuer, jwtPolicy, joinManifests } from '../../dev/fixtures/manifests.ts';
import { startStandalone, type StandaloneService } from '../../dev/standalone-service.ts';
import { TEST_AUDIENCE, TEST_ISSUER } from '../../dev/fixtures/tokens.ts';

const LIMIT = 16 * 1024;
/** Above this grpc-js itself refuses the message (grpc-server.ts TRANSPORT_CAP_FACTOR = 4). */
const TRANSPORT_CAP = 4 * LIMIT;

/** A CheckRequest whose encoded size is about `bytes`: one header carries the bulk. */
const requestOfSize = (bytes: number): CheckRequestLike =>
  httpCheckRequest({ method: 'GET', host: 'api.test', path: '/', headers: { 'x-bulk': 'b'.repeat(bytes) } });

/** The exact encoded size of a request, as the server's deserializer sees it. */
const encodedSize = (request: CheckRequestLike): number => authorizationService.Check!.requestSerialize(request).length;

/** A request of exactly `bytes` encoded bytes (nested length varints grow, hence the search). */
function requestOfEncodedSize(bytes: number): CheckRequestLike {
  const estimate = 2 * bytes - encodedSize(requestOfSize(bytes));
  for (let bulk = estimate - 8; bulk <= estimate + 8; bulk++) {
    const request = requestOfSize(bulk);
    if (encodedSize(request) === bytes) return request;
  }
  throw new Error(`no request encodes to exactly ${bytes} bytes`);
}

/** Sends `bytes` as the Check message, unencoded: what a client that is not Envoy might send. */
function checkRaw(address: string, bytes: Buffer): Promise<DecodedCheckResponse> {
  const method = authorizationService.Check!;
  const client = new Client(address, credentials.createInsecure());
  return new Promise<DecodedCheckResponse>((resolve, reject) => {
    client.makeUnaryRequest(
      method.path,
      (raw: Buffer) => raw,
      method.responseDeserialize,
      bytes,
      (error: ServiceError | null, value?: object) => {
        client.close();
        if (error) reject(error);
        else resolve(value as DecodedCheckResponse);
      },
    );
  });
}

describe('gRPC server: request size and undecodable requests', () => {
  let server: GrpcServerHandle;
  let client: GrpcClient;
  const checked: CheckRequestLike[] = [];
  const unread: UnreadReason[] = [];

  before(async () => {
    server = await startGrpcServer({
      host: '127.0.0.1',
      port: 0,
      log: createLogger('silent'),
      health: () => 'SERVING',
      maxRequestBytes: LIMIT,
      check: async (req) => {
        checked.push(req);
        return toCheckResponse({
          kind: 'deny',
          reason: 'no_policy',
          description: 'x',
          deny: { realm: 'r', exposeReason: true, headers: [] },
          trace: [],
        });
      },
      unread: (reason) => {
        unread.push(reason);
      },
    });
    client = createGrpcClient(`127.0.0.1:${server.port}`);
  });

  after(async () => {
    client.close();
    await server.shutdown(1000);
  });

  test('a request of exactly the limit reaches check', async () => {
    const exact = requestOfEncodedSize(LIMIT);
    checked.length = 0;
    assert.equal(JSON.parse((await client.check(exact)).denied_response!.body).reason, 'no_policy');
    assert.equal(checked.length, 1);
  });

  test('one byte over the limit: a 413 request_too_large denial, not decoded, not handed to check', async () => {
    const over = requestOfEncodedSize(LIMIT + 1);
    checked.length = 0;
    unread.length = 0;
    const res = await client.check(over);
    assert.equal(res.status.code, GrpcStatus.INVALID_ARGUMENT);
    const d = denied(res);
    assert.equal(d.status, 'PayloadTooLarge');
    assert.deepEqual(d.body, {
      error: 'content_too_large',
      error_description: 'the request is too large to check',
      reason: 'request_too_large',
    });
    assert.equal(d.headers['www-authenticate'], undefined, 'no token was judged, so no challenge');
    assert.deepEqual([checked.length, unread], [0, ['request_too_large']]);
  });

  test('just under the transport cap it is still a denial with a reason', async () => {
    const res = await client.check(requestOfSize(TRANSPORT_CAP - 1024));
    assert.equal(denied(res).body.reason, 'request_too_large');
  });

  test('above the transport cap grpc-js refuses the message (RESOURCE_EXHAUSTED); Envoy then applies status_on_error', async () => {
    await assert.rejects(
      client.check(requestOfSize(TRANSPORT_CAP + 1024)),
      (error: ServiceError) => error.code === GrpcStatus.RESOURCE_EXHAUSTED,
    );
  });

  test('bytes that are not a CheckRequest: a 400 request_invalid denial, not a gRPC INTERNAL error', async () => {
    unread.length = 0;
    // Field 1 (attributes), length-delimited, with a length varint cut short.
    const res = await checkRaw(`127.0.0.1:${server.port}`, Buffer.from([0x0a, 0xff]));
    assert.equal(res.status.code, GrpcStatus.INVALID_ARGUMENT);
    const d = denied(res);
    assert.deepEqual([d.status, d.body.reason], ['BadRequest', 'request_invalid']);
    assert.deepEqual(unread, ['request_invalid']);
  });
});

describe('jwtgate serve: JWTGATE_MAX_REQUEST_BYTES', () => {
  let standalone: StandaloneService;

  before(async () => {
    standalone = await startStandalone(
      {
        'all.yaml': joinManifests(
          jwtIssuer({
            name: 'idp',
            namespace: 'shop',
            spec: { issuer: TEST_ISSUER, audiences: [TEST_AUDIENCE], algorithms: ['RS256'], jwksUri: 'http://127.0.0.1:9/jwks' },
          }),
          jwtPolicy({
            name: 'api',
            namespace: 'shop',
            spec: { targets: [{ hosts: ['api.test'] }], issuers: { anyOf: [{ name: 'idp' }] } },
          }),
        ),
      },
      { JWTGATE_MAX_REQUEST_BYTES: String(LIMIT) },
    );
  });

  after(async () => {
    await standalone?.close();
  });

  test('under the limit the request is decided as usual; over it, 413 request_too_large, counted in /metrics', async () => {
    assert.equal(denied(await standalone.client.check(requestOfSize(LIMIT / 2))).body.reason, 'token_missing');
    const d = denied(await standalone.client.check(requestOfSize(LIMIT * 2)));
    assert.deepEqual([d.status, d.body.reason], ['PayloadTooLarge', 'request_too_large']);
    const metrics = await (await fetch(`http://127.0.0.1:${standalone.svc.httpPort}/metrics`)).text();
    assert.match(metrics, /jwtgate_checks_total\{decision="deny",reason="request_too_large"\} 1/);
  });
});
