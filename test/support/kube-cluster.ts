/**
 * Starts a real etcd + kube-apiserver on loopback for the operator tests, the way
 * controller-runtime's envtest does: no kubelet, no controller-manager, an admin bearer token
 * in `system:masters`, and a kubeconfig for kubectl and `@kubernetes/client-node`.
 *
 * The binaries come from `test/peers/install.sh` (pinned, built into the peers cache).
 *
 * @example
 * ```ts
 * const cluster = await startKubeCluster();
 * const { code } = await cluster.kubectl(['apply', '-f', 'crds/']);
 * await cluster.stop();
 * ```
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { access, constants, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { rmSync, openSync, closeSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A running test cluster. Everything lives in a temp dir removed by {@link KubeCluster.stop}. */
export interface KubeCluster {
  /** The apiserver's https URL, e.g. `https://127.0.0.1:41234`. */
  server: string;
  /** PEM file of the CA that signed the apiserver's serving certificate. */
  caFile: string;
  /** Bearer token of `admin`, a member of `system:masters`. */
  token: string;
  /** A kubeconfig (context `jwtgate-test`) pointing at {@link server} with {@link token}. */
  kubeconfigPath: string;
  /** A kubeconfig for one of {@link KubeClusterOptions.users} (in `system:masters`, so as powerful as admin, but audited under its own name). */
  kubeconfigFor(user: string): string;
  /** Every event of the audit log so far, oldest first (empty unless started with {@link KubeClusterOptions.audit}). */
  readAuditLog(): Promise<AuditEvent[]>;
  /** Runs the pinned kubectl against this cluster; `input` is written to its stdin (`-f -`). */
  kubectl(args: string[], input?: string): Promise<KubectlResult>;
  /** {@link kubectl} that must succeed: resolves with stdout, rejects with everything kubectl said. */
  kubectlOk(args: string[], input?: string): Promise<string>;
  /**
   * Stops kube-apiserver (SIGTERM), keeps it down for `downMs` (default 0), then starts it again
   * on the same port over the same etcd and resolves once it is ready: clients see the
   * apiserver go away and come back with every object intact.
   */
  restartApiserver(downMs?: number): Promise<void>;
  /** Stops kube-apiserver then etcd and removes the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * What {@link startKubeCluster} can add.
 *
 * @example
 * ```ts
 * const cluster = await startKubeCluster({ users: ['op-1', 'op-2'], audit: true });
 * ```
 */
export interface KubeClusterOptions {
  /** Extra token-authenticated users, each with its own kubeconfig ({@link KubeCluster.kubeconfigFor}). */
  users?: string[];
  /** Write an audit log of every mutating request (Metadata level, no reads), for "who wrote what when" assertions. */
  audit?: boolean;
}

/**
 * One line of the apiserver's audit log (`audit.k8s.io/v1` Event, the fields tests read).
 *
 * @example
 * ```ts
 * const writes = (await cluster.readAuditLog()).filter((e) => e.user.username === 'op-1' && e.verb !== 'get');
 * ```
 */
export interface AuditEvent {
  stage: string;
  verb: string;
  user: { username: string };
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string; apiGroup?: string };
  responseStatus?: { code?: number };
  /** RFC 3339 with microseconds: when the apiserver received the request. */
  requestReceivedTimestamp: string;
  /** When this stage (ResponseComplete) was reached. */
  stageTimestamp: string;
}

/** Audit policy: no reads (they would drown the log), every other request at Metadata level, once, when answered. */
const AUDIT_POLICY = JSON.stringify({
  apiVersion: 'audit.k8s.io/v1',
  kind: 'Policy',
  omitStages: ['RequestReceived'],
  rules: [{ level: 'None', verbs: ['get', 'list', 'watch'] }, { level: 'Metadata' }],
});

/** What a kubectl run printed and how it exited. */
export interface KubectlResult {
  stdout: string;
  stderr: string;
  code: number;
}

const PEERS_BIN = join(process.env.JWTGATE_PEERS_DIR ?? join(homedir(), '.cache', 'jwtgate-peers'), 'bin');
const PEER_NAMES = ['etcd', 'kube-apiserver', 'kubectl'] as const;
type PeerName = (typeof PEER_NAMES)[number];

