/**
 * The worker thread behind `serve --policies`: compiles the manifests folder off the event loop
 * that answers checks (issue 8, case 5: 12,000 policies took ~6 s of the main thread). One
 * request at a time; the result goes back by structured clone.
 *
 * The snapshot in force (`previous`, for incumbency) is 5 MB at that size and costs tens of
 * milliseconds of the main thread to clone, so it is sent once: the worker keeps the snapshots
 * of its last request — the previous one it was given and the one it produced — and the main
 * thread names one of those by digest instead of sending it again (see `folder-compiler.ts`).
 * The result's policies go back in chunks the main thread asks for one at a time: deserializing
 * 12,000 policies in one message is one 70–150 ms stall of the event loop; a chunk is a few ms,
 * and checks are answered between chunks.
 *
 * @example
 * ```ts
 * new Worker(new URL('./folder-compile-worker.ts', import.meta.url)).postMessage(request);
 * ```
 */
import { constants, setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import type { Snapshot, SnapshotPolicy, SnapshotSettings } from '../snapshot/types.ts';
import { compileFolder, loadSchema, type FolderResult } from './standalone.ts';

/** Policies per chunk of a result: a few milliseconds of deserializing each. */
export const POLICIES_PER_CHUNK = 500;

/**
 * A compile request: `previous` is either sent whole or named by the digest of a snapshot the
 * worker kept from its last request. Or the next chunk of the last result's policies.
 *
 * @example
 * ```ts
 * const request: WorkerRequest = { kind: 'compile', id: 1, dir: 'policies', generation: 7, previousSha256: inForce.sha256 };
 * ```
 */
export type WorkerRequest = CompileRequest | { kind: 'chunk'; id: number; index: number };

interface CompileRequest {
  kind: 'compile';
  id: number;
  dir: string;
  generation: number;
  settings?: SnapshotSettings;
  previous?: Snapshot;
  previousSha256?: string;
}

/**
 * The answer to a {@link WorkerRequest} with the same id: a result whose `snapshot.policies` is
 * empty and comes in `chunks` chunk replies, or an error.
 *
 * @example
 * ```ts
 * if (reply.kind === 'result') for (let i = 0; i < reply.chunks; i++) ask({ kind: 'chunk', id: reply.id, index: i });
 * ```
 */
export type WorkerReply =
  | { kind: 'result'; id: number; result: FolderResult; chunks: number }
  | { kind: 'chunk'; id: number; index: number; policies: SnapshotPolicy[] }
  | { kind: 'error'; id: number; error: string };

// Compiling is background work: when the CPU is short, checks on the main thread go first. On
// Linux the nice value is per thread, so this lowers this worker only (no privilege needed).
try {
  setPriority(constants.priority.PRIORITY_BELOW_NORMAL);
} catch {
  // Not permitted on this platform: the compile still runs off the event loop.
}

/** The CRD schemas, compiled once when the worker starts (the compiler reads no file). */
const schema = loadSchema();

/** The snapshots the last request used and produced, by digest. */
let kept = new Map<string, Snapshot>();
/** The policies of the last result, until the main thread has taken them. */
let lastPolicies: { id: number; policies: SnapshotPolicy[] } | undefined;

async function answer(request: CompileRequest): Promise<WorkerReply> {
  const previous = request.previous ?? (request.previousSha256 === undefined ? undefined : kept.get(request.previousSha256));
  if (request.previousSha256 !== undefined && previous === undefined) {
    // The main thread's mirror of `kept` is wrong: a bug, and compiling without incumbency could open routes.
    return { kind: 'error', id: request.id, error: `compile worker: previous snapshot ${request.previousSha256} is not kept here` };
  }
  try {
    const result = await compileFolder(schema, request.dir, request.generation, request.settings, previous);
    kept = new Map([...(previous === undefined ? [] : [[previous.sha256, previous] as const]), [result.snapshot.sha256, result.snapshot]]);
    lastPolicies = { id: request.id, policies: result.snapshot.policies };
    const chunks = Math.ceil(result.snapshot.policies.length / POLICIES_PER_CHUNK);
    return { kind: 'result', id: request.id, result: { ...result, snapshot: { ...result.snapshot, policies: [] } }, chunks };
  } catch (error) {
    return { kind: 'error', id: request.id, error: error instanceof Error ? error.message : String(error) };
  }
}

function chunk(id: number, index: number): WorkerReply {
  if (lastPolicies?.id !== id) return { kind: 'error', id, error: `compile worker: no result ${id} to send` };
  return { kind: 'chunk', id, index, policies: lastPolicies.policies.slice(index * POLICIES_PER_CHUNK, (index + 1) * POLICIES_PER_CHUNK) };
}

parentPort?.on('message', (request: WorkerRequest) => {
  if (request.kind === 'chunk') parentPort?.postMessage(chunk(request.id, request.index));
  else void answer(request).then((reply) => parentPort?.postMessage(reply));
});
