/**
 * The check pipeline: read → match → extract → verify → authorize → respond. Each phase lives in
 * its own module; this file only sequences them and turns their `DenyError`s into decisions.
 * It never touches gRPC, so `jwtgate check` and the service share it.
 *
 * @example
 * ```ts
 * const decision = await decide(store.current, checkRequest, { maxTokenBytes: 8192, maxHeaderBytes: 65536 });
 * ```
 */
import { readAttributes, type CheckRequestLike, type HttpRequestAttributes } from './request/attributes.ts';
import { normalizePath, PathRefusedError, type NormalizeOptions, type NormalizedTarget } from '../common/normalize-path.ts';
import { extractToken, type ExtractedToken } from './extract/extract-token.ts';
import { verifyToken, type VerifiedToken } from './verify/verify-token.ts';
import type { TokenCache } from './verify/token-cache.ts';
import { applyClaimMappings, readClaim } from './authorize/claims.ts';
import { evaluateRules } from './authorize/evaluate-rules.ts';
import { claimHeaders } from './respond/claim-headers.ts';
import { stripToken } from './respond/strip-token.ts';
import { DenyError, REASONS, type AllowReason, type DenyReason } from './reasons.ts';
import type { AllowDecision, Decision, DenyDecision, TraceStep } from './decision.ts';
import type { Runtime } from './runtime/runtime.ts';
import type { Workload } from './request/workload.ts';
import type { DenySettings, SnapshotPolicy, TokenSource } from '../snapshot/types.ts';

export interface CheckLimits {
  maxTokenBytes: number;
  maxHeaderBytes: number;
  tokenCache?: TokenCache;
  now?: Date;
  /** Sidecar mode: the workload every request is bound for (see `readAttributes`). */
  workload?: Workload;
}

/** Used when a request is denied before a policy is known. */
const DEFAULT_DENY: DenySettings = Object.freeze({ realm: 'jwtgate', exposeReason: true, headers: [] });

interface Context {
  trace: TraceStep[];
  policy?: SnapshotPolicy;
  issuerId?: string;
  subject?: string;
}

/** Decides one CheckRequest against a runtime (undefined while no snapshot is loaded). */
export async function decide(runtime: Runtime | undefined, request: CheckRequestLike, limits: CheckLimits): Promise<Decision> {
  const ctx: Context = { trace: [] };
  try {
    return await run(runtime, request, limits, ctx);
  } catch (err) {
    if (err instanceof DenyError) return deny(ctx, err.code, err.description, err.detail);
    return deny(ctx, 'internal_error', undefined, err instanceof Error ? (err.stack ?? err.message) : String(err));
  }
}

/** The one place a refused request target becomes the data plane's `request_invalid` reason. */
function decisionPath(target: string, options: NormalizeOptions): NormalizedTarget {
  try {
    return normalizePath(target, options);
  } catch (err) {
    if (err instanceof PathRefusedError) throw new DenyError('request_invalid', err.description, err.detail);
    throw err;
  }
}

