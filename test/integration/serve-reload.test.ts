// `jwtgate serve --policies` as a child process, its folder changed on disk in every way a folder
// gets changed (issue 8, cases 4 and 5): each change must be enforced, shown by a check whose
// answer only the new version gives (waited for, never slept for), and every later change too.
// Refusals (cold start and after a good load) show in /readyz, a log line and the metric; checks
// keep being answered while a big folder compiles on the worker thread.
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { writeBigPolicyFolder } from '../../dev/fixtures/big-policy-folder.ts';
import { createGrpcClient, httpCheckRequest, type GrpcClient } from '../../cli/grpc-client.ts';
import { jwtIssuer, jwtPolicy } from '../../dev/fixtures/manifests.ts';
import { startServeProcess, type ServeProcess } from '../../dev/serve-process.ts';
import { generateTestKey, jwksOf, signToken, standardClaims, TEST_AUDIENCE, TEST_ISSUER, type TestKey } from '../../dev/fixtures/tokens.ts';
import { waitFor } from '../support/wait-for.ts';

const HOST = 'orders.test';
let key: TestKey;
/** One token per version: `scope-N` is allowed only while version N of the policy is enforced. */
const tokens = new Map<number, string>();

before(async () => {
  key = await generateTestKey('RS256', 'k1');
  for (let version = 0; version <= 6; version++) tokens.set(version, await signToken(key, standardClaims({ scope: `scope-${version}` })));
});

const issuerYaml = () =>
  jwtIssuer({
    name: 'idp',
    namespace: 'shop',
    spec: { issuer: TEST_ISSUER, audiences: [TEST_AUDIENCE], jwks: jwksOf(key), algorithms: ['RS256'] },
  });
/** The orders policy, version N: requires `scope-N`. */
const policyYaml = (version: number) =>
  jwtPolicy({
    name: 'orders',
    namespace: 'shop',
    spec: {
      targets: [{ hosts: [HOST], paths: [{ prefix: '/orders' }] }],
      issuers: { anyOf: [{ name: 'idp' }] },
      rules: [{ claim: 'scope', containsAll: [`scope-${version}`] }],
    },
  });

async function writeFolder(dir: string, version: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'issuer.yaml'), issuerYaml());
  await writeFile(join(dir, 'policy.yaml'), policyYaml(version));
}

/** Writes a temporary sibling and renames it over `file`, as `mv` and editors that save by rename do. */
async function renameOver(file: string, text: string): Promise<void> {
  await writeFile(`${file}.tmp`, text);
  await rename(`${file}.tmp`, file);
}

async function readyz(svc: ServeProcess): Promise<{ status: number; body: { ready: boolean; detail: Record<string, unknown> } }> {
  const res = await fetch(`http://127.0.0.1:${svc.httpPort}/readyz`);
  return { status: res.status, body: (await res.json()) as { ready: boolean; detail: Record<string, unknown> } };
}

