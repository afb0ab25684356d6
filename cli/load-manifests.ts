/**
 * Standalone mode's reader: collects every manifest under a folder (recursively; `.yaml`,
 * `.yml`, `.json`; multi-document YAML and `kind: List` allowed) into compiler input. jwtgate
 * resources, `v1/Secret`s (for secretRefs), `v1/Namespace`s (for ClusterJWTPolicy
 * selectors) and Gateway API HTTPRoutes and Gateways (for JWTPolicy targetRefs; an HTTPRoute
 * counts only with the status its Gateway controller wrote, as `kubectl get -o yaml` shows it)
 * are kept, each remembering its file; anything else gets a warning.
 *
 * @example
 * ```ts
 * const loaded = await loadManifests('examples/policies');
 * const { snapshot, diagnostics } = compile({ schema, ...loaded, generation: 1 });
 * ```
 */
import { readFile, readdir } from 'node:fs/promises';
import { extname, join, sep } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { DIAGNOSTIC_REASONS, type Diagnostic, type ResourceRef } from '../compiler/diagnostics.ts';
import {
  API_VERSION,
  DEFAULT_NAMESPACE,
  RESOURCE_KINDS,
  GATEWAY_API_GROUP,
  type GatewayInput,
  type HTTPRouteInput,
  type NamespaceInput,
  type ObjectMeta,
  type Resource,
  type SecretInput,
} from '../compiler/resources.ts';
import { isResourceKind } from '../compiler/validate.ts';

export interface LoadedManifests {
  resources: Resource[];
  secrets: SecretInput[];
  /** Undefined when the folder holds no Namespace (ClusterJWTPolicy selectors then match nothing). */
  namespaces?: NamespaceInput[];
  /**
   * Gateway API HTTPRoutes (with their status) and Gateways. The readers here always set them (a
   * folder knows its own, none = empty); absent only in input built elsewhere, where it means unknown.
   */
  httpRoutes?: HTTPRouteInput[];
  gateways?: GatewayInput[];
  /** Problems reading files and documents; resource problems come from the compiler. */
  diagnostics: Diagnostic[];
}

const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/**
 * Reads every manifest under `dir`, in sorted path order (hidden files and folders skipped).
 *
 * @example
 * ```ts
 * const { resources, secrets, diagnostics } = await loadManifests('policies');
 * ```
 */
export async function loadManifests(dir: string): Promise<LoadedManifests> {
  const files = (await readdir(dir, { recursive: true }))
    .filter((path) => EXTENSIONS.has(extname(path)) && !path.split(sep).some((part) => part.startsWith('.')))
    .sort();
  const loaded = emptyManifests();
  for (const relative of files) {
    const file = join(dir, relative);
    const parsed = parseManifests(await readFile(file, 'utf8'), file);
    loaded.resources.push(...parsed.resources);
    loaded.secrets.push(...parsed.secrets);
    loaded.httpRoutes.push(...parsed.httpRoutes);
    loaded.gateways.push(...parsed.gateways);
    if (parsed.namespaces !== undefined) loaded.namespaces = [...(loaded.namespaces ?? []), ...parsed.namespaces];
    loaded.diagnostics.push(...parsed.diagnostics);
  }
  return loaded;
}

function emptyManifests(): LoadedManifests & Required<Pick<LoadedManifests, 'httpRoutes' | 'gateways'>> {
  return { resources: [], secrets: [], httpRoutes: [], gateways: [], diagnostics: [] };
}

/** The Gateway API versions whose HTTPRoute and Gateway have the fields jwtgate reads. */
const GATEWAY_API_VERSIONS = new Set([`${GATEWAY_API_GROUP}/v1`, `${GATEWAY_API_GROUP}/v1beta1`]);

type Doc = Record<string, unknown>;

