/**
 * Reads the CustomResourceDefinitions in crds/ (the schema is the source of truth, for the API
 * server and for standalone validation). The compiler reads no file: the operator and the CLI
 * read the CRDs here at start-up and hand them to `createSchemaValidator` (compiler/schema.ts).
 *
 * @example
 * ```ts
 * const schema = createSchemaValidator(readCrds());
 * ```
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

/** Where the CustomResourceDefinitions live, relative to this module. */
export const CRD_DIR = join(import.meta.dirname, '..', 'crds');

/** The parts of a CustomResourceDefinition jwtgate reads. */
export interface CustomResourceDefinition {
  metadata: { name: string };
  spec: {
    group: string;
    scope: 'Namespaced' | 'Cluster';
    names: { kind: string; shortNames?: string[] };
    versions: { name: string; schema: { openAPIV3Schema: Record<string, unknown> } }[];
  };
}

/**
 * Reads every CustomResourceDefinition in {@link CRD_DIR}, sorted by file name.
 *
 * @example
 * ```ts
 * readCrds().map((crd) => crd.spec.names.kind); // ['ClusterJWTPolicy', 'JWTIssuer', 'JWTPolicy']
 * ```
 */
export function readCrds(): CustomResourceDefinition[] {
  return readdirSync(CRD_DIR)
    .filter((file) => file.endsWith('.yaml'))
    .sort()
    .map((file) => parse(readFileSync(join(CRD_DIR, file), 'utf8')) as CustomResourceDefinition);
}
