// JWTPolicy targetRefs on a real kube-apiserver with the real Gateway API CRDs (issue 10): the
// test plays the Gateway controller, writing each HTTPRoute's status through the status
// subresource as one would, while the operator and `serve --kube` answer real gRPC Checks.
// Gateway infra/public has one listener, for api.example.com, that admits routes from namespace
// a only. a's route is protected once the Gateway accepts it (its acceptance is a's grant of the
// host); b's HTTPRoute for the same host, which the Gateway refuses, and b's Disabled policy on
// it change nothing for a, and b's policy says why (TargetNotAccepted); a route that loses
// acceptance fails closed where it was protected (503 policy_invalid). Each policy's GEP-713
// `status.ancestors` follows along: the Gateway its route names, Accepted False TargetNotFound
// while the Gateway has not admitted the route, True once it has, False again when it no longer does.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { access, readdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { denied } from '../support/decisions.ts';
import { httpCheckRequest, structToJson, type DecodedCheckResponse, type GrpcClient } from '../../cli/grpc-client.ts';
import { startKubeCluster, type KubeCluster } from '../support/kube-cluster.ts';
import { jwtIssuer, jwtPolicy, joinManifests, k8sSecret } from '../../dev/fixtures/manifests.ts';
import type { OperatorProcess } from '../support/operator-process.ts';
import { startKubeStack, type KubeStack } from '../support/kube-stack.ts';
import { generateTestKey, signToken, standardClaims, TEST_AUDIENCE } from '../../dev/fixtures/tokens.ts';
import { waitFor as poll } from '../support/wait-for.ts';

const skip = process.env.JWTGATE_SKIP_KUBE === '1' ? 'JWTGATE_SKIP_KUBE=1 (no real kube-apiserver; see test/peers/install.sh)' : false;
const PEERS_DIR = process.env.JWTGATE_PEERS_DIR ?? join(homedir(), '.cache', 'jwtgate-peers');
const SCHEMA_CRDS = join(PEERS_DIR, 'schemas', 'crds');
const NS = 'jwtgate-system';
const HOST = 'api.example.com';
const ISSUER = 'https://idp.a.test';
const A_POLICY = 'JWTPolicy/a/orders';
const GROUP = 'gateway.networking.k8s.io';
const CONTROLLER = 'example.com/test-gateway-controller';

const waitFor = <T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false) => poll(what, probe, 30_000, 150);

/** `<allow|reason> by <policy id>`: the outcome and the deciding policy ("none" when no policy decided). */
function decision(response: DecodedCheckResponse): string {
  const verdict = response.http_response === 'ok_response' ? 'allow' : response.status.message;
  const policy = structToJson(response.dynamic_metadata ?? { fields: {} }).policy;
  return `${verdict} by ${typeof policy === 'string' ? policy : 'none'}`;
}

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}
interface Ancestor {
  ancestorRef: { group: string; kind: string; namespace: string; name: string; sectionName?: string };
  controllerName: string;
  conditions: (Condition & { observedGeneration?: number; lastTransitionTime: string })[];
}
interface StatusedObject {
  metadata: { generation: number };
  status?: { observedGeneration?: number; conditions?: Condition[]; ancestors?: Ancestor[] };
}

/** `Kind ns/name controllerName Accepted=Status/Reason` per ancestor entry. */
function ancestorsOf(object: StatusedObject): string[] {
  return (object.status?.ancestors ?? []).map((a) => {
    const accepted = a.conditions.find((c) => c.type === 'Accepted');
    return `${a.ancestorRef.kind} ${a.ancestorRef.namespace}/${a.ancestorRef.name} ${a.controllerName} Accepted=${accepted?.status}/${accepted?.reason}`;
  });
}
const acceptedAt = (object: StatusedObject) => object.status?.ancestors?.[0]?.conditions.find((c) => c.type === 'Accepted');
const PUBLIC_ANCESTOR = 'Gateway infra/public jwtgate.dev/operator';

