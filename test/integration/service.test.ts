// End to end through the real CLI: `jwtgate serve` as a child process, a real gRPC client built
// from protos/, a real HTTP JWKS server, manifests written to a temporary folder. Covers the
// decisions on the wire, metrics, hot reload (folder and snapshot file) and the SIGTERM drain.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createGrpcClient, headerRecord, httpCheckRequest, structToJson, type GrpcClient } from '../../cli/grpc-client.ts';
import { denied } from '../support/decisions.ts';
import { jwtIssuer, jwtPolicy, joinManifests, type IssuerManifestSpec } from '../../dev/fixtures/manifests.ts';
import { startServeProcess, type ServeProcess } from '../../dev/serve-process.ts';
import { startStandalone, type StandaloneService } from '../../dev/standalone-service.ts';
import { startJwksServer, type JwksServer } from '../support/jwks-server.ts';
import {
  craftToken,
  generateTestKey,
  jwksOf,
  segment,
  signToken,
  standardClaims,
  TEST_AUDIENCE,
  TEST_ISSUER,
  type TestKey,
} from '../../dev/fixtures/tokens.ts';
import { waitFor } from '../support/wait-for.ts';

const HOST = 'orders.test';

/** The one issuer, with `keys` as its key source (a JWKS URL, or an inline set for `compile`). */
function issuerManifest(keys: Pick<IssuerManifestSpec, 'jwksUri' | 'jwks'>): string {
  return jwtIssuer({
    name: 'idp',
    namespace: 'shop',
    spec: {
      issuer: TEST_ISSUER,
      audiences: [TEST_AUDIENCE],
      ...keys,
      algorithms: ['RS256'],
      clockSkewSeconds: 0,
      remote: { cooldownSeconds: 1, timeoutMs: 1500 },
    },
  });
}

/** The orders policy requiring `scope`, and the unchecked /healthz. */
function policyManifest(scope: string): string {
  return joinManifests(
    jwtPolicy({
      name: 'orders',
      namespace: 'shop',
      spec: {
        targets: [{ hosts: [HOST], paths: [{ prefix: '/orders' }] }],
        issuers: { anyOf: [{ name: 'idp' }] },
        rules: [{ claim: 'scope', containsAll: [scope] }],
        forward: {
          claimsToHeaders: [
            { claim: 'sub', header: 'x-user-id' },
            { claim: 'roles', header: 'x-user-roles', encoding: 'csv' },
          ],
          metadataClaims: ['tenant'],
        },
        deny: { realm: 'orders' },
      },
    }),
    jwtPolicy({
      name: 'health',
      namespace: 'shop',
      spec: { mode: 'Disabled', targets: [{ hosts: [HOST], paths: [{ exact: '/healthz' }] }] },
    }),
  );
}

const request = (path: string, headers: Record<string, string> = {}) => httpCheckRequest({ method: 'GET', host: HOST, path, headers });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function metricsText(svc: ServeProcess): Promise<string> {
  return (await fetch(`http://127.0.0.1:${svc.httpPort}/metrics`)).text();
}

