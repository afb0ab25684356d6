/**
 * An in-memory stand-in for the part of the API the operator writes to: ConfigMaps and Secrets
 * in one namespace (the snapshot publisher), the status subresource of jwtgate objects (JSON
 * patch, as write-status.ts sends it) and Events. It has the apiserver's optimistic concurrency
 * as controller-runtime's fake client has it: every write bumps a resourceVersion, create of an
 * existing name is 409, an update, a delete or a status patch conditional on an old
 * resourceVersion is 409, a missing object is 404. `before` lets a test run another writer's
 * change at an exact point (between a read and a write), which is how stale-writer races are
 * staged without sleeps.
 *
 * @example
 * ```ts
 * const fake = fakeKubeClients('jwtgate-system');
 * fake.before = (call) => { if (call === 'replaceNamespacedConfigMap') fake.put('ConfigMap', newerHead); };
 * await publishSnapshot(fake.clients, snapshot, options);
 * ```
 */
import type { CoreV1Event, V1ConfigMap, V1ObjectMeta, V1Secret } from '@kubernetes/client-node';
import { canonicalJson } from '../../snapshot/digest.ts';
import type { ResourceKind } from '../../compiler/resources.ts';
import type { ApiObject } from '../../operator/compiler-input.ts';
import { PLURALS, type KubeClients } from '../../operator/kube-clients.ts';

type Kind = 'ConfigMap' | 'Secret';
type StoredObject = { metadata?: V1ObjectMeta; data?: Record<string, string>; binaryData?: Record<string, string> };

/** An API error as client-node throws it: `apiStatus()` reads `code`. */
class FakeApiError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(`HTTP ${code}: ${message}`);
    this.code = code;
  }
}

/**
 * A fake cluster: the objects, every call made, and the hook.
 *
 * @example
 * ```ts
 * fake.calls.filter((c) => c.startsWith('delete')).length; // deletes made
 * ```
 */
export interface FakeKube {
  clients: KubeClients;
  /** Method names in call order (writes and reads). */
  calls: string[];
  /** Runs before each call is served (after it is recorded). */
  before?: (call: string, name: string | undefined) => void;
  /** The stored object, or undefined. */
  get(kind: Kind, name: string): StoredObject | undefined;
  /** Creates or overwrites an object as another writer would (bumps its resourceVersion). */
  put(kind: Kind, object: StoredObject): StoredObject;
  names(kind: Kind): string[];
  /**
   * Creates or updates a jwtgate object as `kubectl apply` would: a new uid on create, the
   * generation bumped when the spec changed, the status kept. Returns the stored copy.
   */
  apply(object: ApiObject): ApiObject;
  /** The stored jwtgate objects, as an informer's cache lists them. */
  resources(): ApiObject[];
  /** The stored jwtgate object, or undefined. */
  resource(kind: ResourceKind, name: string, namespace?: string): ApiObject | undefined;
  /** Events created, in order. */
  events: CoreV1Event[];
}

/**
 * @example
 * ```ts
 * const fake = fakeKubeClients('jwtgate-system');
 * ```
 */
