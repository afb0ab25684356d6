// watchPath on real files and real fs.watch: every way a folder or file gets replaced is seen
// by an event (the rescan is off, so only events can pass), and keeps being seen afterwards.
// Each wait is for a callback that read the new content, never a fixed sleep: a change that
// is not seen times the test out (issue 8, case 4: after a rename-edit only the first change
// was seen). The backstop rescan is tested with events dropped and mock timers.
import { after, afterEach, beforeEach, describe, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { watchPath, type ChangeTrigger, type PathWatcher, type WatchPathOptions } from '../../../authz/load/watch-path.ts';

const WAIT_MS = 10_000;

/**
 * Watches `path` and, on every callback, reads `probe` (a file under the watched path): `seen(text)`
 * resolves once a callback has read `text`.
 */
async function follow(path: string, probe: string, options: WatchPathOptions = {}) {
  const reads: string[] = [];
  const waiters: { text: string; resolve: () => void }[] = [];
  const onChange = () => {
    void readFile(probe, 'utf8')
      .catch(() => '<missing>')
      .then((text) => {
        reads.push(text);
        for (const w of waiters.filter((x) => x.text === text)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      });
  };
  const watcher = await watchPath(path, onChange, { debounceMs: 30, rescanMs: 0, ...options });
  const seen = (text: string) =>
    new Promise<void>((resolve, reject) => {
      if (reads.includes(text)) return resolve();
      const timer = setTimeout(
        () => reject(new Error(`no change callback read ${JSON.stringify(text)} in ${WAIT_MS} ms; reads: ${JSON.stringify(reads)}`)),
        WAIT_MS,
      );
      waiters.push({
        text,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  return { watcher, seen };
}

/** Writes `text` to a temporary sibling and renames it over `file`: `mv tmp old`, `sed -i`, editors that save by rename. */
async function renameOver(file: string, text: string): Promise<void> {
  await writeFile(`${file}.tmp`, text);
  await rename(`${file}.tmp`, file);
}

describe('watchPath sees every way a file or folder is replaced', () => {
  let base: string;
  let watcher: PathWatcher | undefined;
  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'jwtgate-watch-'));
  });
  afterEach(async () => {
    watcher?.close();
    watcher = undefined;
    await rm(base, { recursive: true, force: true });
  });

  /** A watched folder `policies` holding `relative` = 'v0', followed through that file. */
  async function followFolder(relative = 'a.yaml') {
    const dir = join(base, 'policies');
    const file = join(dir, relative);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, 'v0');
    const f = await follow(dir, file);
    watcher = f.watcher;
    return { dir, file, seen: f.seen };
  }

  test('in-place writes to a file in the folder', async () => {
    const { file, ...f } = await followFolder();
    await writeFile(file, 'v1');
    await f.seen('v1');
    await writeFile(file, 'v2');
    await f.seen('v2');
  });

  test('rename over a file (mv tmp old, sed -i), and every later change to it too', async () => {
    const { file, ...f } = await followFolder();
    await renameOver(file, 'v1');
    await f.seen('v1');
    await renameOver(file, 'v2');
    await f.seen('v2');
    await writeFile(file, 'v3'); // in place, after two renames
    await f.seen('v3');
  });

  test('a file in a subfolder, renamed over twice', async () => {
    const { file, ...f } = await followFolder(join('team', 'a.yaml'));
    await renameOver(file, 'v1');
    await f.seen('v1');
    await renameOver(file, 'v2');
    await f.seen('v2');
  });

  test('delete and re-create a file', async () => {
    const { file, ...f } = await followFolder();
    await rm(file);
    await f.seen('<missing>');
    await writeFile(file, 'v1');
    await f.seen('v1');
    await writeFile(file, 'v2');
    await f.seen('v2');
  });

  test('the folder itself renamed away and a new one renamed in; changes in the new one are seen', async () => {
    const { dir, ...f } = await followFolder();
    await mkdir(join(base, 'next'));
    await writeFile(join(base, 'next', 'a.yaml'), 'v1');
    await rename(dir, join(base, 'old'));
    await rename(join(base, 'next'), dir);
    await f.seen('v1');
    await writeFile(join(base, 'old', 'a.yaml'), 'old-folder'); // not watched any more: must not matter
    await writeFile(join(dir, 'a.yaml'), 'v2');
    await f.seen('v2');
  });

  test('the folder deleted, missing for a while, then re-created', async () => {
    const { dir, ...f } = await followFolder();
    await rm(dir, { recursive: true });
    await f.seen('<missing>');
    await mkdir(dir);
    await writeFile(join(dir, 'a.yaml'), 'v1');
    await f.seen('v1');
    await writeFile(join(dir, 'a.yaml'), 'v2');
    await f.seen('v2');
  });

  test('a symlinked folder swapped to another target (ln -sfn), then edited in the new target', async () => {
    await mkdir(join(base, 'v1'));
    await mkdir(join(base, 'v2'));
    await writeFile(join(base, 'v1', 'a.yaml'), 'v1');
    await writeFile(join(base, 'v2', 'a.yaml'), 'v2');
    const link = join(base, 'policies');
    await symlink('v1', link);
    const f = await follow(link, join(link, 'a.yaml'));
    watcher = f.watcher;
    await symlink('v2', `${link}.tmp`);
    await rename(`${link}.tmp`, link);
    await f.seen('v2');
    await writeFile(join(base, 'v2', 'a.yaml'), 'v3');
    await f.seen('v3');
  });

  /** A Kubernetes ConfigMap volume: files are links through `..data`, which the kubelet swaps. */
  async function configMapVolume(mount: string, files: Record<string, string>, version: number): Promise<void> {
    const data = join(mount, `..2026_01_01_00_00_0${version}.000`);
    await mkdir(data, { recursive: true });
    for (const [name, text] of Object.entries(files)) await writeFile(join(data, name), text);
    await symlink(`..2026_01_01_00_00_0${version}.000`, join(mount, '..data_tmp'));
    await rename(join(mount, '..data_tmp'), join(mount, '..data'));
    for (const name of Object.keys(files)) await symlink(join('..data', name), join(mount, name)).catch(() => undefined);
    if (version > 1) await rm(join(mount, `..2026_01_01_00_00_0${version - 1}.000`), { recursive: true });
  }

  test('a ConfigMap folder: the ..data symlink swapped twice', async () => {
    const mount = join(base, 'policies');
    await configMapVolume(mount, { 'a.yaml': 'v1' }, 1);
    const f = await follow(mount, join(mount, 'a.yaml'));
    watcher = f.watcher;
    await configMapVolume(mount, { 'a.yaml': 'v2' }, 2);
    await f.seen('v2');
    await configMapVolume(mount, { 'a.yaml': 'v3' }, 3);
    await f.seen('v3');
  });

  test('a ConfigMap file (--snapshot): the ..data symlink swapped twice', async () => {
    const mount = join(base, 'config');
    await configMapVolume(mount, { 'snapshot.json': 'v1' }, 1);
    const file = join(mount, 'snapshot.json');
    const f = await follow(file, file);
    watcher = f.watcher;
    await configMapVolume(mount, { 'snapshot.json': 'v2' }, 2);
    await f.seen('v2');
    await configMapVolume(mount, { 'snapshot.json': 'v3' }, 3);
    await f.seen('v3');
  });

  test('a single file (--snapshot) renamed over twice; only its folder is watched', async () => {
    const file = join(base, 'snapshot.json');
    await writeFile(file, 'v0');
    const f = await follow(file, file);
    watcher = f.watcher;
    await renameOver(file, 'v1');
    await f.seen('v1');
    await renameOver(file, 'v2');
    await f.seen('v2');
    assert.deepEqual(f.watcher.watchedDirs(), [base]);
  });
});

describe('the digest rescan is the backstop when events are lost', () => {
  let base: string;
  let watcher: PathWatcher | undefined;
  /** A watch that never reports anything: every event is lost. */
  const deaf: WatchPathOptions['watch'] = () => ({
    close() {},
    on() {
      return this as never;
    },
  });

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'jwtgate-rescan-'));
    mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
  });
  afterEach(async () => {
    watcher?.close();
    mock.timers.reset();
    await rm(base, { recursive: true, force: true });
  });
  after(() => mock.timers.reset());

  /** Ticks the rescan interval once and resolves with what that scan found. */
  function rescanOnce(
    scans: { trigger: ChangeTrigger; changed: boolean }[],
    tick: () => void,
  ): Promise<{ trigger: ChangeTrigger; changed: boolean }> {
    const before = scans.length;
    return new Promise((resolve) => {
      const check = () => (scans.length > before ? resolve(scans[before]!) : setImmediate(check));
      tick();
      check();
    });
  }

  test('no change, no reload; a change without an event reloads on the next rescan', async () => {
    const dir = join(base, 'policies');
    await mkdir(dir);
    await writeFile(join(dir, 'a.yaml'), 'v0');
    const scans: { trigger: ChangeTrigger; changed: boolean }[] = [];
    const calls: ChangeTrigger[] = [];
    watcher = await watchPath(dir, (trigger) => calls.push(trigger), { rescanMs: 5000, watch: deaf, onScan: (s) => scans.push(s) });

    assert.deepEqual(await rescanOnce(scans, () => mock.timers.tick(5000)), { trigger: 'rescan', changed: false });
    assert.deepEqual(calls, []);

    await renameOver(join(dir, 'a.yaml'), 'v1');
    assert.deepEqual(await rescanOnce(scans, () => mock.timers.tick(5000)), { trigger: 'rescan', changed: true });
    assert.deepEqual(calls, ['rescan']);

    await writeFile(join(dir, 'a.yaml'), 'v2'); // same size, same inode: mtime and ctime tell
    assert.deepEqual(await rescanOnce(scans, () => mock.timers.tick(5000)), { trigger: 'rescan', changed: true });
    assert.deepEqual(calls, ['rescan', 'rescan']);
  });

  test('a folder replaced by rename without an event is found by the rescan', async () => {
    const dir = join(base, 'policies');
    await mkdir(dir);
    await writeFile(join(dir, 'a.yaml'), 'v0');
    const scans: { trigger: ChangeTrigger; changed: boolean }[] = [];
    watcher = await watchPath(dir, () => undefined, { rescanMs: 5000, watch: deaf, onScan: (s) => scans.push(s) });
    await mkdir(join(base, 'next'));
    await writeFile(join(base, 'next', 'a.yaml'), 'v0'); // same name, same content: another inode
    await rename(dir, join(base, 'old'));
    await rename(join(base, 'next'), dir);
    assert.deepEqual(await rescanOnce(scans, () => mock.timers.tick(5000)), { trigger: 'rescan', changed: true });
  });
});
