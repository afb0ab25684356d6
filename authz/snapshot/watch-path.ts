/**
 * Calls back when a file or folder changes, robust to the ways files really get replaced:
 * editors that write a temp file and rename it, and Kubernetes volume mounts that swap a
 * `..data` symlink. It watches the containing folder (recursively for a folder) and debounces,
 * so one update gives one callback. Callers re-read and compare digests; spurious calls are fine.
 *
 * @example
 * ```ts
 * const stop = watchPath('/etc/jwtgate/snapshot.json', () => reload());
 * ```
 */
import { watch, statSync, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

export function watchPath(path: string, onChange: () => void, debounceMs = 150): () => void {
  const isDir = statSync(path).isDirectory();
  const target = isDir ? path : dirname(path);
  let timer: NodeJS.Timeout | undefined;
  const fire = () => {
    clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
  };
  const name = basename(path);
  const watcher: FSWatcher = watch(target, { recursive: isDir, persistent: false }, (_event, file) => {
    // In a mounted ConfigMap the file itself never changes: `..data` is swapped. React to both.
    if (isDir || file === null || file === name || String(file).startsWith('..')) fire();
  });
  watcher.on('error', fire);
  return () => {
    clearTimeout(timer);
    watcher.close();
  };
}
