/**
 * `jwtgate compile DIR`: the snapshot on stdout (or a file), diagnostics on stderr, exit 1 when
 * any resource has an error, so CI can gate policy changes.
 *
 * @example
 * ```sh
 * jwtgate compile examples/policies -o snapshot.json
 * ```
 */
import { writeFile } from 'node:fs/promises';
import { compileFolder, formatDiagnostic, unmatchedSettings } from './standalone.ts';

export async function compileCommand(dir: string, options: { output?: string; generation: string; unmatched?: 'deny' | 'allow' }): Promise<void> {
  const { snapshot, diagnostics, errors } = await compileFolder(dir, Number(options.generation), unmatchedSettings(options.unmatched));
  for (const d of diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
  if (errors > 0) {
    process.stderr.write(`${errors} error(s); no snapshot written\n`);
    process.exitCode = 1;
    return;
  }
  const json = `${JSON.stringify(snapshot, null, 2)}\n`;
  if (options.output) await writeFile(options.output, json);
  else process.stdout.write(json);
}
