// The arrows of DESIGN.md's layout, checked in CI (`npm run check:arrows`, first lane of
// `npm test`). Each rule says which arrow it guards. There are no exceptions (issue 9 removed
// the last): when a change needs one, move the shared code to snapshot/ or common/ instead.
//
//   cli ──▶ operator ──▶ compiler ──▶ snapshot ──▶ common
//    │                                  ▲            ▲
//    └───────────────▶ authz ───────────┴────────────┘
//   Every part may import common/ and snapshot/ directly; cli/ may import every part.
//
//   snapshot/  the contract between the planes: types, digest, parse, published form
//   common/    plumbing several parts share: log, backoff, keys, path normalization
//   test/ may import anything; nothing imports test/. bench/ and dev/ may import the product.
//
// test/unit/arrows.test.ts proves that every rule below can fail.

/** Node modules that do network I/O or spawn work: none belongs in a pure compiler. */
const NETWORK_AND_PROCESSES = '^(node:)?(http|https|http2|net|tls|dgram|dns|child_process|cluster|worker_threads)(/|$)';

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle makes two modules one: nothing may import what imports it.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'Every relative import must resolve (the code imports ./x.ts with its extension).',
      from: {},
      to: { couldNotResolve: true, path: '^[.]' },
    },
    {
      name: 'common-imports-nothing-of-ours',
      severity: 'error',
      comment: 'common/ is plumbing under every part: it imports none of them, not even the contract.',
      from: { path: '^common/' },
      to: { path: '^(snapshot|authz|compiler|operator|cli)/' },
    },
    {
      name: 'snapshot-is-the-contract',
      severity: 'error',
      comment: 'snapshot/ is the contract every part reads and writes: it imports none of them (common/ only).',
      from: { path: '^snapshot/' },
      to: { path: '^(authz|compiler|operator|cli)/' },
    },
    {
      name: 'authz-not-to-control-plane',
      severity: 'error',
      comment: 'authz/ is the data plane: it never imports operator/, compiler/ or cli/.',
      from: { path: '^authz/' },
      to: { path: '^(operator|compiler|cli)/' },
    },
    {
      name: 'compiler-only-snapshot-and-common',
      severity: 'error',
      comment: 'compiler/ is a pure function the operator and the CLI call: of ours it uses snapshot/ and common/ only.',
      from: { path: '^compiler/' },
      to: { path: '^(authz|operator|cli)/' },
    },
    {
      name: 'compiler-no-kubernetes-client',
      severity: 'error',
      comment: 'compiler/ has no Kubernetes client: resources come in as plain objects.',
      from: { path: '^compiler/' },
      to: { path: '^@kubernetes/client-node|node_modules/@kubernetes/client-node/' },
    },
    {
      name: 'compiler-no-network',
      severity: 'error',
      comment: 'compiler/ does no network I/O and starts nothing.',
      from: { path: '^compiler/' },
      to: { path: [NETWORK_AND_PROCESSES, 'node_modules/@grpc/'] },
    },
    {
      name: 'compiler-no-file-io',
      severity: 'error',
      comment:
        'compile() promises no I/O: the CRD schemas come in compiled (common/crds.ts reads them, ' +
        'cli/ and operator/ build the validator) and cli/load-manifests.ts reads manifest folders.',
      from: { path: '^compiler/' },
      to: { path: '^(node:)?fs(/|$)' },
    },
    {
      name: 'operator-not-to-authz-or-cli',
      severity: 'error',
      comment:
        'cli/ is the composition root and the only code that wires the operator and the authz ' +
        'service together: operator/ imports neither (what both planes need is in snapshot/ and common/).',
      from: { path: '^operator/' },
      to: { path: '^(authz|cli)/' },
    },
    {
      name: 'nothing-imports-test',
      severity: 'error',
      comment:
        'Tests import the product and dev/, never the other way: what the bench shares with the ' +
        'tests (tokens, manifests, serve processes) lives in dev/, the gRPC client in cli/.',
      from: { pathNot: '^test/' },
      to: { path: '^test/' },
    },
    {
      name: 'product-not-to-dev',
      severity: 'error',
      comment: 'dev/ holds developer tools (the demo, the Envoy runner): the product never needs them.',
      from: { path: '^(common|snapshot|authz|compiler|operator|cli)/' },
      to: { path: '^dev/' },
    },
  ],
  options: {
    // The product's own graph; packages are leaves (their internals are not ours to check).
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^test/fixtures/' },
    // TypeScript 7's package has no compiler API for dependency-cruiser to use; swc parses .ts
    // (type-only imports included, so a type import counts as an arrow too).
    parser: 'swc',
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
