/**
 * One level-based, idempotent reconcile of the whole cluster: the snapshot is a single compiled
 * artifact (conflicts and precedence span resources), so every event leads here and the run
 * reads the caches, never the event.
 *
 * ```
 *  caches ─▶ compiler input ─▶ compile ─▶ (new leader: adopt published cachedKeys)
 *     ─▶ fetch due remote keys ─▶ embed cachedKeys
 *     ─▶ same sha256 as the published head (and intact)? ── no ─▶ publish generation+1
 *     ─▶ status of each resource (only if changed) + an Event per condition change
 *     ─▶ { requeueAfter: next key refresh or resync }
 * ```
 * Only the leader runs it; a thrown error is retried with backoff by the queue.
 *
 * @example
 * ```ts
 * const reconcile = createReconciler({ clients, cluster, keys, events, metrics, log, namespace, isLeader });
 * queue = new WorkQueue({ handle: () => reconcile(), log });
 * ```
 */
import type { Logger } from '../authz/log.ts';
import { SNAPSHOT_NAME } from '../authz/snapshot/published-form.ts';
import type { Snapshot, SnapshotSettings } from '../authz/snapshot/types.ts';
import { compile } from '../compiler/compile.ts';
import { API_VERSION, RESOURCE_KINDS, type Resource, type ResourceKind } from '../compiler/resources.ts';
import type { Diagnostic } from '../compiler/diagnostics.ts';
import { toCompileInput, type ApiObject } from './compiler-input.ts';
import type { RemoteKeyStore } from './keys/remote-key-store.ts';
import type { KubeClients } from './kube-clients.ts';
import type { OperatorMetrics } from './operator-metrics.ts';
import { publishSnapshot, readPublishedHead } from './publish-snapshot.ts';
import type { EventRecorder } from './record-event.ts';
import { CONDITION_REASONS } from './status/conditions.ts';
import { computeDesiredStatuses, statusKey } from './status/desired-status.ts';
import { nextStatus, type ResourceStatus } from './status/next-status.ts';
import { writeStatus } from './status/write-status.ts';
import type { ClusterWatch } from './watch-cluster.ts';
import type { ReconcileResult } from './work-queue.ts';

export interface ReconcilerDeps {
  clients: KubeClients;
  cluster: ClusterWatch;
  keys: RemoteKeyStore;
  events: EventRecorder;
  metrics: OperatorMetrics;
  log: Logger;
  /** Where the snapshot is published. */
  namespace: string;
  isLeader: () => boolean;
  /** Service-wide snapshot settings (default: the compiler's, unmatched requests denied). */
  settings?: SnapshotSettings;
  /** Level-based safety net: reconcile at least this often (default 5 min). */
  resyncMs?: number;
  now?: () => Date;
}

/**
 * @example
 * ```ts
 * const { requeueAfter } = await createReconciler(deps)();
 * ```
 */
