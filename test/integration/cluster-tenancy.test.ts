// Tenancy by grant on a real kube-apiserver (issue 10, DESIGN.md "Tenants"): the operator and
// `serve --kube` answer real gRPC Checks while namespace b tries the attacks of the issue on
// namespace a's route. Each attack policy is created BEFORE a's, so it is the older claim by a
// creationTimestamp the apiserver sets and no tenant can fake; under the old model the older
// claim owned the host, refused a's policy and decided a's gateway traffic. Now a JWTHostGrant
// of the cluster admin says whose a shared gateway's host is: a's policy is never refused, a
// gateway's request is a's to decide, b decides only the traffic reported as b's, and without a
// grant a gateway's request a policy names is denied 403 host_not_granted, even though the
// operator runs with `--unmatched allow`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { denied } from '../support/decisions.ts';
import { httpCheckRequest, structToJson, type DecodedCheckResponse, type GrpcClient } from '../../cli/grpc-client.ts';
import { startKubeCluster, type KubeCluster } from '../support/kube-cluster.ts';
import { jwtHostGrant, jwtIssuer, jwtPolicy, joinManifests, k8sSecret, type PolicyManifestSpec } from '../../dev/fixtures/manifests.ts';
import { startKubeStack, type KubeStack } from '../support/kube-stack.ts';
import { generateTestKey, signToken, standardClaims, TEST_AUDIENCE } from '../../dev/fixtures/tokens.ts';
import { waitFor as poll } from '../support/wait-for.ts';

const skip = process.env.JWTGATE_SKIP_KUBE === '1' ? 'JWTGATE_SKIP_KUBE=1 (no real kube-apiserver; see test/peers/install.sh)' : false;
const NS = 'jwtgate-system';
const HOST = 'api.example.com';
const ISSUER = 'https://idp.a.test';
const A_POLICY = 'JWTPolicy/a/orders';
const GRANT = 'api-to-a';
const POLL_MS = 150;
const POLL_TIMEOUT_MS = 20_000;

const waitFor = <T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = POLL_TIMEOUT_MS) =>
  poll(what, probe, timeoutMs, POLL_MS);

/**
 * `<allow|reason> by <policy id>`: the outcome and the policy that decided it, from the dynamic
 * metadata every response carries ("none" when no policy decided: unmatched, or refused).
 */
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
  observedGeneration?: number;
}
interface StatusedObject {
  metadata: { generation: number; creationTimestamp: string };
  status?: { observedGeneration?: number; conditions?: Condition[]; namespaces?: string[] };
}

/** The attacks of issue 10, each a Disabled JWTPolicy in namespace b, older than a's. */
const ATTACKS: {
  name: string;
  what: string;
  targets: PolicyManifestSpec['targets'];
  /** A request reported as namespace b's that b's policy decides. */
  bPath: string;
  /** The host its HostNotGranted warning names, and what the warning says instead. */
  warning: RegExp;
}[] = [
  {
    name: 'older-claim',
    what: 'the same host and path',
    targets: [{ hosts: [HOST], paths: [{ prefix: '/orders' }] }],
    bPath: '/orders',
    warning:
      /host api\.example\.com is not granted to namespace b: .*JWTHostGrant\/api-to-a gives api\.example\.com to a, whose policies decide/,
  },
  {
    name: 'wildcard',
    what: 'a wildcard over the host',
    targets: [{ hosts: ['*.example.com'] }],
    bPath: '/orders',
    warning: /host \*\.example\.com is not granted to namespace b: .*no grant covers it.*403 host_not_granted/,
  },
  {
    name: 'unrelated-path',
    what: 'another path of the host',
    targets: [{ hosts: [HOST], paths: [{ prefix: '/other' }] }],
    bPath: '/other',
    warning: /host api\.example\.com is not granted to namespace b: .*JWTHostGrant\/api-to-a gives api\.example\.com to a/,
  },
];