async function run(runtime: Runtime | undefined, request: CheckRequestLike, limits: CheckLimits, ctx: Context): Promise<Decision> {
  if (runtime === undefined) throw new DenyError('not_ready');
  const attrs = readAttributes(request, { maxHeaderBytes: limits.maxHeaderBytes, workload: limits.workload });
  const { path, query } = decisionPath(attrs.path, runtime.snapshot.settings);
  ctx.trace.push({
    step: 'request',
    message: `${attrs.method} ${attrs.host}${path}${attrs.destinationNamespace ? ` (namespace ${attrs.destinationNamespace})` : ''}${
      attrs.workloadLabels
        ? ` (workload ${
            Object.entries(attrs.workloadLabels)
              .map(([k, v]) => `${k}=${v}`)
              .join(',') || 'without labels'
          })`
        : ''
    }`,
  });

  const match = runtime.router.match({
    host: attrs.host,
    path,
    method: attrs.method,
    namespace: attrs.destinationNamespace,
    workloadLabels: attrs.workloadLabels,
  });
  if (match === undefined) {
    ctx.trace.push({
      step: 'match',
      message: `no policy matches; unmatched requests are ${runtime.snapshot.settings.unmatched === 'allow' ? 'allowed' : 'denied'}`,
    });
    if (runtime.snapshot.settings.unmatched === 'allow') return allow(ctx, 'unmatched_allowed');
    throw new DenyError('no_policy');
  }
  if (match.refusal !== undefined) {
    ctx.trace.push({ step: 'match', message: match.detail });
    throw new DenyError(match.refusal, undefined, match.detail);
  }
  const policy = match.policy;
  ctx.policy = policy;
  ctx.trace.push({ step: 'match', message: `policy ${policy.id} (mode ${policy.mode})` });
  if (policy.mode === 'disabled') return allow(ctx, 'check_disabled');
  if (policy.mode === 'invalid') throw new DenyError('policy_invalid', undefined, `${policy.id} failed to compile; its status says why`);

  const verified = await authenticate(runtime, policy, attrs, query, limits, ctx);
  if (verified === undefined) {
    ctx.trace.push({ step: 'extract', message: 'no token; the policy allows anonymous requests' });
    // Anonymous requests still lose any client-sent copy of the claim headers.
    const { remove } = claimHeaders({}, policy.forward);
    return allow(ctx, 'anonymous', { headersToRemove: remove });
  }

  const { token, claims } = verified.primary;
  const outcome = evaluateRules(policy.rules, claims);
  if (!outcome.ok) {
    ctx.trace.push({ step: 'authorize', message: `rule failed: ${outcome.why}` });
    throw new DenyError('rule_failed', outcome.rule.description ?? REASONS.rule_failed.description, outcome.why);
  }
  ctx.trace.push({ step: 'authorize', message: policy.rules.length === 0 ? 'no rules' : `${policy.rules.length} rule(s) pass` });

  const payloadJson = policy.forward.payloadHeader === undefined ? undefined : JSON.stringify(claims);
  const headers = claimHeaders(claims, policy.forward, payloadJson);
  // All sources at once: stripping them one by one would put a second cookie token back.
  const stripped = policy.forward.stripToken
    ? stripToken(
        verified.tokens.flatMap((t) => t.sources),
        { headers: attrs.headers, query },
      )
    : { headersToSet: [], headersToRemove: [], queryParametersToRemove: [] };
  const metadata: Record<string, unknown> = { policy: policy.id, issuer: token.issuerId, sub: claims.sub };
  for (const path of policy.forward.metadataClaims) {
    const value = readClaim(claims, path);
    if (value !== undefined) metadata[path.join('.')] = value;
  }
  ctx.trace.push({
    step: 'respond',
    message: `allow; set ${headers.set.map((h) => h.name).join(', ') || 'no headers'}${policy.forward.stripToken ? '; token stripped' : ''}`,
  });
  return allow(ctx, 'allowed', {
    headersToSet: [...headers.set, ...stripped.headersToSet],
    headersToRemove: [...headers.remove, ...stripped.headersToRemove],
    queryParametersToRemove: stripped.queryParametersToRemove,
    metadata,
  });
}

interface Authenticated {
  /** The token whose claims rules and headers read: the only one for anyOf, the first issuer's for allOf. */
  primary: { token: VerifiedToken; claims: Record<string, unknown> };
  tokens: ExtractedToken[];
}

