/**
 * One look at a watched path (a manifests folder or a snapshot file): which directories must be
 * watched to see every change to it, and a digest of what a reader would read, so a periodic
 * rescan can tell that something changed even when no event arrived.
 *
 * The digest is metadata, not content: for every file a reader would open, its relative path,
 * device and inode (rename-over, `sed -i`, a swapped symlink all give another inode), size,
 * and mtime and ctime in nanoseconds. ctime cannot be set from user space, so even a write that
 * keeps the size and restores the mtime (`touch -r`, `rsync -t`) changes it. Hashing contents
 * would also catch a same-inode write within one timestamp tick, but it reads every byte (5 MB
 * for 12,000 policies) on every rescan; the event watch, not the rescan, is what catches such
 * fast edits, and the rescan is only the backstop for lost events.
 *
 * Watch points follow the path the way the kernel resolves it: a symlink anywhere on the way
 * (`/etc/jwtgate/snapshot.json -> ..data/snapshot.json`, `..data -> ..2024_06_01…`, a folder
 * that is itself a link) adds its own directory, filtered to its name, so swapping the link is
 * an event. Inside a folder every real directory is watched for every name; hidden entries are
 * skipped as the manifest reader skips them (their changes still show as events on the folder).
 *
 * @example
 * ```ts
 * const { digest, points } = await scanTree('/etc/jwtgate/policies');
 * // points: [{ dir: '/etc/jwtgate', names: Set { 'policies' } }, { dir: '/etc/jwtgate/policies' }, …]
 * ```
 */
import { createHash } from 'node:crypto';
import { lstat, readdir, readlink, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';

/** A directory to watch; `names` limits the entries whose events count (undefined: all of them). */
export interface WatchPoint {
  dir: string;
  names?: ReadonlySet<string>;
}

export interface TreeScan {
  /** sha256 over the metadata lines (see the module comment); equal digests, nothing to reload. */
  digest: string;
  /** One per directory, merged: a directory watched for all names wins over a filtered one. */
  points: WatchPoint[];
}

/** Deeper symlink chains than this are not followed (the kernel stops at 40; loops stop here). */
const MAX_LINK_HOPS = 16;

/**
 * Scans `path` (absolute or relative to the working directory). A missing path is not an
 * error: its digest says so, and the nearest existing ancestor is watched for it to appear.
 *
 * @example
 * ```ts
 * const before = await scanTree(dir);
 * if ((await scanTree(dir)).digest !== before.digest) reload();
 * ```
 */
export async function scanTree(path: string): Promise<TreeScan> {
  const root = resolve(path);
  const points = new PointSet();
  await addLinkChain(root, points);
  const lines: string[] = [];
  const rootStat = await stat(root).catch(() => undefined);
  if (rootStat === undefined) lines.push('missing');
  else if (rootStat.isDirectory()) await walk(root, root, points, lines, new Set());
  else lines.push(await fileLine(root, ''));
  lines.sort();
  return { digest: createHash('sha256').update(lines.join('\n')).digest('hex'), points: points.list() };
}

/**
 * Watch points for resolving `path`: its own directory (filtered to its name) and, for every
 * symlink on the way, the link's directory and then the chain of its target. Stops at the first
 * missing component, whose existing parent is then the point that will see it appear.
 */
async function addLinkChain(path: string, points: PointSet, hops = 0): Promise<void> {
  points.add(dirname(path), basename(path));
  const parts = path.split(sep);
  for (let i = 2; i <= parts.length; i++) {
    const prefix = parts.slice(0, i).join(sep) || sep;
    const info = await lstat(prefix).catch(() => undefined);
    if (info === undefined) {
      points.add(dirname(prefix), basename(prefix));
      return;
    }
    if (info.isSymbolicLink()) {
      points.add(dirname(prefix), basename(prefix));
      if (hops >= MAX_LINK_HOPS) return;
      const target = resolve(dirname(prefix), await readlink(prefix));
      await addLinkChain(join(target, ...parts.slice(i)), points, hops + 1);
      return;
    }
  }
}

/** Walks the real directories under `dir` (as the manifest reader does), following symlinked files. */
async function walk(root: string, dir: string, points: PointSet, lines: string[], seen: Set<string>): Promise<void> {
  const real = await realpath(dir).catch(() => undefined);
  if (real === undefined || seen.has(real)) return;
  seen.add(real);
  points.add(real);
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await walk(root, path, points, lines, seen);
    else if (entry.isSymbolicLink()) {
      await addLinkChain(path, points);
      lines.push(await fileLine(path, relative(root, path)));
    } else if (entry.isFile()) lines.push(await fileLine(path, relative(root, path)));
  }
}

/** One digest line: what changes when the file's content or identity changes (module comment). */
async function fileLine(path: string, name: string): Promise<string> {
  const s = await stat(path, { bigint: true }).catch(() => undefined);
  if (s === undefined) return `${name}\0gone`;
  return `${name}\0${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
}

/** Watch points by directory; adding a directory without a name widens it to every name. */
class PointSet {
  readonly #byDir = new Map<string, Set<string> | 'all'>();

  add(dir: string, name?: string): void {
    const current = this.#byDir.get(dir);
    if (current === 'all') return;
    if (name === undefined) this.#byDir.set(dir, 'all');
    else if (current === undefined) this.#byDir.set(dir, new Set([name]));
    else current.add(name);
  }

  list(): WatchPoint[] {
    return [...this.#byDir].map(([dir, names]) => (names === 'all' ? { dir } : { dir, names }));
  }
}
