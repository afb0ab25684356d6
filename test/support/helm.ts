/**
 * Runs the pinned `helm` (from `test/peers/install.sh`) on charts/jwtgate and reads what it
 * renders as Kubernetes objects, for the chart tests.
 *
 * @example
 * ```ts
 * const { objects } = await renderChart({ valuesFiles: [profilePath('minimal')] });
 * const operator = findObject(objects, 'Deployment', 'jwtgate-operator');
 * ```
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { access, constants } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

/**
 * The chart's directory.
 *
 * @example
 * ```ts
 * await runHelm(['lint', '--strict', CHART_DIR]);
 * ```
 */
export const CHART_DIR = fileURLToPath(new URL('../../charts/jwtgate/', import.meta.url));

/**
 * The release name the README installs with (object names are `jwtgate-operator`, `jwtgate-authz`).
 *
 * @example
 * ```ts
 * await runHelm(['install', RELEASE, CHART_DIR, '-n', RELEASE_NAMESPACE]);
 * ```
 */
export const RELEASE = 'jwtgate';

/**
 * The namespace the README installs into: where the snapshot and the Lease live.
 *
 * @example
 * ```ts
 * await renderChart({ namespace: RELEASE_NAMESPACE });
 * ```
 */
export const RELEASE_NAMESPACE = 'jwtgate-system';

const HELM = join(process.env.JWTGATE_PEERS_DIR ?? join(homedir(), '.cache', 'jwtgate-peers'), 'bin', 'helm');

/**
 * A Kubernetes object as rendered: only the fields every object has are typed.
 *
 * @example
 * ```ts
 * const o: KubeObject = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'jwtgate-authz' } };
 * ```
 */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/**
 * How one helm run ended.
 *
 * @example
 * ```ts
 * const { code, stderr } = await runHelm(['lint', '--strict', CHART_DIR]);
 * ```
 */
export interface HelmResult {
  stdout: string;
  stderr: string;
  code: number;
}

/**
 * Runs helm with `args`; never the developer's kubeconfig unless `kubeconfig` is given (then
 * it is the only one). helm's INFO lines about the followed `crds` symlink are left out of stderr.
 *
 * @throws Error naming `test/peers/install.sh` when the pinned helm is missing.
 * @example
 * ```ts
 * await runHelm(['install', RELEASE, CHART_DIR, '-n', RELEASE_NAMESPACE], { kubeconfig: cluster.kubeconfigPath });
 * ```
 */
export async function runHelm(args: string[], options: { kubeconfig?: string } = {}): Promise<HelmResult> {
  await access(HELM, constants.X_OK).catch(() => {
    throw new Error(`helm missing at ${HELM}: run test/peers/install.sh (JWTGATE_PEERS_DIR moves it)`);
  });
  const kubeArgs = options.kubeconfig === undefined ? [] : ['--kubeconfig', options.kubeconfig];
  // Only PATH and HOME pass: no HELM_* setting or $KUBECONFIG of the developer's changes a run.
  const child = spawn(HELM, [...args, ...kubeArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KUBECONFIG: '/dev/null' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const [code] = (await once(child, 'close')) as [number | null];
  stderr = stderr
    .split('\n')
    .filter((line) => !line.includes('found symbolic link in path'))
    .join('\n');
  return { stdout, stderr, code: code ?? 1 };
}

/**
 * What {@link renderChart} renders with.
 *
 * @example
 * ```ts
 * const options: RenderOptions = { valuesFiles: [profilePath('sidecar')], set: { 'authz.replicas': '3' } };
 * ```
 */
export interface RenderOptions {
  valuesFiles?: string[];
  /** `--set-json` pairs: path → JSON text. */
  setJson?: Record<string, string>;
  namespace?: string;
  includeCrds?: boolean;
}

/**
 * `helm template` of the chart, as text and as objects; rejects with helm's stderr on failure.
 *
 * @example
 * ```ts
 * const { objects } = await renderChart({ setJson: { 'authz.autoscaling.enabled': 'true' } });
 * ```
 */
export async function renderChart(options: RenderOptions = {}): Promise<{ text: string; objects: KubeObject[] }> {
  const result = await runHelm(templateArgs(options));
  if (result.code !== 0) throw new Error(`helm template failed (${result.code}): ${result.stderr}`);
  return { text: result.stdout, objects: parseManifests(result.stdout) };
}

/**
 * The `helm template` argument list for `options` (for callers that expect a failure).
 *
 * @example
 * ```ts
 * const { code, stderr } = await runHelm(templateArgs({ valuesFiles: [badFile] }));
 * ```
 */
export function templateArgs(options: RenderOptions = {}): string[] {
  return [
    'template',
    RELEASE,
    CHART_DIR,
    '--namespace',
    options.namespace ?? RELEASE_NAMESPACE,
    ...(options.includeCrds ? ['--include-crds'] : []),
    ...(options.valuesFiles ?? []).flatMap((file) => ['--values', file]),
    ...Object.entries(options.setJson ?? {}).flatMap(([path, json]) => ['--set-json', `${path}=${json}`]),
  ];
}

/**
 * The objects of a multi-document YAML stream, empty documents (comments only) left out.
 *
 * @throws Error when a document is not valid YAML or not an object with kind and name.
 * @example
 * ```ts
 * parseManifests('---\nkind: Service\napiVersion: v1\nmetadata: { name: a }\n').length; // 1
 * ```
 */
export function parseManifests(text: string): KubeObject[] {
  return parseAllDocuments(text).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`invalid YAML: ${doc.errors[0]!.message}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return [];
    const object = value as Partial<KubeObject>;
    if (typeof object.kind !== 'string' || typeof object.metadata?.name !== 'string') {
      throw new Error(`not a Kubernetes object: ${JSON.stringify(value).slice(0, 200)}`);
    }
    return [object as KubeObject];
  });
}

/**
 * The one object of `kind` named `name`; fails with the kinds and names present if absent.
 *
 * @example
 * ```ts
 * const svc = findObject(objects, 'Service', 'jwtgate-authz');
 * ```
 */
export function findObject(objects: KubeObject[], kind: string, name: string): KubeObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (found === undefined) {
    throw new Error(`no ${kind}/${name} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  }
  return found;
}

/**
 * The path of a values profile shipped in charts/jwtgate/profiles.
 *
 * @example
 * ```ts
 * profilePath('sidecar'); // …/charts/jwtgate/profiles/sidecar.yaml
 * ```
 */
export function profilePath(name: string): string {
  return join(CHART_DIR, 'profiles', `${name}.yaml`);
}
