// The arrows (.dependency-cruiser.mjs) can fail: the project's own config is run by the real
// dependency-cruiser on a small tree where each file breaks one rule or uses one named
// exception, and the exact set of (rule, file) violations is asserted. A rule added without a
// fixture here fails the last test.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CONFIG = join(ROOT, '.dependency-cruiser.mjs');
const DEPCRUISE = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruiser.mjs');

/** A module that imports nothing, for imports to land on. */
const LEAF = 'export const leaf = 1;\n';

/** Files that only exist to be imported (every one is a legitimate target somewhere). */
const TARGETS: Record<string, string> = {
  'common/log.ts': LEAF,
  'snapshot/types.ts': 'export type Snapshot = { version: 1 };\n',
  'snapshot/published-form.ts': "import '../common/log.ts';\n",
  'authz/reasons.ts': LEAF,
  'authz/server/grpc-server.ts': LEAF,
  'authz/verify/verify-token.ts': "import '../../snapshot/types.ts';\nimport '../../common/log.ts';\n",
  'operator/reconcile.ts': LEAF,
  'compiler/compile.ts': "import type { Snapshot } from '../snapshot/types.ts';\nexport type Compiled = Snapshot;\n",
  'cli/jwtgate.ts': LEAF,
  'test/support/tokens.ts': LEAF,
  'dev/demo.ts': LEAF,
};

/** Each file breaks the rules listed (or, with none listed, uses an allowed exception). */
const CASES: { file: string; source: string; breaks: string[] }[] = [
  { file: 'common/uses-contract.ts', source: "import '../snapshot/types.ts';\n", breaks: ['common-imports-nothing-of-ours'] },
  { file: 'common/uses-authz.ts', source: "import '../authz/reasons.ts';\n", breaks: ['common-imports-nothing-of-ours'] },
  { file: 'snapshot/uses-authz.ts', source: "import '../authz/reasons.ts';\n", breaks: ['snapshot-is-the-contract'] },
  {
    file: 'snapshot/types-from-compiler.ts',
    source: "import type { Compiled } from '../compiler/compile.ts';\nexport type C = Compiled;\n",
    breaks: ['snapshot-is-the-contract'],
  },
  { file: 'authz/match/uses-operator.ts', source: "import '../../operator/reconcile.ts';\n", breaks: ['authz-not-to-control-plane'] },
  {
    file: 'authz/match/types-from-compiler.ts',
    source: "import type { Compiled } from '../../compiler/compile.ts';\nexport type C = Compiled;\n",
    breaks: ['authz-not-to-control-plane'],
  },
  { file: 'authz/check-cli.ts', source: "import '../cli/jwtgate.ts';\n", breaks: ['authz-not-to-control-plane'] },
  { file: 'compiler/uses-operator.ts', source: "import '../operator/reconcile.ts';\n", breaks: ['compiler-only-snapshot-and-common'] },
  { file: 'compiler/uses-reasons.ts', source: "import '../authz/reasons.ts';\n", breaks: ['compiler-only-snapshot-and-common'] },
  { file: 'compiler/uses-cli.ts', source: "import '../cli/jwtgate.ts';\n", breaks: ['compiler-only-snapshot-and-common'] },
  { file: 'compiler/shared-ok.ts', source: "import '../common/log.ts';\nimport '../snapshot/published-form.ts';\n", breaks: [] },
  { file: 'compiler/kube.ts', source: "import '@kubernetes/client-node';\n", breaks: ['compiler-no-kubernetes-client'] },
  {
    file: 'compiler/fetches.ts',
    source: "import { request } from 'node:https';\nexport const r = request;\n",
    breaks: ['compiler-no-network'],
  },
  { file: 'compiler/listens.ts', source: "import 'net';\n", breaks: ['compiler-no-network'] },
  { file: 'compiler/grpc.ts', source: "import '@grpc/grpc-js';\n", breaks: ['compiler-no-network'] },
  {
    file: 'compiler/reads.ts',
    source: "import { readFile } from 'node:fs/promises';\nexport const r = readFile;\n",
    breaks: ['compiler-no-file-io'],
  },
  {
    file: 'compiler/schema.ts',
    source: "import { readdirSync } from 'fs';\nexport const r = readdirSync;\n",
    breaks: ['compiler-no-file-io'],
  },
  { file: 'operator/uses-cli.ts', source: "import '../cli/jwtgate.ts';\n", breaks: ['operator-not-to-authz-or-cli'] },
  { file: 'operator/uses-server.ts', source: "import '../authz/server/grpc-server.ts';\n", breaks: ['operator-not-to-authz-or-cli'] },
  {
    file: 'operator/uses-reasons.ts',
    source: "import type { Leaf } from '../authz/reasons.ts';\nexport type L = Leaf;\n",
    breaks: ['operator-not-to-authz-or-cli'],
  },
  {
    file: 'operator/uses-contract.ts',
    source: "import '../snapshot/published-form.ts';\nimport '../compiler/compile.ts';\nimport '../common/log.ts';\n",
    breaks: [],
  },
  { file: 'cli/serve.ts', source: "import '../authz/server/grpc-server.ts';\nimport '../operator/reconcile.ts';\n", breaks: [] },
  { file: 'cli/uses-test.ts', source: "import '../test/support/tokens.ts';\n", breaks: ['nothing-imports-test'] },
  { file: 'dev/uses-test.ts', source: "import '../test/support/tokens.ts';\n", breaks: ['nothing-imports-test'] },
  { file: 'bench/uses-test.ts', source: "import '../test/support/tokens.ts';\n", breaks: ['nothing-imports-test'] },
  { file: 'bench/uses-dev.ts', source: "import '../dev/demo.ts';\nimport '../cli/jwtgate.ts';\n", breaks: [] },
  { file: 'cli/uses-dev.ts', source: "import '../dev/demo.ts';\n", breaks: ['product-not-to-dev'] },
  { file: 'common/uses-dev.ts', source: "import '../dev/demo.ts';\n", breaks: ['product-not-to-dev'] },
  { file: 'cli/cycle-a.ts', source: "import './cycle-b.ts';\n", breaks: ['no-circular'] },
  // dependency-cruiser reports a cycle once, from the first of its modules it cruises.
  { file: 'cli/cycle-b.ts', source: "import './cycle-a.ts';\n", breaks: [] },
  { file: 'cli/typo.ts', source: "import './jwtgaet.ts';\n", breaks: ['not-to-unresolvable'] },
];

