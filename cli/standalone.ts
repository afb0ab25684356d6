/**
 * Standalone mode's one step: a manifests folder through the same validation and compiler the
 * operator uses, into a snapshot plus human-readable diagnostics.
 *
 * @example
 * ```ts
 * const schema = loadSchema(); // once per process
 * const { snapshot, diagnostics, errors } = await compileFolder(schema, 'examples/policies', 1);
 * ```
 */
import { loadManifests } from './load-manifests.ts';
import { compile, type Diagnostic } from '../compiler/compile.ts';
import { DIAGNOSTIC_REASONS } from '../compiler/diagnostics.ts';
import { createSchemaValidator, type SchemaValidator } from '../compiler/schema.ts';
import { readCrds } from '../common/crds.ts';

export { formatDiagnostic } from '../compiler/diagnostics.ts';
import type { Snapshot, SnapshotSettings } from '../snapshot/types.ts';

export interface FolderResult {
  snapshot: Snapshot;
  diagnostics: Diagnostic[];
  errors: number;
  /** Files or documents that could not be parsed at all (as opposed to invalid resources). */
  unreadable: number;
  /** Set when the result must not replace the last good snapshot (the reload is refused): why. */
  refusal?: string;
}

/**
 * Reads crds/ and compiles the schema validator standalone mode checks manifests against (a few
 * hundred milliseconds of ajv: once per process, never per compile).
 *
 * @example
 * ```ts
 * const schema = loadSchema();
 * ```
 */
export function loadSchema(): SchemaValidator {
  return createSchemaValidator(readCrds());
}

/**
 * Compiles `dir` against `schema` (the CRDs, compiled once per process); `previous` is the snapshot in force (the last good one), whose route holders
 * keep their routes (incumbency) and whose routes stay closed for a policy that broke.
 */
export async function compileFolder(
  schema: SchemaValidator,
  dir: string,
  generation: number,
  settings?: SnapshotSettings,
  previous?: Snapshot,
): Promise<FolderResult> {
  const loaded = await loadManifests(dir);
  const compiled = compile({
    ...loaded,
    schema,
    generation,
    now: new Date(),
    // A folder is one operator's configuration: a lone namespace needs no grant (compile-grant.ts).
    grantLoneNamespace: true,
    ...(settings === undefined ? {} : { settings }),
    ...(previous === undefined ? {} : { previous }),
  });
  const diagnostics = [...loaded.diagnostics, ...compiled.diagnostics];
  const unreadable = loaded.diagnostics.filter((d) => d.reason === DIAGNOSTIC_REASONS.ParseError).length;
  const refusal = unreadable > 0 ? `${unreadable} manifest document(s) could not be parsed` : compiled.refusal;
  return {
    snapshot: compiled.snapshot,
    diagnostics,
    errors: diagnostics.filter((d) => d.severity === 'error').length,
    unreadable,
    ...(refusal === undefined ? {} : { refusal }),
  };
}

/** The service-wide settings flags, `--unmatched deny|allow` and `--path-parameters reject|ignore` (commander checks the choices). */
export type SettingsFlags = Partial<Pick<SnapshotSettings, 'unmatched' | 'pathParameters'>>;

/**
 * The flags → the snapshot's settings; undefined keeps the compiler's defaults (deny, reject).
 * `pathParameters` is written only when it is `ignore`: absent means reject, so a snapshot's
 * digest changes only when the setting does.
 *
 * @example
 * ```ts
 * snapshotSettings({ pathParameters: 'ignore' }); // { unmatched: 'deny', pathParameters: 'ignore' }
 * snapshotSettings({ pathParameters: 'reject' }); // { unmatched: 'deny' }
 * snapshotSettings({});                           // undefined
 * ```
 */
export function snapshotSettings({ unmatched, pathParameters }: SettingsFlags): SnapshotSettings | undefined {
  if (unmatched === undefined && pathParameters === undefined) return undefined;
  return { unmatched: unmatched ?? 'deny', ...(pathParameters === 'ignore' ? { pathParameters } : {}) };
}
