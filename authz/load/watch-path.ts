/**
 * Calls back when a watched manifests folder or snapshot file changes, however it is replaced:
 * written in place, renamed over (`mv tmp old`, `sed -i`, editors that save by rename), deleted
 * and re-created, the folder itself renamed away and another renamed in, a symlink swapped
 * (Kubernetes ConfigMap volumes swap `..data`), or briefly missing.
 *
 * Why not a plain `fs.watch(dir, { recursive: true })`: on Linux an inotify watch follows an
 * inode, not a path. Node's recursive watcher keeps per-entry watches that are lost when an
 * entry is renamed over, so the first rename-edit reloads and every later change to that file
 * goes unseen (issue 8, case 4); a watch on the folder itself follows the old folder when it is
 * renamed away. So this module re-derives what to watch from the path after every change:
 *
 * ```
 *   event ─debounce─▶ scanTree(path) ─▶ re-arm: one non-recursive fs.watch per directory
 *                         │                     (closing those whose path now names another
 *                         │                      inode, opening new ones)
 *                         └─▶ onChange('event')
 *   every rescanMs ─▶ scanTree(path) ─▶ re-arm ─▶ onChange('rescan') only if the digest changed
 * ```
 *
 * The periodic rescan is the backstop for lost events (inotify queue overflow, a network file
 * system, a watch that failed to arm); it is cheap (a stat per file, see `scan-tree.ts`) and
 * fires only when the digest differs. Events always fire: a digest can miss two same-size
 * writes within one timestamp tick, an event cannot.
 *
 * Why not chokidar: it is also `fs.watch` underneath on Linux, it does not re-arm when the
 * watched root is itself replaced by rename, and its per-file events are more than we need — a
 * caller re-reads the whole folder anyway. Keeping to `node:fs` keeps the data plane's
 * dependencies few; the re-arm logic is this file and `scan-tree.ts`.
 *
 * Timers are the global `setTimeout`/`setInterval`, so tests drive them with `node:test` mock
 * timers; `watch` can be replaced to lose events on purpose.
 *
 * @example
 * ```ts
 * const watcher = await watchPath('/etc/jwtgate/policies', (trigger) => reload(trigger), { rescanMs: 5000 });
 * watcher.close();
 * ```
 */
import { watch as fsWatch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { scanTree, type WatchPoint } from './scan-tree.ts';

/** What made a change callback: a file system event, or a rescan whose digest differed. */
export type ChangeTrigger = 'event' | 'rescan';

export interface WatchPathOptions {
  /** Quiet time after the last event before scanning and calling back: one edit, one call. Default 100 ms. */
  debounceMs?: number;
  /** Interval of the digest rescan (the backstop); 0 turns it off. Default 5000 ms. */
  rescanMs?: number;
  /** Replaces `fs.watch` (tests use one that drops events). */
  watch?: (dir: string, listener: (event: string, name: string | null) => void) => Pick<FSWatcher, 'close' | 'on'>;
  /** A scan failed (e.g. permission denied); the watch keeps going and the next event or rescan retries. */
  onError?: (error: unknown) => void;
  /** After every scan (for debug logs, and for tests to know a rescan has finished). */
  onScan?: (scan: { trigger: ChangeTrigger; changed: boolean }) => void;
}

/**
 * A running watch.
 *
 * @example
 * ```ts
 * watcher.watchedDirs(); // ['/etc/jwtgate', '/etc/jwtgate/policies']
 * ```
 */
export interface PathWatcher {
  /** The directories currently watched (for tests and debugging). */
  watchedDirs(): string[];
  close(): void;
}

interface Armed {
  watcher: Pick<FSWatcher, 'close' | 'on'>;
  /** Device and inode of the directory the watch follows: another one at the same path means re-arm. */
  identity: string;
  names: ReadonlySet<string> | undefined;
}

/**
 * Scans `path` once (the digest that later rescans compare with) and arms the watches; resolves
 * when they are armed, so a change made after that is seen. Load after this resolves, not before.
 *
 * @example
 * ```ts
 * const watcher = await watchPath(dir, () => void reload());
 * await reload();
 * ```
 */
export async function watchPath(
  path: string,
  onChange: (trigger: ChangeTrigger) => void,
  options: WatchPathOptions = {},
): Promise<PathWatcher> {
  const { debounceMs = 100, rescanMs = 5000, onError, onScan } = options;
  const watch = options.watch ?? ((dir, listener) => fsWatch(dir, { persistent: false }, listener));
  const armed = new Map<string, Armed>();
  let closed = false;
  let debounce: NodeJS.Timeout | undefined;
  let lastDigest: string;

  const onEvent = (): void => {
    if (closed) return;
    clearTimeout(debounce);
    debounce = setTimeout(() => void sync('event'), debounceMs);
    debounce.unref?.();
  };

  const arm = async (points: WatchPoint[]): Promise<void> => {
    const wanted = new Map(points.map((p) => [p.dir, p.names]));
    for (const [dir, entry] of armed) {
      if (!wanted.has(dir)) {
        entry.watcher.close();
        armed.delete(dir);
      }
    }
    for (const [dir, names] of wanted) {
      const identity = await dirIdentity(dir);
      const current = armed.get(dir);
      if (current !== undefined && current.identity === identity) {
        current.names = names;
        continue;
      }
      current?.watcher.close();
      armed.delete(dir);
      if (identity === undefined) continue; // not there (yet): an ancestor's point watches for it
      try {
        const entry: Armed = { identity, names, watcher: undefined as never };
        entry.watcher = watch(dir, (_event, name) => {
          if (entry.names === undefined || name === null || entry.names.has(String(name))) onEvent();
        });
        // The directory went away under the watch: scan again to find what now stands at the path.
        entry.watcher.on('error', onEvent);
        armed.set(dir, entry);
      } catch {
        onEvent(); // removed between the scan and the watch: look again
      }
    }
  };

  // One scan at a time; a trigger during a scan runs one more after it ('event' outranks 'rescan').
  let running: Promise<void> | undefined;
  let again: ChangeTrigger | undefined;
  const sync = async (trigger: ChangeTrigger): Promise<void> => {
    if (running !== undefined) {
      again = again === 'event' || trigger === 'event' ? 'event' : 'rescan';
      return;
    }
    running = (async () => {
      for (let next: ChangeTrigger | undefined = trigger; next !== undefined && !closed; next = again) {
        again = undefined;
        try {
          const scan = await scanTree(path);
          if (closed) return;
          await arm(scan.points);
          const changed = scan.digest !== lastDigest;
          lastDigest = scan.digest;
          onScan?.({ trigger: next, changed });
          if (next === 'event' || changed) onChange(next);
        } catch (error) {
          onError?.(error);
          if (next === 'event') onChange(next);
        }
      }
    })().finally(() => {
      running = undefined;
    });
    await running;
  };

  const first = await scanTree(path);
  lastDigest = first.digest;
  await arm(first.points);
  const rescan = rescanMs > 0 ? setInterval(() => void sync('rescan'), rescanMs) : undefined;
  rescan?.unref?.();

  return {
    watchedDirs: () => [...armed.keys()].sort(),
    close() {
      closed = true;
      clearTimeout(debounce);
      clearInterval(rescan);
      for (const entry of armed.values()) entry.watcher.close();
      armed.clear();
    },
  };
}

/** `dev:ino` of a directory, undefined when there is none at `dir`. */
async function dirIdentity(dir: string): Promise<string | undefined> {
  const s = await stat(dir).catch(() => undefined);
  return s?.isDirectory() === true ? `${s.dev}:${s.ino}` : undefined;
}
