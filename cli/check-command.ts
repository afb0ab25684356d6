/**
 * `jwtgate check`: builds the CheckRequest Envoy would send for a URL, decides it against a
 * manifests folder with the service's own pipeline, and prints each step and the response.
 *
 * @example
 * ```sh
 * jwtgate check --policies examples/policies --url https://api.example.com/api/orders --token "$TOKEN"
 * ```
 */
import { decide } from '../authz/check.ts';
import { resolveServiceConfig } from '../authz/config.ts';
import { createLogger } from '../authz/log.ts';
import { createMetrics } from '../authz/metrics.ts';
import { REASONS } from '../authz/reasons.ts';
import { toCheckResponse } from '../authz/respond/check-response.ts';
import { RuntimeStore } from '../authz/runtime/runtime-store.ts';
import type { CheckRequestLike } from '../authz/request/attributes.ts';
import type { Workload } from '../authz/request/workload.ts';
import { compileFolder, formatDiagnostic } from './standalone.ts';

interface CheckOptions {
  policies: string;
  url: string;
  method: string;
  token?: string;
  header?: string[];
  namespace?: string;
  workloadLabel?: string[];
}

export async function checkCommand(options: CheckOptions): Promise<void> {
  const config = resolveServiceConfig(process.env);
  const workload = sidecarWorkload(options);
  const { snapshot, diagnostics } = await compileFolder(options.policies, 1);
  for (const d of diagnostics) process.stdout.write(`  ! ${formatDiagnostic(d)}\n`);

  const store = new RuntimeStore({ log: createLogger('silent'), metrics: createMetrics({ defaultMetrics: false }) });
  await store.apply(snapshot);
  const decision = await decide(store.current, envoyCheckRequest(options), { ...config, workload });
  await store.close();

  for (const step of decision.trace) process.stdout.write(`${step.step.padEnd(9)} ${step.message}\n`);
  const response = toCheckResponse(decision);
  if (decision.kind === 'allow') {
    process.stdout.write(`\nALLOW (${decision.reason})\n`);
    for (const h of decision.headersToSet) process.stdout.write(`  set    ${h.name}: ${h.value}\n`);
    for (const h of decision.headersToRemove) process.stdout.write(`  remove ${h}\n`);
    for (const q of decision.queryParametersToRemove) process.stdout.write(`  remove query parameter ${q}\n`);
  } else {
    process.stdout.write(`\nDENY ${REASONS[decision.reason].status} (${decision.reason}): ${decision.description}\n`);
    if (decision.detail) process.stdout.write(`  detail: ${decision.detail}\n`);
    for (const h of response.denied_response?.headers ?? []) process.stdout.write(`  ${h.header?.key}: ${h.header?.value}\n`);
    if (response.denied_response?.body) process.stdout.write(`  body: ${response.denied_response.body}\n`);
    process.exitCode = 2;
  }
}

/** `--workload-label k=v …`: decide as a sidecar next to a workload with these labels would. */
function sidecarWorkload(options: CheckOptions): Workload | undefined {
  if (options.workloadLabel === undefined) return undefined;
  if (options.namespace === undefined) throw new Error('--workload-label needs --namespace (the workload\'s namespace)');
  const labels: Record<string, string> = {};
  for (const pair of options.workloadLabel) {
    const i = pair.indexOf('=');
    if (i <= 0) throw new Error(`--workload-label "${pair}" is not "key=value"`);
    labels[pair.slice(0, i)] = pair.slice(i + 1);
  }
  return { namespace: options.namespace, labels };
}

/** The CheckRequest Envoy's ext_authz filter sends for this URL: lower-case headers, pseudo-headers included. */
function envoyCheckRequest(options: CheckOptions): CheckRequestLike {
  const url = new URL(options.url);
  const headers: Record<string, string> = {
    ':authority': url.host,
    ':path': `${url.pathname}${url.search}`,
    ':method': options.method.toUpperCase(),
    ':scheme': url.protocol.replace(':', ''),
  };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  for (const h of options.header ?? []) {
    const i = h.indexOf(':');
    if (i <= 0) throw new Error(`--header "${h}" is not "name: value"`);
    const name = h.slice(0, i).trim().toLowerCase();
    const value = h.slice(i + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
  }
  return {
    attributes: {
      request: { http: { method: headers[':method'], host: url.host, path: headers[':path'], scheme: headers[':scheme'], headers } },
      context_extensions: options.namespace ? { namespace: options.namespace } : {},
    },
  } as CheckRequestLike;
}
