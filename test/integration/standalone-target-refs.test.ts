// Issue 10's attack against JWTPolicy targetRefs in standalone mode, through a real `jwtgate
// serve --policies` process whose unmatched requests are *allowed*. Gateway gw/public has one
// listener, for api.example.com, that admits routes from namespace a only. a's HTTPRoute is
// accepted (the test writes the status a Gateway controller would), and a's Required policy
// targets it: that acceptance is a's only grant of the host (namespace c's unrelated policy keeps
// the folder multi-tenant, so no lone-namespace default grants it). Namespace b writes an
// HTTPRoute for the same host, refused by the Gateway or claiming a false Accepted=True, a
// Disabled policy targeting it, and Disabled host-list policies for a's route, a wildcard over
// the host and another path on it: none decides a's traffic, reported as a's or not; b's
// targetRefs policy reports why it is not enforced. a's route losing acceptance fails closed.
// Reloads are observed through the decisions they change (b's marker route), never a sleep.
// The same on a cluster: cluster-target-refs.test.ts; with host lists only: standalone-tenancy.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { httpCheckRequest, structToJson, type DecodedCheckResponse } from '../../cli/grpc-client.ts';
import type { GatewayInput, HTTPRouteInput } from '../../compiler/resources.ts';
import { joinManifests, jwtIssuer, jwtPolicy } from '../../dev/fixtures/manifests.ts';
import { startStandalone, type StandaloneService } from '../../dev/standalone-service.ts';
import { generateTestKey, jwksOf, signToken, standardClaims, TEST_AUDIENCE, TEST_ISSUER } from '../../dev/fixtures/tokens.ts';
import { judgeRoute, namespace, toYaml, type RouteVerdict } from '../support/gateway-status.ts';
import { waitFor } from '../support/wait-for.ts';

const HOST = 'api.example.com';
const GROUP = 'gateway.networking.k8s.io';
const CONTROLLER = 'example.com/gateway-controller';
const A_POLICY = 'JWTPolicy/a/orders';

const gateway: GatewayInput = {
  apiVersion: `${GROUP}/v1`,
  kind: 'Gateway',
  metadata: { name: 'public', namespace: 'gw' },
  spec: {
    gatewayClassName: 'example',
    listeners: [
      {
        name: 'api',
        protocol: 'HTTP',
        port: 80,
        hostname: HOST,
        allowedRoutes: { namespaces: { from: 'Selector', selector: { matchLabels: { 'kubernetes.io/metadata.name': 'a' } } } },
      },
    ],
  },
};

function route(ns: string, name: string, prefix: string, generation = 1): HTTPRouteInput {
  return {
    apiVersion: `${GROUP}/v1`,
    kind: 'HTTPRoute',
    metadata: { name, namespace: ns, generation },
    spec: {
      parentRefs: [{ name: 'public', namespace: 'gw' }],
      hostnames: [HOST],
      rules: [{ matches: [{ path: { type: 'PathPrefix', value: prefix } }] }],
    },
  };
}

const accepted: RouteVerdict = { accepted: true, controllerName: CONTROLLER };
const refused: RouteVerdict = { accepted: false, controllerName: CONTROLLER, reason: 'NotAllowedByListeners' };

/** a's route and the policy that targets it, the route judged by `verdict`. */
const aFile = (verdict: RouteVerdict, generation = 1): string =>
  joinManifests(
    toYaml(judgeRoute(route('a', 'orders', '/orders', generation), verdict)),
    jwtPolicy({
      name: 'orders',
      namespace: 'a',
      spec: { targetRefs: [{ group: GROUP, kind: 'HTTPRoute', name: 'orders' }], issuers: { anyOf: [{ name: 'idp' }] } },
    }),
  );

