/**
 * Writes a snapshot to the cluster in its published form (snapshot/published-form.ts) in
 * the order that keeps readers safe: content-addressed parts first, then the HMAC Secret, then
 * the head ConfigMap, and only then deletes what older versions left behind. A reader following
 * the head never sees a half-written snapshot.
 *
 * One writer (issue 8, case 3). Every write passes the write fence (write-fence.ts) right before
 * it is sent, and the head is never forced:
 * - The head is replaced on the resourceVersion the publisher read it at (created when it read
 *   none), so of two writers that read the same head exactly one wins; the other gets 409
 *   ({@link PublishConflictError}), re-reads and reconciles again. The generation written must
 *   exceed the one read: a stale writer can never put an older generation over a newer one.
 * - Parts are content-addressed: 409 on create means these very bytes are there already.
 * - The keys Secret has one fixed name (the authz RBAC grants exactly that name), so it is
 *   written only if the head is still the one read, and replaced on the resourceVersion read
 *   just before. Should a stale writer still overwrite it in the moment between,
 *   the newer head no longer matches it (sha256 annotation), readers keep their last good
 *   snapshot, and the leader, seeing a head that is not intact, publishes again: damage that
 *   fails closed and heals, where the fence failed.
 * - Garbage (parts and the Secret no head refers to) is deleted only by the writer whose head
 *   write just succeeded, after re-reading the head, under the rules of select-garbage.ts, each
 *   delete conditional on the resourceVersion it was judged at.
 *
 * @example
 * ```ts
 * const current = await readPublishedHead(clients, 'jwtgate-system');
 * if (current?.sha256 !== snapshot.sha256) {
 *   await publishSnapshot(clients, { ...snapshot, generation: (current?.generation ?? 0) + 1 }, { namespace: 'jwtgate-system', writes: fence.session(), over: current });
 * }
 * ```
 */
import type { V1ConfigMap, V1ObjectMeta, V1Secret } from '@kubernetes/client-node';
import {
  ANNOTATIONS,
  LABELS,
  SECRET_KEYS_NAME,
  SNAPSHOT_NAME,
  partNames,
  toPublishedForm,
  type PublishedConfigMap,
} from '../snapshot/published-form.ts';
import type { Snapshot } from '../snapshot/types.ts';
import { apiStatus, FIELD_MANAGER, type KubeClients } from './kube-clients.ts';
import { selectGarbage, type SnapshotObject } from './select-garbage.ts';
import type { WriteSession } from './write-fence.ts';

/** What the head says about the snapshot now published. */
export interface PublishedHead {
  sha256?: string;
  /** 0 when the annotation is missing or unreadable. */
  generation: number;
  /** The parts and the HMAC Secret the head refers to all exist and belong to it. */
  intact: boolean;
}

/** Looks up the objects a head refers to (from the informer caches or from the API). */
export interface PublishedObjects {
  head: PublishedConfigMap | undefined;
  configMap: (name: string) => PublishedConfigMap | undefined;
  secret: (name: string) => { metadata?: { annotations?: Record<string, string> } } | undefined;
}

/**
 * Judges a head and its companions: its digest and generation, and whether every part and the
 * HMAC Secret it names exist with the same digest. Undefined when there is no head.
 *
 * @example
 * ```ts
 * describePublished({ head: cache.get('jwtgate-snapshot', ns), configMap: (n) => cache.get(n, ns), secret: (n) => secrets.get(n, ns) });
 * ```
 */
export function describePublished(objects: PublishedObjects): PublishedHead | undefined {
  const { head } = objects;
  if (head === undefined) return undefined;
  const a = head.metadata.annotations ?? {};
  const sha256 = a[ANNOTATIONS.sha256];
  const generation = Number(a[ANNOTATIONS.generation]);
  let names: string[];
  try {
    names = partNames(head);
  } catch {
    return { ...(sha256 === undefined ? {} : { sha256 }), generation: Number.isSafeInteger(generation) ? generation : 0, intact: false };
  }
  const secretName = a[ANNOTATIONS.secretKeys];
  const intact =
    sha256 !== undefined &&
    names.every((n) => objects.configMap(n) !== undefined) &&
    (secretName === undefined || objects.secret(secretName)?.metadata?.annotations?.[ANNOTATIONS.sha256] === sha256);
  return {
    ...(sha256 === undefined ? {} : { sha256 }),
    generation: Number.isSafeInteger(generation) && generation > 0 ? generation : 0,
    intact,
  };
}

/**
 * Reads the head and its companions from the API (not a cache): the source of truth before a
 * publish, so a lagging informer can never cause a duplicate publish or a generation going back.
 *
 * @example
 * ```ts
 * (await readPublishedHead(clients, 'jwtgate-system'))?.generation; // 7
 * ```
 */
