/**
 * `serve --policies`: one reload of the manifests folder. Compiles it on the worker thread with
 * the snapshot in force as `previous` (its route holders keep their routes, its routes stay
 * closed for a policy that broke), logs every diagnostic, then either applies the result or
 * refuses the whole reload when the compiler says it must not replace the snapshot in force
 * (`refusal`: e.g. a file that cannot be parsed, so its routes cannot even be read). A refusal
 * on a cold start leaves nothing enforced and the service not ready: fail closed.
 *
 * Not reentrant: run it through `coalesceReloads`, so the `previous` it reads is the snapshot
 * the last reload left in force and results are applied in the order they were compiled.
 *
 * @example
 * ```ts
 * const reload = coalesceReloads(folderLoader({ dir, store, log, compiler: new FolderCompiler(), formatDiagnostic }));
 * await reload('start');
 * ```
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from '../common/log.ts';
import type { RuntimeStore } from '../authz/runtime/runtime-store.ts';
import type { SnapshotSettings } from '../snapshot/types.ts';
import type { Diagnostic } from '../compiler/compile.ts';
import type { FolderCompiler } from './folder-compiler.ts';

export interface FolderLoaderDeps {
  dir: string;
  store: RuntimeStore;
  log: Logger;
  compiler: Pick<FolderCompiler, 'compile'>;
  formatDiagnostic: (d: Diagnostic) => string;
  settings?: SnapshotSettings;
}

/**
 * Returns the reload function; `trigger` ('start', 'event', 'rescan') goes on its log line.
 *
 * @example
 * ```ts
 * await folderLoader(deps)('rescan'); // logs one of: snapshot applied | snapshot unchanged | snapshot refused…
 * ```
 */
export function folderLoader({
  dir,
  store,
  log,
  compiler,
  formatDiagnostic,
  settings,
}: FolderLoaderDeps): (trigger: string) => Promise<void> {
  let generation = 0;
  return async (trigger) => {
    const context: Record<string, unknown> = { trigger };
    const started = performance.now();
    try {
      const result = await compiler.compile(dir, ++generation, settings, store.current?.snapshot);
      context.compileMs = Math.round(performance.now() - started);
      for (const d of result.diagnostics)
        log[d.severity === 'error' ? 'error' : 'warn']({ resource: d.resource, field: d.field, reason: d.reason }, formatDiagnostic(d));
      if (result.refusal !== undefined) {
        store.refuse(dir, new Error(result.refusal), context);
        return;
      }
      await store.apply(result.snapshot, context);
    } catch (error) {
      store.refuse(dir, error, context);
    }
  };
}
