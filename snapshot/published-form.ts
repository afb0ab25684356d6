/**
 * How a snapshot travels through the Kubernetes API: the operator publishes it with
 * {@link toPublishedForm} and `jwtgate serve --kube` reads it back with {@link fromPublishedForm}.
 * Both sides import this module, so the encoding has one definition.
 *
 * ```
 *  ConfigMap jwtgate-snapshot (head)            annotations: schema-version, generation, sha256,
 *  ├─ data["snapshot.json"]            (small)  encoding (json | gzip), parts, secret-keys
 *  ├─ binaryData["snapshot.json.gz"]   (large, gzip fits in one object)
 *  └─ parts > 0: ConfigMap jwtgate-snapshot-<sha256[0:12]>-<i>, binaryData["chunk"]  (beyond 1 MiB)
 *  Secret jwtgate-snapshot-keys                 HMAC secrets of HS* issuers, never in a ConfigMap;
 *  └─ data["hmac-keys.json"]                    its sha256 annotation ties it to one head
 * ```
 *
 * Snapshots beyond one object's 1 MiB limit are split into content-addressed part ConfigMaps.
 * The writer creates parts and the Secret first and the head last, so a reader that follows the
 * head never sees a half-written snapshot; the digest check in {@link parseSnapshot} refuses any
 * mix-up (a part or a Secret from another version).
 *
 * @example
 * ```ts
 * const published = toPublishedForm(snapshot, { namespace: 'jwtgate-system' });
 * // operator: create published.parts, apply published.secret, then apply published.head
 * const again = fromPublishedForm(published.head, published.parts, published.secret);
 * ```
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { parseSnapshot, SnapshotError } from './parse-snapshot.ts';
import type { JwkSet, Snapshot, SnapshotIssuer } from './types.ts';

export const SNAPSHOT_NAME = 'jwtgate-snapshot';
export const SECRET_KEYS_NAME = 'jwtgate-snapshot-keys';
export const ANNOTATIONS = Object.freeze({
  schemaVersion: 'jwtgate.dev/schema-version',
  generation: 'jwtgate.dev/generation',
  sha256: 'jwtgate.dev/sha256',
  encoding: 'jwtgate.dev/encoding',
  parts: 'jwtgate.dev/parts',
  secretKeys: 'jwtgate.dev/secret-keys',
  /** Head only: the Lease identity of the operator replica that wrote it (who to blame, not a digest input). */
  writtenBy: 'jwtgate.dev/written-by',
});
export const LABELS = Object.freeze({ 'app.kubernetes.io/part-of': 'jwtgate', 'app.kubernetes.io/component': 'snapshot' });

/** Below this, the JSON is stored as readable text (`kubectl get cm -o yaml` shows it). */
export const PLAIN_LIMIT_BYTES = 256 * 1024;
/** Payload per object, well under the apiserver's 1 MiB (metadata and base64 take the rest). */
export const PART_LIMIT_BYTES = 700 * 1024;

