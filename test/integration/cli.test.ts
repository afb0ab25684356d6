// The CLI as a user runs it: `jwtgate compile` and `jwtgate check` on the shipped examples, with a
// token minted by `jwtgate sign` from the demo key, and on a broken folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseSnapshot } from '../../snapshot/parse-snapshot.ts';
import { startServeProcess } from '../../dev/serve-process.ts';

const CLI = new URL('../../cli/jwtgate.ts', import.meta.url).pathname;
const ROOT = new URL('../../', import.meta.url).pathname;

async function jwtgate(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], { cwd: ROOT });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Runs `body` with a temporary folder holding `file` = `text`, removed afterwards. */
async function withManifests(file: string, text: string, body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'jwtgate-cli-'));
  try {
    await writeFile(join(dir, file), text);
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const demoClaims = (scope: string) => JSON.stringify({ iss: 'https://idp.example.com', aud: 'orders-api', sub: 'alice', scope });

test('compile prints a verifiable snapshot for the examples', async () => {
  const { code, stdout, stderr } = await jwtgate('compile', 'examples/policies');
  assert.equal(code, 0, stderr);
  const snapshot = parseSnapshot(stdout);
  assert.deepEqual(snapshot.policies.map((p) => p.id).sort(), [
    'JWTPolicy/demo/catalog',
    'JWTPolicy/demo/healthz',
    'JWTPolicy/demo/orders-api',
  ]);
});

test('compile reports each error with file, resource and field, and exits 1', async () => {
  await withManifests(
    'bad.yaml',
    `apiVersion: jwtgate.dev/v1alpha1
kind: JWTPolicy
metadata: { name: bad, namespace: shop }
spec:
  targets: [{ paths: [{ regex: "/items/(" }] }]
  issuers: { anyOf: [{ name: nowhere }] }
`,
    async (dir) => {
      const { code, stdout, stderr } = await jwtgate('compile', dir);
      assert.equal(code, 1);
      assert.equal(stdout, '');
      assert.match(stderr, /bad\.yaml: JWTPolicy shop\/bad: spec\.targets\[0\]\.paths\[0\]\.regex: .*\[InvalidRegex\]/);
      assert.match(stderr, /no snapshot written/);
    },
  );
});

test('compile with errors writes the snapshot failing closed; with -o, the existing file is the last good one', async () => {
  const policy = (spec: string) => `apiVersion: jwtgate.dev/v1alpha1
kind: JWTIssuer
metadata: { name: idp, namespace: shop }
spec: { issuer: "https://idp.example.com", audiences: [shop], algorithms: [RS256], jwksUri: "https://idp.example.com/jwks" }
---
apiVersion: jwtgate.dev/v1alpha1
kind: JWTPolicy
metadata: { name: admin, namespace: shop }
spec:
${spec}
`;
  await withManifests(
    'p.yaml',
    policy('  targets: [{ paths: [{ prefix: /admin }] }]\n  issuers: { anyOf: [{ name: idp }] }'),
    async (dir) => {
      const out = join(dir, 'snapshot.json');
      assert.equal((await jwtgate('compile', dir, '-o', out)).code, 0);
      // A typo that hides the routes: held from the existing snapshot, written failing closed, exit 1.
      await writeFile(join(dir, 'p.yaml'), policy('  targetz: [{ paths: [{ prefix: /admin }] }]\n  issuers: { anyOf: [{ name: idp }] }'));
      const typo = await jwtgate('compile', dir, '-o', out);
      assert.equal(typo.code, 1);
      assert.match(typo.stderr, /spec\.targetz: unknown field/);
      assert.match(typo.stderr, /snapshot written with 1 policy\(ies\) failing closed/);
      const held = parseSnapshot(await readFile(out, 'utf8')).policies;
      assert.deepEqual(
        held.map((p) => [p.id, p.mode, p.targets[0]?.paths]),
        [['JWTPolicy/shop/admin', 'invalid', [{ kind: 'prefix', value: '/admin' }]]],
      );
      // Without a last good snapshot nothing can be held: refused, nothing written.
      const cold = await jwtgate('compile', dir);
      assert.equal(cold.code, 1);
      assert.equal(cold.stdout, '');
      assert.match(cold.stderr, /refused: JWTPolicy\/shop\/admin: its routes cannot be read/);
    },
  );
});

test('check explains an allow step by step for a token minted with the demo key', async () => {
  const token = (
    await jwtgate('sign', '--key', 'examples/keys/demo-private.jwk.json', '--claims', demoClaims('orders:read'))
  ).stdout.trim();
  const { code, stdout } = await jwtgate(
    'check',
    '--policies',
    'examples/policies',
    '--url',
    'https://api.example.com/api/orders',
    '--token',
    token,
  );
  assert.equal(code, 0, stdout);
  assert.match(stdout, /^match +policy JWTPolicy\/demo\/orders-api/m);
  assert.match(stdout, /^verify +token valid: issuer demo\/demo-idp/m);
  assert.match(stdout, /^ALLOW \(allowed\)/m);
  assert.match(stdout, /set +x-user-id: alice/);
  assert.match(stdout, /remove authorization/);
});

test('check explains denials and exits 2', async () => {
  const missing = await jwtgate('check', '--policies', 'examples/policies', '--url', 'https://api.example.com/api/orders');
  assert.equal(missing.code, 2);
  assert.match(missing.stdout, /^DENY 401 \(token_missing\)/m);
  assert.match(missing.stdout, /www-authenticate: Bearer realm="jwtgate"/);

  const token = (await jwtgate('sign', '--key', 'examples/keys/demo-private.jwk.json', '--claims', demoClaims('profile'))).stdout.trim();
  const scope = await jwtgate('check', '--policies', 'examples/policies', '--url', 'https://api.example.com/api/orders', '--token', token);
  assert.equal(scope.code, 2);
  assert.match(scope.stdout, /^authorize +rule failed: /m);
  assert.match(scope.stdout, /^DENY 403 \(rule_failed\): reading orders needs the orders:read scope/m);
});

test('check --server asks a running jwtgate (npm start) over gRPC, as Envoy would', async () => {
  const svc = await startServeProcess(['--policies', join(ROOT, 'examples/policies')]);
  try {
    await svc.waitForLog((l) => l.msg === 'snapshot applied');
    const server = `127.0.0.1:${svc.grpcPort}`;
    const token = (
      await jwtgate('sign', '--key', 'examples/keys/demo-private.jwk.json', '--claims', demoClaims('orders:read'))
    ).stdout.trim();
    const allowed = await jwtgate('check', '--server', server, '--url', 'https://api.example.com/api/orders', '--token', token);
    assert.equal(allowed.code, 0, allowed.stdout + allowed.stderr);
    assert.match(allowed.stdout, /^ALLOW \(allowed\)/m);
    assert.match(allowed.stdout, /set +x-user-id: alice/);
    const denied = await jwtgate('check', '--server', server, '--url', 'https://api.example.com/api/orders');
    assert.equal(denied.code, 2);
    assert.match(denied.stdout, /^DENY 401 \(token_missing\): a bearer token is required/m);
    assert.match(denied.stdout, /www-authenticate: Bearer realm="jwtgate"/);
  } finally {
    await svc.stop();
  }
});

test('--unmatched allow is written into the snapshot and decides requests no policy matches', async () => {
  const compiled = await jwtgate('compile', 'examples/policies', '--unmatched', 'allow');
  assert.equal(compiled.code, 0, compiled.stderr);
  assert.deepEqual(parseSnapshot(compiled.stdout).settings, { unmatched: 'allow' });
  assert.deepEqual(parseSnapshot((await jwtgate('compile', 'examples/policies')).stdout).settings, { unmatched: 'deny' });

  const allowed = await jwtgate(
    'check',
    '--policies',
    'examples/policies',
    '--unmatched',
    'allow',
    '--url',
    'https://elsewhere.example.com/',
  );
  assert.equal(allowed.code, 0, allowed.stdout);
  assert.match(allowed.stdout, /^ALLOW \(unmatched_allowed\)/m);
  const denied = await jwtgate('check', '--policies', 'examples/policies', '--url', 'https://elsewhere.example.com/');
  assert.equal(denied.code, 2);
  assert.match(denied.stdout, /^DENY 403 \(no_policy\)/m);
  const refused = await jwtgate('compile', 'examples/policies', '--unmatched', 'maybe');
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /Allowed choices are deny, allow/);
});

