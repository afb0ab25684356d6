/**
 * Writes a snapshot to the cluster in its published form (authz/snapshot/published-form.ts) in
 * the order that keeps readers safe: content-addressed parts first, then the HMAC Secret, then
 * the head ConfigMap (server-side apply, so the operator owns exactly the fields it writes),
 * and only then deletes what the previous version left behind. A reader following the head never
 * sees a half-written snapshot.
 *
 * @example
 * ```ts
 * const current = await readPublishedHead(clients, 'jwtgate-system');
 * if (current?.sha256 !== snapshot.sha256) await publishSnapshot(clients, { ...snapshot, generation: 8 }, 'jwtgate-system');
 * ```
 */
import { PatchStrategy, type KubernetesObject, type V1ConfigMap } from '@kubernetes/client-node';
import { ANNOTATIONS, LABELS, SECRET_KEYS_NAME, SNAPSHOT_NAME, partNames, toPublishedForm, type PublishedConfigMap } from '../authz/snapshot/published-form.ts';
import type { Snapshot } from '../authz/snapshot/types.ts';
import { apiStatus, FIELD_MANAGER, type KubeClients } from './kube-clients.ts';

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
  const intact = sha256 !== undefined
    && names.every((n) => objects.configMap(n) !== undefined)
    && (secretName === undefined || objects.secret(secretName)?.metadata?.annotations?.[ANNOTATIONS.sha256] === sha256);
  return { ...(sha256 === undefined ? {} : { sha256 }), generation: Number.isSafeInteger(generation) && generation > 0 ? generation : 0, intact };
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
export async function readPublishedHead(clients: KubeClients, namespace: string): Promise<PublishedHead | undefined> {
  const head = await readOptional(() => clients.core.readNamespacedConfigMap({ name: SNAPSHOT_NAME, namespace }));
  if (head === undefined) return undefined;
  const asPublished = toPublished(head);
  const wanted = new Map<string, PublishedConfigMap | undefined>();
  try {
    for (const n of partNames(asPublished)) wanted.set(n, await readOptional(async () => toPublished(await clients.core.readNamespacedConfigMap({ name: n, namespace }))));
  } catch { /* an unreadable part count: describePublished reports it as not intact */ }
  const secretName = asPublished.metadata.annotations?.[ANNOTATIONS.secretKeys];
  const secret = secretName === undefined ? undefined : await readOptional(() => clients.core.readNamespacedSecret({ name: secretName, namespace }));
  return describePublished({
    head: asPublished,
    configMap: (n) => wanted.get(n),
    secret: (n) => (n === secretName && secret !== undefined ? { metadata: { annotations: secret.metadata?.annotations ?? {} } } : undefined),
  });
}

/**
 * Publishes `snapshot` (its generation already set by the caller) into `namespace`.
 *
 * @example
 * ```ts
 * await publishSnapshot(clients, snapshot, 'jwtgate-system');
 * ```
 */
export async function publishSnapshot(clients: KubeClients, snapshot: Snapshot, namespace: string): Promise<void> {
  const form = toPublishedForm(snapshot, { namespace });
  for (const part of form.parts) {
    try {
      await clients.objects.create({ apiVersion: 'v1', kind: 'ConfigMap', ...part });
    } catch (error) {
      // Parts are content-addressed: one that exists already holds these very bytes.
      if (apiStatus(error) !== 409) throw error;
    }
  }
  if (form.secret !== undefined) await apply(clients, { apiVersion: 'v1', kind: 'Secret', ...form.secret });
  await apply(clients, { apiVersion: 'v1', kind: 'ConfigMap', ...form.head });

  const keep = new Set([form.head.metadata.name, ...form.parts.map((p) => p.metadata.name)]);
  const selector = Object.entries(LABELS).map(([k, v]) => `${k}=${v}`).join(',');
  const existing = await clients.core.listNamespacedConfigMap({ namespace, labelSelector: selector });
  for (const cm of existing.items) {
    const name = cm.metadata?.name;
    if (name !== undefined && !keep.has(name) && name.startsWith(`${SNAPSHOT_NAME}-`)) {
      await ignoreNotFound(() => clients.core.deleteNamespacedConfigMap({ name, namespace }));
    }
  }
  if (form.secret === undefined) await ignoreNotFound(() => clients.core.deleteNamespacedSecret({ name: SECRET_KEYS_NAME, namespace }));
}

/** Server-side apply, forcing ownership: the operator is the only writer of these objects. */
async function apply(clients: KubeClients, object: KubernetesObject): Promise<void> {
  await clients.objects.patch(object, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
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

async function ignoreNotFound(action: () => Promise<unknown>): Promise<void> {
  await readOptional(action);
}
