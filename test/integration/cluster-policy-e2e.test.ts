// ClusterJWTPolicy end to end on a real kube-apiserver: the operator's Namespace informer and the
// compiler's namespaceSelector resolution feed `jwtgate serve --kube`, whose Check answers over
// gRPC show which scope decides (README "ClusterJWTPolicy", "Which policy decides a request").
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { denied } from '../support/decisions.ts';
import { httpCheckRequest, structToJson, type DecodedCheckResponse, type GrpcClient } from '../../cli/grpc-client.ts';
import { startKubeCluster, type KubeCluster } from '../support/kube-cluster.ts';
import { clusterJwtPolicy, jwtIssuer, jwtPolicy, joinManifests, k8sSecret } from '../../dev/fixtures/manifests.ts';
import { startKubeStack, type KubeStack } from '../support/kube-stack.ts';
import { generateTestKey, signToken, standardClaims, TEST_AUDIENCE, type TestKey } from '../../dev/fixtures/tokens.ts';
import { waitFor as poll } from '../support/wait-for.ts';

const skip = process.env.JWTGATE_SKIP_KUBE === '1' ? 'JWTGATE_SKIP_KUBE=1 (no real kube-apiserver; see test/peers/install.sh)' : false;
const NS = 'jwtgate-system';
const HMAC_ISSUER = 'https://hmac.test';
const ENFORCE_LABEL = 'jwtgate.dev/enforce';
const POLL_MS = 150;
const POLL_TIMEOUT_MS = 15_000;
const OVERRIDE = 'ClusterJWTPolicy/enforce-login';
const BASELINE = 'ClusterJWTPolicy/baseline';

/**
 * `<allow|reason> by <policy id>`: the outcome and the policy that decided it, from the
 * dynamic metadata every response carries ("none" when no policy matched).
 */
function decision(response: DecodedCheckResponse): string {
  const verdict = response.http_response === 'ok_response' ? 'allow' : response.status.message;
  const policy = structToJson(response.dynamic_metadata ?? { fields: {} }).policy;
  return `${verdict} by ${typeof policy === 'string' ? policy : 'none'}`;
}

const waitFor = <T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = POLL_TIMEOUT_MS) =>
  poll(what, probe, timeoutMs, POLL_MS);

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  observedGeneration?: number;
}
interface StatusedObject {
  metadata: { generation: number };
  status?: { observedGeneration?: number; conditions?: Condition[] };
}