/** How the Gateway judged b's HTTPRoute, and what jwtgate says of b's policy on it. */
const B_ROUTES: Record<string, { verdict: RouteVerdict; why: RegExp }> = {
  'refused by the Gateway (Accepted=False)': {
    verdict: refused,
    why: /HTTPRoute b\/grab is not accepted by a Gateway: Gateway gw\/public has not accepted it \(NotAllowedByListeners\)/,
  },
  // A controller bug, or whoever may write HTTPRoute status: the listener still admits a only.
  'claiming Accepted=True that the listener does not give it': {
    verdict: accepted,
    why: /HTTPRoute b\/grab is not accepted by a Gateway: no HTTP listener of Gateway gw\/public admits namespace b/,
  },
};

/**
 * Everything namespace b writes at once: an HTTPRoute for a's host and path, a Disabled policy
 * targeting it, Disabled host-list policies for a's route, a wildcard over the host and another
 * path on it, and a Required marker route of b's whose answer shows the reload that carries
 * (or drops) them; unmatched requests, allowed here, never answer token_missing.
 */
const bFile = (verdict: RouteVerdict): string =>
  joinManifests(
    toYaml(judgeRoute(route('b', 'grab', '/orders'), verdict)),
    jwtPolicy({
      name: 'grab',
      namespace: 'b',
      spec: { mode: 'Disabled', targetRefs: [{ group: GROUP, kind: 'HTTPRoute', name: 'grab' }] },
    }),
    jwtPolicy({
      name: 'same-route',
      namespace: 'b',
      spec: { mode: 'Disabled', targets: [{ hosts: [HOST], paths: [{ prefix: '/orders' }] }] },
    }),
    jwtPolicy({ name: 'wildcard', namespace: 'b', spec: { mode: 'Disabled', targets: [{ hosts: ['*.example.com'] }] } }),
    jwtPolicy({
      name: 'other-path',
      namespace: 'b',
      spec: { mode: 'Disabled', targets: [{ hosts: [HOST], paths: [{ prefix: '/other' }] }] },
    }),
    jwtPolicy({
      name: 'marker',
      namespace: 'b',
      spec: { targets: [{ hosts: [HOST], paths: [{ exact: '/marker' }] }], issuers: { anyOf: [{ name: 'idp' }] } },
    }),
  );

/** `<allow|reason> by <policy id>`: the outcome and the deciding policy ("none" when no policy decided). */
function decision(response: DecodedCheckResponse): string {
  const verdict = response.http_response === 'ok_response' ? 'allow' : response.status.message;
  const policy = structToJson(response.dynamic_metadata ?? { fields: {} }).policy;
  return `${verdict} by ${typeof policy === 'string' ? policy : 'none'}`;
}

