#!/usr/bin/env node
/**
 * `jwtgate`: the composition root, and the only code that imports the compiler, the operator
 * and the authz service together.
 *
 * @example
 * ```sh
 * jwtgate serve --policies examples/policies
 * jwtgate compile examples/policies > snapshot.json
 * jwtgate check --policies examples/policies --url https://api.example.com/api/orders --token "$TOKEN"
 * ```
 */
import { Command, Option } from 'commander';

/**
 * Loads a command's module only when that command runs: `serve --policies` never pays for the
 * Kubernetes client, and `serve --kube` never for the compiler (see BENCHMARKS.md, RSS).
 */
function lazy<M extends Record<K, (...args: never[]) => Promise<void>>, K extends string>(load: () => Promise<M>, name: K) {
  return async (...args: Parameters<M[K]>): Promise<void> => (await load())[name](...args);
}

/** `--path-parameters`, for every command that compiles a snapshot; `note` is added to its help. */
function pathParametersOption(note?: string): Option {
  const help =
    'requests with ";" path parameters (/admin;x=1): reject refuses them (default), ignore matches each segment without them, as Spring and Tomcat read it';
  return new Option('--path-parameters <mode>', note === undefined ? help : `${help} (${note})`).choices(['reject', 'ignore']);
}

const program = new Command('jwtgate')
  .description('JWT authentication and claim-based authorization for Envoy ext_authz')
  .showHelpAfterError();

program
  .command('serve')
  .description('serve envoy.service.auth.v3.Authorization/Check from a manifests folder, a snapshot file or the cluster (all hot-reloaded)')
  .addOption(
    new Option('--policies <dir>', 'folder of JWTIssuer/JWTPolicy/ClusterJWTPolicy manifests (standalone mode)').conflicts([
      'snapshot',
      'kube',
    ]),
  )
  .addOption(
    new Option(
      '--unmatched <decision>',
      'what a request no policy matches gets (default deny; --policies only: otherwise it comes with the snapshot)',
    ).choices(['deny', 'allow']),
  )
  .addOption(pathParametersOption('--policies only: otherwise it comes with the snapshot'))
  .addOption(new Option('--snapshot <file>', 'compiled snapshot JSON (e.g. a mounted ConfigMap)').conflicts('kube'))
  .option('--kube', 'watch the snapshot the operator publishes in the ConfigMap jwtgate-snapshot')
  .option('--namespace <ns>', "with --kube: the operator's namespace (env POD_NAMESPACE, default jwtgate-system)")
  .option('--kubeconfig <file>', 'with --kube: kubeconfig to use (default: in-cluster, $KUBECONFIG or ~/.kube/config)')
  .option('--grpc-port <port>', 'gRPC port (env JWTGATE_GRPC_PORT, default 9001)')
  .option('--http-port <port>', 'metrics and health port (env JWTGATE_HTTP_PORT, default 9002)')
  .option('--listen-address <addr>', 'address to listen on (env JWTGATE_LISTEN_ADDRESS, default 0.0.0.0)')
  .option('--workload-labels <file>', "sidecar mode: the guarded workload's downward API labels file (enables JWTPolicy workloadSelector)")
  .option('--workload-namespace <ns>', "sidecar mode: the guarded workload's namespace (default: env POD_NAMESPACE)")
  .action(lazy(() => import('./serve.ts'), 'serveCommand'));

program
  .command('operator')
  .description('run the control plane: watch jwtgate resources, publish the snapshot, write status (leader-elected)')
  .option('--namespace <ns>', 'namespace of the snapshot ConfigMap and the Lease (env POD_NAMESPACE, default jwtgate-system)')
  .option('--kubeconfig <file>', 'kubeconfig file (default: in-cluster or ~/.kube/config)')
  .option('--http-port <port>', 'metrics and health port (env JWTGATE_OPERATOR_HTTP_PORT, default 9003)')
  .option('--listen-address <addr>', 'address to listen on (env JWTGATE_LISTEN_ADDRESS, default 0.0.0.0)')
  .addOption(new Option('--unmatched <decision>', 'what a request no policy matches gets (default deny)').choices(['deny', 'allow']))
  .addOption(pathParametersOption())
  .action(lazy(() => import('./operator-command.ts'), 'operatorCommand'));

program
  .command('compile')
  .description('compile a manifests folder; prints the snapshot (broken policies failing closed) and the diagnostics, exit 1 on errors')
  .argument('<dir>', 'folder of manifests')
  .option('-o, --output <file>', 'write the snapshot to a file instead of stdout (an existing one is the last good snapshot)')
  .option('--previous <file>', 'the last good snapshot: its route holders keep their routes (default: the --output file)')
  .option('--generation <n>', 'generation to stamp on the snapshot', '1')
  .addOption(new Option('--unmatched <decision>', 'what a request no policy matches gets (default deny)').choices(['deny', 'allow']))
  .addOption(pathParametersOption())
  .action(lazy(() => import('./compile-command.ts'), 'compileCommand'));

program
  .command('check')
  .description('decide one request against a manifests folder and explain it step by step, or ask a running jwtgate (--server)')
  .addOption(new Option('--policies <dir>', 'folder of manifests').conflicts('server'))
  .option('--server <host:port>', "a running jwtgate's gRPC address: send it the CheckRequest instead")
  .addOption(new Option('--unmatched <decision>', 'what a request no policy matches gets (default deny)').choices(['deny', 'allow']))
  .addOption(pathParametersOption())
  .requiredOption('--url <url>', 'request URL, e.g. https://api.example.com/api/orders?x=1')
  .option('--method <method>', 'HTTP method', 'GET')
  .option('--token <jwt>', 'bearer token sent as Authorization: Bearer <jwt>')
  .option('-H, --header <header...>', 'extra request header "name: value" (repeatable)')
  .option('--namespace <ns>', 'destination namespace, as the proxy would report it')
  .option('--workload-label <label...>', 'destination workload label "key=value", as a sidecar knows it (repeatable; needs --namespace)')
  .action(lazy(() => import('./check-command.ts'), 'checkCommand'));

program
  .command('sign')
  .description('mint a test token with a private JWK (e.g. examples/keys/demo-private.jwk.json)')
  .requiredOption('--key <file>', 'private key as a JWK JSON file')
  .option('--claims <json>', 'claims as a JSON object', '{}')
  .option('--ttl <seconds>', 'lifetime; sets iat and exp', '3600')
  .action(lazy(() => import('./sign-command.ts'), 'signCommand'));

await program.parseAsync();