describe('tenancy by grant on a real kube-apiserver (operator --unmatched allow + serve --kube)', { skip, timeout: 180_000 }, () => {
  let cluster: KubeCluster;
  let stack: KubeStack | undefined;
  let client: GrpcClient;
  let token: string;

  const kubectl = (args: string[], input?: string) => cluster.kubectlOk(args, input);

  /** A Check for HOST + `path` (`namespace` undefined: a shared gateway, which reports none). */
  const check = (path: string, namespace: string | undefined, bearer?: string, host = HOST) =>
    client.check(
      httpCheckRequest({
        method: 'GET',
        host,
        path,
        headers: bearer === undefined ? {} : { authorization: `Bearer ${bearer}` },
        contextExtensions: namespace === undefined ? {} : { namespace },
      }),
    );
  const decide = async (path: string, namespace: string | undefined, bearer?: string, host = HOST) =>
    decision(await check(path, namespace, bearer, host));

  /** Polls Check until it decides `expected` (see {@link decision}). */
  async function waitForDecision(expected: string, path: string, namespace: string | undefined, bearer?: string): Promise<void> {
    let last = '';
    await waitFor(`${HOST}${path} (namespace ${namespace ?? 'none'}) → ${expected}`, async () => {
      last = await decide(path, namespace, bearer);
      return last === expected;
    }).catch((error: Error) => assert.fail(`${error.message}; last decision: ${last}`));
  }

  async function read(kind: string, name: string, namespace?: string): Promise<StatusedObject> {
    return JSON.parse(
      await kubectl(['get', kind, name, ...(namespace === undefined ? [] : ['-n', namespace]), '-o', 'json']),
    ) as StatusedObject;
  }
  const condition = (object: StatusedObject, type: string): Condition | undefined =>
    object.status?.conditions?.find((c) => c.type === type);
  const summarize = (object: StatusedObject, ...types: string[]): string[] =>
    types.map((type) => `${type}=${condition(object, type)?.status}/${condition(object, type)?.reason}`);

  /** Waits until the operator has written a status for the object's current generation that `accept` likes. */
  async function waitForStatus(
    what: string,
    kind: string,
    name: string,
    namespace: string | undefined,
    accept: (object: StatusedObject) => boolean,
  ): Promise<StatusedObject> {
    let last: StatusedObject | undefined;
    return waitFor(what, async () => {
      last = await read(kind, name, namespace);
      const current = last.status?.observedGeneration === last.metadata.generation;
      return current && accept(last) ? last : undefined;
    }).catch((error: Error) => assert.fail(`${error.message}; last status: ${JSON.stringify(last?.status)}`));
  }

  /** Events about an object (cluster-scoped objects' Events live in `default`). */
  async function events(name: string, namespace: string): Promise<{ type: string; reason: string; message: string }[]> {
    const list = JSON.parse(
      await kubectl(['get', 'events', '-n', namespace, '--field-selector', `involvedObject.name=${name}`, '-o', 'json']),
    ) as { items: { type: string; reason: string; message: string }[] };
    return list.items;
  }

  const aPolicy = () =>
    jwtPolicy({
      name: 'orders',
      namespace: 'a',
      spec: { targets: [{ hosts: [HOST], paths: [{ prefix: '/orders' }] }], issuers: { anyOf: [{ name: 'idp' }] } },
    });
  const grant = () => jwtHostGrant(GRANT, { hostnames: [HOST], namespaces: ['a'] });

  /** a's protection, whoever asks: a gateway (no namespace) and a's own reported traffic. */
  async function assertAProtected(): Promise<void> {
    for (const namespace of [undefined, 'a']) {
      const missing = await check('/orders/42', namespace);
      assert.equal(decision(missing), `token_missing by ${A_POLICY}`, `namespace ${namespace ?? 'none'}`);
      const denial = denied(missing);
      assert.deepEqual([denial.status, denial.body.reason], ['Unauthorized', 'token_missing']);
      assert.match(denial.headers['www-authenticate'] ?? '', /^Bearer /);
      assert.equal(await decide('/orders/42', namespace, token), `allow by ${A_POLICY}`, `namespace ${namespace ?? 'none'}`);
    }
  }

  before(async () => {
    const hmac = await generateTestKey('HS256', 'hmac');
    // The compiled key of a secretRef HMAC issuer has no kid, so the token carries none.
    token = await signToken(hmac, standardClaims({ iss: ISSUER }), { kid: undefined });
    cluster = await startKubeCluster();
    await kubectl(['apply', '-f', 'crds/']);
    await kubectl(['wait', '--for', 'condition=established', '--timeout=60s', 'crd', '--all']);
    for (const ns of [NS, 'a', 'b']) await kubectl(['create', 'namespace', ns]);
    await kubectl(
      ['apply', '-f', '-'],
      joinManifests(
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
      ),
    );
    // `--unmatched allow`: the setting under which an unowned route would be open (issue 10).
    stack = await startKubeStack(cluster, NS, ['--unmatched', 'allow']);
    ({ client } = stack);
  });
  after(async () => {
    await stack?.stop();
    await cluster?.stop();
  });

  test('no grant: a gateway request for a policy-named host is denied 403 host_not_granted despite --unmatched allow; reported as a’s traffic it is a’s', async () => {
    await kubectl(['apply', '-f', '-'], aPolicy());
    await waitForDecision(`token_missing by ${A_POLICY}`, '/orders', 'a');
    assert.equal(await decide('/orders', 'a', token), `allow by ${A_POLICY}`);

    for (const bearer of [undefined, token]) {
      const refused = await check('/orders/42', undefined, bearer);
      assert.equal(decision(refused), 'host_not_granted by none', bearer === undefined ? 'without a token' : 'with a token');
      assert.deepEqual([denied(refused).status, denied(refused).body.reason], ['Forbidden', 'host_not_granted']);
    }
    // The positive control that `--unmatched allow` is in force: a path no policy names is allowed.
    assert.equal(await decide('/elsewhere', undefined), 'allow by none');

    const policy = await waitForStatus('a’s policy Ready with the HostNotGranted warning', 'jwtpolicy', 'orders', 'a', (o) =>
      /HostNotGranted/.test(condition(o, 'Ready')?.message ?? ''),
    );
    assert.deepEqual(summarize(policy, 'Accepted', 'Ready', 'Conflicted'), [
      'Accepted=True/Accepted',
      'Ready=True/Enforced',
      'Conflicted=False/NoConflicts',
    ]);
    assert.match(
      condition(policy, 'Accepted')?.message ?? '',
      /^accepted with warnings: spec\.targets: host api\.example\.com is not granted to namespace a: .*no grant covers it.*403 host_not_granted/,
    );
  });

  test('a JWTHostGrant gives the host to a: a gateway request is a’s to decide (401 without a token, allowed with one); the grant reports namespace a, and an Event', async () => {
    await kubectl(['apply', '-f', '-'], grant());
    await waitForDecision(`token_missing by ${A_POLICY}`, '/orders', undefined);
    await assertAProtected();

    const granted = await waitForStatus(
      'the grant Ready with its namespaces',
      'jwthostgrant',
      GRANT,
      undefined,
      (o) => o.status?.namespaces !== undefined,
    );
    assert.deepEqual(granted.status?.namespaces, ['a']);
    assert.deepEqual(summarize(granted, 'Accepted', 'Ready'), ['Accepted=True/Accepted', 'Ready=True/Enforced']);
    assert.deepEqual(
      granted.status?.conditions?.map((c) => c.type),
      ['Accepted', 'Ready'],
    );
    assert.equal(condition(granted, 'Ready')?.message, 'granted by the published snapshot: api.example.com to namespace a');
    const event = await waitFor('a Normal Event on the grant', async () =>
      (await events(GRANT, 'default')).find((e) => e.type === 'Normal' && e.reason === 'Enforced'),
    );
    assert.match(event.message, /^Ready is True: granted by the published snapshot/);

    const policy = await waitForStatus(
      'a’s policy without the warning',
      'jwtpolicy',
      'orders',
      'a',
      (o) => condition(o, 'Accepted')?.message === 'the spec is valid',
    );
    assert.equal(condition(policy, 'Ready')?.message, 'enforced by the published snapshot');
  });

  for (const attack of ATTACKS) {
    test(`attack "${attack.name}": an older Disabled policy in b for ${attack.what} neither refuses a’s policy nor decides a’s traffic; b decides b’s`, async () => {
      const attacker = `JWTPolicy/b/${attack.name}`;
      // A clean start, with a's policy out of the published snapshot: b's claim comes first.
      await kubectl(['delete', 'jwtpolicy', '--all', '-n', 'b']);
      await kubectl(['delete', 'jwtpolicy', 'orders', '-n', 'a', '--ignore-not-found']);
      await waitForDecision('allow by none', '/orders', 'a');

      await kubectl(
        ['apply', '-f', '-'],
        jwtPolicy({ name: attack.name, namespace: 'b', spec: { mode: 'Disabled', targets: attack.targets } }),
      );
      await waitForDecision(`allow by ${attacker}`, attack.bPath, 'b');
      const older = await waitForStatus('b’s policy reconciled', 'jwtpolicy', attack.name, 'b', (o) =>
        attack.warning.test(condition(o, 'Accepted')?.message ?? ''),
      );
      // creationTimestamp has second precision: a's policy is created in a later second, so b's is strictly older.
      const bCreated = Date.parse(older.metadata.creationTimestamp);
      await waitFor('a second later than b’s creationTimestamp', () => Date.now() >= bCreated + 1000);

      await kubectl(['apply', '-f', '-'], aPolicy());
      const policy = await waitForStatus('a’s policy Ready', 'jwtpolicy', 'orders', 'a', (o) => condition(o, 'Ready')?.status === 'True');
      assert.ok(
        Date.parse(policy.metadata.creationTimestamp) > bCreated,
        `b's ${older.metadata.creationTimestamp} is older than a's ${policy.metadata.creationTimestamp}`,
      );
      assert.deepEqual(summarize(policy, 'Accepted', 'Ready', 'Conflicted'), [
        'Accepted=True/Accepted',
        'Ready=True/Enforced',
        'Conflicted=False/NoConflicts',
      ]);
      assert.equal(condition(policy, 'Accepted')?.message, 'the spec is valid');

      await waitForDecision(`token_missing by ${A_POLICY}`, '/orders', undefined);
      await assertAProtected();
      // b's own traffic is b's to decide, on the very route.
      assert.equal(await decide(attack.bPath, 'b'), `allow by ${attacker}`);
      assert.equal(await decide('/orders/42', 'b'), attack.name === 'unrelated-path' ? 'allow by none' : `allow by ${attacker}`);
      // A gateway's requests never reach b's policy: the rest of a's host is a's (unmatched: allow),
      // and a host nobody is granted is refused rather than left to b.
      assert.equal(await decide('/other', undefined), 'allow by none');
      if (attack.name === 'wildcard') assert.equal(await decide('/', undefined, undefined, 'shop.example.com'), 'host_not_granted by none');

      const attackerStatus = await read('jwtpolicy', attack.name, 'b');
      assert.deepEqual(summarize(attackerStatus, 'Accepted', 'Ready'), ['Accepted=True/Accepted', 'Ready=True/Enforced']);
      assert.match(condition(attackerStatus, 'Accepted')?.message ?? '', attack.warning);
      assert.match(
        condition(attackerStatus, 'Ready')?.message ?? '',
        /not for a shared gateway's requests to .*\(HostNotGranted, see Accepted\)$/,
      );
      // Never refused: no Warning Event was ever recorded about a's policy.
      assert.deepEqual(
        (await events('orders', 'a')).filter((e) => e.type === 'Warning'),
        [],
      );
    });
  }

  test('deleting the grant turns a gateway’s allowed request into 403 host_not_granted; a’s reported traffic stays a’s', async () => {
    await kubectl(['delete', 'jwtpolicy', '--all', '-n', 'b']);
    await kubectl(['apply', '-f', '-'], aPolicy());
    await waitForDecision(`allow by ${A_POLICY}`, '/orders', undefined, token);

    await kubectl(['delete', 'jwthostgrant', GRANT]);
    await waitForDecision('host_not_granted by none', '/orders', undefined, token);
    assert.deepEqual([denied(await check('/orders', undefined, token)).status], ['Forbidden']);
    assert.equal(await decide('/orders', 'a', token), `allow by ${A_POLICY}`);
    assert.equal(await decide('/orders', 'a'), `token_missing by ${A_POLICY}`);

    await waitForStatus('a’s policy warned again', 'jwtpolicy', 'orders', 'a', (o) =>
      /not granted to namespace a: .*no grant covers it.*403 host_not_granted/.test(condition(o, 'Accepted')?.message ?? ''),
    );
  });
});
