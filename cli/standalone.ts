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
}

export async function compileFolder(dir: string, generation: number, settings?: SnapshotSettings): Promise<FolderResult> {
  const loaded = await loadManifests(dir);
  const compiled = compile({ ...loaded, generation, now: new Date(), ...(settings === undefined ? {} : { settings }) });
  const diagnostics = [...loaded.diagnostics, ...compiled.diagnostics];
  return {
    snapshot: compiled.snapshot,
    diagnostics,
    errors: diagnostics.filter((d) => d.severity === 'error').length,
    unreadable: loaded.diagnostics.filter((d) => d.reason === DIAGNOSTIC_REASONS.ParseError).length,
  };
}

/** `--unmatched deny|allow` (commander checks the choice) → the snapshot's settings; undefined keeps the compiler's default, deny. */
export function unmatchedSettings(unmatched: SnapshotSettings['unmatched'] | undefined): SnapshotSettings | undefined {
  return unmatched === undefined ? undefined : { unmatched };
}