async function reloads(svc: ServeProcess, result: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${svc.httpPort}/metrics`)).text();
  return Number(new RegExp(`jwtgate_snapshot_reloads_total\\{result="${result}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
}

describe('serve --policies sees every way its folder is changed', () => {
  let base: string;
  let svc: ServeProcess | undefined;
  let client: GrpcClient | undefined;

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'jwtgate-reload-'));
  });
  afterEach(async () => {
    client?.close();
    await svc?.stop();
    svc = undefined;
    client = undefined;
    await rm(base, { recursive: true, force: true });
  });

  /** Starts serve on `path` (the rescan off: only file events may see the changes) and waits for version `version`. */
  async function serve(path: string, version: number): Promise<void> {
    svc = await startServeProcess(['--policies', path], { JWTGATE_RESCAN_MS: '0' });
    client = createGrpcClient(`127.0.0.1:${svc.grpcPort}`);
    await enforced(version);
  }

  /** Waits until version `version` decides: its token is allowed. */
  function enforced(version: number): Promise<true> {
    const request = httpCheckRequest({
      method: 'GET',
      host: HOST,
      path: '/orders',
      headers: { authorization: `Bearer ${tokens.get(version)}` },
    });
    return waitFor(
      `version ${version} enforced`,
      async () => (await client!.check(request)).http_response === 'ok_response' || undefined,
      15_000,
      50,
    );
  }

  test('rename-edits (mv over, sed -i) are seen, and every change after them too', async () => {
    const dir = join(base, 'policies');
    await writeFolder(dir, 1);
    await serve(dir, 1);
    await renameOver(join(dir, 'policy.yaml'), policyYaml(2));
    await enforced(2);
    await promisify(execFile)('sed', ['-i', 's/scope-2/scope-3/', join(dir, 'policy.yaml')]);
    await enforced(3);
    await writeFile(join(dir, 'policy.yaml'), policyYaml(4)); // in place, after two renames
    await enforced(4);
    assert.ok((await reloads(svc!, 'ok')) >= 4);
    assert.equal(
      svc!.logs.filter((l) => l.msg === 'snapshot applied').every((l) => l.result === 'ok' && typeof l.trigger === 'string'),
      true,
    );
  });

  test('the folder itself replaced by rename, then edited in place', async () => {
    const dir = join(base, 'policies');
    await writeFolder(dir, 1);
    await serve(dir, 1);
    await writeFolder(join(base, 'next'), 2);
    await rename(dir, join(base, 'old'));
    await rename(join(base, 'next'), dir);
    await enforced(2);
    await writeFile(join(dir, 'policy.yaml'), policyYaml(3));
    await enforced(3);
  });

  test('a ConfigMap volume: the ..data symlink swapped twice', async () => {
    const mount = join(base, 'policies');
    const publish = async (version: number) => {
      const data = `..2026_01_01_00_00_0${version}.000`;
      await writeFolder(join(mount, data), version);
      await symlink(data, join(mount, '..data_tmp'));
      await rename(join(mount, '..data_tmp'), join(mount, '..data'));
      for (const name of ['issuer.yaml', 'policy.yaml']) await symlink(join('..data', name), join(mount, name)).catch(() => undefined);
      if (version > 1) await rm(join(mount, `..2026_01_01_00_00_0${version - 1}.000`), { recursive: true });
    };
    await publish(1);
    await serve(mount, 1);
    await publish(2);
    await enforced(2);
    await publish(3);
    await enforced(3);
  });

  test('the folder deleted: refused, the last good keeps serving and /readyz says why; re-created: enforced', async () => {
    const dir = join(base, 'policies');
    await writeFolder(dir, 1);
    await serve(dir, 1);
    await rm(dir, { recursive: true });
    await svc!.waitForLog((l) => l.msg === 'snapshot refused; the previous one keeps serving' && l.result === 'invalid');
    const refused = await readyz(svc!);
    assert.equal(refused.status, 200);
    assert.match(String((refused.body.detail.lastRefusal as { reason: string }).reason), /ENOENT/);
    await enforced(1);
    await writeFolder(dir, 2);
    await enforced(2);
    assert.equal((await readyz(svc!)).body.detail.lastRefusal, undefined);
  });
});

