// The CRDs themselves: structural-schema hygiene (types, descriptions, CEL cost bounds), the
// names kubectl users type, and the invariants that keep them in step with the code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import { ALGORITHMS } from '../../../snapshot/types.ts';
import { CROSS_FIELD_MESSAGES } from '../../../compiler/cross-field-rules.ts';
import { readCrds, type CustomResourceDefinition } from '../../../common/crds.ts';

type Schema = Record<string, unknown> & { properties?: Record<string, Schema>; items?: Schema };

const crds = new Map(readCrds().map((crd) => [crd.spec.names.kind, crd]));
const schemaOf = (kind: string): Schema => crds.get(kind)?.spec.versions[0]?.schema.openAPIV3Schema as Schema;

/** Every schema node with its path. */
function* walk(schema: Schema, path: string): Generator<[string, Schema]> {
  yield [path, schema];
  for (const [name, child] of Object.entries(schema.properties ?? {})) yield* walk(child, `${path}.${name}`);
  if (schema.items !== undefined) yield* walk(schema.items, `${path}[]`);
  if (typeof schema.additionalProperties === 'object') yield* walk(schema.additionalProperties as Schema, `${path}{}`);
}

test('names, scope, versions, subresources and printer columns', () => {
  const expected = {
    JWTIssuer: ['Namespaced', 'jwti'],
    JWTPolicy: ['Namespaced', 'jwtp'],
    ClusterJWTPolicy: ['Cluster', 'cjwtp'],
    JWTHostGrant: ['Cluster', 'jwthg'],
  };
  assert.deepEqual([...crds.keys()].sort(), Object.keys(expected).sort());
  for (const [kind, [scope, shortName]] of Object.entries(expected)) {
    const crd = crds.get(kind) as CustomResourceDefinition & {
      spec: { versions: Record<string, unknown>[]; names: { categories: string[] } };
    };
    assert.equal(crd.spec.group, 'jwtgate.dev');
    assert.equal(crd.spec.scope, scope);
    assert.deepEqual(crd.spec.names.shortNames, [shortName]);
    assert.deepEqual(crd.spec.names.categories, ['jwtgate']);
    const [version] = crd.spec.versions;
    assert.equal(crd.spec.versions.length, 1);
    assert.deepEqual([version?.name, version?.served, version?.storage], ['v1alpha1', true, true]);
    assert.deepEqual(version?.subresources, { status: {} });
    const columns = ((version?.additionalPrinterColumns ?? []) as { name: string }[]).map((c) => c.name);
    assert.ok(columns.includes('Ready') && columns.includes('Age'), `${kind} columns ${columns.join(',')}`);
    assert.ok(columns.includes({ JWTIssuer: 'Issuer', JWTHostGrant: 'Hostnames' }[kind] ?? 'Issuers'));
  }
});

test('schemas are valid JSON Schema and structural, with a description and CEL cost bounds everywhere', () => {
  const ajv = new Ajv({ strict: false });
  for (const kind of crds.keys()) {
    assert.equal(ajv.validateSchema(schemaOf(kind)), true, `${kind}: ${ajv.errorsText()}`);
    // The apiserver refuses anything but `type` on metadata (it is implicitly specified).
    assert.deepEqual(schemaOf(kind).properties?.metadata, { type: 'object' }, `${kind}.metadata`);
    for (const [path, node] of walk(schemaOf(kind), kind)) {
      if (path === `${kind}.metadata`) continue;
      const untyped = node['x-kubernetes-preserve-unknown-fields'] === true || node['x-kubernetes-int-or-string'] === true;
      assert.ok(untyped || typeof node.type === 'string', `${path} has no type`);
      assert.ok(typeof node.description === 'string' && node.description.length > 0, `${path} has no description`);
      if (node.type === 'array') assert.ok(typeof node.maxItems === 'number', `${path} has no maxItems`);
      // apiVersion and kind are the API server's own; CEL rules only read spec.
      if (node.type === 'string' && path.includes('.spec.')) {
        assert.ok(
          typeof node.maxLength === 'number' || Array.isArray(node.enum) || node.format === 'date-time',
          `${path} has no maxLength`,
        );
      }
      if (node.properties !== undefined)
        assert.ok(!('additionalProperties' in node), `${path}: properties and additionalProperties are exclusive`);
    }
  }
});

test("the algorithm enum is exactly the snapshot contract's ALGORITHMS", () => {
  const algorithms = schemaOf('JWTIssuer').properties?.spec?.properties?.algorithms?.items?.enum;
  assert.deepEqual(algorithms, [...ALGORITHMS]);
});

test('every CEL rule has its TypeScript twin with the same message, and no twin is orphaned', () => {
  const messages = new Set<string>();
  for (const kind of crds.keys()) {
    for (const [, node] of walk(schemaOf(kind), kind)) {
      for (const rule of (node['x-kubernetes-validations'] ?? []) as { rule: string; message: string }[]) messages.add(rule.message);
    }
  }
  assert.deepEqual([...messages].sort(), Object.values(CROSS_FIELD_MESSAGES).sort());
});