describe('jwtgate serve --policies (standalone mode)', () => {
  let standalone: StandaloneService;
  let idp: JwksServer;
  let key: TestKey;
  let svc: ServeProcess;
  let client: GrpcClient;

  before(async () => {
    key = await generateTestKey('RS256', 'k1');
    idp = await startJwksServer({ jwks: jwksOf(key) });
    standalone = await startStandalone({
      'issuer.yaml': issuerManifest({ jwksUri: idp.jwksUrl }),
      'policy.yaml': policyManifest('orders:read'),
    });
    ({ svc, client } = standalone);
  });

  after(async () => {
    await standalone?.close();
    await idp?.close();
  });

  test('is ready once the issuer has keys, fetched at load, not on the first request', async () => {
    const res = await fetch(`http://127.0.0.1:${svc.httpPort}/readyz`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { detail: { issuers: Record<string, { keyCount: number }> } };
    assert.equal(body.detail.issuers['shop/idp']?.keyCount, 1);
    assert.equal(idp.requests.jwks, 1);
    assert.equal(await client.health(''), 'SERVING');
  });

  test('allows a valid token: claim headers overwrite client copies, the token is stripped, metadata carries the principal', async () => {
    const token = await signToken(key, standardClaims({ scope: 'orders:read profile', roles: ['buyer', 'admin'], tenant: 'acme' }));
    const response = await client.check(request('/orders/42?x=1', { ...bearer(token), 'x-user-id': 'mallory' }));
    assert.equal(response.http_response, 'ok_response');
    assert.equal(response.status?.code, 0);
    const ok = response.ok_response!;
    assert.deepEqual(headerRecord(ok.headers ?? []), { 'x-user-id': 'alice', 'x-user-roles': 'buyer,admin' });
    for (const h of ok.headers ?? []) {
      assert.equal(h.append?.value, false);
      assert.equal(h.append_action, 'OVERWRITE_IF_EXISTS_OR_ADD');
    }
    assert.ok(ok.headers_to_remove?.includes('authorization'));
    const metadata = structToJson(response.dynamic_metadata!);
    assert.equal(metadata.sub, 'alice');
    assert.equal(metadata.policy, 'JWTPolicy/shop/orders');
    assert.equal(metadata.tenant, 'acme');
  });

  test('denies a missing token with 401 and an RFC 6750 challenge without error=', async () => {
    const d = denied(await client.check(request('/orders')));
    assert.equal(d.status, 'Unauthorized');
    assert.equal(d.headers['www-authenticate'], 'Bearer realm="orders"');
    assert.equal(d.body.reason, 'token_missing');
  });

  test('denies a valid token that fails the rules with 403 insufficient_scope', async () => {
    const token = await signToken(key, standardClaims({ scope: 'profile' }));
    const d = denied(await client.check(request('/orders', bearer(token))));
    assert.equal(d.status, 'Forbidden');
    assert.match(d.headers['www-authenticate'] ?? '', /^Bearer realm="orders", error="insufficient_scope"/);
    assert.equal(d.body.reason, 'rule_failed');
  });

  test('denies unmatched routes by default and skips checks where the policy says Disabled', async () => {
    assert.equal(denied(await client.check(request('/elsewhere'))).body.reason, 'no_policy');
    assert.equal(
      denied(await client.check(httpCheckRequest({ method: 'GET', host: 'other.test', path: '/orders' }))).body.reason,
      'no_policy',
    );
    const health = await client.check(request('/healthz'));
    assert.equal(health.http_response, 'ok_response');
  });

  test('dot-segments and encodings cannot reach a protected path through the unprotected one', async () => {
    for (const path of ['/healthz/../orders', '/healthz/%2e%2e/orders', '/healthz/..%2forders', '/healthz%2f..%2forders']) {
      const response = await client.check(request(path));
      assert.equal(response.http_response, 'denied_response', path);
    }
  });

  test('each bad token is denied with its own reason and the service keeps serving', async () => {
    const other = await generateTestKey('RS256', 'k1');
    const cases: [string, string | Promise<string>][] = [
      ['token_malformed', 'abc.def'],
      ['token_malformed', 'a.b.c.d'],
      ['header_invalid', `${segment('{not json')}.${segment(standardClaims())}.sig`],
      ['alg_none', craftToken({ alg: 'nOnE' }, standardClaims(), '')],
      ['header_key_source_forbidden', signToken(key, standardClaims(), { jku: 'https://evil.test/jwks' })],
      ['signature_invalid', signToken(other, standardClaims({ scope: 'orders:read' }))],
      ['token_expired', signToken(key, standardClaims({ exp: Math.floor(Date.now() / 1000) - 10 }))],
      ['issuer_untrusted', signToken(key, standardClaims({ iss: 'https://evil.test' }))],
      ['audience_mismatch', signToken(key, standardClaims({ aud: 'api://other' }))],
      ['token_too_large', `${'a'.repeat(9000)}.b.c`],
    ];
    for (const [reason, token] of cases) {
      const d = denied(await client.check(request('/orders', bearer(await token))));
      assert.equal(d.body.reason, reason, `expected ${reason}`);
    }
    const metrics = await metricsText(svc);
    assert.match(metrics, /jwtgate_checks_total\{decision="deny",reason="alg_none"\} 1/);
    assert.equal(await client.health(''), 'SERVING');
  });

  test('recompiles on a manifest change, and keeps the old snapshot when a file cannot be parsed', async () => {
    const token = await signToken(key, standardClaims({ scope: 'orders:write' }));
    assert.equal(denied(await client.check(request('/orders', bearer(token)))).body.reason, 'rule_failed');

    const applied = svc.logs.filter((l) => l.msg === 'snapshot applied').length;
    await standalone.writeFile('policy.yaml', policyManifest('orders:write'));
    await svc.waitForLog((l) => l.msg === 'snapshot applied' && svc.logs.filter((x) => x.msg === 'snapshot applied').length > applied);
    assert.equal((await client.check(request('/orders', bearer(token)))).http_response, 'ok_response');

    await standalone.writeFile('policy.yaml', 'kind: JWTPolicy\nspec: [unclosed\n');
    await svc.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('snapshot refused'));
    assert.equal((await client.check(request('/orders', bearer(token)))).http_response, 'ok_response');
    assert.match(await metricsText(svc), /jwtgate_snapshot_reloads_total\{result="invalid"\} [1-9]/);
  });
});