describe('ClusterJWTPolicy on a real kube-apiserver (operator + serve --kube)', { skip, timeout: 90_000 }, () => {
  let cluster: KubeCluster;
  let hmac: TestKey;
  let stack: KubeStack | undefined;
  let client: GrpcClient;
  let token: string;

  before(async () => {
    hmac = await generateTestKey('HS256', 'hmac');
    // The compiled key of a secretRef HMAC issuer has no kid, so the token carries none.
    token = await signToken(hmac, standardClaims({ iss: HMAC_ISSUER }), { kid: undefined });
    cluster = await startKubeCluster();
    await kubectl(['apply', '-f', 'crds/']);
    await kubectl(['wait', '--for', 'condition=established', '--timeout=60s', 'crd', '--all']);
    for (const ns of [NS, 'shop', 'edge']) await kubectl(['create', 'namespace', ns]);
    // edge is selected from the start: the positive control that the cluster policy is loaded.
    await kubectl(['label', 'namespace', 'edge', `${ENFORCE_LABEL}=true`]);
    await kubectl(
      ['apply', '-f', '-'],
      joinManifests(
        k8sSecret({ name: 'hmac-secret', namespace: 'shop', data: { secret: Buffer.from(String(hmac.jwk.k), 'base64url') } }),
        jwtIssuer({
          name: 'hmac',
          namespace: 'shop',
          spec: {
            issuer: HMAC_ISSUER,
            audiences: [TEST_AUDIENCE],
            algorithms: ['HS256'],
            secretRef: { name: 'hmac-secret', key: 'secret', format: 'HMAC' },
          },
        }),
      ),
    );
    stack = await startKubeStack(cluster, NS);
    ({ client } = stack);
  });
  after(async () => {
    await stack?.stop();
    await cluster?.stop();
  });

  const kubectl = (args: string[], input?: string) => cluster.kubectlOk(args, input);

  /** A Check for `host` + `path` bound for `namespace` (undefined: gateway mode, no namespace). */
  const check = async (host: string, path: string, namespace: string | undefined, bearer?: string) =>
    client.check(
      httpCheckRequest({
        method: 'GET',
        host,
        path,
        headers: bearer === undefined ? {} : { authorization: `Bearer ${bearer}` },
        contextExtensions: namespace === undefined ? {} : { namespace },
      }),
    );
  const decide = async (host: string, path: string, namespace: string | undefined, bearer?: string) =>
    decision(await check(host, path, namespace, bearer));

  /** Polls Check until it decides `expected` (see {@link decision}). */
  async function waitForDecision(
    expected: string,
    host: string,
    path: string,
    namespace: string | undefined,
    bearer?: string,
  ): Promise<void> {
    let last = '';
    await waitFor(`${host}${path} (namespace ${namespace ?? 'none'}) → ${expected}`, async () => {
      last = await decide(host, path, namespace, bearer);
      return last === expected;
    }).catch((error: Error) => assert.fail(`${error.message}; last decision: ${last}`));
  }

  async function readStatused(kind: string, name: string, namespace?: string): Promise<StatusedObject> {
    return JSON.parse(
      await kubectl(['get', kind, name, ...(namespace === undefined ? [] : ['-n', namespace]), '-o', 'json']),
    ) as StatusedObject;
  }

  const summarize = (conditions: Condition[]) => Object.fromEntries(conditions.map((c) => [c.type, `${c.status}/${c.reason}`]));

  test('1. Override with a namespaceSelector: applies to shop only while shop carries the label, and a Disabled JWTPolicy cannot weaken it', async () => {
    await kubectl(
      ['apply', '-f', '-'],
      clusterJwtPolicy('enforce-login', {
        enforcement: 'Override',
        namespaceSelector: { matchLabels: { [ENFORCE_LABEL]: 'true' } },
        targets: [{ hosts: ['override.test'] }],
        issuers: { anyOf: [{ name: 'hmac', namespace: 'shop' }] },
      }),
    );
    // Loaded: it decides the selected namespace edge, with the issuer of namespace shop.
    await waitForDecision(`token_missing by ${OVERRIDE}`, 'override.test', '/', 'edge');
    assert.equal(await decide('override.test', '/', 'edge', token), `allow by ${OVERRIDE}`);
    // Not (yet) shop's traffic, nor a gateway's (no namespace: a selector needs one).
    assert.equal(await decide('override.test', '/', 'shop'), 'no_policy by none');
    assert.equal(await decide('override.test', '/', undefined), 'no_policy by none');

    const labelled = performance.now();
    await kubectl(['label', 'namespace', 'shop', `${ENFORCE_LABEL}=true`]);
    await waitForDecision(`token_missing by ${OVERRIDE}`, 'override.test', '/', 'shop');
    console.log(`# shop labelled → Override policy enforced there: ${Math.round(performance.now() - labelled)} ms`);
    const missing = denied(await check('override.test', '/', 'shop'));
    assert.equal(missing.status, 'Unauthorized');
    assert.equal(missing.body.reason, 'token_missing');
    assert.match(missing.headers['www-authenticate'] ?? '', /^Bearer realm=/);
    assert.equal(await decide('override.test', '/', 'shop', token), `allow by ${OVERRIDE}`);

    // shop tries to switch the route off, even more specifically (exact path) than the cluster
    // policy; open.test is the sign that serve --kube has the snapshot with this policy.
    await kubectl(
      ['apply', '-f', '-'],
      jwtPolicy({
        name: 'open',
        namespace: 'shop',
        spec: {
          mode: 'Disabled',
          targets: [{ hosts: ['override.test'], paths: [{ exact: '/' }] }, { hosts: ['open.test'] }],
        },
      }),
    );
    await waitForDecision('allow by JWTPolicy/shop/open', 'open.test', '/', 'shop');
    assert.equal(
      await decide('override.test', '/', 'shop'),
      `token_missing by ${OVERRIDE}`,
      'Override beats the namespaced Disabled policy',
    );
    assert.equal(denied(await check('override.test', '/', 'shop')).status, 'Unauthorized');

    const unlabelled = performance.now();
    await kubectl(['label', 'namespace', 'shop', `${ENFORCE_LABEL}-`]);
    await waitForDecision('allow by JWTPolicy/shop/open', 'override.test', '/', 'shop');
    console.log(`# label removed → Override policy no longer applies to shop: ${Math.round(performance.now() - unlabelled)} ms`);
    assert.equal(await decide('override.test', '/', 'edge'), `token_missing by ${OVERRIDE}`, 'edge is still selected');
  });

  test('2. Default: the namespaced JWTPolicy wins where both match; the cluster policy decides where none does', async () => {
    await kubectl(
      ['apply', '-f', '-'],
      clusterJwtPolicy('baseline', {
        enforcement: 'Default',
        // Selected by the name label every Namespace carries.
        namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['shop', 'edge'] }] },
        // The exact path is more specific than shop's prefix below: scope still comes first.
        targets: [{ hosts: ['default.test'] }, { hosts: ['default.test'], paths: [{ exact: '/public/report' }] }],
        issuers: { anyOf: [{ name: 'hmac', namespace: 'shop' }] },
      }),
    );
    await waitForDecision(`token_missing by ${BASELINE}`, 'default.test', '/public/report', 'shop');

    await kubectl(
      ['apply', '-f', '-'],
      jwtPolicy({
        name: 'public',
        namespace: 'shop',
        spec: {
          mode: 'Disabled',
          targets: [{ hosts: ['default.test'], paths: [{ prefix: '/public' }] }],
        },
      }),
    );
    // The cluster policy cannot have left the snapshot, so this change is the namespaced policy winning.
    await waitForDecision('allow by JWTPolicy/shop/public', 'default.test', '/public/report', 'shop');
    assert.equal(await decide('default.test', '/public', 'shop'), 'allow by JWTPolicy/shop/public');
    // Where shop's policy does not match, the default decides.
    assert.equal(await decide('default.test', '/orders', 'shop'), `token_missing by ${BASELINE}`);
    assert.equal(await decide('default.test', '/orders', 'shop', token), `allow by ${BASELINE}`);
    // shop's policy is shop's only: edge's /public gets the default; an unselected namespace nothing.
    assert.equal(await decide('default.test', '/public/report', 'edge'), `token_missing by ${BASELINE}`);
    assert.equal(await decide('default.test', '/public', NS), 'no_policy by none');
  });

  test('3. statuses on ClusterJWTPolicy: Ready True when enforced; a dangling issuer reference is reported, not enforced', async () => {
    for (const name of ['enforce-login', 'baseline']) {
      const object = await waitFor(`clusterjwtpolicy ${name} Ready=True`, async () => {
        const o = await readStatused('clusterjwtpolicy', name);
        return o.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? o : undefined;
      });
      const conditions = object.status?.conditions ?? [];
      assert.deepEqual(
        summarize(conditions),
        {
          Accepted: 'True/Accepted',
          ResolvedRefs: 'True/ResolvedRefs',
          Ready: 'True/Enforced',
          Conflicted: 'False/NoConflicts',
        },
        name,
      );
      assert.equal(object.status?.observedGeneration, object.metadata.generation, name);
      for (const c of conditions) assert.equal(c.observedGeneration, object.metadata.generation, `${name} ${c.type}`);
    }

    // An Override naming an issuer that does not exist in the namespace it names.
    await kubectl(
      ['apply', '-f', '-'],
      clusterJwtPolicy('dangling', {
        enforcement: 'Override',
        targets: [{ hosts: ['dangling.test'] }],
        issuers: { anyOf: [{ name: 'hmac', namespace: 'edge' }] },
      }),
    );
    const dangling = await waitFor('clusterjwtpolicy dangling has a Ready condition', async () => {
      const o = await readStatused('clusterjwtpolicy', 'dangling');
      return o.status?.conditions?.some((c) => c.type === 'Ready') ? o : undefined;
    });
    const conditions = dangling.status?.conditions ?? [];
    assert.deepEqual(summarize(conditions), {
      Accepted: 'True/Accepted',
      ResolvedRefs: 'False/IssuerNotFound',
      Ready: 'False/FailingClosed',
      Conflicted: 'False/NoConflicts',
    });
    assert.match(conditions.find((c) => c.type === 'ResolvedRefs')?.message ?? '', /edge\/hmac/);
    // Broken, it still holds its routes and denies them: a weaker policy never takes over.
    await waitForDecision('policy_invalid by ClusterJWTPolicy/dangling', 'dangling.test', '/', 'shop');
  });
});
