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
 * Only the leader runs it, and every write it makes passes the write fence (write-fence.ts)
 * immediately before it is sent, in the leadership term the run started in: a run that loses
 * the Lease while it awaits key refreshes stops at its next write. A head that changed since it
 * was read (409) is never forced: the run fails and the queue retries it with backoff, re-reading
 * everything. The compiler gets `previous`, the newest snapshot known to be published (ours or
 * the cache's, by generation), so routes keep the policy that held them across leaders.
 *
 * @example
 * ```ts
 * const reconcile = createReconciler({ clients, cluster, keys, events, metrics, log, namespace, schema, fence });
 * queue = new WorkQueue({ handle: () => reconcile(), log });
 * ```
 */
import type { Logger } from '../common/log.ts';
import { SNAPSHOT_NAME } from '../snapshot/published-form.ts';
import type { Snapshot, SnapshotSettings } from '../snapshot/types.ts';
import { compile, type CompileResult } from '../compiler/compile.ts';
import type { SchemaValidator } from '../compiler/schema.ts';
import { API_VERSION, RESOURCE_KINDS, type Resource, type ResourceKind } from '../compiler/resources.ts';
import { toCompileInput, type ApiObject } from './compiler-input.ts';
import type { RemoteKeyStore } from './keys/remote-key-store.ts';
import type { KubeClients } from './kube-clients.ts';
import type { OperatorMetrics } from './operator-metrics.ts';
import { PublishConflictError, publishSnapshot, readPublishedHead } from './publish-snapshot.ts';
import type { EventRecorder } from './record-event.ts';
import { CONDITION_REASONS, isAbnormal } from './status/conditions.ts';
import { computeDesiredStatuses, statusKey } from './status/desired-status.ts';
import { nextStatus, type ResourceStatus } from './status/next-status.ts';
import { writeStatus } from './status/write-status.ts';
import type { ClusterWatch } from './watch-cluster.ts';
import type { ReconcileResult } from './work-queue.ts';
import { WriteFencedError, type WriteFence, type WriteSession } from './write-fence.ts';

export interface ReconcilerDeps {
  clients: KubeClients;
  cluster: ClusterWatch;
  keys: RemoteKeyStore;
  events: EventRecorder;
  metrics: OperatorMetrics;
  log: Logger;
  /** Where the snapshot is published. */
  namespace: string;
  /** The CRD schemas, compiled once at start-up (start-operator.ts): the compiler reads no file. */
  schema: SchemaValidator;
  /** The gate of every write: open only while this replica holds the Lease. */
  fence: WriteFence;
  /** This replica's Lease identity, recorded on the heads it writes. */
  identity?: string;
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
  /** The snapshot this replica last published: the compiler's `previous` when the caches lag behind it. */
  let lastPublished: Snapshot | undefined;
  /** The status last written per object uid: the resourceVersion it was written over, and the one it produced. */
  const written = new Map<string, { overVersion: string; status: ResourceStatus; resourceVersion: string }>();

  return async function reconcile(): Promise<ReconcileResult> {
    const writes = deps.fence.session();
    if (!writes.allowed()) return {};
    try {
      return await run(writes);
    } catch (error) {
      if (error instanceof WriteFencedError) {
        // Not a failure to retry: the next term (or none, when shutting down) starts afresh.
        log.info({ reason: error.reason, write: error.kind }, 'reconcile stopped: this replica may not write');
        return {};
      }
      if (error instanceof PublishConflictError) {
        metrics.writeConflicts.inc({ kind: error.kind });
        log.warn({ object: error.kind }, 'the published snapshot changed since it was read; re-reading and reconciling again');
      }
      throw error;
    }
  };

  async function run(writes: WriteSession): Promise<ReconcileResult> {
    const objects = cluster.objects();
    const input = toCompileInput(objects);
    const previous = newest(lastPublished, cluster.publishedSnapshot());
    const compiled = compile({
      ...input,
      schema: deps.schema,
      now: now(),
      ...(deps.settings === undefined ? {} : { settings: deps.settings }),
      ...(previous === undefined ? {} : { previous }),
    });
    const issuers = Object.values(compiled.snapshot.issuers);
    // A replica new to (or back at) leading starts from the newest keys published, not from nothing or older ones.
    keys.adopt(Object.values(previous?.issuers ?? {}));
    await keys.refreshDue(issuers);
    const snapshot = keys.embed(compiled.snapshot);

    const cached = cluster.published();
    if (cached?.sha256 !== snapshot.sha256 || !cached.intact) {
      // The caches may lag behind our own last write: ask the API before publishing again.
      const current = await readPublishedHead(clients, namespace);
      if (current?.sha256 !== snapshot.sha256 || !current.intact) {
        const generation = Math.max(current?.generation ?? 0, lastGeneration) + 1;
        await publish(writes, { ...snapshot, generation }, current);
        lastGeneration = generation;
      } else {
        lastGeneration = Math.max(lastGeneration, current.generation);
      }
    }

    await writeStatuses(writes, objects.resources, input.resources, compiled, snapshot);
    const nextKeys = keys.nextRefreshInMs();
    return { requeueAfter: Math.min(resyncMs, nextKeys ?? Infinity) };
  }

  async function publish(
    writes: WriteSession,
    snapshot: Snapshot,
    over: { resourceVersion: string; generation: number } | undefined,
  ): Promise<void> {
    const started = performance.now();
    const { collected } = await publishSnapshot(clients, snapshot, {
      namespace,
      writes,
      over: over === undefined ? undefined : { resourceVersion: over.resourceVersion, generation: over.generation },
      ...(deps.identity === undefined ? {} : { writer: deps.identity }),
    });
    lastPublished = snapshot;
    metrics.publishes.inc();
    metrics.publishedGeneration.set(snapshot.generation);
    log.info(
      {
        generation: snapshot.generation,
        sha256: snapshot.sha256,
        policies: snapshot.policies.length,
        issuers: Object.keys(snapshot.issuers).length,
        collected: collected.length,
        ms: Math.round(performance.now() - started),
      },
      `snapshot ${over === undefined ? 'created' : 'updated'}`,
    );
    await deps.events.record(
      writes,
      { apiVersion: 'v1', kind: 'ConfigMap', name: SNAPSHOT_NAME, namespace },
      'Normal',
      CONDITION_REASONS.SnapshotPublished,
      `generation ${snapshot.generation} (${snapshot.policies.length} policies, ${Object.keys(snapshot.issuers).length} issuers, sha256 ${snapshot.sha256.slice(0, 12)})`,
    );
  }

  /**
   * Writes every changed status, each conditional on the version it was computed from; one
   * failure or conflict does not stop the others, but fails the run (retry). A fenced write ends it.
   */
  async function writeStatuses(
    writes: WriteSession,
    resources: readonly ApiObject[],
    asResources: readonly Resource[],
    { diagnostics, attachments }: Pick<CompileResult, 'diagnostics' | 'attachments'>,
    snapshot: Snapshot,
  ): Promise<void> {
    const desired = computeDesiredStatuses({
      resources: asResources,
      diagnostics,
      attachments,
      snapshot,
      keyState: (id) => keys.state(id),
    });
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
      const version = object.metadata?.resourceVersion ?? '';
      const mine = written.get(uid);
      // Until the informer delivers our own write, the cache still shows the old status and version.
      const ours = mine !== undefined && mine.overVersion === version;
      const { status, changed, transitions } = nextStatus(ours ? mine.status : object.status, want, at);
      if (!changed) continue;
      const target = { kind, name, resourceVersion: ours ? mine.resourceVersion : version, ...(ns === undefined ? {} : { namespace: ns }) };
      let result: Awaited<ReturnType<typeof writeStatus>>;
      try {
        result = await writeStatus(clients, writes, target, status);
      } catch (error) {
        if (error instanceof WriteFencedError) throw error;
        metrics.statusWrites.inc({ result: 'error' });
        failures.push(error);
        continue;
      }
      if (result.outcome === 'conflict') {
        metrics.statusWrites.inc({ result: 'conflict' });
        metrics.writeConflicts.inc({ kind: 'status' });
        failures.push(new Error(`${kind} ${ns === undefined ? '' : `${ns}/`}${name} changed since its status was computed`));
        continue;
      }
      metrics.statusWrites.inc({ result: 'success' });
      if (result.outcome === 'gone') continue;
      written.set(uid, { overVersion: version, status, resourceVersion: result.resourceVersion });
      for (const c of transitions) {
        await deps.events.record(
          writes,
          {
            apiVersion: API_VERSION,
            kind,
            name,
            ...(ns === undefined ? {} : { namespace: ns }),
            ...(object.metadata?.uid === undefined ? {} : { uid: object.metadata.uid }),
          },
          isAbnormal(c.type, c.status) ? 'Warning' : 'Normal',
          c.reason,
          `${c.type} is ${c.status}: ${c.message}`,
        );
      }
    }
    for (const uid of written.keys()) if (!seen.has(uid)) written.delete(uid);
    if (failures.length > 0) throw new AggregateError(failures, `${failures.length} status write(s) failed or conflicted`);
  }
}

/** The one with the higher generation: the newest snapshot known to be published. */
function newest(a: Snapshot | undefined, b: Snapshot | undefined): Snapshot | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return b.generation > a.generation ? b : a;
}

function isKind(kind: string | undefined): kind is ResourceKind {
  return kind !== undefined && Object.hasOwn(RESOURCE_KINDS, kind);
}
