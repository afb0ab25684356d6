/**
 * The cluster tests' product stack: one operator (leading) publishing into `namespace` and one
 * `jwtgate serve --kube` following it, with a gRPC client, as a gateway or sidecar would ask.
 *
 * @example
 * ```ts
 * const stack = await startKubeStack(cluster, NS, ['--unmatched', 'allow']);
 * await stack.client.check(httpCheckRequest({ method: 'GET', host: 'a.example', path: '/' }));
 * await stack.stop();
 * ```
 */
import { createGrpcClient, type GrpcClient } from '../../cli/grpc-client.ts';
import { startServeProcess, type ServeProcess } from '../../dev/serve-process.ts';
import type { KubeCluster } from './kube-cluster.ts';
import { startOperatorProcess, type OperatorProcess } from './operator-process.ts';

export interface KubeStack {
  operator: OperatorProcess;
  serve: ServeProcess;
  client: GrpcClient;
  /** Closes the client, stops serve, kills the operator. */
  stop(): Promise<void>;
}

export async function startKubeStack(cluster: KubeCluster, namespace: string, operatorArgs: string[] = []): Promise<KubeStack> {
  const operator = await startOperatorProcess({ kubeconfigPath: cluster.kubeconfigPath, namespace, identity: 'op-1', args: operatorArgs });
  await operator.waitForLog((l) => l.msg === 'started leading');
  const serve = await startServeProcess(['--kube', '--namespace', namespace, '--kubeconfig', cluster.kubeconfigPath], {
    JWTGATE_LOG_LEVEL: 'info',
  });
  const client = createGrpcClient(`127.0.0.1:${serve.grpcPort}`);
  return {
    operator,
    serve,
    client,
    stop: async () => {
      client.close();
      await serve.stop();
      await operator.stop('SIGKILL');
    },
  };
}