test('--path-parameters ignore is written into the snapshot; without it a ";" parameter is refused (400 request_invalid)', async () => {
  const compiled = await jwtgate('compile', 'examples/policies', '--path-parameters', 'ignore');
  assert.equal(compiled.code, 0, compiled.stderr);
  assert.deepEqual(parseSnapshot(compiled.stdout).settings, { unmatched: 'deny', pathParameters: 'ignore' });
  const rejecting = await jwtgate('compile', 'examples/policies', '--path-parameters', 'reject');
  assert.deepEqual(
    parseSnapshot(rejecting.stdout).settings,
    { unmatched: 'deny' },
    'reject is the default: written as absent, so no digest changes',
  );

  const url = 'https://api.example.com/catalog;jsessionid=1';
  const refused = await jwtgate('check', '--policies', 'examples/policies', '--url', url);
  assert.equal(refused.code, 2);
  assert.match(refused.stdout, /^DENY 400 \(request_invalid\): the request path has ";" parameters$/m);
  const ignored = await jwtgate('check', '--policies', 'examples/policies', '--path-parameters', 'ignore', '--url', url);
  assert.equal(ignored.code, 0, ignored.stdout);
  assert.match(ignored.stdout, /^request +GET api\.example\.com\/catalog$/m);
  assert.match(ignored.stdout, /^ALLOW \(anonymous\)/m);
  const hidden = await jwtgate(
    'check',
    '--policies',
    'examples/policies',
    '--path-parameters',
    'ignore',
    '--url',
    'https://api.example.com/catalog/..;/api/orders',
  );
  assert.match(hidden.stdout, /^DENY 400 \(request_invalid\): the request path has a "\." or "\.\." segment hidden by ";" parameters$/m);

  const choice = await jwtgate('compile', 'examples/policies', '--path-parameters', 'strip');
  assert.match(choice.stderr, /Allowed choices are reject, ignore/);
  const notHere = await jwtgate('serve', '--snapshot', 'snapshot.json', '--path-parameters', 'ignore');
  assert.match(notHere.stderr, /--path-parameters applies to --policies only/);
});

test('a broken policy holds its routes and denies them (503 policy_invalid) instead of handing them to a weaker one', async () => {
  await withManifests(
    'policies.yaml',
    `apiVersion: jwtgate.dev/v1alpha1
kind: JWTPolicy
metadata: { name: public, namespace: shop }
spec:
  mode: Disabled
  targets: [{ hosts: [shop.example.com], paths: [{ prefix: / }] }]
---
apiVersion: jwtgate.dev/v1alpha1
kind: JWTPolicy
metadata: { name: admin, namespace: shop }
spec:
  targets: [{ hosts: [shop.example.com], paths: [{ prefix: /admin }] }]
  issuers: { anyOf: [{ name: no-such-issuer }] }
`,
    async (dir) => {
      const admin = await jwtgate('check', '--policies', dir, '--url', 'https://shop.example.com/admin/users');
      assert.equal(admin.code, 2);
      assert.match(admin.stdout, /IssuerNotFound/);
      assert.match(admin.stdout, /^DENY 503 \(policy_invalid\)/m);
      const other = await jwtgate('check', '--policies', dir, '--url', 'https://shop.example.com/catalog');
      assert.equal(other.code, 0);
      assert.match(other.stdout, /^ALLOW \(check_disabled\)/m);
    },
  );
});
