// The README's resource examples are documentation users copy: they must pass the same
// validation and compiler as any manifest, with no diagnostics at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseManifests } from '../../../cli/load-manifests.ts';
import { compile } from '../../../compiler/compile.ts';
import { formatDiagnostic } from '../../../compiler/diagnostics.ts';
import { schema } from '../../support/schema.ts';

const README = new URL('../../../README.md', import.meta.url);

test('every complete manifest in the README compiles without a diagnostic', () => {
  const blocks = [...readFileSync(README, 'utf8').matchAll(/```yaml\n([\s\S]*?)```/g)]
    .map((m) => m[1]!)
    .filter((yaml) => yaml.startsWith('apiVersion: jwtgate.dev/'));
  assert.ok(blocks.length >= 3, `expected the JWTIssuer, JWTPolicy and ClusterJWTPolicy examples, found ${blocks.length}`);
  const parsed = parseManifests(blocks.join('---\n'), 'README.md');
  const namespaces = [{ name: 'shop', labels: { 'jwtgate.dev/enforce': 'true' } }];
  const { snapshot, diagnostics } = compile({
    schema,
    resources: parsed.resources,
    secrets: [],
    namespaces,
    generation: 1,
    now: new Date(0),
  });
  assert.deepEqual([...parsed.diagnostics, ...diagnostics].map(formatDiagnostic), []);
  assert.equal(snapshot.policies.length, 2);
  assert.deepEqual(Object.keys(snapshot.issuers), ['shop/corp-idp']);
});
