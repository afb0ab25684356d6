/**
 * The real `jwtgate` CLI as a child process, the way a user or a Pod runs it, with its JSON log
 * lines followed so a caller can wait for what it reports (ports, "started leading", reloads).
 * Used by the tests (`dev/serve-process.ts` and `test/support/operator-process.ts` are thin roles on
 * top of it) and by the demo (`dev/demo.ts`), hence its home outside `test/`.
 *
 * @example
 * ```ts
 * const cli = startCliProcess(['serve', '--policies', dir], { JWTGATE_LOG_LEVEL: 'debug' }, 'serve');
 * const listening = await cli.waitForLog((l) => l.msg === 'jwtgate authz listening');
 * await cli.stop();
 * ```
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

const CLI = new URL('../cli/jwtgate.ts', import.meta.url).pathname;

/** A JSON log line. */
export type LogLine = Record<string, unknown>;

export interface CliProcess {
  process: ChildProcess;
  /** Every JSON log line so far. */
  logs: LogLine[];
  /** True until the process has exited. */
  isRunning(): boolean;
  /** Resolves when the process exits, whoever stopped it. */
  exited: Promise<unknown>;
  /** Resolves with the first log line (already seen or future) that satisfies `predicate`; rejects on timeout or exit. */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Sends `signal` (default SIGTERM) and resolves with the exit code once the process has exited. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Processes not yet exited, killed if the test process ends first (a failed `before`, a timeout). */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Starts `jwtgate ARGS…`; `label` names it in timeout and early-exit errors; `onLog` sees every
 * JSON log line as it arrives (the demo prints decisions with it).
 *
 * @example
 * ```ts
 * const cli = startCliProcess(['compile', dir], {}, 'compile', (line) => console.log(line.msg));
 * ```
 */
export function startCliProcess(
  args: string[],
  env: Record<string, string | undefined>,
  label: string,
  onLog?: (line: LogLine) => void,
): CliProcess {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const child of live) child.kill('SIGKILL');
    });
  }
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const exited = once(child, 'exit').finally(() => live.delete(child));
  const logs: LogLine[] = [];
  const waiters = new Set<{ predicate: (l: LogLine) => boolean; resolve: (l: LogLine) => void }>();
  let stderr = '';
  if (child.stdout === null || child.stderr === null) throw new TypeError('spawned without piped stdout/stderr');
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  createInterface({ input: child.stdout }).on('line', (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      return;
    }
    logs.push(line);
    onLog?.(line);
    for (const w of [...waiters])
      if (w.predicate(line)) {
        waiters.delete(w);
        w.resolve(line);
      }
  });
  const isRunning = (): boolean => child.exitCode === null && child.signalCode === null;

  return {
    process: child,
    logs,
    isRunning,
    exited,
    waitForLog(predicate, timeoutMs = 15_000) {
      const seen = logs.find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise<LogLine>((resolve, reject) => {
        const waiter = {
          predicate,
          resolve: (l: LogLine) => {
            clearTimeout(timer);
            resolve(l);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(
            new Error(`${label}: no matching log line in ${timeoutMs} ms; stderr: ${stderr}\nlogs: ${logs.map((l) => l.msg).join(' | ')}`),
          );
        }, timeoutMs);
        waiters.add(waiter);
        void exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`${label} exited early: ${stderr}`));
        });
      });
    },
    async stop(signal = 'SIGTERM') {
      if (isRunning()) child.kill(signal);
      const [code] = await exited;
      return code as number | null;
    },
  };
}
