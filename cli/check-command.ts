/**
 * `jwtgate check`: builds the CheckRequest Envoy would send for a URL, and either decides it
 * against a manifests folder with the service's own pipeline (printing each step), or sends it
 * to a running jwtgate over gRPC (`--server`), then prints the response Envoy would act on.
 *
 * @example
 * ```sh
 * jwtgate check --policies examples/policies --url https://api.example.com/api/orders --token "$TOKEN"
 * jwtgate check --server localhost:9001 --url https://api.example.com/api/orders --token "$TOKEN"
 * ```
 */
import { decide } from '../authz/check.ts';
import { resolveServiceConfig } from '../authz/config.ts';
import { createLogger } from '../common/log.ts';
import { createMetrics } from '../authz/metrics.ts';
import type { Decision } from '../authz/decision.ts';
import { REASONS, type ReasonCode } from '../authz/reasons.ts';
import { toCheckResponse, type CheckResponse } from '../authz/respond/check-response.ts';
import { RuntimeStore } from '../authz/runtime/runtime-store.ts';
import type { CheckRequestLike } from '../authz/request/attributes.ts';
import type { Workload } from '../authz/request/workload.ts';
import { createGrpcClient, httpCheckRequest } from './grpc-client.ts';
import { compileFolder, formatDiagnostic, loadSchema, snapshotSettings, type SettingsFlags } from './standalone.ts';

interface CheckOptions extends SettingsFlags {
  policies?: string;
  /** `host:port` of a running jwtgate: ask it instead of compiling `policies` here. */
  server?: string;
  url: string;
  method: string;
  token?: string;
  header?: string[];
  namespace?: string;
  workloadLabel?: string[];
}

export async function checkCommand(options: CheckOptions): Promise<void> {
  const request = envoyCheckRequest(options);
  let response: CheckResponse;
  if (options.server !== undefined) {
    if (
      options.policies !== undefined ||
      options.workloadLabel !== undefined ||
      options.unmatched !== undefined ||
      options.pathParameters !== undefined
    ) {
      throw new Error('--server asks a running jwtgate: it takes none of --policies, --workload-label, --unmatched, --path-parameters');
    }
    response = await checkOnServer(options.server, request);
  } else {
    if (options.policies === undefined) throw new Error('check needs --policies DIR or --server HOST:PORT');
    const decision = await decideLocally(options.policies, request, sidecarWorkload(options), options);
    for (const step of decision.trace) process.stdout.write(`${step.step.padEnd(9)} ${step.message}\n`);
    if (decision.kind === 'deny' && decision.detail) process.stdout.write(`          detail: ${decision.detail}\n`);
    response = toCheckResponse(decision);
  }
  printResponse(response);
  if (response.status.code !== 0) process.exitCode = 2;
}

async function decideLocally(
  policies: string,
  request: CheckRequestLike,
  workload: Workload | undefined,
  flags: SettingsFlags,
): Promise<Decision> {
  const config = resolveServiceConfig(process.env);
  const { snapshot, diagnostics, refusal } = await compileFolder(loadSchema(), policies, 1, snapshotSettings(flags));
  for (const d of diagnostics) process.stdout.write(`  ! ${formatDiagnostic(d)}\n`);
  const store = new RuntimeStore({ log: createLogger('silent'), metrics: createMetrics({ defaultMetrics: false }) });
  // As `serve --policies` starting on this folder: a refused folder enforces nothing (503 not_ready).
  if (refusal === undefined) await store.apply(snapshot);
  else process.stdout.write(`  ! refused: ${refusal}; serve would enforce nothing from this folder\n`);
  try {
    return await decide(store.current, request, { ...config, workload });
  } finally {
    await store.close();
  }
}

/** One Check call to a running jwtgate, as Envoy makes it (with a 5 s deadline). */
async function checkOnServer(address: string, request: CheckRequestLike): Promise<CheckResponse> {
  const client = createGrpcClient(address);
  try {
    return await client.check(request, { deadlineMs: 5000 });
  } finally {
    client.close();
  }
}

/** What Envoy does with the response: the upstream request's edits, or the client's denial. */
function printResponse(response: CheckResponse): void {
  const ok = response.ok_response;
  if (response.status.code === 0) {
    process.stdout.write(`\nALLOW (${response.status.message ?? 'allowed'})\n`);
    for (const h of ok?.headers ?? []) process.stdout.write(`  set    ${h.header.key}: ${h.header.value}\n`);
    for (const h of ok?.headers_to_remove ?? []) process.stdout.write(`  remove ${h}\n`);
    for (const q of ok?.query_parameters_to_remove ?? []) process.stdout.write(`  remove query parameter ${q}\n`);
    return;
  }
  const denied = response.denied_response;
  const reason = (response.status.message ?? 'internal_error') as ReasonCode;
  const info = REASONS[reason] ?? REASONS.internal_error;
  const body = denied?.body ? (JSON.parse(denied.body) as { error_description?: string }) : {};
  process.stdout.write(`\nDENY ${info.status} (${reason})${body.error_description ? `: ${body.error_description}` : ''}\n`);
  for (const h of denied?.headers ?? []) process.stdout.write(`  ${h.header.key}: ${h.header.value}\n`);
  if (denied?.body) process.stdout.write(`  body: ${denied.body}\n`);
}

/** `--workload-label k=v …`: decide as a sidecar next to a workload with these labels would. */
function sidecarWorkload(options: CheckOptions): Workload | undefined {
  if (options.workloadLabel === undefined) return undefined;
  if (options.namespace === undefined) throw new Error("--workload-label needs --namespace (the workload's namespace)");
  const labels: Record<string, string> = {};
  for (const pair of options.workloadLabel) {
    const i = pair.indexOf('=');
    if (i <= 0) throw new Error(`--workload-label "${pair}" is not "key=value"`);
    labels[pair.slice(0, i)] = pair.slice(i + 1);
  }
  return { namespace: options.namespace, labels };
}

/** The CheckRequest Envoy's ext_authz filter sends for this URL, with the token and `--header`s (repeats joined by ','). */
function envoyCheckRequest(options: CheckOptions): CheckRequestLike {
  const url = new URL(options.url);
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  for (const h of options.header ?? []) {
    const i = h.indexOf(':');
    if (i <= 0) throw new Error(`--header "${h}" is not "name: value"`);
    const name = h.slice(0, i).trim().toLowerCase();
    const value = h.slice(i + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
  }
  return httpCheckRequest({
    method: options.method.toUpperCase(),
    host: url.host,
    path: `${url.pathname}${url.search}`,
    scheme: url.protocol.replace(':', ''),
    headers,
    ...(options.namespace ? { contextExtensions: { namespace: options.namespace } } : {}),
  });
}