export function fakeKubeClients(namespace: string): FakeKube {
  const store: Record<Kind, Map<string, StoredObject>> = { ConfigMap: new Map(), Secret: new Map() };
  let version = 100;
  const calls: string[] = [];
  const copy = <T>(o: T): T => structuredClone(o);
  const put = (kind: Kind, object: StoredObject): StoredObject => {
    const name = object.metadata?.name ?? '';
    const stored = copy({ ...object, metadata: { ...object.metadata, namespace, resourceVersion: String(++version) } });
    store[kind].set(name, stored);
    return copy(stored);
  };
  const enter = (call: string, ns: string, name?: string): void => {
    calls.push(call);
    if (ns !== namespace) throw new TypeError(`fake: ${call} in namespace ${ns}`);
    fake.before?.(call, name);
  };
  const read = (kind: Kind, name: string): StoredObject => {
    const o = store[kind].get(name);
    if (o === undefined) throw new FakeApiError(404, `${kind} ${name} not found`);
    return copy(o);
  };
  const create = (kind: Kind, body: StoredObject): StoredObject => {
    if (store[kind].has(body.metadata?.name ?? '')) throw new FakeApiError(409, `${kind} ${body.metadata?.name} already exists`);
    return put(kind, body);
  };
  const replace = (kind: Kind, name: string, body: StoredObject): StoredObject => {
    const current = read(kind, name);
    if (body.metadata?.resourceVersion !== current.metadata?.resourceVersion) throw new FakeApiError(409, `${kind} ${name} was modified`);
    return put(kind, body);
  };
  const remove = (kind: Kind, name: string, body?: { preconditions?: { resourceVersion?: string } }): StoredObject => {
    const current = read(kind, name);
    const wanted = body?.preconditions?.resourceVersion;
    if (wanted !== undefined && wanted !== current.metadata?.resourceVersion)
      throw new FakeApiError(409, `${kind} ${name}: precondition failed`);
    store[kind].delete(name);
    return current;
  };
  type Req = { namespace: string; name?: string; body?: StoredObject & { preconditions?: { resourceVersion?: string } } };
  const core = {
    readNamespacedConfigMap: async (r: Req) => {
      enter('readNamespacedConfigMap', r.namespace, r.name);
      return read('ConfigMap', r.name!) as V1ConfigMap;
    },
    createNamespacedConfigMap: async (r: Req) => {
      enter('createNamespacedConfigMap', r.namespace, r.body?.metadata?.name);
      return create('ConfigMap', r.body!) as V1ConfigMap;
    },
    replaceNamespacedConfigMap: async (r: Req) => {
      enter('replaceNamespacedConfigMap', r.namespace, r.name);
      return replace('ConfigMap', r.name!, r.body!) as V1ConfigMap;
    },
    deleteNamespacedConfigMap: async (r: Req) => {
      enter('deleteNamespacedConfigMap', r.namespace, r.name);
      return remove('ConfigMap', r.name!, r.body);
    },
    listNamespacedConfigMap: async (r: Req) => {
      enter('listNamespacedConfigMap', r.namespace);
      return { items: [...store.ConfigMap.values()].map(copy) as V1ConfigMap[] };
    },
    readNamespacedSecret: async (r: Req) => {
      enter('readNamespacedSecret', r.namespace, r.name);
      return read('Secret', r.name!) as V1Secret;
    },
    createNamespacedSecret: async (r: Req) => {
      enter('createNamespacedSecret', r.namespace, r.body?.metadata?.name);
      return create('Secret', r.body!) as V1Secret;
    },
    replaceNamespacedSecret: async (r: Req) => {
      enter('replaceNamespacedSecret', r.namespace, r.name);
      return replace('Secret', r.name!, r.body!) as V1Secret;
    },
    deleteNamespacedSecret: async (r: Req) => {
      enter('deleteNamespacedSecret', r.namespace, r.name);
      return remove('Secret', r.name!, r.body);
    },
  };
  const resources = new Map<string, ApiObject>();
  const resourceKey = (kind: string, name: string, ns?: string) => `${kind}/${ns ?? ''}/${name}`;
  const kindOfPlural = (plural: string) => (Object.keys(PLURALS) as ResourceKind[]).find((k) => PLURALS[k] === plural);
  const apply = (object: ApiObject): ApiObject => {
    const m = object.metadata ?? {};
    const key = resourceKey(object.kind ?? '', m.name ?? '', m.namespace);
    const current = resources.get(key);
    const specChanged = current === undefined || canonicalJson(current.spec ?? null) !== canonicalJson(object.spec ?? null);
    const generation = (current?.metadata?.generation ?? 0) + (specChanged ? 1 : 0);
    const stored: ApiObject = copy({
      ...object,
      metadata: {
        ...m,
        uid: current?.metadata?.uid ?? `uid-${key}`,
        generation,
        resourceVersion: String(++version),
        creationTimestamp: current?.metadata?.creationTimestamp ?? m.creationTimestamp ?? new Date(0).toISOString(),
      },
      ...(current?.status === undefined ? {} : { status: current.status }),
    });
    resources.set(key, stored);
    return copy(stored);
  };
  type StatusPatch = { plural: string; name: string; namespace?: string; body: { op: string; path: string; value: unknown }[] };
  /** The JSON patch write-status.ts sends: the resourceVersion precondition, then the whole status. */
  const patchStatus = (call: string, r: StatusPatch): ApiObject => {
    calls.push(call);
    fake.before?.(call, r.name);
    const kind = kindOfPlural(r.plural);
    const current = kind === undefined ? undefined : resources.get(resourceKey(kind, r.name, r.namespace));
    if (current === undefined) throw new FakeApiError(404, `${r.plural} ${r.name} not found`);
    const wanted = r.body.find((op) => op.path === '/metadata/resourceVersion')?.value;
    if (wanted !== undefined && wanted !== current.metadata?.resourceVersion)
      throw new FakeApiError(409, `${r.plural} ${r.name} was modified`);
    const status = r.body.find((op) => op.path === '/status')?.value;
    const stored = copy({ ...current, status, metadata: { ...current.metadata, resourceVersion: String(++version) } });
    resources.set(resourceKey(kind!, r.name, r.namespace), stored);
    return copy(stored);
  };
  const custom = {
    patchNamespacedCustomObjectStatus: async (r: StatusPatch) => patchStatus('patchNamespacedCustomObjectStatus', r),
    patchClusterCustomObjectStatus: async (r: StatusPatch) => patchStatus('patchClusterCustomObjectStatus', { ...r, namespace: undefined }),
  };
  const events: CoreV1Event[] = [];
  const createNamespacedEvent = async (r: { namespace: string; body: CoreV1Event }) => {
    calls.push('createNamespacedEvent');
    fake.before?.('createNamespacedEvent', r.body.involvedObject.name);
    events.push(copy(r.body));
    return copy(r.body);
  };
  const fake: FakeKube = {
    clients: { core: { ...core, createNamespacedEvent }, custom } as unknown as KubeClients,
    apply,
    resources: () => [...resources.values()].map(copy),
    resource: (kind, name, ns) => {
      const o = resources.get(resourceKey(kind, name, ns));
      return o === undefined ? undefined : copy(o);
    },
    events,
    calls,
    get: (kind, name) => {
      const o = store[kind].get(name);
      return o === undefined ? undefined : copy(o);
    },
    put,
    names: (kind) => [...store[kind].keys()].sort(),
  };
  return fake;
}
