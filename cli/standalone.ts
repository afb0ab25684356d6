/**
 * Standalone mode's one step: a manifests folder through the same validation and compiler the
 * operator uses, into a snapshot plus human-readable diagnostics.
 *
 * @example
 * ```ts
 * const { snapshot, diagnostics, errors } = await compileFolder('examples/policies', 1);
 * ```
 */
import { loadManifests } from '../compiler/load-manifests.ts';
import { compile, type Diagnostic } from '../compiler/compile.ts';
import { DIAGNOSTIC_REASONS } from '../compiler/diagnostics.ts';

export { formatDiagnostic } from '../compiler/diagnostics.ts';
import type { Snapshot, SnapshotSettings } from '../authz/snapshot/types.ts';

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
 * Compiles `dir`; `previous` is the snapshot in force (the last good one), whose route holders
 * keep their routes (incumbency) and whose routes stay closed for a policy that broke.
 */
export async function compileFolder(dir: string, generation: number, settings?: SnapshotSettings, previous?: Snapshot): Promise<FolderResult> {
  const loaded = await loadManifests(dir);
  const compiled = compile({
    ...loaded, generation, now: new Date(),
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

/** `--unmatched deny|allow` (commander checks the choice) → the snapshot's settings; undefined keeps the compiler's default, deny. */
export function unmatchedSettings(unmatched: SnapshotSettings['unmatched'] | undefined): SnapshotSettings | undefined {
  return unmatched === undefined ? undefined : { unmatched };
}