export async function readPublishedHead(
  clients: KubeClients,
  namespace: string,
): Promise<(PublishedHead & { resourceVersion: string }) | undefined> {
  const head = await readOptional(() => clients.core.readNamespacedConfigMap({ name: SNAPSHOT_NAME, namespace }));
  if (head === undefined) return undefined;
  const asPublished = toPublished(head);
  const wanted = new Map<string, PublishedConfigMap | undefined>();
  try {
    for (const n of partNames(asPublished))
      wanted.set(n, await readOptional(async () => toPublished(await clients.core.readNamespacedConfigMap({ name: n, namespace }))));
  } catch {
    /* an unreadable part count: describePublished reports it as not intact */
  }
  const secretName = asPublished.metadata.annotations?.[ANNOTATIONS.secretKeys];
  const secret =
    secretName === undefined ? undefined : await readOptional(() => clients.core.readNamespacedSecret({ name: secretName, namespace }));
  const described = describePublished({
    head: asPublished,
    configMap: (n) => wanted.get(n),
    secret: (n) =>
      n === secretName && secret !== undefined ? { metadata: { annotations: secret.metadata?.annotations ?? {} } } : undefined,
  });
  return described === undefined ? undefined : { ...described, resourceVersion: head.metadata?.resourceVersion ?? '' };
}

/**
 * A write the apiserver refused because what it was conditional on had changed (409): another
 * writer got there first. Re-read and reconcile again; never force.
 *
 * @example
 * ```ts
 * if (error instanceof PublishConflictError) metrics.writeConflicts.inc({ kind: error.kind });
 * ```
 */
export class PublishConflictError extends Error {
  readonly code = 'PublishConflict';
  readonly kind: 'snapshot' | 'secret';

  constructor(kind: 'snapshot' | 'secret', message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PublishConflictError';
    this.kind = kind;
  }
}

/**
 * How and over what to publish.
 *
 * @example
 * ```ts
 * const options: PublishOptions = { namespace: 'jwtgate-system', writes: fence.session(), over: { resourceVersion: '812', generation: 8 }, writer: 'op-1' };
 * ```
 */
export interface PublishOptions {
  namespace: string;
  /** The fenced writes of this reconcile. */
  writes: WriteSession;
  /** The head this snapshot replaces, as read from the API; undefined: there is none, create it. */
  over: { resourceVersion: string; generation: number } | undefined;
  /** This replica's Lease identity, recorded on the head. */
  writer?: string;
}

/**
 * What a successful publish did.
 *
 * @example
 * ```ts
 * const { resourceVersion, collected } = await publishSnapshot(clients, snapshot, options);
 * ```
 */
export interface PublishResult {
  /** The head's resourceVersion after our write. */
  resourceVersion: string;
  /** Names of the objects garbage-collected after it. */
  collected: string[];
}

/**
 * Publishes `snapshot` (its generation already set by the caller) over the head it was decided
 * on; see the module comment for the ordering and the preconditions.
 *
 * @throws PublishConflictError when the head (or the Secret) changed since it was read.
 * @throws WriteFencedError when this replica may no longer write.
 * @throws TypeError when the generation would not increase.
 * @example
 * ```ts
 * await publishSnapshot(clients, snapshot, { namespace: 'jwtgate-system', writes, over: { resourceVersion: '812', generation: 8 } });
 * ```
 */
export async function publishSnapshot(clients: KubeClients, snapshot: Snapshot, options: PublishOptions): Promise<PublishResult> {
  const { namespace, writes, over } = options;
  if (over !== undefined && !(snapshot.generation > over.generation)) {
    throw new TypeError(`generation ${snapshot.generation} does not exceed the published ${over.generation}`);
  }
  const form = toPublishedForm(snapshot, { namespace, ...(options.writer === undefined ? {} : { writer: options.writer }) });
  for (const part of form.parts) {
    try {
      await writes.write('part', () =>
        clients.core.createNamespacedConfigMap({
          namespace,
          fieldManager: FIELD_MANAGER,
          body: { apiVersion: 'v1', kind: 'ConfigMap', ...part },
        }),
      );
    } catch (error) {
      // Parts are content-addressed: one that exists already holds these very bytes.
      if (apiStatus(error) !== 409) throw error;
    }
  }
  if (form.secret !== undefined) {
    // The Secret cannot be conditional on the head, so look first: a writer that read an older
    // head stops here instead of overwriting the keys a newer head refers to.
    const head = await readOptional(() => clients.core.readNamespacedConfigMap({ name: SNAPSHOT_NAME, namespace }));
    if (head?.metadata?.resourceVersion !== over?.resourceVersion) {
      throw new PublishConflictError('snapshot', 'the snapshot head changed since it was read; not writing the keys Secret');
    }
    const body: V1Secret = { apiVersion: 'v1', kind: 'Secret', ...form.secret };
    const name = form.secret.metadata.name;
    const current = await readOptional(() => clients.core.readNamespacedSecret({ name, namespace }));
    await conditional('secret', () =>
      writes.write('secret', () =>
        current === undefined
          ? clients.core.createNamespacedSecret({ namespace, fieldManager: FIELD_MANAGER, body })
          : clients.core.replaceNamespacedSecret({
              name,
              namespace,
              fieldManager: FIELD_MANAGER,
              body: withVersion(body, current.metadata?.resourceVersion),
            }),
      ),
    );
  }
  const head: V1ConfigMap = { apiVersion: 'v1', kind: 'ConfigMap', ...form.head };
  const written = await conditional('snapshot', () =>
    writes.write('snapshot', () =>
      over === undefined
        ? clients.core.createNamespacedConfigMap({ namespace, fieldManager: FIELD_MANAGER, body: head })
        : clients.core.replaceNamespacedConfigMap({
            name: SNAPSHOT_NAME,
            namespace,
            fieldManager: FIELD_MANAGER,
            body: withVersion(head, over.resourceVersion),
          }),
    ),
  );
  const resourceVersion = written.metadata?.resourceVersion ?? '';
  const collected = await collectGarbage(clients, writes, namespace, { resourceVersion, generation: snapshot.generation });
  return { resourceVersion, collected };
}

