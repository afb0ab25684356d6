/**
 * The workload a sidecar jwtgate guards: its namespace and labels, read once at start-up from
 * the Kubernetes downward API `labels` file. Every request such a jwtgate decides is bound for
 * this workload, which is what lets a `JWTPolicy.spec.workloadSelector` apply.
 *
 * @example
 * ```ts
 * const workload = await readWorkload('/etc/podinfo/labels', 'shop');
 * workload.labels.app; // 'orders'
 * ```
 */
import { readFile } from 'node:fs/promises';

/**
 * The destination workload of every request, known in sidecar mode only.
 *
 * @example
 * ```ts
 * const workload: Workload = { namespace: 'shop', labels: { app: 'orders', tier: 'api' } };
 * ```
 */
export interface Workload {
  /** The workload's namespace (a DNS-1123 label). */
  namespace: string;
  /** The Pod's labels, label key → value. */
  labels: Readonly<Record<string, string>>;
}

/** Kubernetes namespace names are DNS-1123 labels. */
const DNS_1123_LABEL = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * One line of the downward API file: `key="value"`. The kubelet writes the value with Go's
 * `strconv.Quote` (`fieldpath.FormatMap`), so it is a double-quoted string with backslash escapes.
 */
const LINE = /^([^=\s"]+)="((?:[^"\\]|\\.)*)"$/;

/** The Go escapes `strconv.Quote` produces for label values (which are printable ASCII). */
const ESCAPES: Readonly<Record<string, string>> = { '"': '"', '\\': '\\', n: '\n', t: '\t', r: '\r' };

/**
 * Parses a downward API `labels` file (`metadata.labels`): one `key="value"` per line, values
 * quoted with `\"` and `\\` escapes, lines sorted by key. Blank lines are skipped; anything else
 * (a missing quote, an unknown escape, a repeated key) is refused, naming the line — a sidecar
 * that misread its labels could apply another workload's policy.
 *
 * @throws {SyntaxError} naming the first line that is not `key="value"`.
 * @example
 * ```ts
 * parseLabelsFile('app="orders"\nnote="say \\"hi\\""\n'); // { app: 'orders', note: 'say "hi"' }
 * parseLabelsFile('app=orders');                          // throws SyntaxError: line 1 …
 * ```
 */
export function parseLabelsFile(text: string): Record<string, string> {
  const labels: Record<string, string> = Object.create(null) as Record<string, string>;
  text.split('\n').forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return;
    const match = LINE.exec(line);
    if (match === null) throw new SyntaxError(`labels file line ${i + 1} is not key="value": ${JSON.stringify(line.slice(0, 80))}`);
    const [, key = '', quoted = ''] = match;
    if (Object.hasOwn(labels, key)) throw new SyntaxError(`labels file line ${i + 1} repeats the key ${JSON.stringify(key)}`);
    labels[key] = quoted.replace(/\\(.)/g, (sequence, char: string) => {
      const plain = ESCAPES[char];
      if (plain === undefined) throw new SyntaxError(`labels file line ${i + 1} has an unknown escape ${sequence}`);
      return plain;
    });
  });
  return { ...labels };
}

/**
 * Reads the sidecar's workload: the labels file and the namespace it runs in.
 *
 * @throws {TypeError} when the namespace is not a DNS-1123 label; {@link parseLabelsFile}'s
 *   `SyntaxError` for a malformed file; the `readFile` error when it cannot be read.
 * @example
 * ```ts
 * await readWorkload('/etc/podinfo/labels', process.env.POD_NAMESPACE);
 * ```
 */
export async function readWorkload(labelsFile: string, namespace: string | undefined): Promise<Workload> {
  if (namespace === undefined || !DNS_1123_LABEL.test(namespace)) {
    throw new TypeError(
      `the workload namespace must be a DNS-1123 label (--workload-namespace or env POD_NAMESPACE), got ${JSON.stringify(namespace ?? '')}`,
    );
  }
  const labels = parseLabelsFile(await readFile(labelsFile, 'utf8'));
  return Object.freeze({ namespace, labels: Object.freeze(labels) });
}