/** Extracts and verifies the policy's token(s); undefined = anonymous request on an optional route. */
async function authenticate(
  runtime: Runtime,
  policy: SnapshotPolicy,
  attrs: HttpRequestAttributes,
  query: string,
  limits: CheckLimits,
  ctx: Context,
): Promise<Authenticated | undefined> {
  const request = { headers: attrs.headers, query };
  const candidate = (req: SnapshotPolicy['issuers'][number]) => {
    const keys = runtime.keys.get(req.issuerId);
    const config = runtime.snapshot.issuers[req.issuerId];
    if (keys === undefined || config === undefined)
      throw new DenyError('internal_error', undefined, `issuer ${req.issuerId} missing from runtime`);
    return { keys, config, audiences: req.audienceWaived ? undefined : (req.audiences ?? config.audiences) };
  };
  const verify = async (token: string, reqs: SnapshotPolicy['issuers']) => {
    const verified = await verifyToken(token, reqs.map(candidate), {
      maxTokenBytes: limits.maxTokenBytes,
      now: limits.now,
      cache: limits.tokenCache,
    });
    const config = runtime.snapshot.issuers[verified.issuerId];
    if (config === undefined)
      throw new DenyError('internal_error', undefined, `verified issuer ${verified.issuerId} missing from the snapshot`);
    const claims = applyClaimMappings(verified.claims, config.claimMappings);
    ctx.issuerId = verified.issuerId;
    if (typeof claims.sub === 'string') ctx.subject = claims.sub;
    ctx.trace.push({
      step: 'verify',
      message: `token valid: issuer ${verified.issuerId} (${config.issuer}), alg ${String(verified.header.alg)}, sub ${String(claims.sub)}`,
    });
    return { token: verified, claims };
  };

  if (policy.issuerMatch === 'anyOf') {
    const sources = uniqueSources([policy.tokenSources, ...policy.issuers.map((i) => i.tokenSources ?? [])]);
    const found = extractToken(request, sources);
    if (found === undefined) return missing(policy, ctx);
    ctx.trace.push({ step: 'extract', message: `token from ${describeSource(found.source)}` });
    return { primary: await verify(found.token, policy.issuers), tokens: [found] };
  }

  const found = policy.issuers.map((req) => ({ req, found: extractToken(request, req.tokenSources ?? policy.tokenSources) }));
  // On an optional route, a request is anonymous only when it carries none of the tokens.
  if (found.every((f) => f.found === undefined)) return missing(policy, ctx);
  const results: Authenticated['primary'][] = [];
  const tokens: ExtractedToken[] = [];
  for (const { req, found: token } of found) {
    if (token === undefined) {
      throw new DenyError(
        'token_missing',
        `a token from ${runtime.snapshot.issuers[req.issuerId]?.issuer ?? req.issuerId} is also required`,
      );
    }
    ctx.trace.push({ step: 'extract', message: `token for ${req.issuerId} from ${describeSource(token.source)}` });
    results.push(await verify(token.token, [req]));
    tokens.push(token);
  }
  const [primary] = results;
  if (primary === undefined) throw new DenyError('internal_error', undefined, 'a policy with no issuer reached verification');
  return { primary, tokens };
}

function missing(policy: SnapshotPolicy, ctx: Context): undefined {
  if (policy.mode === 'optional') return undefined;
  ctx.trace.push({ step: 'extract', message: `no token in ${policy.tokenSources.map(describeSource).join(', ')}` });
  throw new DenyError('token_missing');
}

function uniqueSources(lists: TokenSource[][]): TokenSource[] {
  const seen = new Map<string, TokenSource>();
  for (const source of lists.flat()) seen.set(JSON.stringify(source), source);
  return [...seen.values()];
}

/** Human form of a token source, for traces: `header authorization (Bearer )`. */
export function describeSource(source: TokenSource): string {
  switch (source.kind) {
    case 'header':
      return `header ${source.name}${source.prefix ? ` (${source.prefix.trim()})` : ''}`;
    case 'query':
      return `query parameter ${source.name}`;
    case 'cookie':
      return `cookie ${source.name}`;
  }
}

function allow(
  ctx: Context,
  reason: AllowReason,
  parts: Partial<Pick<AllowDecision, 'headersToSet' | 'headersToRemove' | 'queryParametersToRemove' | 'metadata'>> = {},
): AllowDecision {
  return {
    kind: 'allow',
    reason,
    policyId: ctx.policy?.id,
    issuerId: ctx.issuerId,
    subject: ctx.subject,
    headersToSet: parts.headersToSet ?? [],
    headersToRemove: parts.headersToRemove ?? [],
    queryParametersToRemove: parts.queryParametersToRemove ?? [],
    metadata: parts.metadata ?? (ctx.policy ? { policy: ctx.policy.id } : {}),
    trace: ctx.trace,
  };
}

function deny(ctx: Context, reason: DenyReason, description?: string, detail?: string): DenyDecision {
  ctx.trace.push({ step: 'respond', message: `deny ${REASONS[reason].status} ${reason}${detail ? `: ${detail.split('\n')[0]}` : ''}` });
  return {
    kind: 'deny',
    reason,
    description: description ?? REASONS[reason].description,
    detail,
    policyId: ctx.policy?.id,
    issuerId: ctx.issuerId,
    subject: ctx.subject,
    deny: ctx.policy?.deny ?? DEFAULT_DENY,
    trace: ctx.trace,
  };
}
