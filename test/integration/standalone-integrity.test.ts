// Issue 8, cases 1 and 2 in standalone mode, through a real `jwtgate serve --policies` process
// whose unmatched requests are *allowed*: a typo, a wrong type, a newer weaker policy, a copy in
// an earlier file and a rename never open the guarded route; only its own policy can.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { httpCheckRequest } from '../../cli/grpc-client.ts';
import { jwtIssuer, jwtPolicy, joinManifests } from '../../dev/fixtures/manifests.ts';
import { startStandalone, type StandaloneService } from '../../dev/standalone-service.ts';
import { generateTestKey, jwksOf, signToken, standardClaims, TEST_AUDIENCE, TEST_ISSUER } from '../../dev/fixtures/tokens.ts';
import { waitFor } from '../support/wait-for.ts';

const HOST = 'api.shop.test';
const admin = (extra: string) => `apiVersion: jwtgate.dev/v1alpha1
kind: JWTPolicy
metadata: { name: admin, namespace: shop }
spec:
  issuers: { anyOf: [{ name: idp }] }
${extra}`;
const GUARDED = admin('  targets: [{ hosts: [api.shop.test], paths: [{ prefix: /admin }] }]\n');

describe('standalone: no edit opens a guarded route', { timeout: 60_000 }, () => {
  let standalone: StandaloneService;
  let token: string;

  /** Writes a file the way editors and `sed -i` do: a temporary file renamed over the old one. */
  const saveByRename = async (name: string, text: string): Promise<void> => {
    await writeFile(join(standalone.dir, `.${name}.tmp`), text);
    await rename(join(standalone.dir, `.${name}.tmp`), join(standalone.dir, name));
  };
  const check = async (path: string, withToken = false): Promise<string> => {
    const response = await standalone.client.check(
      httpCheckRequest({ method: 'GET', host: HOST, path, headers: withToken ? { authorization: `Bearer ${token}` } : {} }),
    );
    return response.http_response === 'ok_response' ? 'allow' : response.status.message;
  };
  const waitForOutcome = (path: string, expected: string): Promise<string> =>
    waitFor(`${path} → ${expected}`, async () => ((await check(path)) === expected ? expected : undefined), 10_000);

  before(async () => {
    const key = await generateTestKey('ES256', 'k1');
    token = await signToken(key, standardClaims());
    standalone = await startStandalone(
      {
        'idp.yaml': jwtIssuer({
          name: 'idp',
          namespace: 'shop',
          spec: { issuer: TEST_ISSUER, audiences: [TEST_AUDIENCE], algorithms: ['ES256'], jwks: jwksOf(key) },
        }),
        'admin.yaml': GUARDED,
      },
      {},
      ['--unmatched', 'allow'],
    );
    assert.equal(await check('/admin'), 'token_missing');
    assert.equal(await check('/admin', true), 'allow');
    assert.equal(await check('/public'), 'allow');
  });
  after(() => standalone?.close());

  test('an unknown field hiding the targets, saved by rename: the route fails closed (503 policy_invalid)', async () => {
    await saveByRename('admin.yaml', admin('  targetz: [{ hosts: [api.shop.test], paths: [{ prefix: /admin }] }]\n'));
    await waitForOutcome('/admin', 'policy_invalid');
    assert.equal(await check('/admin', true), 'policy_invalid');
    await saveByRename('admin.yaml', GUARDED);
    await waitForOutcome('/admin', 'token_missing');
  });

  test('a wrong type (mode: 7): the route fails closed, then the fix enforces it again', async () => {
    await saveByRename('admin.yaml', `${GUARDED}  mode: 7\n`);
    await waitForOutcome('/admin', 'policy_invalid');
    await saveByRename('admin.yaml', GUARDED);
    await waitForOutcome('/admin', 'token_missing');
  });

  test('a newer Disabled policy named to sort first is refused: the holder keeps the route', async () => {
    await standalone.writeFile(
      'aaa-open.yaml',
      jwtPolicy({
        name: 'aaa-open',
        namespace: 'shop',
        spec: { mode: 'Disabled', targets: [{ hosts: [HOST], paths: [{ prefix: '/admin' }] }] },
      }),
    );
    const refused = await standalone.svc.waitForLog((l) => l.reason === 'RouteConflict' && String(l.msg).includes('aaa-open'));
    assert.match(String(refused.msg), /is held by JWTPolicy\/shop\/admin/);
    assert.equal(await check('/admin'), 'token_missing');
    assert.equal(await check('/admin', true), 'allow');
    await rm(join(standalone.dir, 'aaa-open.yaml'));
  });

  test('a same-named copy in an earlier file: neither copy wins, the route fails closed until one is removed', async () => {
    await standalone.writeFile(
      '00-copy.yaml',
      admin('  mode: Disabled\n  targets: [{ hosts: [api.shop.test], paths: [{ prefix: /admin }] }]\n'),
    );
    await waitForOutcome('/admin', 'policy_invalid');
    await rm(join(standalone.dir, '00-copy.yaml'));
    await waitForOutcome('/admin', 'token_missing');
  });

  test('a new policy whose routes cannot be read refuses the whole reload; the last good snapshot keeps serving', async () => {
    await standalone.writeFile(
      'new.yaml',
      `${joinManifests(jwtPolicy({ name: 'new', namespace: 'shop', spec: { mode: 'Disabled', targets: [{ hosts: [HOST], paths: [{ prefix: '/x' }] }] } }))}`.replace(
        'targets:',
        'targetz:',
      ),
    );
    await standalone.svc.waitForLog((l) => l.reason === 'RoutesUnknown');
    // Another change in the same reload is not applied either.
    await saveByRename('admin.yaml', admin('  mode: Disabled\n  targets: [{ hosts: [api.shop.test], paths: [{ prefix: /admin }] }]\n'));
    await standalone.svc.waitForLog(
      (l) => l.reason === 'RoutesUnknown' && standalone.svc.logs.filter((x) => x.reason === 'RoutesUnknown').length >= 2,
    );
    assert.equal(await check('/admin'), 'token_missing');
    await rm(join(standalone.dir, 'new.yaml'));
    // Its own policy set to Disabled is what opens the route.
    await waitForOutcome('/admin', 'allow');
  });
});
