/**
 * Snapshots for the `serve --kube` tests: builds a small valid snapshot (one issuer, one policy on
 * one host) and publishes it into a test cluster the way the operator does, parts and Secret
 * first and the head last, with server-side apply (client-side apply's last-applied annotation
 * would not fit a 700 KiB part).
 *
 * @example
 * ```ts
 * const snapshot = buildSnapshot({ generation: 1, issuer: issuerConfig({ keySource: { kind: 'static', jwks: jwksOf(key) } }) });
 * await publishSnapshot(cluster, toPublishedForm(snapshot, { namespace: 'jwtgate-system' }));
 * ```
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { snapshotDigest } from '../../snapshot/digest.ts';
import type { PublishedConfigMap, PublishedForm, PublishedSecret } from '../../snapshot/published-form.ts';
import type { Rule, Snapshot, SnapshotIssuer, SnapshotPolicy } from '../../snapshot/types.ts';
import type { KubeCluster } from './kube-cluster.ts';

/** The host every test policy protects. */
export const SNAPSHOT_HOST = 'orders.test';

/**
 * A snapshot with `issuer` and one required-token policy on {@link SNAPSHOT_HOST} (all paths)
 * applying `rules`; `extraPolicies` pads it (e.g. to force a split into parts).
 *
 * @example
 * ```ts
 * buildSnapshot({ generation: 2, issuer, rules: [{ claim: ['scope'], op: 'containsAll', values: ['admin'] }] });
 * ```
 */
export function buildSnapshot(input: {
  generation: number;
  issuer: SnapshotIssuer;
  rules?: Rule[];
  extraPolicies?: SnapshotPolicy[];
}): Snapshot {
  const policy = (id: string, host: string, rules: Rule[]): SnapshotPolicy => ({
    id,
    scope: { kind: 'cluster', enforcement: 'default' },
    targets: [{ hosts: [host], paths: [], methods: [] }],
    mode: 'required',
    issuers: [{ issuerId: input.issuer.id, audienceWaived: false }],
    issuerMatch: 'anyOf',
    tokenSources: [{ kind: 'header', name: 'authorization', prefix: 'Bearer ' }],
    rules,
    forward: { claimHeaders: [], stripToken: true, metadataClaims: [] },
    deny: { realm: 'orders', exposeReason: true, headers: [] },
  });
  const s: Snapshot = {
    schemaVersion: 2,
    generation: input.generation,
    createdAt: new Date().toISOString(),
    sha256: '',
    settings: { unmatched: 'deny' },
    issuers: { [input.issuer.id]: input.issuer },
    policies: [policy('ClusterJWTPolicy/orders', SNAPSHOT_HOST, input.rules ?? []), ...(input.extraPolicies ?? [])],
    grants: [],
  };
  return { ...s, sha256: snapshotDigest(s) };
}

/**
 * A snapshot too big for one object, so its published form has parts: a padding policy with
 * ~1 MB of random hosts (random text does not compress). Each call is different content.
 *
 * @example
 * ```ts
 * toPublishedForm(buildSplitSnapshot({ generation: 2, issuer }), { namespace }).parts.length; // 2
 * ```
 */
export function buildSplitSnapshot(input: { generation: number; issuer: SnapshotIssuer }): Snapshot {
  const hosts = Array.from({ length: 24_000 }, () => `${randomBytes(36).toString('base64url').toLowerCase()}.test`);
  const padding = buildSnapshot(input).policies[0]!;
  return buildSnapshot({
    ...input,
    extraPolicies: [{ ...padding, id: 'ClusterJWTPolicy/padding', targets: [{ hosts, paths: [], methods: [] }] }],
  });
}

/**
 * Writes a published form into the cluster: parts and Secret, then the head.
 *
 * @example
 * ```ts
 * await publishSnapshot(cluster, toPublishedForm(snapshot, { namespace: 'jwtgate-system' }));
 * ```
 */
export async function publishSnapshot(cluster: KubeCluster, published: PublishedForm): Promise<void> {
  const first = [...published.parts.map(asConfigMap), ...(published.secret ? [asSecret(published.secret)] : [])];
  if (first.length > 0) await apply(cluster, first);
  await apply(cluster, [asConfigMap(published.head)]);
}

/**
 * Server-side applies `objects` (a v1 List) and fails the test with kubectl's output if refused.
 *
 * @example
 * ```ts
 * await apply(cluster, [asConfigMap(head)]);
 * ```
 */
export async function apply(cluster: KubeCluster, objects: object[]): Promise<void> {
  const result = await cluster.kubectl(
    ['apply', '--server-side', '--force-conflicts', '--field-manager=jwtgate-test', '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
  );
  assert.equal(result.code, 0, `kubectl apply failed: ${result.stderr}`);
}

/**
 * A published ConfigMap as a full API object.
 *
 * @example
 * ```ts
 * asConfigMap(published.head).kind; // 'ConfigMap'
 * ```
 */
export function asConfigMap(cm: PublishedConfigMap): object {
  return { apiVersion: 'v1', kind: 'ConfigMap', ...cm };
}

function asSecret(secret: PublishedSecret): object {
  return { apiVersion: 'v1', kind: 'Secret', ...secret };
}