/** Deletes what no head refers to any more (select-garbage.ts), each delete conditional on the version judged. */
async function collectGarbage(
  clients: KubeClients,
  writes: WriteSession,
  namespace: string,
  written: { resourceVersion: string; generation: number },
): Promise<string[]> {
  const head = await readOptional(() => clients.core.readNamespacedConfigMap({ name: SNAPSHOT_NAME, namespace }));
  if (head === undefined) return [];
  const published = toPublished(head);
  let parts: string[];
  try {
    parts = partNames(published);
  } catch {
    return []; // a head we cannot read is no basis for deleting anything
  }
  const selector = Object.entries(LABELS)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const [list, secret] = await Promise.all([
    clients.core.listNamespacedConfigMap({ namespace, labelSelector: selector }),
    readOptional(() => clients.core.readNamespacedSecret({ name: SECRET_KEYS_NAME, namespace })),
  ]);
  const garbage = selectGarbage({
    head: {
      resourceVersion: head.metadata?.resourceVersion ?? '',
      parts,
      ...optional('secretName', published.metadata.annotations?.[ANNOTATIONS.secretKeys]),
    },
    written,
    configMaps: list.items.map((cm) => snapshotObject(cm.metadata)),
    ...(secret === undefined ? {} : { secret: snapshotObject(secret.metadata) }),
  });
  const collected: string[] = [];
  const remove = async (
    o: SnapshotObject,
    call: (body: { preconditions: { resourceVersion: string } }) => Promise<unknown>,
  ): Promise<void> => {
    try {
      await writes.write('cleanup', () => call({ preconditions: { resourceVersion: o.resourceVersion } }));
      collected.push(o.name);
    } catch (error) {
      // Gone already, or changed since judged (409): either way not ours to delete now.
      if (apiStatus(error) !== 404 && apiStatus(error) !== 409) throw error;
    }
  };
  for (const cm of garbage.configMaps)
    await remove(cm, (body) => clients.core.deleteNamespacedConfigMap({ name: cm.name, namespace, body }));
  const stale = garbage.secret;
  if (stale !== undefined) await remove(stale, (body) => clients.core.deleteNamespacedSecret({ name: stale.name, namespace, body }));
  return collected;
}

/** Turns the apiserver's 409 on a conditional write into {@link PublishConflictError}. */
async function conditional<T>(kind: 'snapshot' | 'secret', write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (apiStatus(error) === 409)
      throw new PublishConflictError(
        kind,
        `the ${kind === 'snapshot' ? 'snapshot head' : 'keys Secret'} changed since it was read; not overwriting it`,
        { cause: error },
      );
    throw error;
  }
}

/** The object with `metadata.resourceVersion` set: an update the apiserver refuses (409) unless it is still current. */
function withVersion<T extends { metadata?: V1ObjectMeta }>(object: T, resourceVersion: string | undefined): T {
  return { ...object, metadata: { ...object.metadata, resourceVersion: resourceVersion ?? '' } };
}

function snapshotObject(meta: V1ObjectMeta | undefined): SnapshotObject {
  const generation = Number(meta?.annotations?.[ANNOTATIONS.generation]);
  return {
    name: meta?.name ?? '',
    resourceVersion: meta?.resourceVersion ?? '',
    generation: Number.isSafeInteger(generation) && generation > 0 ? generation : 0,
  };
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function toPublished(cm: V1ConfigMap): PublishedConfigMap {
  return {
    metadata: { name: cm.metadata?.name ?? '', namespace: cm.metadata?.namespace ?? '', annotations: cm.metadata?.annotations ?? {} },
    ...(cm.data === undefined ? {} : { data: cm.data }),
    ...(cm.binaryData === undefined ? {} : { binaryData: cm.binaryData }),
  };
}

async function readOptional<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    if (apiStatus(error) === 404) return undefined;
    throw error;
  }
}