const gateway = `apiVersion: ${GROUP}/v1
kind: Gateway
metadata: {name: public, namespace: infra}
spec:
  gatewayClassName: test
  listeners:
    - name: api
      protocol: HTTP
      port: 80
      hostname: ${HOST}
      allowedRoutes:
        namespaces:
          from: Selector
          selector: {matchLabels: {kubernetes.io/metadata.name: a}}
`;

function httpRoute(namespace: string, name: string, prefix: string): string {
  return `apiVersion: ${GROUP}/v1
kind: HTTPRoute
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  parentRefs: [{name: public, namespace: infra}]
  hostnames: [${HOST}]
  rules:
    - matches: [{path: {type: PathPrefix, value: ${prefix}}}]
      backendRefs: [{name: backend, port: 8080}]
`;
}

describe('JWTPolicy targetRefs on a real kube-apiserver (the test is the Gateway controller)', { skip, timeout: 240_000 }, () => {
  let cluster: KubeCluster;
  let stack: KubeStack | undefined;
  let operator: OperatorProcess;
  let client: GrpcClient;
  let token: string;

  const kubectl = (args: string[], input?: string) => cluster.kubectlOk(args, input);

  const check = (path: string, namespace: string | undefined, bearer?: string) =>
    client.check(
      httpCheckRequest({
        method: 'GET',
        host: HOST,
        path,
        headers: bearer === undefined ? {} : { authorization: `Bearer ${bearer}` },
        contextExtensions: namespace === undefined ? {} : { namespace },
      }),
    );
  const decide = async (path: string, namespace: string | undefined, bearer?: string) => decision(await check(path, namespace, bearer));

  async function waitForDecision(expected: string, path: string, namespace: string | undefined, bearer?: string): Promise<void> {
    let last = '';
    await waitFor(`${HOST}${path} (namespace ${namespace ?? 'none'}) → ${expected}`, async () => {
      last = await decide(path, namespace, bearer);
      return last === expected;
    }).catch((error: Error) => assert.fail(`${error.message}; last decision: ${last}`));
  }

  /** Writes the route's status as a Gateway controller would: one parent, Accepted True or False, for the current generation. */
  async function setAccepted(namespace: string, name: string, accepted: boolean): Promise<void> {
    const route = JSON.parse(await kubectl(['get', 'httproute', name, '-n', namespace, '-o', 'json'])) as {
      metadata: { generation: number };
    };
    const status = {
      parents: [
        {
          parentRef: { group: GROUP, kind: 'Gateway', name: 'public', namespace: 'infra' },
          controllerName: CONTROLLER,
          conditions: [
            {
              type: 'Accepted',
              status: accepted ? 'True' : 'False',
              reason: accepted ? 'Accepted' : 'NotAllowedByListeners',
              message: accepted ? 'Route is accepted' : 'no listener of the Gateway allows routes from this namespace',
              observedGeneration: route.metadata.generation,
              lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
            },
          ],
        },
      ],
    };
    await kubectl(['patch', 'httproute', name, '-n', namespace, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]);
  }

  async function read(kind: string, name: string, namespace: string): Promise<StatusedObject> {
    return JSON.parse(await kubectl(['get', kind, name, '-n', namespace, '-o', 'json'])) as StatusedObject;
  }
  const condition = (object: StatusedObject, type: string): Condition | undefined =>
    object.status?.conditions?.find((c) => c.type === type);
  const summarize = (object: StatusedObject, ...types: string[]): string[] =>
    types.map((type) => `${type}=${condition(object, type)?.status}/${condition(object, type)?.reason}`);

  /** Waits until the operator wrote a status of the policy's current generation whose conditions read `expected`. */
  async function waitForConditions(name: string, namespace: string, expected: string[]): Promise<StatusedObject> {
    let last: StatusedObject | undefined;
    return waitFor(`JWTPolicy ${namespace}/${name}: ${expected.join(', ')}`, async () => {
      last = await read('jwtpolicy', name, namespace);
      const current = last.status?.observedGeneration === last.metadata.generation;
      const types = expected.map((e) => e.split('=')[0] as string);
      return current && JSON.stringify(summarize(last, ...types)) === JSON.stringify(expected) ? last : undefined;
    }).catch((error: Error) => assert.fail(`${error.message}; last status: ${JSON.stringify(last?.status)}`));
  }

  async function waitForEvent(name: string, namespace: string, reason: string): Promise<{ type: string; message: string }> {
    return waitFor(`a ${reason} Event on ${namespace}/${name}`, async () => {
      const list = JSON.parse(
        await kubectl(['get', 'events', '-n', namespace, '--field-selector', `involvedObject.name=${name}`, '-o', 'json']),
      ) as { items: { type: string; reason: string; message: string }[] };
      return list.items.find((e) => e.reason === reason);
    });
  }

  before(async () => {
    // The pinned Gateway API CRDs (test/peers/schemas/install.sh), as for the guides.
    await access(SCHEMA_CRDS).catch(() => assert.fail(`${SCHEMA_CRDS} is missing: run test/peers/install.sh`));
    const gatewayApi = (await readdir(SCHEMA_CRDS)).filter((f) =>
      /^gateway-api-v[\d.]+-(gatewayclasses|gateways|httproutes)\.yaml$/.test(f),
    );
    assert.equal(gatewayApi.length, 3, `Gateway API CRDs in ${SCHEMA_CRDS}: ${gatewayApi.join(', ')}`);
    const hmac = await generateTestKey('HS256', 'hmac');
    token = await signToken(hmac, standardClaims({ iss: ISSUER }), { kid: undefined });
    cluster = await startKubeCluster();
    await kubectl(['apply', '--server-side', '-f', 'crds/', ...gatewayApi.flatMap((f) => ['-f', join(SCHEMA_CRDS, f)])]);
    await kubectl(['wait', '--for', 'condition=established', '--timeout=60s', 'crd', '--all']);
    for (const ns of [NS, 'infra', 'a', 'b']) await kubectl(['create', 'namespace', ns]);
    await kubectl(
      ['apply', '-f', '-'],
      joinManifests(
        gateway,
        httpRoute('a', 'orders', '/orders'),
        k8sSecret({ name: 'idp-secret', namespace: 'a', data: { secret: Buffer.from(String(hmac.jwk.k), 'base64url') } }),
        jwtIssuer({
          name: 'idp',
          namespace: 'a',
          spec: {
            issuer: ISSUER,
            audiences: [TEST_AUDIENCE],
            algorithms: ['HS256'],
            secretRef: { name: 'idp-secret', key: 'secret', format: 'HMAC' },
          },
        }),
        jwtPolicy({
          name: 'orders',
          namespace: 'a',
          spec: { targetRefs: [{ group: GROUP, kind: 'HTTPRoute', name: 'orders' }], issuers: { anyOf: [{ name: 'idp' }] } },
        }),
      ),
    );
    stack = await startKubeStack(cluster, NS);
    ({ operator, client } = stack);
  });
  after(async () => {
    await stack?.stop();
    await cluster?.stop();
  });

  test('before a Gateway accepts the route, a’s policy is not enforced and says why (its Gateway ancestor: Accepted False TargetNotFound); once it does (True Accepted), a gateway’s request for the host is a’s', async () => {
    const pending = await waitForConditions('orders', 'a', ['Accepted=False/TargetNotAccepted', 'Ready=False/NotEnforced']);
    assert.match(
      condition(pending, 'Accepted')?.message ?? '',
      /spec\.targetRefs\[0\]: HTTPRoute a\/orders is not accepted by a Gateway: no parent Gateway has accepted it/,
    );
    // GEP-713: the Gateway the route names is the ancestor; from there the target is not (yet) there.
    assert.deepEqual(pending.status?.ancestors?.[0]?.ancestorRef, { group: GROUP, kind: 'Gateway', namespace: 'infra', name: 'public' });
    assert.deepEqual(ancestorsOf(pending), [`${PUBLIC_ANCESTOR} Accepted=False/TargetNotFound`]);
    assert.match(
      acceptedAt(pending)?.message ?? '',
      /HTTPRoute a\/orders is not attached here: Gateway infra\/public has not reported on it yet/,
    );
    assert.equal(acceptedAt(pending)?.observedGeneration, pending.metadata.generation);
    assert.ok(operator.logs.some((l) => l.msg === 'watching the Gateway API (httproutes, gateways) for JWTPolicy targetRefs'));
    // Nothing decides for a yet: a gateway's request with a token is denied as unmatched (the default).
    assert.match(await decide('/orders/42', undefined, token), /^\w+ by none$/);
    assert.notEqual((await check('/orders/42', undefined, token)).http_response, 'ok_response');

    await setAccepted('a', 'orders', true);
    const enforced = await waitForConditions('orders', 'a', ['Accepted=True/Accepted', 'Ready=True/Enforced']);
    assert.deepEqual(ancestorsOf(enforced), [`${PUBLIC_ANCESTOR} Accepted=True/Accepted`]);
    assert.match(acceptedAt(enforced)?.message ?? '', /HTTPRoute a\/orders is attached to Gateway infra\/public, which admitted it/);
    for (const namespace of [undefined, 'a']) {
      await waitForDecision(`token_missing by ${A_POLICY}`, '/orders/42', namespace);
      const missing = denied(await check('/orders/42', namespace));
      assert.deepEqual([missing.status, missing.body.reason], ['Unauthorized', 'token_missing']);
      assert.equal(await decide('/orders/42', namespace, token), `allow by ${A_POLICY}`, `namespace ${namespace ?? 'none'}`);
    }
  });

  test('the attack: b’s HTTPRoute for a’s host, refused by the Gateway, and b’s Disabled policy on it — a’s protection holds, b’s policy reports TargetNotAccepted (ancestor TargetNotFound)', async () => {
    await kubectl(
      ['apply', '-f', '-'],
      joinManifests(
        httpRoute('b', 'grab', '/orders/admin'),
        jwtPolicy({
          name: 'grab',
          namespace: 'b',
          spec: { mode: 'Disabled', targetRefs: [{ group: GROUP, kind: 'HTTPRoute', name: 'grab' }] },
        }),
      ),
    );
    await setAccepted('b', 'grab', false);
    const refused = await waitForConditions('grab', 'b', ['Accepted=False/TargetNotAccepted', 'Ready=False/NotEnforced']);
    assert.match(
      condition(refused, 'Accepted')?.message ?? '',
      /HTTPRoute b\/grab is not accepted by a Gateway: Gateway infra\/public has not accepted it \(NotAllowedByListeners\)/,
    );
    const event = await waitForEvent('grab', 'b', 'TargetNotAccepted');
    assert.equal(event.type, 'Warning');
    assert.deepEqual(ancestorsOf(refused), [`${PUBLIC_ANCESTOR} Accepted=False/TargetNotFound`]);
    assert.match(acceptedAt(refused)?.message ?? '', /Gateway infra\/public has not accepted it \(NotAllowedByListeners\)/);

    // A controller that (wrongly) accepts it changes nothing: the listener admits only namespace a.
    await setAccepted('b', 'grab', true);
    const lied = await waitFor('b’s policy re-judged on the lying status', async () => {
      const object = await read('jwtpolicy', 'grab', 'b');
      return /no HTTP listener of Gateway infra\/public admits namespace b/.test(condition(object, 'Accepted')?.message ?? '') && object;
    });
    assert.deepEqual(ancestorsOf(lied), [`${PUBLIC_ANCESTOR} Accepted=False/TargetNotFound`], 'the Gateway never admitted it');
    assert.match(acceptedAt(lied)?.message ?? '', /no HTTP listener of Gateway infra\/public admits namespace b/);
    assert.equal(
      acceptedAt(lied)?.lastTransitionTime,
      acceptedAt(refused)?.lastTransitionTime,
      'the same verdict for another reason: its transition time stays',
    );
    for (const namespace of [undefined, 'a']) {
      assert.equal(await decide('/orders/admin', namespace), `token_missing by ${A_POLICY}`, `namespace ${namespace ?? 'none'}`);
      assert.equal(await decide('/orders/admin', namespace, token), `allow by ${A_POLICY}`, `namespace ${namespace ?? 'none'}`);
    }
    await waitForConditions('orders', 'a', ['Accepted=True/Accepted', 'Ready=True/Enforced']);
    await kubectl(['delete', 'jwtpolicy', 'grab', '-n', 'b']);
    await kubectl(['delete', 'httproute', 'grab', '-n', 'b']);
  });

  test('a route that loses acceptance fails closed where it was protected (503 policy_invalid), its ancestor False again, and is a’s again once re-accepted', async () => {
    await setAccepted('a', 'orders', false);
    await waitForDecision(`policy_invalid by ${A_POLICY}`, '/orders/42', 'a');
    const failing = denied(await check('/orders/42', 'a', token));
    assert.deepEqual([failing.status, failing.body.reason], ['ServiceUnavailable', 'policy_invalid']);
    // The route's grant went with its acceptance: a gateway's request is not a's to decide, and is denied.
    const gatewayRequest = await check('/orders/42', undefined, token);
    assert.notEqual(gatewayRequest.http_response, 'ok_response', decision(gatewayRequest));
    const status = await waitForConditions('orders', 'a', ['Accepted=False/TargetNotAccepted', 'Ready=False/FailingClosed']);
    assert.match(condition(status, 'Ready')?.message ?? '', /503 policy_invalid/);
    assert.equal((await waitForEvent('orders', 'a', 'TargetNotAccepted')).type, 'Warning');
    assert.deepEqual(ancestorsOf(status), [`${PUBLIC_ANCESTOR} Accepted=False/TargetNotFound`], 'acceptance lost at its Gateway');
    assert.match(acceptedAt(status)?.message ?? '', /Gateway infra\/public has not accepted it \(NotAllowedByListeners\)/);

    await setAccepted('a', 'orders', true);
    await waitForDecision(`allow by ${A_POLICY}`, '/orders/42', undefined, token);
    const back = await waitForConditions('orders', 'a', ['Accepted=True/Accepted', 'Ready=True/Enforced']);
    assert.deepEqual(ancestorsOf(back), [`${PUBLIC_ANCESTOR} Accepted=True/Accepted`]);
  });

  test('a spec change waits for the controller: acceptance of an older generation does not count', async () => {
    await kubectl([
      'patch',
      'httproute',
      'orders',
      '-n',
      'a',
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { hostnames: [HOST, 'www.example.com'] } }),
    ]);
    const stale = await waitForConditions('orders', 'a', ['Accepted=False/TargetNotAccepted', 'Ready=False/FailingClosed']);
    assert.deepEqual(ancestorsOf(stale), [`${PUBLIC_ANCESTOR} Accepted=False/TargetNotFound`]);
    assert.match(acceptedAt(stale)?.message ?? '', /accepted generation 1, not the current 2/);
    await waitForDecision(`policy_invalid by ${A_POLICY}`, '/orders/42', 'a');
    await setAccepted('a', 'orders', true);
    await waitForConditions('orders', 'a', ['Accepted=True/Accepted', 'Ready=True/Enforced']);
    await waitForDecision(`token_missing by ${A_POLICY}`, '/orders/42', undefined);
  });
});
