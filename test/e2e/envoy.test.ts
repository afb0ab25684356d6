// End to end through a real Envoy: client → Envoy (ext_authz gRPC) → `jwtgate serve --policies`
// → echo upstream, all on 127.0.0.1. Proves what users see on the wire (statuses, challenges,
// headers set, overwritten and stripped, query tokens removed, fail-closed when jwtgate is down,
// no lost request across a hot reload), the Envoy facts jwtgate relies on (recorded by a stub
// authorization server), and that examples/envoy/envoy.yaml is a valid bootstrap.
// Needs Envoy from test/peers/envoy/install.sh; JWTGATE_SKIP_ENVOY=1 skips this file.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { authorizationService } from '../../authz/server/protos.ts';
import type { CheckRequestLike } from '../../authz/request/attributes.ts';
import { startEchoServer, type EchoedRequest, type EchoServer } from '../../dev/echo-server.ts';
import { locateEnvoy, startEnvoy, validateEnvoyConfig, type EnvoyOptions, type EnvoyProcess } from '../support/envoy.ts';
import { startJwksServer, type JwksServer } from '../support/jwks-server.ts';
import { jwtIssuer, jwtPolicy } from '../../dev/fixtures/manifests.ts';
import type { ServeProcess } from '../../dev/serve-process.ts';
import { startStandalone, type StandaloneService } from '../../dev/standalone-service.ts';
import { generateTestKey, jwksOf, signToken, standardClaims, TEST_AUDIENCE, TEST_ISSUER, type TestKey } from '../../dev/fixtures/tokens.ts';

const SKIP = process.env.JWTGATE_SKIP_ENVOY === '1' ? 'JWTGATE_SKIP_ENVOY=1: real-Envoy tests skipped' : false;
const HOST = 'orders.test';
const EXAMPLE_BOOTSTRAP = fileURLToPath(new URL('../../examples/envoy/envoy.yaml', import.meta.url));