/** The slice of V1ObjectMeta we write and read (structurally compatible with client-node's). */
export interface PublishedMeta {
  name: string;
  namespace: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface PublishedConfigMap {
  metadata: PublishedMeta;
  data?: Record<string, string>;
  /** base64, as the API carries it. */
  binaryData?: Record<string, string>;
}
export interface PublishedSecret {
  metadata: PublishedMeta;
  type?: string;
  /** base64, as the API carries it. */
  data?: Record<string, string>;
}

export interface PublishedForm {
  head: PublishedConfigMap;
  /** Empty unless the compressed snapshot exceeds {@link PART_LIMIT_BYTES}. */
  parts: PublishedConfigMap[];
  /** Present only when an issuer has HMAC secrets. */
  secret?: PublishedSecret;
}

/** Splits a snapshot into the objects to write (see the module comment for the layout); `writer` marks the head. */
export function toPublishedForm(snapshot: Snapshot, where: { namespace: string; name?: string; writer?: string }): PublishedForm {
  const name = where.name ?? SNAPSHOT_NAME;
  const { publicSnapshot, secretKeys } = separateSecretKeys(snapshot);
  const json = JSON.stringify(publicSnapshot);
  const annotations: Record<string, string> = {
    [ANNOTATIONS.schemaVersion]: String(snapshot.schemaVersion),
    [ANNOTATIONS.generation]: String(snapshot.generation),
    [ANNOTATIONS.sha256]: snapshot.sha256,
  };
  const meta = (objectName: string, extra: Record<string, string> = {}): PublishedMeta => ({
    name: objectName,
    namespace: where.namespace,
    labels: { ...LABELS },
    annotations: { ...annotations, ...extra },
  });
  const headExtra: Record<string, string> = where.writer === undefined ? {} : { [ANNOTATIONS.writtenBy]: where.writer };

  let secret: PublishedSecret | undefined;
  if (secretKeys !== undefined) {
    secret = {
      metadata: meta(`${name}-keys`),
      type: 'Opaque',
      data: { 'hmac-keys.json': Buffer.from(JSON.stringify(secretKeys)).toString('base64') },
    };
    annotations[ANNOTATIONS.secretKeys] = secret.metadata.name;
  }

  if (Buffer.byteLength(json) <= PLAIN_LIMIT_BYTES) {
    return {
      head: {
        metadata: meta(name, { ...headExtra, [ANNOTATIONS.encoding]: 'json', [ANNOTATIONS.parts]: '0' }),
        data: { 'snapshot.json': json },
      },
      parts: [],
      secret,
    };
  }
  const gz = gzipSync(json, { level: 9 });
  if (gz.length <= PART_LIMIT_BYTES) {
    return {
      head: {
        metadata: meta(name, { ...headExtra, [ANNOTATIONS.encoding]: 'gzip', [ANNOTATIONS.parts]: '0' }),
        binaryData: { 'snapshot.json.gz': gz.toString('base64') },
      },
      parts: [],
      secret,
    };
  }
  const parts: PublishedConfigMap[] = [];
  for (let offset = 0, i = 0; offset < gz.length; offset += PART_LIMIT_BYTES, i++) {
    parts.push({
      metadata: meta(partName(name, snapshot.sha256, i)),
      binaryData: { chunk: gz.subarray(offset, offset + PART_LIMIT_BYTES).toString('base64') },
    });
  }
  return {
    head: { metadata: meta(name, { ...headExtra, [ANNOTATIONS.encoding]: 'gzip', [ANNOTATIONS.parts]: String(parts.length) }) },
    parts,
    secret,
  };
}

/** Part `i` of the snapshot with this digest; content-addressed so parts of two versions never collide. */
export function partName(name: string, sha256: string, i: number): string {
  return `${name}-${sha256.slice(0, 12)}-${i}`;
}

/** The names of the parts a head refers to, for the reader to fetch. */
export function partNames(head: PublishedConfigMap): string[] {
  const a = head.metadata.annotations ?? {};
  const count = Number(a[ANNOTATIONS.parts] ?? '0');
  const sha = a[ANNOTATIONS.sha256] ?? '';
  if (!Number.isInteger(count) || count < 0 || count > 64) throw new SnapshotError(`annotation ${ANNOTATIONS.parts} is not a part count`);
  return Array.from({ length: count }, (_, i) => partName(head.metadata.name, sha, i));
}

/**
 * Reassembles and verifies a published snapshot. Throws {@link SnapshotError} when anything is
 * missing, from another version, or does not hash to the head's digest.
 */
export function fromPublishedForm(
  head: PublishedConfigMap,
  parts: readonly PublishedConfigMap[],
  secret: PublishedSecret | undefined,
): Snapshot {
  const a = head.metadata.annotations ?? {};
  const sha = a[ANNOTATIONS.sha256];
  if (sha === undefined) throw new SnapshotError(`ConfigMap ${head.metadata.name} has no ${ANNOTATIONS.sha256} annotation`);
  let json: string;
  const names = partNames(head);
  if (names.length > 0) {
    const byName = new Map(parts.map((p) => [p.metadata.name, p]));
    const chunks = names.map((n) => {
      const chunk = byName.get(n)?.binaryData?.chunk;
      if (chunk === undefined) throw new SnapshotError(`snapshot part ${n} is missing`);
      return Buffer.from(chunk, 'base64');
    });
    json = gunzip(Buffer.concat(chunks));
  } else if (a[ANNOTATIONS.encoding] === 'gzip') {
    const gz = head.binaryData?.['snapshot.json.gz'];
    if (gz === undefined) throw new SnapshotError(`ConfigMap ${head.metadata.name} has no binaryData snapshot.json.gz`);
    json = gunzip(Buffer.from(gz, 'base64'));
  } else {
    const text = head.data?.['snapshot.json'];
    if (text === undefined) throw new SnapshotError(`ConfigMap ${head.metadata.name} has no data snapshot.json`);
    json = text;
  }

  const secretName = a[ANNOTATIONS.secretKeys];
  const snapshot = secretName === undefined ? parseSnapshot(json) : withSecretKeys(json, secretName, sha, secret);
  // The annotation is what replicas and the publisher compare to skip a version: it must be the truth.
  if (snapshot.sha256 !== sha) {
    throw new SnapshotError(`sha256 mismatch: annotation ${ANNOTATIONS.sha256} says ${sha}, the snapshot is ${snapshot.sha256}`);
  }
  return snapshot;
}

function withSecretKeys(json: string, secretName: string, sha: string, secret: PublishedSecret | undefined): Snapshot {
  if (secret === undefined || secret.metadata.name !== secretName)
    throw new SnapshotError(`Secret ${secretName} with the HMAC keys is missing`);
  if (secret.metadata.annotations?.[ANNOTATIONS.sha256] !== sha)
    throw new SnapshotError(`Secret ${secretName} belongs to another snapshot version`);
  const encoded = secret.data?.['hmac-keys.json'];
  if (encoded === undefined) throw new SnapshotError(`Secret ${secretName} has no hmac-keys.json`);
  let secretKeys: Record<string, JwkSet>;
  try {
    secretKeys = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')) as Record<string, JwkSet>;
  } catch (err) {
    throw new SnapshotError(`Secret ${secretName}: hmac-keys.json is not JSON: ${(err as Error).message}`);
  }
  return parseSnapshot(JSON.stringify(mergeSecretKeys(JSON.parse(json) as Snapshot, secretKeys)));
}

/**
 * Takes the key set of every issuer with an `oct` key out of the snapshot: the Secret carries
 * the whole set (so merging restores it exactly, order included), the ConfigMap its public keys.
 */
function separateSecretKeys(snapshot: Snapshot): { publicSnapshot: Snapshot; secretKeys?: Record<string, JwkSet> } {
  const secretKeys: Record<string, JwkSet> = {};
  const issuers: Record<string, SnapshotIssuer> = {};
  for (const [id, issuer] of Object.entries(snapshot.issuers)) {
    const source = issuer.keySource;
    if (source.kind !== 'static' || !source.jwks.keys.some((k) => k.kty === 'oct')) {
      issuers[id] = issuer;
      continue;
    }
    secretKeys[id] = source.jwks;
    issuers[id] = { ...issuer, keySource: { kind: 'static', jwks: { keys: source.jwks.keys.filter((k) => k.kty !== 'oct') } } };
  }
  if (Object.keys(secretKeys).length === 0) return { publicSnapshot: snapshot };
  return { publicSnapshot: { ...snapshot, issuers }, secretKeys };
}

/** Puts the full key sets back in place; the result must hash to the published digest again. */
function mergeSecretKeys(snapshot: Snapshot, secretKeys: Record<string, JwkSet>): Snapshot {
  const issuers = { ...snapshot.issuers };
  for (const [id, jwks] of Object.entries(secretKeys)) {
    const issuer = issuers[id];
    if (issuer === undefined || issuer.keySource.kind !== 'static') throw new SnapshotError(`HMAC keys for unknown static issuer ${id}`);
    issuers[id] = { ...issuer, keySource: { kind: 'static', jwks } };
  }
  return { ...snapshot, issuers };
}

function gunzip(buf: Buffer): string {
  try {
    return gunzipSync(buf, { maxOutputLength: 64 * 1024 * 1024 }).toString('utf8');
  } catch (err) {
    throw new SnapshotError(`snapshot does not decompress: ${(err as Error).message}`);
  }
}
