// The container image's contents, proven without a container engine (none runs on our CI): the
// files the Dockerfile COPYs plus the production dependencies only (what `npm ci --omit=dev`
// installs) are laid out in a temporary folder, and the CLI must run every role from there.
// A missing COPY line or a runtime import of a dev dependency fails this test.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { jwtIssuer, jwtPolicy, joinManifests } from '../../dev/fixtures/manifests.ts';
import { generateTestKey, jwksOf, signToken, standardClaims, TEST_AUDIENCE, TEST_ISSUER } from '../../dev/fixtures/tokens.ts';
import { createGrpcClient, httpCheckRequest } from '../../cli/grpc-client.ts';
import { waitFor } from '../support/wait-for.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
let image: string;

/** `COPY src dst` lines of the final stage that copy from the build context. */
function copiedPaths(dockerfile: string): string[] {
  const finalStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  return [...finalStage.matchAll(/^COPY (?!--from)(\S+) \S+$/gm)].map((m) => m[1]!);
}

before(() => {
  image = mkdtempSync(join(tmpdir(), 'jwtgate-image-'));
  const paths = copiedPaths(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  assert.ok(paths.includes('cli') && paths.includes('authz'), `COPY lines not found: ${paths.join(', ')}`);
  for (const path of paths) cpSync(join(ROOT, path), join(image, path), { recursive: true });
  const production = execFileSync('npm', ['ls', '--omit=dev', '--parseable', '--all'], { cwd: ROOT, encoding: 'utf8' })
    .split('\n')
    .filter((p) => p.includes('/node_modules/'));
  for (const dir of production) cpSync(dir, join(image, relative(ROOT, dir)), { recursive: true });
});

after(() => rmSync(image, { recursive: true, force: true }));

const run = (...args: string[]) => promisify(execFile)(process.execPath, ['cli/jwtgate.ts', ...args], { cwd: image });

test('the image holds no dev dependency: not the pinned node, typescript or oidc-provider', () => {
  for (const dev of ['node', 'typescript', 'oidc-provider']) {
    assert.throws(() => readFileSync(join(image, 'node_modules', dev, 'package.json')), { code: 'ENOENT' }, dev);
  }
});

test('every role starts from the image contents: serve, operator, compile, check', async () => {
  for (const command of ['serve', 'operator', 'compile', 'check']) {
    const { stdout } = await run(command, '--help');
    assert.match(stdout, new RegExp(`^Usage: jwtgate ${command}`), command);
  }
});

test('the image compiles manifests (reading its own crds/) and serves the snapshot over gRPC', async () => {
  const key = await generateTestKey('RS256', 'k1');
  const manifests = join(image, 'm');
  mkdirSync(manifests);
  writeFileSync(
    join(manifests, 'all.yaml'),
    joinManifests(
      jwtIssuer({
        name: 'idp',
        namespace: 'shop',
        spec: { issuer: TEST_ISSUER, audiences: [TEST_AUDIENCE], algorithms: ['RS256'], jwks: jwksOf(key) },
      }),
      jwtPolicy({
        name: 'orders',
        namespace: 'shop',
        spec: { targets: [{ hosts: ['orders.test'] }], issuers: { anyOf: [{ name: 'idp' }] } },
      }),
    ),
  );
  const { stdout } = await run('compile', 'm', '-o', 'snapshot.json');
  assert.equal(stdout, '');

  const child = spawn(
    process.execPath,
    ['cli/jwtgate.ts', 'serve', '--snapshot', 'snapshot.json', '--listen-address', '127.0.0.1', '--grpc-port', '0', '--http-port', '0'],
    { cwd: image, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    const grpcPort = await new Promise<number>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString().split('\n'))
          if (line.includes('jwtgate authz listening')) resolve(Number(JSON.parse(line).grpcPort));
      });
      child.on('exit', (code) => reject(new Error(`serve exited with ${code}`)));
    });
    const client = createGrpcClient(`127.0.0.1:${grpcPort}`);
    const token = await signToken(key, standardClaims());
    const response = await waitFor(
      'a check answered from the loaded snapshot',
      async () => {
        const r = await client.check(
          httpCheckRequest({ method: 'GET', host: 'orders.test', path: '/', headers: { authorization: `Bearer ${token}` } }),
        );
        return r.status?.message === 'not_ready' ? undefined : r;
      },
      5_000,
      100,
    );
    assert.equal(response.http_response, 'ok_response', JSON.stringify(response.status));
    client.close();
  } finally {
    child.kill('SIGTERM');
  }
});
