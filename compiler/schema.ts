/**
 * The CRD schemas as validators: compiles each kind's openAPIV3Schema with ajv, so standalone
 * manifests are held to exactly what the API server enforces. CEL rules cannot run here;
 * cross-field-rules.ts re-checks them.
 *
 * The CRDs come in as data (common/crds.ts reads crds/*.yaml, the single source of truth): the
 * compiler reads no file, and the caller compiles the validator once and passes it to every
 * compile (issue 9).
 *
 * @example
 * ```ts
 * const schema = createSchemaValidator(readCrds());
 * const errors = schema('JWTPolicy', manifest); // defaults are written into `manifest`
 * // [{ field: 'spec.targets', message: 'is required' }]
 * ```
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { CustomResourceDefinition } from '../common/crds.ts';
import type { ResourceKind } from './resources.ts';

/** A schema violation, located by a Kubernetes-style field path. */
export interface FieldError {
  field: string;
  message: string;
}

/** Kubernetes schema extensions ajv does not know; they carry no JSON Schema meaning. */
const KUBERNETES_KEYWORDS = [
  'x-kubernetes-validations',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-int-or-string',
  'x-kubernetes-embedded-resource',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
];

// ajv-formats is CommonJS: under Node's ESM loader its default import is the plugin itself.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

/**
 * Validates a whole object (`apiVersion`, `kind`, `metadata`, `spec`, `status`) against its
 * kind's schema, writing schema defaults into it, and returns every violation.
 */
export type SchemaValidator = (kind: ResourceKind, object: unknown) => FieldError[];

/**
 * Compiles the CRDs' schemas into one {@link SchemaValidator}; ajv's compile is the costly part,
 * so build it once and pass it to every `compile()`.
 *
 * @example
 * ```ts
 * const schema = createSchemaValidator(readCrds());
 * schema('JWTIssuer', { apiVersion: 'jwtgate.dev/v1alpha1', kind: 'JWTIssuer',
 *   metadata: { name: 'x' }, spec: { issuer: 'https://idp' } });
 * // [{ field: 'spec.algorithms', message: 'is required' }]
 * ```
 */
export function createSchemaValidator(crds: readonly CustomResourceDefinition[]): SchemaValidator {
  const validators = compileValidators(crds);
  return (kind, object) => {
    const validate = validators.get(kind);
    if (validate === undefined) throw new TypeError(`no CRD for kind ${kind}`);
    if (validate(object)) return [];
    // A failed `oneOf` also reports why each branch failed; its own error says it all.
    return (validate.errors ?? []).filter((e) => !e.schemaPath.includes('/oneOf/')).map(toFieldError);
  };
}

function compileValidators(crds: readonly CustomResourceDefinition[]): Map<string, ValidateFunction> {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strictTypes: false, verbose: true });
  // The formats the CRDs use (int32: JWTPolicy status.ancestors[].ancestorRef.port, as Gateway API has it).
  addFormats(ajv, ['date-time', 'int32', 'int64']);
  for (const keyword of KUBERNETES_KEYWORDS) ajv.addKeyword({ keyword });
  const compiled = new Map<string, ValidateFunction>();
  for (const crd of crds) {
    const schema = structuredClone(crd.spec.versions[0]?.schema.openAPIV3Schema);
    if (schema === undefined) throw new TypeError(`CRD ${crd.metadata.name} has no schema`);
    compiled.set(crd.spec.names.kind, ajv.compile(closeObjects(schema)));
  }
  return compiled;
}

/**
 * Adds to the schema what the API server enforces beyond JSON Schema. Unknown fields: the API
 * server prunes them and `kubectl apply` (strict field validation, the default since Kubernetes
 * 1.27) refuses them; standalone mode refuses them too, so a typo such as `audience:` is an
 * error rather than a silently missing check. `x-kubernetes-list-type: set`: items are unique.
 */
function closeObjects(schema: Record<string, unknown>): Record<string, unknown> {
  const isOpen = schema['x-kubernetes-preserve-unknown-fields'] === true || 'additionalProperties' in schema;
  if (schema.properties !== undefined && !isOpen) schema.additionalProperties = false;
  if (schema['x-kubernetes-list-type'] === 'set') schema.uniqueItems = true;
  for (const value of Object.values(schema)) {
    if (value !== null && typeof value === 'object') closeObjects(value as Record<string, unknown>);
  }
  return schema;
}

function toFieldError(error: ErrorObject): FieldError {
  const base = fieldPath(error.instancePath);
  const join = (child: string): string => (base === '' ? child : `${base}.${child}`);
  switch (error.keyword) {
    case 'required':
      return { field: join(String(error.params.missingProperty)), message: 'is required' };
    case 'additionalProperties': {
      const name = String(error.params.additionalProperty);
      // YAML 1.1 (kubectl's, and ours) reads unquoted y/n/yes/no/on/off keys as booleans.
      const hint =
        name === 'true' || name === 'false'
          ? ' (an unquoted y, n, yes, no, on or off key is a boolean in YAML 1.1: quote it, e.g. "n")'
          : '';
      return { field: join(name), message: `unknown field${hint}` };
    }
    case 'oneOf': {
      // Our CRDs use oneOf only as "exactly one of these fields" (`- required: [x]` branches).
      const names = ((error.schema ?? []) as { required?: string[] }[]).flatMap((b) => b.required ?? []);
      return { field: base, message: `exactly one of ${names.join(', ')} must be set` };
    }
    case 'enum':
      return { field: base, message: `must be one of ${(error.params.allowedValues as unknown[]).map(String).join(', ')}` };
    default:
      return { field: base, message: error.message ?? error.keyword };
  }
}

/** `/spec/targets/0/paths/1/regex` → `spec.targets[0].paths[1].regex` (JSON Pointer, RFC 6901). */
function fieldPath(pointer: string): string {
  let path = '';
  for (const raw of pointer.split('/').slice(1)) {
    const segment = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    path += /^\d+$/.test(segment) ? `[${segment}]` : path === '' ? segment : `.${segment}`;
  }
  return path;
}