interface ProxyResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * One HTTP/1.1 request on its own connection (no keep-alive pool: a pooled socket that Envoy
 * closed would fail the next request for reasons of the test's own making). Headers are
 * [name, value] lines in order, so a name may repeat; `host` defaults to {@link HOST}. `path` is
 * sent byte for byte: a URL string would go through WHATWG parsing, which resolves `..` and
 * `%2e%2e` and turns `\` into `/` before anything is sent.
 */
function send(baseUrl: string, path: string, headers: [string, string][] = []): Promise<ProxyResponse> {
  const lines = headers.some(([name]) => name.toLowerCase() === 'host') ? headers : [['host', HOST] as [string, string], ...headers];
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, path, method: 'GET', agent: false, headers: lines.flat() }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** What the upstream received, after asserting the request was allowed through. */
function upstreamSaw(response: ProxyResponse): EchoedRequest {
  assert.equal(response.status, 200, `expected the request to reach upstream, got ${response.status} ${response.body}`);
  return JSON.parse(response.body) as EchoedRequest;
}

/** A denial's status, challenge and JSON body as Envoy relays them from jwtgate. */
function denial(response: ProxyResponse): { status: number; challenge: string | undefined; body: Record<string, unknown> } {
  assert.equal(response.headers['content-type'], 'application/json', `not a jwtgate denial: ${response.status} ${response.body}`);
  return {
    status: response.status,
    challenge: response.headers['www-authenticate'],
    body: JSON.parse(response.body) as Record<string, unknown>,
  };
}

/** Envoy's `http.ingress.ext_authz.*` counters, from its admin API. */
async function extAuthzStats(envoy: EnvoyProcess): Promise<Record<string, number>> {
  const text = await (await fetch(`${envoy.adminUrl}/stats?filter=${encodeURIComponent('^http\\.ingress\\.ext_authz\\.')}`)).text();
  return Object.fromEntries(
    text
      .trim()
      .split('\n')
      .map((line) => {
        const [name = '', value = ''] = line.split(': ');
        return [name.replace('http.ingress.ext_authz.', ''), Number(value)];
      }),
  );
}

const bearer = (token: string): [string, string] => ['authorization', `Bearer ${token}`];

function issuerManifest(jwksUri: string): string {
  return jwtIssuer({
    name: 'idp',
    namespace: 'shop',
    spec: {
      issuer: TEST_ISSUER,
      audiences: [TEST_AUDIENCE],
      jwksUri,
      algorithms: ['RS256'],
      clockSkewSeconds: 0,
    },
  });
}

/** The orders API: scope rule, claim headers, token from the header or `access_token`, stripped. */
function ordersManifest(scope: string): string {
  return jwtPolicy({
    name: 'orders',
    namespace: 'shop',
    spec: {
      targets: [{ hosts: [HOST], paths: [{ prefix: '/orders' }] }],
      issuers: { anyOf: [{ name: 'idp' }] },
      tokenSources: [{ header: { name: 'Authorization', prefix: 'Bearer ' } }, { query: 'access_token' }],
      rules: [{ claim: 'scope', containsAll: [scope] }],
      forward: {
        claimsToHeaders: [
          { claim: 'sub', header: 'x-user-id' },
          { claim: 'roles', header: 'x-user-roles', encoding: 'csv' },
        ],
      },
      deny: { realm: 'orders' },
    },
  });
}

const KEEP_MANIFEST = jwtPolicy({
  name: 'legacy',
  namespace: 'shop',
  spec: {
    targets: [{ hosts: [HOST], paths: [{ prefix: '/legacy' }] }],
    issuers: { anyOf: [{ name: 'idp' }] },
    forward: { token: 'Keep', claimsToHeaders: [{ claim: 'sub', header: 'x-user-id' }] },
  },
});

/** Opens /tenant for traffic known to be namespace shop's (no hosts: the namespace must be known). */
const TENANT_MANIFEST = jwtPolicy({
  name: 'tenant',
  namespace: 'shop',
  spec: { mode: 'Disabled', targets: [{ paths: [{ prefix: '/tenant' }] }] },
});

describe('Envoy in front of jwtgate serve --policies', { skip: SKIP }, () => {
  let standalone: StandaloneService;
  let idp: JwksServer;
  let key: TestKey;
  let svc: ServeProcess;
  let echo: EchoServer;
  let envoy: EnvoyProcess;
  const appliedCount = () => svc.logs.filter((l) => l.msg === 'snapshot applied').length;

  before(async () => {
    key = await generateTestKey('RS256', 'k1');
    idp = await startJwksServer({ jwks: jwksOf(key) });
    standalone = await startStandalone({
      'issuer.yaml': issuerManifest(idp.jwksUrl),
      'orders.yaml': ordersManifest('orders:read'),
      'legacy.yaml': KEEP_MANIFEST,
      'tenant.yaml': TENANT_MANIFEST,
    });
    svc = standalone.svc;
    echo = await startEchoServer();
    envoy = await startEnvoy({
      authzPort: svc.grpcPort,
      upstreamPort: echo.port,
      // The route configuration, and only it, names the namespace.
      contextExtensions: { '/tenant/shop': { namespace: 'shop' }, '/tenant/billing': { namespace: 'billing' } },
    });
  });

  after(async () => {
    await envoy?.stop();
    await standalone?.close();
    await echo?.close();
    await idp?.close();
  });

  test('a valid token reaches upstream with the mapped claim headers, the token stripped', async () => {
    const token = await signToken(key, standardClaims({ scope: 'orders:read', roles: ['buyer', 'admin'] }));
    const seen = upstreamSaw(await send(envoy.url, '/orders/42?x=1', [bearer(token)]));
    assert.equal(seen.path, '/orders/42?x=1');
    assert.deepEqual(seen.headers['x-user-id'], ['alice']);
    assert.deepEqual(seen.headers['x-user-roles'], ['buyer,admin']);
    assert.equal(seen.headers.authorization, undefined);
  });

  test('client-sent copies of a mapped header are overwritten, and removed when the claim is absent', async () => {
    const withRoles = await signToken(key, standardClaims({ scope: 'orders:read', roles: ['buyer'] }));
    const forged: [string, string][] = [
      ['x-user-id', 'mallory'],
      ['X-User-Id', 'root'],
      ['x-user-roles', 'admin'],
    ];
    const seen = upstreamSaw(await send(envoy.url, '/orders', [bearer(withRoles), ...forged]));
    assert.deepEqual(seen.headers['x-user-id'], ['alice']);
    assert.deepEqual(seen.headers['x-user-roles'], ['buyer']);

    const withoutRoles = await signToken(key, standardClaims({ scope: 'orders:read' }));
    const bare = upstreamSaw(await send(envoy.url, '/orders', [bearer(withoutRoles), ...forged]));
    assert.deepEqual(bare.headers['x-user-id'], ['alice']);
    assert.equal(bare.headers['x-user-roles'], undefined, 'a forged header for a missing claim must not pass');
  });

  test("the route's context_extensions set the namespace; a client's headers cannot", async () => {
    // A hostless shop policy opens /tenant only where the namespace is known to be shop.
    upstreamSaw(await send(envoy.url, '/tenant/shop/x'));
    const forged: [string, string][] = [
      ['namespace', 'shop'],
      ['x-namespace', 'shop'],
      ['x-forwarded-client-cert', 'By=spiffe://cluster.local/ns/shop/sa/api;URI=spiffe://cluster.local/ns/shop/sa/api'],
    ];
    // A route without the extension, for a host no grant covers: the namespace stays unknown, so
    // the shop policy cannot apply.
    const unnamed = await send(envoy.url, '/tenant/other/x', [['host', 'elsewhere.test'], ...forged]);
    assert.equal(unnamed.status, 403);
    assert.equal(denial(unnamed).body.reason, 'no_policy');
    // The same route for HOST, which the folder's lone namespace is granted by default (its
    // policies name it): shop's traffic, so shop's policies decide, hostless ones included.
    upstreamSaw(await send(envoy.url, '/tenant/other/x'));
    // A route the configuration gives to billing stays billing's.
    const billing = await send(envoy.url, '/tenant/billing/x', forged);
    assert.equal(billing.status, 403);
    assert.equal(denial(billing).body.reason, 'no_policy');
  });

  test('forward.token: Keep leaves the Authorization header for the upstream', async () => {
    const token = await signToken(key, standardClaims());
    const seen = upstreamSaw(await send(envoy.url, '/legacy/report', [bearer(token)]));
    assert.deepEqual(seen.headers.authorization, [`Bearer ${token}`]);
    assert.deepEqual(seen.headers['x-user-id'], ['alice']);
  });

  test('a token in the query is removed from the path sent upstream, other parameters kept in order', async () => {
    const token = await signToken(key, standardClaims({ scope: 'orders:read' }));
    const seen = upstreamSaw(await send(envoy.url, `/orders/7?a=1&access_token=${token}&b=2`));
    assert.equal(seen.path, '/orders/7?a=1&b=2');
    assert.deepEqual(seen.headers['x-user-id'], ['alice']);
  });

  test('a missing token gets 401 with a bare challenge and the JSON body, and never reaches upstream', async () => {
    const reached = echo.requests;
    const d = denial(await send(envoy.url, '/orders'));
    assert.equal(d.status, 401);
    assert.equal(d.challenge, 'Bearer realm="orders"');
    assert.deepEqual(d.body, { error: 'unauthorized', error_description: 'a bearer token is required', reason: 'token_missing' });
    assert.equal(echo.requests, reached);
  });

  test('an invalid token gets 401 with error="invalid_token"', async () => {
    const stranger = await generateTestKey('RS256', 'k1');
    const d = denial(await send(envoy.url, '/orders', [bearer(await signToken(stranger, standardClaims({ scope: 'orders:read' })))]));
    assert.equal(d.status, 401);
    assert.match(d.challenge ?? '', /^Bearer realm="orders", error="invalid_token", error_description="[^"]+"$/);
    assert.equal(d.body.error, 'invalid_token');
    assert.equal(d.body.reason, 'signature_invalid');
  });

  test('a valid token that fails the rules gets 403 with error="insufficient_scope"', async () => {
    const reached = echo.requests;
    const d = denial(await send(envoy.url, '/orders', [bearer(await signToken(key, standardClaims({ scope: 'profile' })))]));
    assert.equal(d.status, 403);
    assert.match(d.challenge ?? '', /^Bearer realm="orders", error="insufficient_scope"/);
    assert.equal(d.body.error, 'insufficient_scope');
    assert.equal(d.body.reason, 'rule_failed');
    assert.equal(echo.requests, reached);
  });

  test('a valid token for another audience gets 401 invalid_token (RFC 6750 §3.1), not 403', async () => {
    const d = denial(
      await send(envoy.url, '/orders', [bearer(await signToken(key, standardClaims({ scope: 'orders:read', aud: 'api://billing' })))]),
    );
    assert.deepEqual([d.status, d.body.error, d.body.reason], [401, 'invalid_token', 'audience_mismatch']);
    assert.match(d.challenge ?? '', /^Bearer realm="orders", error="invalid_token"/);
  });

  test('several credentials in Authorization (one line, or two lines Envoy joins) get 400 invalid_request; the token in them never reaches upstream', async () => {
    const reached = echo.requests;
    const token = await signToken(key, standardClaims({ scope: 'orders:read' }));
    const cases: [string, [string, string][]][] = [
      ['Basic x, Bearer T on one line', [['authorization', `Basic dXNlcjpwYXNz, Bearer ${token}`]]],
      ['Basic and Bearer on two lines', [['authorization', 'Basic dXNlcjpwYXNz'], bearer(token)]],
      ['the same Bearer line twice', [bearer(token), bearer(token)]],
    ];
    for (const [name, headers] of cases) {
      const d = denial(await send(envoy.url, '/orders', headers));
      assert.deepEqual([d.status, d.body.error, d.body.reason], [400, 'invalid_request', 'credentials_malformed'], name);
      assert.match(d.challenge ?? '', /^Bearer realm="orders", error="invalid_request"/, name);
    }
    assert.equal(echo.requests, reached);
  });

  test('the /public route, with ext_authz disabled per route, passes without asking jwtgate', async () => {
    const seen = upstreamSaw(await send(envoy.url, '/public/catalog?page=2'));
    assert.equal(seen.path, '/public/catalog?page=2');
    // The control: any other route without a policy is asked, and jwtgate denies it by default.
    const d = denial(await send(envoy.url, '/elsewhere'));
    assert.equal(d.status, 403);
    assert.equal(d.body.reason, 'no_policy');
  });

  test('encoded dot-segments and slashes cannot reach a protected path through the unchecked /public route', async () => {
    // Without path_with_escaped_slashes_action, Envoy routes `/public/..%2forders` to /public
    // (no ext_authz) and forwards it as is: an upstream that decodes %2F serves /orders unchecked.
    const reached = echo.requests;
    for (const path of [
      '/public/%2e%2e/orders',
      '/public/..\\orders',
      '/public/..%2forders',
      '/public%2F..%2Forders',
      '/public/..%5corders',
    ]) {
      const response = await send(envoy.url, path);
      if (response.status === 307) assert.equal(response.headers.location, '/orders', path);
      else assert.equal(denial(response).body.reason, 'token_missing', path);
    }
    assert.equal(echo.requests, reached);
  });

  test('why per-route bypasses use an exact path: a prefix route lets /public/%2e%2e;/orders through unasked', async () => {
    // normalize_path resolves a raw `..;` segment (to /orders, then asks jwtgate), but decodes
    // `%2e%2e;` to `..;` and leaves it: routed by its /public prefix (ext_authz off) and sent as
    // /public/..;/orders, which a servlet container serves as /orders. The README and
    // examples/envoy/envoy.yaml say so; a route that asks jwtgate refuses it (path forms suite).
    assert.equal(denial(await send(envoy.url, '/public/..;/orders')).body.reason, 'token_missing');
    const reached = echo.requests;
    assert.equal(upstreamSaw(await send(envoy.url, '/public/%2e%2e;/orders')).path, '/public/..;/orders');
    assert.equal(echo.requests, reached + 1);
  });

  test('Envoy took every jwtgate answer as meant: none invalid, no header or metadata dropped', async () => {
    const stats = await extAuthzStats(envoy);
    assert.ok((stats.ok ?? 0) > 0 && (stats.denied ?? 0) > 0, JSON.stringify(stats));
    assert.equal(stats.error, 0);
    assert.equal(stats.invalid, 0);
    assert.equal(stats.omitted_response_headers, 0);
    assert.equal(stats.ignored_dynamic_metadata, 0);
    assert.equal(stats.failure_mode_allowed, 0);
  });

  // From here on orders.yaml requires orders:write; the tests after this one use /legacy.
  test('a snapshot reload under a steady stream of requests loses none: each answer is the old or the new policy', async () => {
    const token = await signToken(key, standardClaims({ scope: 'orders:read' }));
    // A steady stream: 4 clients, each pausing PACE_MS between requests, so the reload (150 ms
    // watch debounce + compile) lands while requests are in flight.
    const TOTAL = 300;
    const PACE_MS = 10;
    const RELOAD_AT = 50;
    /** A safety net for slow machines: requests from here on start only once the reload is seen. */
    const SETTLED_FROM = 250;
    const before = appliedCount();
    let applied = false;
    const reloaded = svc
      .waitForLog((l) => l.msg === 'snapshot applied' && appliedCount() > before)
      .then(() => {
        applied = true;
      });
    const results: { index: number; status: number; reason?: unknown; afterReload: boolean }[] = [];
    let next = 0;
    const client = async () => {
      while (next < TOTAL) {
        const index = next++;
        if (index === RELOAD_AT) await standalone.writeFile('orders.yaml', ordersManifest('orders:write'));
        if (index >= SETTLED_FROM) await reloaded;
        const afterReload = applied;
        const response = await send(envoy.url, '/orders/stream', [bearer(token)]);
        const reason = response.status === 403 ? denial(response).body.reason : undefined;
        results.push({ index, status: response.status, reason, afterReload });
        await sleep(PACE_MS);
      }
    };
    await Promise.all(Array.from({ length: 4 }, client));

    assert.equal(results.length, TOTAL);
    const unexpected = results.filter((r) => !(r.status === 200 || (r.status === 403 && r.reason === 'rule_failed')));
    assert.deepEqual(unexpected, [], 'every answer is 200 (old policy) or 403 rule_failed (new policy)');
    assert.ok(
      results.filter((r) => r.index < RELOAD_AT).every((r) => r.status === 200),
      'the old policy allowed',
    );
    assert.deepEqual(
      results.filter((r) => r.afterReload && r.status !== 403),
      [],
      'once applied, the new policy decides',
    );
    assert.ok(results.filter((r) => r.afterReload).length >= TOTAL - SETTLED_FROM);
  });

  test('with jwtgate stopped Envoy fails closed: 403 by default, 503 with status_on_error', async () => {
    const token = await signToken(key, standardClaims());
    assert.equal(upstreamSaw(await send(envoy.url, '/legacy', [bearer(token)])).path, '/legacy');
    await svc.stop();
    const reached = echo.requests;

    const down = await send(envoy.url, '/legacy', [bearer(token)]);
    assert.equal(down.status, 403, 'Envoy answers a failed ext_authz call with 403 unless status_on_error is set');
    assert.equal(down.body, '');
    assert.equal(down.headers['www-authenticate'], undefined);
    const stats = await extAuthzStats(envoy);
    assert.equal(stats.error, 1, 'counted as an ext_authz error, not a denial');
    assert.equal(stats.failure_mode_allowed, 0);

    const strict = await startEnvoy({ authzPort: svc.grpcPort, upstreamPort: echo.port, statusOnError: 503 });
    try {
      assert.equal((await send(strict.url, '/legacy', [bearer(token)])).status, 503);
    } finally {
      await strict.stop();
    }
    assert.equal(echo.requests, reached, 'nothing reached upstream while jwtgate was down');
  });
});

describe('path forms through Envoy: a path the upstream reads as /admin never reaches it without a token', { skip: SKIP }, () => {
  // jwtgate decides every route here (no route has ext_authz off): /public is open by policy,
  // /admin and /reports (case-insensitive) are protected, and everything else is open by default.
  const POLICIES = {
    'public.yaml': jwtPolicy({
      name: 'public',
      namespace: 'shop',
      spec: { mode: 'Disabled', targets: [{ hosts: [HOST], paths: [{ prefix: '/public' }] }] },
    }),
    'admin.yaml': jwtPolicy({
      name: 'admin',
      namespace: 'shop',
      spec: { targets: [{ hosts: [HOST], paths: [{ prefix: '/admin' }] }], issuers: { anyOf: [{ name: 'idp' }] } },
    }),
    'reports.yaml': jwtPolicy({
      name: 'reports',
      namespace: 'shop',
      spec: {
        targets: [{ hosts: [HOST], paths: [{ prefix: '/reports', caseInsensitive: true }] }],
        issuers: { anyOf: [{ name: 'idp' }] },
      },
    }),
  };
  /** Forms that Tomcat, Spring, nginx or a decode-first server read as /admin (or under it). */
  const ADMIN_IN_DISGUISE = [
    '/admin;x=1',
    '/admin/..;/admin',
    '/public/..;/admin',
    '/public/%2e%2e;/admin',
    '/public/../admin',
    '/public/./../admin',
    '/public/%2e%2e/admin',
    '/public/%2E%2E/admin',
    '/public/.%2e/admin',
    '/public/..%2fadmin',
    '/public%2f..%2fadmin',
    '/public/..%5cadmin',
    '/public/..\\admin',
    '//admin',
    '/admin%3bx=1',
    '/public/%c0%ae%c0%ae/admin',
    '/%61dmin',
    '/admin/x;jsessionid=1',
  ];

  let key: TestKey;
  let idp: JwksServer;
  let echo: EchoServer;
  let strict: StandaloneService;
  let lenient: StandaloneService;
  const envoys: Record<string, EnvoyProcess> = {};

  before(async () => {
    key = await generateTestKey('RS256', 'k1');
    idp = await startJwksServer({ jwks: jwksOf(key) });
    echo = await startEchoServer();
    const files = { 'issuer.yaml': issuerManifest(idp.jwksUrl), ...POLICIES };
    [strict, lenient] = await Promise.all([
      startStandalone(files, {}, ['--unmatched', 'allow']),
      startStandalone(files, {}, ['--unmatched', 'allow', '--path-parameters', 'ignore']),
    ]);
    const start = (authz: StandaloneService, pathHandling: EnvoyOptions['pathHandling']) =>
      startEnvoy({ authzPort: authz.svc.grpcPort, upstreamPort: echo.port, bypassPrefix: false, pathHandling, statusOnError: 503 });
    [envoys.recommended, envoys['reject-escaped-slashes'], envoys['envoy-defaults'], envoys['ignore-parameters']] = await Promise.all([
      start(strict, 'recommended'),
      start(strict, 'reject-escaped-slashes'),
      start(strict, 'envoy-defaults'),
      start(lenient, 'recommended'),
    ]);
  });

  after(async () => {
    await Promise.all(Object.values(envoys).map((e) => e.stop()));
    await strict?.close();
    await lenient?.close();
    await echo?.close();
    await idp?.close();
  });

  /** The response to `path`, following one redirect (UNESCAPE_AND_REDIRECT) as a client would. */
  async function sendFollowing(
    envoy: EnvoyProcess,
    path: string,
    headers: [string, string][] = [],
  ): Promise<ProxyResponse & { via?: string }> {
    const response = await send(envoy.url, path, headers);
    const location = response.headers.location;
    if (response.status < 300 || response.status >= 400 || location === undefined) return response;
    return { ...(await send(envoy.url, location, headers)), via: location };
  }

  for (const setup of ['recommended', 'reject-escaped-slashes', 'envoy-defaults', 'ignore-parameters']) {
    test(`${setup}: no disguised /admin reaches the upstream without a token`, async () => {
      const envoy = envoys[setup]!;
      const reached = echo.requests;
      const answers: string[] = [];
      for (const path of ADMIN_IN_DISGUISE) {
        const response = await sendFollowing(envoy, path);
        // jwtgate's 400 request_invalid or 401 token_missing, or Envoy's own 400 before asking.
        const reason =
          response.headers['content-type'] === 'application/json' ? String(denial(response).body.reason) : `envoy ${response.status}`;
        answers.push(`${path}${response.via === undefined ? '' : ` → ${response.via}`}: ${response.status} ${reason}`);
        assert.ok([400, 401].includes(response.status), `${path}: ${response.status} ${response.body}`);
      }
      assert.equal(echo.requests, reached, `nothing reached the upstream:\n${answers.join('\n')}`);
    });
  }

  test('recommended settings: legitimate spellings of an open path arrive in a form jwtgate accepts, and the upstream reads that path', async () => {
    for (const [path, upstreamPath] of [
      ['/public/x', '/public/x'],
      ['/public//x', '/public/x'],
      ['/public/./x', '/public/x'],
      ['/public/a/../x', '/public/x'],
      ['/public//../admin', '/public/admin'], // resolved, then merged: /public/admin to jwtgate and upstream alike
      ['/%70ublic/x', '/public/x'],
      ['/public/caf%c3%a9', '/public/caf%c3%a9'],
      ['/public/a%2fb', '/public/a/b'],
      ['/public/%7Euser', '/public/~user'],
    ] as const) {
      const response = await sendFollowing(envoys.recommended!, path);
      assert.equal(upstreamSaw(response).path, upstreamPath, path);
    }
  });

  test('Envoy defaults forward the raw path: jwtgate refuses the forms a proxy should have normalized (400 request_invalid)', async () => {
    // A merge-first server (nginx) reads /public//../admin as /admin.
    for (const path of ['/public//x', '/public/./x', '/public/a%2fb', '/public//../admin']) {
      const d = denial(await send(envoys['envoy-defaults']!.url, path));
      assert.equal(d.status, 400, path);
      assert.equal(d.body.reason, 'request_invalid', path);
    }
    assert.equal(upstreamSaw(await send(envoys['envoy-defaults']!.url, '/public/x')).path, '/public/x');
  });

  test('pathParameters: ignore: /admin;x=1 is /admin (a token is required, and with one the parameters go upstream)', async () => {
    const envoy = envoys['ignore-parameters']!;
    assert.equal(denial(await send(envoy.url, '/admin;x=1')).body.reason, 'token_missing');
    const token = await signToken(key, standardClaims());
    assert.equal(upstreamSaw(await send(envoy.url, '/admin;x=1', [bearer(token)])).path, '/admin;x=1');
    assert.equal(upstreamSaw(await send(envoy.url, '/public;jsessionid=1/x')).path, '/public;jsessionid=1/x');
    const strictAnswer = denial(await send(envoys.recommended!.url, '/public;jsessionid=1/x'));
    assert.deepEqual([strictAnswer.status, strictAnswer.body.reason], [400, 'request_invalid'], 'the default refuses it');
  });

  test('caseInsensitive: /REPORTS and /Reports/q3 are the protected /reports', async () => {
    for (const path of ['/reports', '/REPORTS', '/Reports/q3']) {
      assert.equal(denial(await send(envoys.recommended!.url, path)).body.reason, 'token_missing', path);
    }
    const token = await signToken(key, standardClaims());
    assert.equal(upstreamSaw(await send(envoys.recommended!.url, '/Reports/q3', [bearer(token)])).path, '/Reports/q3');
  });
});

describe('Envoy ext_authz contract, recorded by a stub authorization server', { skip: SKIP }, () => {
  let server: Server;
  let echo: EchoServer;
  let envoy: EnvoyProcess;
  const recorded: CheckRequestLike[] = [];
  /** The CheckResponse (proto field names) the stub answers next; `{}` has no status at all. */
  let reply: object = {};

  before(async () => {
    server = new Server();
    server.addService(authorizationService, {
      Check: (call: ServerUnaryCall<CheckRequestLike, object>, callback: sendUnaryData<object>) => {
        recorded.push(call.request);
        callback(null, reply);
      },
    });
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound)));
    });
    echo = await startEchoServer();
    envoy = await startEnvoy({ authzPort: port, upstreamPort: echo.port, contextExtensions: { '/shop': { namespace: 'shop' } } });
  });

  after(async () => {
    await envoy?.stop();
    await echo?.close();
    server?.forceShutdown();
  });

  /** The HTTP request attributes of the one Check call `path` caused. */
  async function attributesOf(path: string, headers: [string, string][] = []) {
    recorded.length = 0;
    const response = await send(envoy.url, path, headers);
    assert.equal(recorded.length, 1);
    return { response, http: recorded[0]!.attributes!.request!.http! };
  }

  test('repeated request headers arrive joined with a comma, names lower-cased', async () => {
    reply = {};
    const { http } = await attributesOf('/x', [
      ['X-Dup', 'a'],
      ['x-dup', 'b'],
      ['X-Mixed-Case', 'v'],
    ]);
    assert.equal(http.headers!['x-dup'], 'a,b');
    assert.equal(http.headers!['x-mixed-case'], 'v');
    assert.equal(http.host, HOST);
    assert.equal(http.header_map?.headers?.length ?? 0, 0, 'the headers map is used, not header_map');
  });

  test("context_extensions come from the route only: a client's namespace headers arrive as headers and nothing else", async () => {
    reply = {};
    const forged: [string, string][] = [
      ['namespace', 'billing'],
      ['x-namespace', 'billing'],
    ];
    const { http } = await attributesOf('/shop/x', forged);
    assert.deepEqual(recorded[0]!.attributes!.context_extensions, { namespace: 'shop' });
    assert.equal(http.headers!.namespace, 'billing');
    assert.equal(http.headers!['x-namespace'], 'billing');
    await attributesOf('/x', forged);
    assert.deepEqual(recorded[0]!.attributes!.context_extensions ?? {}, {});
    // No mTLS on this listener: no destination principal either.
    assert.equal(recorded[0]!.attributes!.destination?.principal ?? '', '');
  });

  test('path is the raw request target, query included', async () => {
    reply = {};
    const { http } = await attributesOf('/a/b?q=1&r=%2F&access_token=t');
    assert.equal(http.path, '/a/b?q=1&r=%2F&access_token=t');
    assert.equal(http.headers![':path'], '/a/b?q=1&r=%2F&access_token=t');
    assert.equal(http.method, 'GET');
  });

  test('a CheckResponse without a status is an allow', async () => {
    reply = {};
    assert.equal((await attributesOf('/x')).response.status, 200);
  });

  test('a denial without an HTTP status is a 403 that carries our headers and body', async () => {
    reply = {
      status: { code: 7, message: 'denied' },
      denied_response: { headers: [{ header: { key: 'x-why', value: 'stub' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }], body: 'no' },
    };
    const { response } = await attributesOf('/x');
    assert.equal(response.status, 403);
    assert.equal(response.headers['x-why'], 'stub');
    assert.equal(response.body, 'no');
  });
});

describe('examples/envoy/envoy.yaml', { skip: SKIP }, () => {
  test('is a bootstrap Envoy accepts (--mode validate)', async () => {
    await validateEnvoyConfig(await locateEnvoy(), EXAMPLE_BOOTSTRAP);
  });
});
