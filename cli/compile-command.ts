/**
 * `jwtgate compile DIR`: the snapshot on stdout (or a file), diagnostics on stderr, exit 1 when
 * any resource has an error, so CI can gate policy changes.
 *
 * A snapshot with errors is still written, failing closed as `serve --policies` would enforce it
 * (broken policies hold their routes with 503 policy_invalid), so a pipeline that ships it
 * anyway never opens a route. The last good snapshot (`--previous`, else the existing `-o` file)
 * decides incumbency; when a broken policy's routes cannot be read at all, nothing is written.
 *
 * @example
 * ```sh
 * jwtgate compile examples/policies -o snapshot.json   # snapshot.json, if present, is the last good one
 * ```
 */
import { readFile, writeFile } from 'node:fs/promises';
import { parseSnapshot } from '../snapshot/parse-snapshot.ts';
import type { Snapshot } from '../snapshot/types.ts';
import { compileFolder, formatDiagnostic, loadSchema, snapshotSettings, type SettingsFlags } from './standalone.ts';

interface CompileOptions extends SettingsFlags {
  output?: string;
  previous?: string;
  generation: string;
}

export async function compileCommand(dir: string, options: CompileOptions): Promise<void> {
  const previous = await readPrevious(options.previous ?? options.output, options.previous !== undefined);
  const { snapshot, diagnostics, errors, refusal } = await compileFolder(
    loadSchema(),
    dir,
    Number(options.generation),
    snapshotSettings(options),
    previous,
  );
  for (const d of diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
  process.exitCode = errors > 0 || refusal !== undefined ? 1 : 0;
  if (refusal !== undefined) {
    process.stderr.write(`refused: ${refusal}; no snapshot written\n`);
    return;
  }
  const json = `${JSON.stringify(snapshot, null, 2)}\n`;
  if (options.output) await writeFile(options.output, json);
  else process.stdout.write(json);
  const held = snapshot.policies.filter((p) => p.mode === 'invalid').length;
  if (errors > 0)
    process.stderr.write(`${errors} error(s); snapshot written with ${held} policy(ies) failing closed (503 policy_invalid)\n`);
}

/** The last good snapshot: an explicit `--previous` must be readable; an `-o` file that is missing or unreadable is ignored. */
async function readPrevious(file: string | undefined, required: boolean): Promise<Snapshot | undefined> {
  if (file === undefined) return undefined;
  try {
    return parseSnapshot(await readFile(file, 'utf8'));
  } catch (error) {
    if (required) throw new Error(`--previous ${file}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    return undefined;
  }
}
