// `npm run demo` as a user runs it: the printed curl lines are run as printed (real Envoy, real
// `jwtgate serve`, the echo upstream), each answers the status its heading promises, and SIGTERM
// takes everything down. Needs Envoy from test/peers/envoy/install.sh; JWTGATE_SKIP_ENVOY=1 skips.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';

const SKIP = process.env.JWTGATE_SKIP_ENVOY === '1' ? 'JWTGATE_SKIP_ENVOY=1: real-Envoy tests skipped' : false;
const DEMO = new URL('../../dev/demo.ts', import.meta.url).pathname;
const START_TIMEOUT_MS = 60_000;

/** A printed example: the status its heading promises and the curl line under it. */
interface Example {
  status: number;
  curl: string;
}

let demo: ChildProcess;
let output: string[];
let examples: Example[];

/** Resolves with the lines printed up to (and with) the first one matching `last`. */
function readUntil(child: ChildProcess, last: RegExp): Promise<string[]> {
  const lines: string[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`demo: no line matching ${last} in ${START_TIMEOUT_MS} ms:\n${lines.join('\n')}`)),
      START_TIMEOUT_MS,
    );
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`demo exited with ${code}:\n${lines.join('\n')}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      if (last.test(line)) {
        clearTimeout(timer);
        resolve(lines);
      }
    });
  });
}

/** Runs a printed curl line in a shell, as a user pastes it; returns the status and the rest. */
async function runCurl(line: string): Promise<{ status: number; text: string }> {
  const { stdout } = await promisify(execFile)('bash', ['-c', line]);
  const status = /^HTTP\/[\d.]+ (\d{3})/.exec(stdout);
  assert.ok(status, `no HTTP status line in:\n${stdout}`);
  return { status: Number(status[1]), text: stdout };
}

before(async () => {
  if (SKIP) return;
  // Port 0 for Envoy's listener and admin: the demo prints the ports it got.
  demo = spawn(process.execPath, [DEMO, '--port', '0', '--admin-port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  process.once('exit', () => demo.kill('SIGKILL'));
  output = await readUntil(demo, /decision log follows/);
  examples = output.flatMap((line, i) => {
    const heading = /^\((\d{3})\) /.exec(line);
    const next = output[i + 1];
    return heading && next?.startsWith('  curl ') ? [{ status: Number(heading[1]), curl: next.trim() }] : [];
  });
});

after(() => {
  if (demo?.exitCode === null) demo.kill('SIGKILL');
});

test('the demo prints an allowed, a 401 and a 403 example', { skip: SKIP }, () => {
  assert.deepEqual(
    examples.map((e) => e.status),
    [200, 401, 403],
    output.join('\n'),
  );
});

test('each printed curl line answers the status its heading promises, through Envoy', { skip: SKIP }, async () => {
  const [allowed, missing, forbidden] = await Promise.all(examples.map((e) => runCurl(e.curl)));
  assert.equal(allowed?.status, 200, allowed?.text);
  // The echo upstream's body shows what Envoy forwarded: the claim header, never the token.
  assert.match(allowed!.text, /"x-user-id":\["alice"\]/);
  assert.doesNotMatch(allowed!.text, /"authorization"/);
  assert.equal(missing?.status, 401, missing?.text);
  assert.match(missing!.text, /^www-authenticate: Bearer realm="jwtgate"\r?$/m);
  assert.equal(forbidden?.status, 403, forbidden?.text);
  assert.match(forbidden!.text, /^www-authenticate: Bearer .*error="insufficient_scope"/m);
});

test('SIGTERM stops Envoy, jwtgate and the upstream, and the demo exits 0', { skip: SKIP }, async () => {
  const urls = output.flatMap((line) => [...line.matchAll(/http:\/\/127\.0\.0\.1:\d+/g)].map((m) => m[0]));
  // Envoy's listener and admin, jwtgate's health port, the upstream.
  assert.equal(new Set(urls).size >= 4, true, output.join('\n'));
  const exited = once(demo, 'exit');
  demo.kill('SIGTERM');
  const [code] = await exited;
  assert.equal(code, 0);
  for (const url of new Set(urls)) {
    await assert.rejects(
      fetch(url),
      (error: Error & { cause?: { code?: string } }) => error.cause?.code === 'ECONNREFUSED',
      `${url} still answers`,
    );
  }
});