describe('standalone targetRefs: a Gateway-accepted route stays its namespace’s, whatever another namespace writes', {
  timeout: 60_000,
}, () => {
  let standalone: StandaloneService;
  let token: string;

  const decide = async (path: string, ns?: string, withToken = false): Promise<string> =>
    decision(
      await standalone.client.check(
        httpCheckRequest({
          method: 'GET',
          host: HOST,
          path,
          headers: withToken ? { authorization: `Bearer ${token}` } : {},
          ...(ns === undefined ? {} : { contextExtensions: { namespace: ns } }),
        }),
      ),
    );
  const waitForDecision = async (expected: string, path: string, ns?: string): Promise<void> => {
    let last = '';
    await waitFor(
      `${path} (${ns ?? 'no namespace'}) → ${expected}`,
      async () => {
        last = await decide(path, ns);
        return last === expected;
      },
      10_000,
    ).catch((error: Error) => assert.fail(`${error.message}; last decision: ${last}`));
  };
  /** a's route requires a token, and a's policy decides, whether or not the proxy reports a namespace. */
  const assertAProtected = async (): Promise<void> => {
    for (const ns of [undefined, 'a']) {
      const as = `namespace ${ns ?? 'not reported'}`;
      assert.equal(await decide('/orders/42', ns), `token_missing by ${A_POLICY}`, as);
      assert.equal(await decide('/orders/42', ns, true), `allow by ${A_POLICY}`, as);
    }
  };
  const removeB = async (): Promise<void> => {
    await rm(join(standalone.dir, 'b.yaml'));
    await waitForDecision('allow by none', '/marker', 'b');
  };

  before(async () => {
    const key = await generateTestKey('ES256', 'k1');
    token = await signToken(key, standardClaims());
    const issuer = (ns: string) =>
      jwtIssuer({
        name: 'idp',
        namespace: ns,
        spec: { issuer: TEST_ISSUER, audiences: [TEST_AUDIENCE], algorithms: ['ES256'], jwks: jwksOf(key) },
      });
    standalone = await startStandalone(
      {
        'cluster.yaml': toYaml(namespace('gw'), namespace('a'), namespace('b'), namespace('c'), gateway),
        'issuers.yaml': joinManifests(issuer('a'), issuer('b')),
        'a.yaml': aFile(accepted),
        // Another tenant of the shared gateway, for its own host: with policies in several
        // namespaces no lone-namespace default grants a its hosts (README "Standalone"), so the
        // Gateway's acceptance of a's route is a's only grant of api.example.com, as on a cluster.
        'c.yaml': jwtPolicy({ name: 'site', namespace: 'c', spec: { mode: 'Disabled', targets: [{ hosts: ['www.example.org'] }] } }),
      },
      {},
      ['--unmatched', 'allow'],
    );
    await assertAProtected();
  });
  after(() => standalone?.close());

  for (const [how, { verdict, why }] of Object.entries(B_ROUTES)) {
    test(`b's HTTPRoute for a's host ${how}, b's Disabled policy on it and b's host-list policies never decide a's traffic`, async () => {
      await standalone.writeFile('b.yaml', bFile(verdict));
      await waitForDecision('token_missing by JWTPolicy/b/marker', '/marker', 'b');
      await assertAProtected();
      // b's targetRefs policy is not enforced, not even for b's own traffic, and says why.
      const report = await standalone.svc.waitForLog((l) => l.reason === 'TargetNotAccepted' && why.test(String(l.msg)));
      assert.equal(report.level, 50, 'an error: the policy is not enforced as written');
      assert.equal(await decide('/orders/42', 'b'), 'allow by JWTPolicy/b/same-route', "b's own traffic is b's to decide");
      // b's other path on a's host, and a host under b's wildcard that nobody was granted: still not a's decisions to change.
      assert.equal(await decide('/other'), 'allow by none', "a's host, a path none of a's policies covers: unmatched (allowed here)");
      assert.equal(await decide('/other', 'a'), 'allow by none');
      await removeB();
    });
  }

  test("a's route losing acceptance fails closed where it was protected (503 policy_invalid), b's attack present or not", async () => {
    await standalone.writeFile('b.yaml', bFile(accepted));
    await waitForDecision('token_missing by JWTPolicy/b/marker', '/marker', 'b');

    await standalone.writeFile('a.yaml', aFile(refused));
    await waitForDecision(`policy_invalid by ${A_POLICY}`, '/orders/42', 'a');
    assert.equal(await decide('/orders/42', 'a', true), `policy_invalid by ${A_POLICY}`, 'a token changes nothing');
    // The grant went with the acceptance: a gateway's request for the host is nobody's, and a
    // namespaced policy (a's, held closed) names it: denied whatever --unmatched says, never b's.
    assert.equal(await decide('/orders/42'), 'host_not_granted by none');
    assert.equal(await decide('/orders/42', undefined, true), 'host_not_granted by none');

    // An edit of the route that the controller has not judged yet (observedGeneration behind) counts no more.
    await standalone.writeFile('a.yaml', aFile({ ...accepted, observedGeneration: 1 }, 2));
    await waitFor('the edited route read', () =>
      standalone.svc.logs.some((l) => l.reason === 'TargetNotAccepted' && /accepted generation 1, not the current 2/.test(String(l.msg))),
    );
    assert.equal(await decide('/orders/42', 'a'), `policy_invalid by ${A_POLICY}`);

    await standalone.writeFile('a.yaml', aFile(accepted, 2));
    await waitForDecision(`token_missing by ${A_POLICY}`, '/orders/42');
    await assertAProtected();
    await removeB();
  });
});