function isObject(value: unknown): value is Doc {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Parses the text of one manifest file (YAML, or JSON, which is YAML too).
 *
 * @example
 * ```ts
 * parseManifests('kind: Namespace\napiVersion: v1\nmetadata: {name: shop}\n', 'ns.yaml').namespaces;
 * // [{ name: 'shop', labels: {} }]
 * ```
 */
export function parseManifests(text: string, file: string): LoadedManifests & Required<Pick<LoadedManifests, 'httpRoutes' | 'gateways'>> {
  const loaded = emptyManifests();
  // YAML 1.1, as kubectl reads it (sigs.k8s.io/yaml): an unquoted `n:` or `y:` key is a boolean
  // there, so it must be one here too, or a manifest would mean one thing on a laptop and another
  // on a cluster.
  parseAllDocuments(text, { version: '1.1' }).forEach((document, index) => {
    const where: ResourceRef = { kind: 'Document', name: `#${index + 1}`, file };
    const error = document.errors[0];
    if (error !== undefined) {
      // The first line of yaml's message already says where ("… at line 3, column 18:").
      loaded.diagnostics.push({
        resource: where,
        severity: 'error',
        reason: DIAGNOSTIC_REASONS.ParseError,
        message: error.message.split('\n')[0] ?? error.code,
      });
      return;
    }
    const value: unknown = document.toJS();
    if (value === null || value === undefined) return;
    const items = isObject(value) && Array.isArray(value.items) && String(value.kind).endsWith('List') ? value.items : [value];
    for (const item of items) addDocument(item, where, loaded);
  });
  return loaded;
}

function addDocument(doc: unknown, where: ResourceRef, loaded: ReturnType<typeof emptyManifests>): void {
  const problem = (severity: Diagnostic['severity'], reason: Diagnostic['reason'], message: string, field?: string): void => {
    loaded.diagnostics.push({ resource: where, severity, reason, message, ...(field === undefined ? {} : { field }) });
  };
  if (!isObject(doc)) {
    problem('error', DIAGNOSTIC_REASONS.ParseError, 'a manifest must be a mapping');
    return;
  }
  const apiVersion = String(doc.apiVersion);
  const kind = String(doc.kind);
  const metadata: Doc = isObject(doc.metadata) ? doc.metadata : {};
  const ref: ResourceRef = { ...where, kind, name: typeof metadata.name === 'string' ? metadata.name : where.name };
  if (apiVersion.startsWith('jwtgate.dev/') && isResourceKind(kind)) {
    const namespaced = RESOURCE_KINDS[kind] ? { namespace: metadata.namespace ?? DEFAULT_NAMESPACE } : {};
    const resource: Resource = {
      apiVersion,
      kind,
      metadata: { ...metadata, ...namespaced } as ObjectMeta,
      spec: doc.spec,
      file: where.file as string,
    };
    if (doc.status !== undefined) resource.status = doc.status;
    loaded.resources.push(resource);
  } else if (apiVersion === 'v1' && (kind === 'Secret' || kind === 'Namespace') && typeof metadata.name === 'string') {
    if (kind === 'Namespace') {
      loaded.namespaces = [...(loaded.namespaces ?? []), { name: metadata.name, labels: stringMap(metadata.labels) }];
      return;
    }
    const namespace = typeof metadata.namespace === 'string' ? metadata.namespace : DEFAULT_NAMESPACE;
    const data = decodeSecretData(doc, (field, message) => {
      loaded.diagnostics.push({
        resource: { ...ref, namespace },
        severity: 'error',
        field,
        reason: DIAGNOSTIC_REASONS.InvalidSpec,
        message,
      });
    });
    if (data !== undefined) loaded.secrets.push({ namespace, name: metadata.name, data });
  } else if (GATEWAY_API_VERSIONS.has(apiVersion) && (kind === 'HTTPRoute' || kind === 'Gateway') && typeof metadata.name === 'string') {
    // Not validated here (jwtgate has no schema of the Gateway API): the compiler reads them defensively.
    const object = {
      apiVersion,
      kind,
      metadata: {
        name: metadata.name,
        namespace: typeof metadata.namespace === 'string' ? metadata.namespace : DEFAULT_NAMESPACE,
        ...(typeof metadata.generation === 'number' ? { generation: metadata.generation } : {}),
      },
      ...(isObject(doc.spec) ? { spec: doc.spec } : {}),
      ...(isObject(doc.status) ? { status: doc.status } : {}),
      file: where.file as string,
    };
    if (kind === 'HTTPRoute') loaded.httpRoutes.push(object as HTTPRouteInput);
    else loaded.gateways.push(object as GatewayInput);
  } else if (apiVersion.startsWith('jwtgate.') || isResourceKind(kind) || /jwt/i.test(kind)) {
    // Meant as one of ours but unreadable (`JWTPolicyy`, `jwtgate.dev/v1`, `jwtgate.de/…`):
    // ignoring it like a Deployment would silently drop a policy, so it counts as unparsable
    // and the reload is refused.
    problem(
      'error',
      DIAGNOSTIC_REASONS.ParseError,
      `${apiVersion} ${kind} looks like a jwtgate resource but is not one (jwtgate reads ${API_VERSION} ${Object.keys(RESOURCE_KINDS).join(', ')}); the reload is refused`,
    );
  } else {
    loaded.diagnostics.push({
      resource: ref,
      severity: 'warning',
      reason: DIAGNOSTIC_REASONS.UnknownKind,
      message: `${apiVersion} ${kind} is not read by jwtgate; ignored`,
    });
  }
}

function stringMap(value: unknown): Record<string, string> {
  return isObject(value) ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)])) : {};
}

/** `data` is base64 (RFC 4648 §4); `stringData` is plain text and wins, as in the API server. */
function decodeSecretData(doc: Doc, fail: (field: string, message: string) => void): Record<string, Uint8Array> | undefined {
  // A null prototype: a data key named `__proto__` stays an ordinary key.
  const data: Record<string, Uint8Array> = Object.create(null) as Record<string, Uint8Array>;
  let ok = true;
  for (const [key, value] of Object.entries(isObject(doc.data) ? doc.data : {})) {
    if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) {
      fail(`data.${key}`, 'must be base64');
      ok = false;
      continue;
    }
    data[key] = Buffer.from(value, 'base64');
  }
  for (const [key, value] of Object.entries(isObject(doc.stringData) ? doc.stringData : {})) {
    data[key] = Buffer.from(String(value), 'utf8');
  }
  return ok ? data : undefined;
}