interface CruiseResult {
  summary: {
    violations: { rule: { name: string }; from: string }[];
    ruleSetUsed: { forbidden: { name: string }[] };
  };
}

let tree: string;
let result: CruiseResult;

before(async () => {
  tree = await mkdtemp(join(tmpdir(), 'jwtgate-arrows-'));
  for (const [file, source] of [...Object.entries(TARGETS), ...CASES.map((c) => [c.file, c.source] as const)]) {
    await mkdir(join(tree, dirname(file)), { recursive: true });
    await writeFile(join(tree, file), source);
  }
  // Packages resolve as in the project, so a package import is judged by where it resolves.
  await symlink(join(ROOT, 'node_modules'), join(tree, 'node_modules'));
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      DEPCRUISE,
      '--config',
      CONFIG,
      '--output-type',
      'json',
      'common',
      'snapshot',
      'authz',
      'compiler',
      'operator',
      'cli',
      'dev',
      'bench',
      'test',
    ],
    { cwd: tree, maxBuffer: 64 * 1024 * 1024 },
  ).catch((error: { stdout?: string; stderr?: string }) => {
    // dependency-cruiser exits non-zero when it finds violations; the JSON is still on stdout.
    if (!error.stdout) throw new Error(`dependency-cruiser failed: ${error.stderr ?? String(error)}`);
    return { stdout: error.stdout };
  });
  result = JSON.parse(stdout) as CruiseResult;
});

after(async () => {
  await rm(tree, { recursive: true, force: true });
});

test('each violating import is reported under exactly the rules it breaks, and the named exceptions pass', () => {
  const expected = CASES.flatMap((c) => c.breaks.map((rule) => `${rule}  ${c.file}`)).sort();
  const actual = [...new Set(result.summary.violations.map((v) => `${v.rule.name}  ${v.from}`))].sort();
  assert.deepEqual(actual, expected);
});

test('every rule in the config has a fixture that breaks it', () => {
  const rules = result.summary.ruleSetUsed.forbidden.map((r) => r.name).sort();
  const broken = [...new Set(CASES.flatMap((c) => c.breaks))].sort();
  assert.deepEqual(broken, rules);
});