test("ClusterJWTPolicy carries JWTPolicy's spec fields unchanged but workloadSelector and targetRefs, plus selector, enforcement and issuer namespaces", () => {
  const namespaced = JSON.parse(JSON.stringify(schemaOf('JWTPolicy').properties?.spec)) as Schema;
  // A workload selector only narrows a namespace's own routes; a cluster policy selects namespaces instead.
  assert.ok(namespaced.properties?.workloadSelector !== undefined);
  delete namespaced.properties?.workloadSelector;
  // targetRefs name Gateway API objects in the policy's own namespace, which a cluster-scoped
  // policy does not have: a ClusterJWTPolicy keeps targets required, and the rules that choose
  // between targets and targetRefs are JWTPolicy's alone.
  assert.ok(namespaced.properties?.targetRefs !== undefined);
  delete namespaced.properties?.targetRefs;
  assert.equal(namespaced.required, undefined);
  namespaced.required = ['targets'];
  const rules = namespaced['x-kubernetes-validations'] as { message: string }[];
  assert.deepEqual(
    rules.map((r) => r.message),
    [CROSS_FIELD_MESSAGES.issuersUnlessDisabled, CROSS_FIELD_MESSAGES.oneTargetKind, CROSS_FIELD_MESSAGES.noSelectorWithTargetRefs],
  );
  namespaced['x-kubernetes-validations'] = rules.slice(0, 1);
  // A JSON copy, not structuredClone: YAML aliases (`*issuerRef`) share objects, which must not stay shared.
  const cluster = JSON.parse(JSON.stringify(schemaOf('ClusterJWTPolicy').properties?.spec)) as Schema;
  const clusterFields = cluster.properties as Record<string, Schema>;
  assert.ok(clusterFields.namespaceSelector !== undefined && clusterFields.enforcement !== undefined);
  delete clusterFields.namespaceSelector;
  delete clusterFields.enforcement;
  for (const list of ['anyOf', 'allOf']) {
    const ref = clusterFields.issuers?.properties?.[list]?.items as Schema;
    assert.deepEqual(ref.required, ['name', 'namespace']);
    delete ref.properties?.namespace;
    ref.required = ['name'];
    (ref.properties?.name as Schema).description = "Name of a JWTIssuer in this policy's namespace.";
  }
  cluster.description = namespaced.description;
  assert.deepEqual(cluster, namespaced);
  assert.deepEqual(
    Object.keys(cluster).sort(),
    ['description', 'properties', 'required', 'type', 'x-kubernetes-validations'],
    'the comparison covers every keyword',
  );
});

test('every kind shares one status schema (conditions + observedGeneration; JWTIssuer adds its keys, JWTHostGrant its namespaces, JWTPolicy its ancestors)', () => {
  const statuses = [...crds.keys()].map((kind) => {
    const status = structuredClone(schemaOf(kind).properties?.status);
    if (kind === 'JWTPolicy') {
      // GEP-713 PolicyAncestorStatus, for targetRefs (a ClusterJWTPolicy has none): at most 16
      // entries, each condition the same metav1.Condition as status.conditions.
      const ancestors = status?.properties?.ancestors as Schema;
      assert.ok(ancestors, 'JWTPolicy.status.ancestors');
      assert.equal(ancestors.maxItems, 16);
      assert.equal(ancestors['x-kubernetes-list-type'], 'atomic');
      assert.deepEqual(ancestors.items?.required, ['ancestorRef', 'controllerName', 'conditions']);
      assert.deepEqual(Object.keys(ancestors.items?.properties?.ancestorRef?.properties ?? {}), [
        'group',
        'kind',
        'namespace',
        'name',
        'sectionName',
        'port',
      ]);
      assert.deepEqual(ancestors.items?.properties?.conditions?.items, status?.properties?.conditions?.items);
      assert.match('jwtgate.dev/operator', new RegExp(ancestors.items?.properties?.controllerName?.pattern as string));
      delete status?.properties?.ancestors;
    }
    if (kind === 'JWTIssuer') {
      assert.ok(status?.properties?.keys, 'JWTIssuer.status.keys');
      delete status?.properties?.keys;
    }
    if (kind === 'JWTHostGrant') {
      assert.ok(status?.properties?.namespaces, 'JWTHostGrant.status.namespaces');
      delete status?.properties?.namespaces;
      // A grant refers to nothing, so it has no ResolvedRefs condition.
      const conditions = status?.properties?.conditions as Schema;
      assert.equal(conditions.description, 'Accepted and Ready, following Kubernetes API conventions.');
      conditions.description = 'Accepted, ResolvedRefs and Ready, following Kubernetes API conventions.';
    }
    return status;
  });
  const [first, ...rest] = statuses;
  for (const status of rest) assert.deepEqual(status, first);
  assert.deepEqual(Object.keys(first?.properties ?? {}).sort(), ['conditions', 'observedGeneration']);
  assert.deepEqual(first?.properties?.conditions?.items?.required, ['type', 'status', 'lastTransitionTime', 'reason', 'message']);
});
