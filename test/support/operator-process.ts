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
import type { ChildProcess } from 'node:child_process';
import { startCliProcess, type LogLine } from '../../dev/cli-process.ts';

export type { LogLine } from '../../dev/cli-process.ts';

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
  /** Sends `signal` (default SIGTERM: the Lease is released) and resolves with the exit code once the process has exited. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
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
  /** Extra flags of `jwtgate operator` (e.g. `['--unmatched', 'allow']`). */
  args?: string[];
}

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
  const cli = startCliProcess(
    [
      'operator',
      '--namespace',
      options.namespace,
      '--kubeconfig',
      options.kubeconfigPath,
      '--http-port',
      '0',
      '--listen-address',
      '127.0.0.1',
      ...(options.args ?? []),
    ],
    { JWTGATE_LOG_LEVEL: 'info', ...options.env, POD_NAME: options.identity },
    `operator ${options.identity}`,
  );
  try {
    const listening = await cli.waitForLog((l) => l.msg === 'HTTP server listening');
    return { identity: options.identity, httpPort: Number(listening.port), ...cli };
  } catch (error) {
    await cli.stop('SIGKILL');
    throw error;
  }
}
