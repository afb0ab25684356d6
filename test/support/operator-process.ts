/**
 * Runs the real `jwtgate operator` CLI as a child process against a test cluster, the way a Pod
 * runs it (its Lease identity from `POD_NAME`), and follows its JSON log lines: the HTTP port
 * comes from the "HTTP server listening" line, leadership and publishes from theirs.
 *
 * @example
 * ```ts
 * const op = await startOperatorProcess({ kubeconfigPath: cluster.kubeconfigPath, namespace: 'jwtgate-system', identity: 'op-1' });
 * await op.waitForLog((l) => l.msg === 'started leading');
 * await op.stop('SIGKILL');
 * ```
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

const CLI = new URL('../../cli/jwtgate.ts', import.meta.url).pathname;

/** A JSON log line of the operator. */
export type LogLine = Record<string, unknown>;

/**
 * A running operator process.
 *
 * @example
 * ```ts
 * const published = op.logs.filter((l) => l.msg === 'snapshot updated').length;
 * ```
 */
export interface OperatorProcess {
  /** Its Lease holder identity (`POD_NAME`). */
  identity: string;
  /** The `/healthz` `/readyz` `/metrics` port. */
  httpPort: number;
  process: ChildProcess;
  /** Every JSON log line so far. */
  logs: LogLine[];
  /** True until the process has exited. */
  isRunning(): boolean;
  /** Resolves with the first log line (already seen or future) that satisfies `predicate`; rejects on timeout or exit. */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Sends `signal` (default SIGTERM: the Lease is released) and resolves once the process has exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * What {@link startOperatorProcess} needs.
 *
 * @example
 * ```ts
 * const options: OperatorProcessOptions = { kubeconfigPath, namespace: 'jwtgate-system', identity: 'op-2' };
 * ```
 */
export interface OperatorProcessOptions {
  kubeconfigPath: string;
  /** Where the snapshot and the Lease live. */
  namespace: string;
  /** The Lease holder identity; two replicas must differ. */
  identity: string;
  /** Extra environment (e.g. `JWTGATE_LOG_LEVEL`). */
  env?: Record<string, string>;
}

/** Processes not yet exited, killed if the test process ends first (a failed `before`, a timeout). */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Starts `jwtgate operator` on loopback with an ephemeral HTTP port and resolves once it listens
 * (its informers may still be syncing).
 *
 * @example
 * ```ts
 * const op = await startOperatorProcess({ kubeconfigPath, namespace: 'jwtgate-system', identity: 'op-1' });
 * await fetch(`http://127.0.0.1:${op.httpPort}/readyz`);
 * ```
 */
export async function startOperatorProcess(options: OperatorProcessOptions): Promise<OperatorProcess> {
  installExitHook();
  const child = spawn(process.execPath, [
    CLI, 'operator', '--namespace', options.namespace, '--kubeconfig', options.kubeconfigPath,
    '--http-port', '0', '--listen-address', '127.0.0.1',
  ], {
    env: { ...process.env, JWTGATE_LOG_LEVEL: 'info', ...options.env, POD_NAME: options.identity },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  const exited = once(child, 'exit').finally(() => live.delete(child));
  const logs: LogLine[] = [];
  const waiters = new Set<{ predicate: (l: LogLine) => boolean; resolve: (l: LogLine) => void }>();
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  createInterface({ input: child.stdout! }).on('line', (text) => {
    let line: LogLine;
    try { line = JSON.parse(text) as LogLine; } catch { return; }
    logs.push(line);
    for (const w of [...waiters]) if (w.predicate(line)) { waiters.delete(w); w.resolve(line); }
  });
  const isRunning = (): boolean => child.exitCode === null && child.signalCode === null;

  const waitForLog = (predicate: (l: LogLine) => boolean, timeoutMs = 15_000): Promise<LogLine> => {
    const seen = logs.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise<LogLine>((resolve, reject) => {
      const waiter = { predicate, resolve: (l: LogLine) => { clearTimeout(timer); resolve(l); } };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`operator ${options.identity}: no matching log line in ${timeoutMs} ms; stderr: ${stderr}\nlogs: ${logs.map((l) => l.msg).join(' | ')}`));
      }, timeoutMs);
      waiters.add(waiter);
      void exited.then(() => { clearTimeout(timer); reject(new Error(`operator ${options.identity} exited early: ${stderr}`)); });
    });
  };

  try {
    const listening = await waitForLog((l) => l.msg === 'HTTP server listening');
    return {
      identity: options.identity,
      httpPort: Number(listening.port),
      process: child,
      logs,
      isRunning,
      waitForLog,
      async stop(signal = 'SIGTERM') {
        if (!isRunning()) return;
        child.kill(signal);
        await exited;
      },
    };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => { for (const child of live) child.kill('SIGKILL'); });
}