const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;

/** Processes of every cluster not yet stopped, killed if the test process exits first. */
const liveProcesses = new Set<ChildProcess>();
const liveDirs = new Set<string>();

/**
 * Starts etcd and kube-apiserver on free loopback ports and waits until the apiserver is ready
 * (`/readyz` is ok and the `default` namespace exists).
 *
 * @throws Error naming `test/peers/install.sh` when a peer binary is missing.
 * @example
 * ```ts
 * const cluster = await startKubeCluster();
 * after(() => cluster.stop());
 * ```
 */
export async function startKubeCluster(options: KubeClusterOptions = {}): Promise<KubeCluster> {
  const bin = await findPeerBinaries();
  installExitHooks();
  const dir = await mkdtemp(join(tmpdir(), 'jwtgate-kube-'));
  liveDirs.add(dir);
  const processes: ChildProcess[] = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // The apiserver first: stopping etcd under it makes it log storage errors for seconds.
    for (const child of [...processes].reverse()) await stopProcess(child);
    await rm(dir, { recursive: true, force: true });
    liveDirs.delete(dir);
  };
  try {
    const pki = await writePki(dir);
    const token = randomBytes(24).toString('hex');
    const tokenFile = join(dir, 'tokens.csv');
    // --token-auth-file format: token,user,uid,"group1,group2".
    const userTokens = new Map((options.users ?? []).map((user) => [user, randomBytes(24).toString('hex')]));
    const lines = [['admin', token] as const, ...userTokens].map(([user, t]) => `${t},${user},${user},"system:masters"\n`);
    await writeFile(tokenFile, lines.join(''), { mode: 0o600 });
    const auditLog = join(dir, 'audit.log');
    if (options.audit === true) await writeFile(join(dir, 'audit-policy.json'), AUDIT_POLICY);

    const [etcdClientPort, etcdPeerPort, apiPort] = await findFreePorts(3);
    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const etcdPeerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    processes.push(
      spawnLogged(bin.etcd, join(dir, 'etcd.log'), [
        '--name=jwtgate-test',
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${etcdPeerUrl}`,
        `--initial-advertise-peer-urls=${etcdPeerUrl}`,
        `--initial-cluster=jwtgate-test=${etcdPeerUrl}`,
        // A throwaway store: fsync only slows the tests down.
        '--unsafe-no-fsync=true',
        '--log-level=warn',
      ]),
    );

    const server = `https://127.0.0.1:${apiPort}`;
    const apiserverArgs = [
      `--etcd-servers=${etcdUrl}`,
      `--tls-cert-file=${pki.servingCert}`,
      `--tls-private-key-file=${pki.servingKey}`,
      `--client-ca-file=${pki.caFile}`,
      `--token-auth-file=${tokenFile}`,
      '--authorization-mode=RBAC',
      `--secure-port=${apiPort}`,
      '--bind-address=127.0.0.1',
      // Without it the apiserver looks for a default route's address, absent in sandboxes.
      '--advertise-address=127.0.0.1',
      `--service-account-issuer=${server}`,
      `--service-account-key-file=${pki.serviceAccountPublicKey}`,
      `--service-account-signing-key-file=${pki.serviceAccountPrivateKey}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      // No kube-proxy/endpoints to keep in sync: the `kubernetes` Service gets no endpoints.
      '--endpoint-reconciler-type=none',
      // As envtest: no controller-manager creates the `default` ServiceAccount that this
      // admission plugin would demand of every Pod.
      '--disable-admission-plugins=ServiceAccount',
      '--allow-privileged=true',
      // Blocking: an event is in the file by the time its response is sent.
      ...(options.audit === true
        ? [`--audit-policy-file=${join(dir, 'audit-policy.json')}`, `--audit-log-path=${auditLog}`, '--audit-log-mode=blocking']
        : []),
    ];
    const startApiserver = (): ChildProcess => spawnLogged(bin['kube-apiserver'], join(dir, 'kube-apiserver.log'), apiserverArgs);
    processes.push(startApiserver());

    const caPem = await readFile(pki.caFile);
    const waitUntilReady = () =>
      waitUntil('kube-apiserver /readyz', processes, dir, async () => (await getStatus(server, '/readyz', caPem, token)) === 200);
    await waitUntilReady();
    await waitUntil(
      'namespace default',
      processes,
      dir,
      async () => (await getStatus(server, '/api/v1/namespaces/default', caPem, token)) === 200,
    );

    const kubeconfigPath = join(dir, 'kubeconfig');
    await writeFile(kubeconfigPath, renderKubeconfig(server, caPem, token, 'admin'), { mode: 0o600 });
    for (const [user, userToken] of userTokens)
      await writeFile(join(dir, `kubeconfig-${user}`), renderKubeconfig(server, caPem, userToken, user), { mode: 0o600 });
    return {
      server,
      caFile: pki.caFile,
      token,
      kubeconfigPath,
      kubeconfigFor(user) {
        if (!userTokens.has(user)) throw new TypeError(`no user ${user}: pass it in startKubeCluster({ users })`);
        return join(dir, `kubeconfig-${user}`);
      },
      async readAuditLog() {
        const text = await readFile(auditLog, 'utf8').catch(() => '');
        return text
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => JSON.parse(line) as AuditEvent);
      },
      kubectl: (args, input) => runKubectl(bin.kubectl, kubeconfigPath, args, input),
      kubectlOk: async (args, input) => {
        const result = await runKubectl(bin.kubectl, kubeconfigPath, args, input);
        if (result.code !== 0)
          throw new Error(`kubectl ${args.join(' ')} failed (exit ${result.code}):\n${result.stderr}\n${result.stdout}`);
        return result.stdout;
      },
      async restartApiserver(downMs = 0) {
        if (stopped) throw new Error('the cluster is stopped');
        const index = processes.length - 1; // the apiserver, started after etcd
        await stopProcess(processes[index]!);
        await new Promise((resolve) => setTimeout(resolve, downMs));
        processes[index] = startApiserver();
        await waitUntilReady();
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Resolves the peer binaries' paths, or explains how to get them. */
async function findPeerBinaries(): Promise<Record<PeerName, string>> {
  const paths = Object.fromEntries(PEER_NAMES.map((name) => [name, join(PEERS_BIN, name)])) as Record<PeerName, string>;
  const missing: string[] = [];
  for (const path of Object.values(paths)) {
    try {
      await access(path, constants.X_OK);
    } catch {
      missing.push(path);
    }
  }
  if (missing.length > 0) {
    throw new Error(
      `kube test peers missing: ${missing.join(', ')}. Run test/peers/install.sh ` +
        '(builds the pinned etcd and kube-apiserver and fetches kubectl into that directory; JWTGATE_PEERS_DIR moves it).',
    );
  }
  return paths;
}

interface Pki {
  caFile: string;
  servingCert: string;
  servingKey: string;
  serviceAccountPublicKey: string;
  serviceAccountPrivateKey: string;
}

/** Generates with openssl a CA, a serving cert for 127.0.0.1/localhost, and an SA key pair. */
async function writePki(dir: string): Promise<Pki> {
  const pki: Pki = {
    caFile: join(dir, 'ca.crt'),
    servingCert: join(dir, 'apiserver.crt'),
    servingKey: join(dir, 'apiserver.key'),
    serviceAccountPublicKey: join(dir, 'sa.pub'),
    serviceAccountPrivateKey: join(dir, 'sa.key'),
  };
  const caKey = join(dir, 'ca.key');
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1'];
  await run('openssl', [
    'req',
    '-x509',
    ...ecKey,
    '-keyout',
    caKey,
    '-out',
    pki.caFile,
    '-subj',
    '/CN=jwtgate-test-ca',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  // `req -x509 -CA` (OpenSSL 3.0+) issues the leaf in one step, signed by the CA above.
  await run('openssl', [
    'req',
    '-x509',
    ...ecKey,
    '-keyout',
    pki.servingKey,
    '-out',
    pki.servingCert,
    '-subj',
    '/CN=kube-apiserver',
    '-CA',
    pki.caFile,
    '-CAkey',
    caKey,
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-addext',
    'basicConstraints=critical,CA:FALSE',
    '-addext',
    'extendedKeyUsage=serverAuth',
  ]);
  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', pki.serviceAccountPrivateKey]);
  await run('openssl', ['pkey', '-in', pki.serviceAccountPrivateKey, '-pubout', '-out', pki.serviceAccountPublicKey]);
  return pki;
}

/** Reserves `count` distinct free loopback ports (closed again before the peers bind them). */
async function findFreePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, async () => {
      const server = createServer();
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      return server;
    }),
  );
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** Starts `binary` with its stdout and stderr appended to `logFile`, tracked for exit clean-up. */
function spawnLogged(binary: string, logFile: string, args: string[]): ChildProcess {
  const fd = openSync(logFile, 'a');
  const child = spawn(binary, args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  liveProcesses.add(child);
  child.once('exit', () => liveProcesses.delete(child));
  return child;
}

/** Polls `check` until true; fails early with the logs' tail if a peer exits, or on timeout. */
async function waitUntil(what: string, processes: ChildProcess[], dir: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const dead = processes.find((child) => child.exitCode !== null || child.signalCode !== null);
    if (dead)
      throw new Error(
        `${dead.spawnfile} exited (${dead.exitCode ?? dead.signalCode}) while waiting for ${what}\n${await readLogTails(dir)}`,
      );
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`timed out after ${START_TIMEOUT_MS} ms waiting for ${what}\n${await readLogTails(dir)}`);
}

/** The last lines of each peer's log, for start-up failure messages. */
async function readLogTails(dir: string): Promise<string> {
  const tails = await Promise.all(
    ['etcd.log', 'kube-apiserver.log'].map(async (name) => {
      const text = await readFile(join(dir, name), 'utf8').catch(() => '');
      return `--- ${name} (tail) ---\n${text.split('\n').slice(-30).join('\n')}`;
    }),
  );
  return tails.join('\n');
}

/** GETs `path` on the apiserver with the admin token and resolves with the HTTP status. */
function getStatus(server: string, path: string, ca: Buffer, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, server), { ca, headers: { authorization: `Bearer ${token}` }, timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** A kubeconfig (JSON is valid YAML) with the CA inlined, so the file works on its own. */
function renderKubeconfig(server: string, caPem: Buffer, token: string, user: string): string {
  const name = 'jwtgate-test';
  return JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name, cluster: { server, 'certificate-authority-data': caPem.toString('base64') } }],
      users: [{ name: user, user: { token } }],
      contexts: [{ name, context: { cluster: name, user } }],
      'current-context': name,
    },
    null,
    2,
  );
}

/** Runs kubectl with only this cluster's kubeconfig, never the developer's own. */
async function runKubectl(kubectl: string, kubeconfigPath: string, args: string[], input?: string): Promise<KubectlResult> {
  // --kubeconfig wins over $KUBECONFIG and ~/.kube/config. The discovery cache lives beside it:
  // the shared ~/.kube/cache is keyed by host:port, and a port reused from an earlier test
  // cluster would serve a stale API list without our CRDs ("no matches for kind").
  const cacheDir = join(dirname(kubeconfigPath), 'kubectl-cache');
  const child = spawn(kubectl, [`--kubeconfig=${kubeconfigPath}`, `--cache-dir=${cacheDir}`, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdin.end(input ?? '');
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  return { stdout, stderr, code: code ?? (signal ? 128 : 1) };
}

/** SIGTERM, then SIGKILL if the process has not exited within {@link STOP_TIMEOUT_MS}. */
async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

let exitHooksInstalled = false;

/**
 * Kills every live peer when the test process ends without calling stop() (a failed `before`,
 * Ctrl-C, the runner's SIGTERM on timeout): an orphaned apiserver would hold ports and CPU.
 */
function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  const killAll = (): void => {
    for (const child of liveProcesses) child.kill('SIGKILL');
    for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killAll();
      // Re-raise with no listener left, so the process still dies of the signal as it would have.
      process.kill(process.pid, signal);
    });
  }
}
