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
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

const CLI = new URL('../../cli/jwtgate.ts', import.meta.url).pathname;

export interface ServeProcess {
  grpcPort: number;
  httpPort: number;
  process: ChildProcess;
  /** Every JSON log line so far. */
  logs: Record<string, unknown>[];
  /** Resolves with the first log line (already seen or future) that satisfies `predicate`. */
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Sends `signal` (default SIGTERM) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startServeProcess(args: string[], env: Record<string, string> = {}): Promise<ServeProcess> {
  const child = spawn(process.execPath, [CLI, 'serve', '--listen-address', '127.0.0.1', '--grpc-port', '0', '--http-port', '0', ...args], {
    env: { ...process.env, JWTGATE_LOG_LEVEL: 'debug', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const waiters: { predicate: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  createInterface({ input: child.stdout! }).on('line', (text) => {
    let line: Record<string, unknown>;
    try { line = JSON.parse(text) as Record<string, unknown>; } catch { return; }
    logs.push(line);
    for (const w of [...waiters]) if (w.predicate(line)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(line); }
  });
  const exited = once(child, 'exit');

  const waitForLog = (predicate: (l: Record<string, unknown>) => boolean, timeoutMs = 15_000) => {
    const seen = logs.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching log line in ${timeoutMs} ms; stderr: ${stderr}\nlogs: ${logs.map((l) => l.msg).join(' | ')}`)), timeoutMs);
      waiters.push({ predicate, resolve: (l) => { clearTimeout(timer); resolve(l); } });
      void exited.then(() => reject(new Error(`jwtgate exited early: ${stderr}`)));
    });
  };

  const listening = await waitForLog((l) => l.msg === 'jwtgate authz listening');
  return {
    grpcPort: Number(listening.grpcPort),
    httpPort: Number(listening.httpPort),
    process: child,
    logs,
    waitForLog,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      const [code] = await exited;
      return code as number | null;
    },
  };
}