export function createReconciler(deps: ReconcilerDeps): () => Promise<ReconcileResult> {
  const { clients, cluster, keys, log, metrics, namespace } = deps;
  const now = deps.now ?? (() => new Date());
  const resyncMs = deps.resyncMs ?? 5 * 60_000;
  let lastGeneration = 0;
  /** The status last written per object uid, and the resourceVersion it was written over. */
  const written = new Map<string, { overVersion: string; status: ResourceStatus }>();

  return async function reconcile(): Promise<ReconcileResult> {
    if (!deps.isLeader()) return {};
    const objects = cluster.objects();
    const input = toCompileInput(objects);
    const compiled = compile({ ...input, now: now(), ...(deps.settings === undefined ? {} : { settings: deps.settings }) });
    const issuers = Object.values(compiled.snapshot.issuers);
    // A replica new to (or back at) leading starts from the newest keys published, not from nothing or older ones.
    keys.adopt(Object.values(cluster.publishedSnapshot()?.issuers ?? {}));
    await keys.refreshDue(issuers);
    const snapshot = keys.embed(compiled.snapshot);

    const cached = cluster.published();
    if (cached?.sha256 !== snapshot.sha256 || !cached.intact) {
      // The caches may lag behind our own last write: ask the API before publishing again.
      const current = await readPublishedHead(clients, namespace);
      if (current?.sha256 !== snapshot.sha256 || !current.intact) {
        const generation = Math.max(current?.generation ?? 0, lastGeneration) + 1;
        await publish({ ...snapshot, generation }, current === undefined ? 'created' : 'updated');
        lastGeneration = generation;
      } else {
        lastGeneration = Math.max(lastGeneration, current.generation);
      }
    }

    await writeStatuses(objects.resources, input.resources, compiled.diagnostics, snapshot);
    const nextKeys = keys.nextRefreshInMs();
    return { requeueAfter: Math.min(resyncMs, nextKeys ?? Infinity) };
  };

  async function publish(snapshot: Snapshot, how: 'created' | 'updated'): Promise<void> {
    const started = performance.now();
    await publishSnapshot(clients, snapshot, namespace);
    metrics.publishes.inc();
    metrics.publishedGeneration.set(snapshot.generation);
    log.info({ generation: snapshot.generation, sha256: snapshot.sha256, policies: snapshot.policies.length, issuers: Object.keys(snapshot.issuers).length, ms: Math.round(performance.now() - started) }, `snapshot ${how}`);
    await deps.events.record(
      { apiVersion: 'v1', kind: 'ConfigMap', name: SNAPSHOT_NAME, namespace },
      'Normal', CONDITION_REASONS.SnapshotPublished,
      `generation ${snapshot.generation} (${snapshot.policies.length} policies, ${Object.keys(snapshot.issuers).length} issuers, sha256 ${snapshot.sha256.slice(0, 12)})`,
    );
  }

  /** Writes every changed status; one failure does not stop the others, but fails the run (retry). */
  async function writeStatuses(resources: readonly ApiObject[], asResources: readonly Resource[], diagnostics: readonly Diagnostic[], snapshot: Snapshot): Promise<void> {
    const desired = computeDesiredStatuses({ resources: asResources, diagnostics, snapshot, keyState: (id) => keys.state(id) });
    const at = now();
    const failures: unknown[] = [];
    const seen = new Set<string>();
    for (const object of resources) {
      const kind = object.kind;
      const name = object.metadata?.name;
      if (!isKind(kind) || name === undefined) continue;
      const ns = RESOURCE_KINDS[kind] ? object.metadata?.namespace : undefined;
      const want = desired.get(statusKey(kind, ns, name));
      if (want === undefined) continue;
      const uid = object.metadata?.uid ?? statusKey(kind, ns, name);
      seen.add(uid);
      const version = object.metadata?.resourceVersion;
      const mine = written.get(uid);
      // Until the informer delivers our own write, the cache still shows the old status.
      const current = mine !== undefined && mine.overVersion === version ? mine.status : object.status;
      const { status, changed, transitions } = nextStatus(current, want, at);
      if (!changed) continue;
      try {
        await writeStatus(clients, { kind, name, ...(ns === undefined ? {} : { namespace: ns }) }, status);
        if (version !== undefined) written.set(uid, { overVersion: version, status });
        metrics.statusWrites.inc({ result: 'success' });
      } catch (error) {
        metrics.statusWrites.inc({ result: 'error' });
        failures.push(error);
        continue;
      }
      for (const c of transitions) {
        await deps.events.record(
          { apiVersion: API_VERSION, kind, name, ...(ns === undefined ? {} : { namespace: ns }), ...(object.metadata?.uid === undefined ? {} : { uid: object.metadata.uid }) },
          c.status === 'False' ? 'Warning' : 'Normal', c.reason, `${c.type} is ${c.status}: ${c.message}`,
        );
      }
    }
    for (const uid of written.keys()) if (!seen.has(uid)) written.delete(uid);
    if (failures.length > 0) throw new AggregateError(failures, `${failures.length} status write(s) failed`);
  }
}

function isKind(kind: string | undefined): kind is ResourceKind {
  return kind !== undefined && Object.hasOwn(RESOURCE_KINDS, kind);
}
