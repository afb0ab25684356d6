/**
 * Runs the real `jwtgate serve` CLI as a child process on ephemeral ports, the way a user or a
 * Pod runs it, and reads its JSON log lines (the ports come from the "listening" line).
 *
 * @example
 * ```ts
 * const svc = await startServeProcess(['--policies', dir]);
 * const client = createGrpcClient(`127.0.0.1:${svc.grpcPort}`);
 * await svc.stop();
 * ```
 */
import type { ChildProcess } from 'node:child_process';
import { startCliProcess, type LogLine } from './cli-process.ts';

export interface ServeProcess {
  grpcPort: number;
  httpPort: number;
  process: ChildProcess;
  /** Every JSON log line so far. */
  logs: LogLine[];
  /** Resolves with the first log line (already seen or future) that satisfies `predicate`. */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Sends `signal` (default SIGTERM) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startServeProcess(args: string[], env: Record<string, string> = {}): Promise<ServeProcess> {
  const cli = startCliProcess(
    ['serve', '--listen-address', '127.0.0.1', '--grpc-port', '0', '--http-port', '0', ...args],
    { JWTGATE_LOG_LEVEL: 'debug', ...env },
    'jwtgate serve',
  );
  try {
    const listening = await cli.waitForLog((l) => l.msg === 'jwtgate authz listening');
    return {
      grpcPort: Number(listening.grpcPort),
      httpPort: Number(listening.httpPort),
      process: cli.process,
      logs: cli.logs,
      waitForLog: cli.waitForLog,
      stop: cli.stop,
    };
  } catch (error) {
    await cli.stop('SIGKILL');
    throw error;
  }
}