describe('jwtgate serve --snapshot (compiled file)', () => {
  let dir: string;
  let key: TestKey;
  let svc: ServeProcess;
  let client: GrpcClient;
  const snapshotFile = () => join(dir, 'snapshot.json');

  async function compileTo(scope: string): Promise<string> {
    const manifests = join(dir, `m-${scope.replace(':', '-')}`);
    await rm(manifests, { recursive: true, force: true });
    await mkdir(manifests);
    await writeFile(join(manifests, 'all.yaml'), joinManifests(issuerManifest({ jwks: jwksOf(key) }), policyManifest(scope)));
    const cli = new URL('../../cli/jwtgate.ts', import.meta.url).pathname;
    const { stdout } = await promisify(execFile)(process.execPath, [cli, 'compile', manifests]);
    return stdout;
  }

  before(async () => {
    key = await generateTestKey('RS256', 'k1');
    dir = await mkdtemp(join(tmpdir(), 'jwtgate-snap-'));
    await writeFile(snapshotFile(), await compileTo('orders:read'));
    svc = await startServeProcess(['--snapshot', snapshotFile()]);
    await svc.waitForLog((l) => l.msg === 'snapshot applied');
    client = createGrpcClient(`127.0.0.1:${svc.grpcPort}`);
  });

  after(async () => {
    client?.close();
    await svc?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('a broken snapshot is refused and the previous one keeps answering; a good one is applied', async () => {
    const reader = await signToken(key, standardClaims({ scope: 'orders:read' }));
    assert.equal((await client.check(request('/orders', bearer(reader)))).http_response, 'ok_response');

    const good = await compileTo('orders:write');
    await writeFile(snapshotFile(), good.slice(0, good.length / 2)); // a truncated write
    await svc.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('snapshot refused'));
    await writeFile(snapshotFile(), good.replace('"orders:write"', '"orders:admin"')); // a hand edit: sha256 mismatch
    await svc.waitForLog((l) => typeof l.err === 'string' && l.err.includes('sha256 mismatch'));
    assert.equal((await client.check(request('/orders', bearer(reader)))).http_response, 'ok_response');

    await writeFile(snapshotFile(), good);
    await svc.waitForLog(
      (l) => l.msg === 'snapshot applied' && l.generation === 1 && svc.logs.filter((x) => x.msg === 'snapshot applied').length === 2,
    );
    assert.equal(denied(await client.check(request('/orders', bearer(reader)))).body.reason, 'rule_failed');
  });
});

describe('graceful shutdown', () => {
  test('SIGTERM lets an in-flight check finish before the process exits', async () => {
    const key = await generateTestKey('RS256', 'k1');
    const idp = await startJwksServer({ jwks: jwksOf(key) });
    const standalone = await startStandalone({
      'all.yaml': joinManifests(issuerManifest({ jwksUri: idp.jwksUrl }), policyManifest('orders:read')),
    });
    const { svc, client } = standalone;
    try {
      // An unknown kid makes the check wait on a key refetch that the IdP never answers. Inside
      // the 1 s cooldown after the load-time fetch it is answered kid_unknown at once instead:
      // check again until a check is held by the refetch (the IdP has been asked).
      idp.failWith('hang');
      const stranger = await generateTestKey('RS256', 'k2');
      const token = await signToken(stranger, standardClaims({ scope: 'orders:read' }));
      const asked = idp.nextRequest('jwks');
      const inFlight = await waitFor(
        'a check held by the hung key refetch',
        async () => {
          const pending = client.check(request('/orders', bearer(token)));
          return Promise.race([pending.then(() => undefined), asked.then(() => ({ pending }))]);
        },
        10_000,
        100,
      );
      const exit = svc.stop('SIGTERM');
      const d = denied(await inFlight.pending);
      assert.equal(d.body.reason, 'keys_unavailable');
      assert.equal(d.status, 'ServiceUnavailable');
      assert.equal(await exit, 0);
    } finally {
      await standalone.close();
      await idp.close();
    }
  });
});