describe('serve --policies refuses a reload the compiler refuses', () => {
  let dir: string;
  let svc: ServeProcess | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'jwtgate-refuse-'));
  });
  afterEach(async () => {
    await svc?.stop();
    svc = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  test('on a cold start: nothing is enforced, /readyz is 503 with the reason; the fix loads', async () => {
    await writeFile(join(dir, 'issuer.yaml'), issuerYaml());
    await writeFile(join(dir, 'policy.yaml'), 'kind: JWTPolicy\nspec: [unclosed\n');
    svc = await startServeProcess(['--policies', dir]);
    await svc.waitForLog((l) => l.msg === 'snapshot refused; nothing is enforced until one loads');
    const cold = await readyz(svc);
    assert.equal(cold.status, 503);
    assert.equal(cold.body.detail.snapshot, 'none loaded');
    assert.match((cold.body.detail.lastRefusal as { reason: string }).reason, /could not be parsed/);
    assert.equal(await reloads(svc, 'invalid'), 1);
    assert.equal(
      svc.logs.some((l) => l.msg === 'snapshot applied'),
      false,
    );

    await writeFile(join(dir, 'policy.yaml'), policyYaml(1));
    await svc.waitForLog((l) => l.msg === 'snapshot applied');
    const ready = await waitFor('ready', async () => ((await readyz(svc!)).status === 200 ? readyz(svc!) : undefined));
    assert.equal(ready.body.detail.lastRefusal, undefined);
  });

  test('after a good load: the snapshot in force keeps serving, /readyz stays ready and says why', async () => {
    await writeFolder(dir, 1);
    svc = await startServeProcess(['--policies', dir]);
    await svc.waitForLog((l) => l.msg === 'snapshot applied');
    await writeFile(join(dir, 'policy.yaml'), 'kind: JWTPolicy\nspec: [unclosed\n');
    await svc.waitForLog((l) => l.msg === 'snapshot refused; the previous one keeps serving');
    const after = await readyz(svc);
    assert.equal(after.status, 200);
    assert.equal(after.body.detail.generation, 1);
    assert.match((after.body.detail.lastRefusal as { reason: string }).reason, /could not be parsed/);
    assert.equal(await reloads(svc, 'invalid'), 1);
  });
});

describe('checks keep being answered while a big folder compiles', () => {
  const POLICIES = 6000;
  let base: string;
  let svc: ServeProcess;
  let client: GrpcClient;
  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'jwtgate-big-reload-'));
    await writeFolder(join(base, 'policies'), 1);
    svc = await startServeProcess(['--policies', join(base, 'policies')], { JWTGATE_LOG_LEVEL: 'info' });
    await svc.waitForLog((l) => l.msg === 'snapshot applied');
    client = createGrpcClient(`127.0.0.1:${svc.grpcPort}`);
  });
  after(async () => {
    client?.close();
    await svc?.stop();
    await rm(base, { recursive: true, force: true });
  });

  test(`the longest silence between answers is a small part of compiling ${POLICIES} policies`, async () => {
    const big = await writeBigPolicyFolder({ policies: POLICIES, jwks: jwksOf(key), dir: await mkdirp(join(base, 'next')) });
    const request = httpCheckRequest({ method: 'GET', host: big.hostOf(1), path: '/api/x' });
    const answeredAt: number[] = [];
    let reloading = true;
    const load = Promise.all(
      Array.from({ length: 4 }, async () => {
        while (reloading) {
          await client.check(request, { deadlineMs: 10_000 });
          answeredAt.push(Date.now());
        }
      }),
    );
    const swapAt = Date.now();
    await rename(join(base, 'policies'), join(base, 'old'));
    await rename(join(base, 'next'), join(base, 'policies'));
    const applied = await svc.waitForLog((l) => l.msg === 'snapshot applied' && l.policies === POLICIES, 120_000);
    reloading = false;
    await load; // a check that failed (deadline, error) rejects here and fails the test

    const during = answeredAt.filter((t) => t >= swapAt && t <= Number(applied.time));
    const gaps = during.slice(1).map((t, i) => t - during[i]!);
    const longest = Math.max(...gaps);
    const compileMs = Number(applied.compileMs);
    // On the event loop the compile was one silence as long as itself (issue 8: ~6 s for 12,000);
    // on the worker, answers keep coming. Relative to the compile time, so a slow machine is fair.
    assert.ok(during.length >= 10, `only ${during.length} checks answered during a ${compileMs} ms compile`);
    assert.ok(longest < compileMs / 2, `a ${longest} ms silence during a ${compileMs} ms compile`);
  });
});

async function mkdirp(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  return dir;
}
