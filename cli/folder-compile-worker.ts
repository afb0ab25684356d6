/**
 * The worker thread behind `serve --policies`: compiles the manifests folder off the event loop
 * that answers checks (issue 8, case 5: 12,000 policies took ~6 s of the main thread). One
 * request at a time; the result goes back by structured clone.
 *
 * The snapshot in force (`previous`, for incumbency) is 5 MB at that size and costs tens of
 * milliseconds of the main thread to clone, so it is sent once: the worker keeps the snapshots
 * of its last request — the previous one it was given and the one it produced — and the main
 * thread names one of those by digest instead of sending it again (see `folder-compiler.ts`).
 *
 * @example
 * ```ts
 * new Worker(new URL('./folder-compile-worker.ts', import.meta.url)).postMessage(request);
 * ```
 */
import { parentPort } from 'node:worker_threads';
import type { Snapshot, SnapshotSettings } from '../authz/snapshot/types.ts';
import { compileFolder, type FolderResult } from './standalone.ts';

/**
 * A compile request: `previous` is either sent whole or named by the digest of a snapshot the
 * worker kept from its last request.
 *
 * @example
 * ```ts
 * const request: CompileRequest = { id: 1, dir: 'policies', generation: 7, previousSha256: inForce.sha256 };
 * ```
 */
export interface CompileRequest {
  id: number;
  dir: string;
  generation: number;
  settings?: SnapshotSettings;
  previous?: Snapshot;
  previousSha256?: string;
}

/**
 * The answer to a {@link CompileRequest} with the same id.
 *
 * @example
 * ```ts
 * if (reply.ok) apply(reply.result.snapshot); else refuse(reply.error);
 * ```
 */
export type CompileReply = { id: number; ok: true; result: FolderResult } | { id: number; ok: false; error: string };

/** The snapshots the last request used and produced, by digest. */
let kept = new Map<string, Snapshot>();

async function answer(request: CompileRequest): Promise<CompileReply> {
  const previous = request.previous ?? (request.previousSha256 === undefined ? undefined : kept.get(request.previousSha256));
  if (request.previousSha256 !== undefined && previous === undefined) {
    // The main thread's mirror of `kept` is wrong: a bug, and compiling without incumbency could open routes.
    return { id: request.id, ok: false, error: `compile worker: previous snapshot ${request.previousSha256} is not kept here` };
  }
  try {
    const result = await compileFolder(request.dir, request.generation, request.settings, previous);
    kept = new Map([...(previous === undefined ? [] : [[previous.sha256, previous] as const]), [result.snapshot.sha256, result.snapshot]]);
    return { id: request.id, ok: true, result };
  } catch (error) {
    return { id: request.id, ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

parentPort?.on('message', (request: CompileRequest) => {
  void answer(request).then((reply) => parentPort?.postMessage(reply));
});
