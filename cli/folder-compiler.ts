/**
 * The main thread's handle on the compile worker (`folder-compile-worker.ts`): `compileFolder`
 * with the same arguments and result, run on another thread so checks keep being answered while
 * a large folder compiles. One compile at a time (callers coalesce with `coalesceReloads`); a
 * worker that dies fails the compile in flight and is replaced on the next one.
 *
 * The worker is started on the first compile and kept: starting one costs a few hundred
 * milliseconds (loading the compiler and the CRD schemas), which every reload would otherwise pay.
 *
 * @example
 * ```ts
 * const compiler = new FolderCompiler();
 * const result = await compiler.compile('policies', 2, undefined, store.current?.snapshot);
 * await compiler.close();
 * ```
 */
import { stat } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import type { Snapshot, SnapshotSettings } from '../snapshot/types.ts';
import type { WorkerReply, WorkerRequest } from './folder-compile-worker.ts';
import type { FolderResult } from './standalone.ts';

const WORKER_URL = new URL('./folder-compile-worker.ts', import.meta.url);

export class FolderCompiler {
  #worker: Worker | undefined;
  /** Digests of the snapshots the worker keeps (mirrors its `kept`): those are named, not sent. */
  #kept = new Set<string>();
  #inFlight: { id: number; resolve: (reply: WorkerReply) => void; reject: (error: Error) => void } | undefined;
  #nextId = 1;
  #busy = false;

  /**
   * Compiles `dir` on the worker; resolves with the {@link FolderResult}, rejects when the folder
   * cannot be compiled at all (e.g. it does not exist) or the worker died.
   *
   * @example
   * ```ts
   * const { snapshot, refusal } = await compiler.compile(dir, ++generation, settings, previous);
   * ```
   */
  async compile(dir: string, generation: number, settings?: SnapshotSettings, previous?: Snapshot): Promise<FolderResult> {
    if (this.#busy) throw new TypeError('FolderCompiler: one compile at a time (coalesce reload requests)');
    this.#busy = true;
    try {
      return await this.#compile(dir, generation, settings, previous);
    } finally {
      this.#busy = false;
    }
  }

  async #compile(dir: string, generation: number, settings?: SnapshotSettings, previous?: Snapshot): Promise<FolderResult> {
    const worker = this.#worker ?? (await this.#start());
    const id = this.#nextId++;
    const reply = await this.#ask(worker, {
      kind: 'compile',
      id,
      dir,
      generation,
      ...(settings === undefined ? {} : { settings }),
      ...(previous === undefined ? {} : this.#kept.has(previous.sha256) ? { previousSha256: previous.sha256 } : { previous }),
    });
    if (reply.kind !== 'result') throw new Error(reply.kind === 'error' ? reply.error : `compile worker: unexpected ${reply.kind} reply`);
    this.#kept = new Set([...(previous === undefined ? [] : [previous.sha256]), reply.result.snapshot.sha256]);
    const policies = [];
    for (let index = 0; index < reply.chunks; index++) {
      // One chunk per turn of the event loop: checks that arrived meanwhile are answered first.
      await new Promise((resolve) => setImmediate(resolve));
      const chunk = await this.#ask(worker, { kind: 'chunk', id, index });
      if (chunk.kind !== 'chunk') throw new Error(chunk.kind === 'error' ? chunk.error : `compile worker: unexpected ${chunk.kind} reply`);
      policies.push(...chunk.policies);
    }
    return { ...reply.result, snapshot: { ...reply.result.snapshot, policies } };
  }

  /** Stops the worker; a compile in flight rejects. */
  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    await worker?.terminate();
  }

  #ask(worker: Worker, request: WorkerRequest): Promise<WorkerReply> {
    return new Promise<WorkerReply>((resolve, reject) => {
      this.#inFlight = { id: request.id, resolve, reject };
      worker.postMessage(request);
    }).finally(() => {
      this.#inFlight = undefined;
    });
  }

  async #start(): Promise<Worker> {
    // The worker lowers its own priority; threads inherit the nice value of the thread that
    // creates them, and libuv's thread pool (file system, and the crypto of token checks) is
    // created by the first thread that uses it. Use it here first, so it stays at normal priority.
    await stat(import.meta.filename).catch(() => undefined);
    const worker = new Worker(WORKER_URL);
    worker.unref(); // the servers keep the process alive, not an idle compiler
    const lost = (error: Error) => {
      if (this.#worker === worker) this.#worker = undefined;
      this.#kept = new Set();
      this.#inFlight?.reject(error);
    };
    worker.on('message', (reply: WorkerReply) => {
      if (reply.id === this.#inFlight?.id) this.#inFlight.resolve(reply);
    });
    worker.on('error', (error) => lost(error));
    worker.on('exit', (code) => lost(new Error(`compile worker exited (code ${code})`)));
    this.#worker = worker;
    return worker;
  }
}
