/**
 * Compiles one validated JWTPolicy or ClusterJWTPolicy into a {@link SnapshotPolicy}: issuer
 * references resolved against the compiled issuers, regexes admitted, claim paths split,
 * header names checked and lower-cased (HTTP/2 and Envoy's CheckRequest use lower case).
 * A policy with any unusable part (errors reported) is never half-compiled, which could be
 * weaker than the one written: it comes back `broken`, and the compiler holds its routes closed
 * with {@link heldPolicy} (resolve-claims.ts decides which routes).
 *
 * @example
 * ```ts
 * const { policy, broken } = compilePolicy(valid, { compiled, declared }, namespaces, report);
 * // policy: { id: 'JWTPolicy/shop/orders', mode: 'required', issuers: [{ issuerId: 'shop/idp', … }], … }
 * ```
 */
import type {
  ClaimPath,
  ClaimHeader,
  DenySettings,
  ForwardSettings,
  HostGrant,
  IssuerRequirement,
  PathMatch,
  PolicyScope,
  Rule,
  SnapshotIssuer,
  SnapshotPolicy,
  Target,
  TokenSource,
} from '../snapshot/types.ts';
import { DIAGNOSTIC_REASONS, type Report, type ResourceRef } from './diagnostics.ts';
import { checkPath, type Fail } from './check-path.ts';
import { checkRegex } from './check-regex.ts';
import { issuerId } from './compile-issuer.ts';
import { compileTargetRefs } from './compile-route-refs.ts';
import { indexGatewayApi, type GatewayApi } from './gateway-api.ts';
import type { RefAncestor } from './policy-ancestors.ts';
import type { ClusterJWTPolicySpec, IssuerRefSpec, JWTPolicySpec, NamespaceInput, RuleSpec, TokenSourceSpec } from './resources.ts';
import { selectNamespaces } from './select-namespaces.ts';
import { splitClaimPath } from './split-claim-path.ts';
import type { ValidResource } from './validate.ts';
import { FRAMING_HEADERS } from '../common/framing-headers.ts';

/** A validated JWTPolicy or ClusterJWTPolicy. */
export type ValidPolicy = Extract<ValidResource, { kind: 'JWTPolicy' | 'ClusterJWTPolicy' }>;

/** The issuers a policy may name: all declared ids, and those that compiled. */
export interface IssuerCatalog {
  declared: ReadonlySet<string>;
  compiled: ReadonlyMap<string, SnapshotIssuer>;
}

/**
 * Headers a claim may never be written to: connection framing, credentials (and, checked where
 * it is used, Envoy's own `x-envoy-` control headers).
 */
const RESERVED_FORWARD_HEADERS: ReadonlySet<string> = new Set([...FRAMING_HEADERS, 'authorization', 'proxy-authorization', 'cookie']);
/** Headers a denial may not override: the challenge and the body's framing. */
const RESERVED_DENY_HEADERS = new Set(['www-authenticate', 'content-type', 'content-length', 'transfer-encoding', 'connection']);

/**
 * The snapshot id of a policy.
 *
 * @example
 * ```ts
 * policyId({ kind: 'JWTPolicy', namespace: 'shop', name: 'orders' }); // 'JWTPolicy/shop/orders'
 * policyId({ kind: 'ClusterJWTPolicy', name: 'baseline' }); // 'ClusterJWTPolicy/baseline'
 * ```
 */
export function policyId(ref: ResourceRef): string {
  return ref.namespace === undefined ? `${ref.kind}/${ref.name}` : `${ref.kind}/${ref.namespace}/${ref.name}`;
}

/**
 * @example
 * ```ts
 * compilePolicy(valid, catalog, undefined, report).policy.scope; // { kind: 'namespaced', namespace: 'shop' }
 * ```
 */
export function compilePolicy(
  resource: ValidPolicy,
  issuers: IssuerCatalog,
  namespaces: NamespaceInput[] | undefined,
  report: Report,
  gatewayApi: GatewayApi = indexGatewayApi({ httpRoutes: undefined, gateways: undefined, namespaces }),
): CompiledPolicy {
  let failed = false;
  const fail: Fail = (field, reason, message) => {
    failed = true;
    report({ severity: 'error', field, reason, message });
  };
  let targetsFailed = false;
  const failTarget: Fail = (field, reason, message) => {
    targetsFailed = true;
    fail(field, reason, message);
  };
  const spec: JWTPolicySpec & Partial<ClusterJWTPolicySpec> = resource.spec;
  const disabled = spec.mode === 'Disabled';
  if (disabled && (spec.issuers !== undefined || (spec.rules ?? []).length > 0)) {
    report({
      severity: 'warning',
      field: 'spec.mode',
      reason: DIAGNOSTIC_REASONS.IgnoredField,
      message: 'issuers and rules are ignored when mode is Disabled',
    });
  }
  const tokenSources = spec.tokenSources.map(compileTokenSource);
  const issuerList = spec.issuers?.allOf !== undefined ? 'allOf' : 'anyOf';
  // targetRefs (JWTPolicy only): the routes a Gateway admitted are read even when a ref fails,
  // so what can be read is held closed; the refs that failed made the policy `broken`.
  const refs =
    spec.targetRefs === undefined
      ? undefined
      : compileTargetRefs(spec.targetRefs, resource.ref.namespace as string, spec.mode, gatewayApi, fail, report);
  const policy: SnapshotPolicy = {
    id: policyId(resource.ref),
    scope: compileScope(resource, namespaces, report),
    targets: refs?.targets ?? compileTargets(spec, failTarget),
    mode: disabled ? 'disabled' : spec.mode === 'Optional' ? 'optional' : 'required',
    issuers: disabled
      ? []
      : compileIssuerRequirements(resource, spec.issuers?.[issuerList] ?? [], `spec.issuers.${issuerList}`, issuers, fail),
    issuerMatch: issuerList,
    tokenSources,
    rules: disabled ? [] : compileRules(spec.rules ?? [], fail),
    forward: compileForward(spec.forward, tokenSources, fail),
    deny: compileDeny(spec.deny, fail),
  };
  const selector = resource.kind === 'JWTPolicy' ? spec.workloadSelector?.matchLabels : undefined;
  // Keys sorted: the same selector always compiles to the same snapshot bytes (and digest).
  if (selector !== undefined)
    policy.workloadSelector = Object.fromEntries(Object.entries(selector).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return {
    policy,
    broken: failed,
    targetsReadable: !targetsFailed,
    grants: refs?.grants ?? [],
    ...(refs === undefined ? {} : { ancestors: refs.ancestors }),
  };
}

/** A compiled policy, and whether it can be enforced as written. */
export interface CompiledPolicy {
  /** As written; when `broken`, only its id, scope, selector and (if readable) targets mean anything. */
  policy: SnapshotPolicy;
  /** Some part failed to compile (errors reported): it can only hold its routes closed. */
  broken: boolean;
  /** Its targets compiled, so its routes are known from the manifest. */
  targetsReadable: boolean;
  /** The hosts of the HTTPRoutes its targetRefs name that a Gateway admitted (compile-route-refs.ts). */
  grants: HostGrant[];
  /** With targetRefs only: where each ref reaches, for its GEP-713 ancestors (policy-ancestors.ts). */
  ancestors?: RefAncestor[];
}

/**
 * The policy that holds `targets` closed for a policy that cannot be enforced: every request on
 * them is denied with 503 `policy_invalid`, so a broken or refused policy never hands its routes
 * to a weaker, less specific one.
 *
 * @example
 * ```ts
 * heldPolicy({ id: 'JWTPolicy/shop/a', scope: { kind: 'namespaced', namespace: 'shop' } }, targets).mode; // 'invalid'
 * ```
 */
export function heldPolicy(owner: Pick<SnapshotPolicy, 'id' | 'scope' | 'workloadSelector'>, targets: Target[]): SnapshotPolicy {
  return {
    id: owner.id,
    scope: owner.scope,
    targets,
    ...(owner.workloadSelector === undefined ? {} : { workloadSelector: owner.workloadSelector }),
    mode: 'invalid',
    issuers: [],
    issuerMatch: 'anyOf',
    tokenSources: [],
    rules: [],
    forward: { claimHeaders: [], stripToken: false, metadataClaims: [] },
    deny: { realm: 'jwtgate', exposeReason: true, headers: [] },
  };
}

export type { Fail } from './check-path.ts';

export function compileScope(resource: ValidPolicy, namespaces: NamespaceInput[] | undefined, report: Report): PolicyScope {
  if (resource.kind === 'JWTPolicy') return { kind: 'namespaced', namespace: resource.ref.namespace as string };
  const selection = selectNamespaces(resource.spec.namespaceSelector, namespaces);
  if (!selection.resolved) {
    report({
      severity: 'warning',
      field: 'spec.namespaceSelector',
      reason: DIAGNOSTIC_REASONS.NamespacesUnknown,
      message: 'no Namespaces were given to resolve the selector; the policy applies in no namespace',
    });
  }
  const enforcement = resource.spec.enforcement === 'Override' ? 'override' : 'default';
  return selection.namespaces === undefined
    ? { kind: 'cluster', enforcement }
    : { kind: 'cluster', enforcement, namespaces: selection.namespaces };
}

export function compileTargets(spec: Pick<JWTPolicySpec, 'targets'>, fail: Fail): Target[] {
  return (spec.targets ?? []).map((target, t) => ({
    hosts: target.hosts ?? [],
    paths: (target.paths ?? []).map((path, p): PathMatch => {
      // Set only when true, so a snapshot compiled before the field existed keeps its digest.
      const folded = path.caseInsensitive === true ? { caseInsensitive: true as const } : {};
      if (path.exact !== undefined)
        return { kind: 'exact', value: checkPath(path.exact, `spec.targets[${t}].paths[${p}].exact`, fail), ...folded };
      if (path.prefix !== undefined)
        return { kind: 'prefix', value: checkPath(path.prefix, `spec.targets[${t}].paths[${p}].prefix`, fail), ...folded };
      const regex = path.regex as string;
      const checked = checkRegex(regex);
      if (!checked.ok) fail(`spec.targets[${t}].paths[${p}].regex`, DIAGNOSTIC_REASONS.InvalidRegex, checked.problem);
      return { kind: 'regex', value: regex, ...folded };
    }),
    methods: target.methods ?? [],
  }));
}

function compileTokenSource(source: TokenSourceSpec): TokenSource {
  if (source.header !== undefined) {
    const { name, prefix } = source.header;
    return prefix === undefined ? { kind: 'header', name: name.toLowerCase() } : { kind: 'header', name: name.toLowerCase(), prefix };
  }
  return source.query !== undefined ? { kind: 'query', name: source.query } : { kind: 'cookie', name: source.cookie as string };
}

function compileIssuerRequirements(
  resource: ValidPolicy,
  refs: IssuerRefSpec[],
  field: string,
  issuers: IssuerCatalog,
  fail: Fail,
): IssuerRequirement[] {
  const seen = new Set<string>();
  /** `iss` → the first JWTIssuer listed with it, and where. */
  const byIss = new Map<string, { id: string; at: string }>();
  return refs.map((ref, i) => {
    const id = issuerId(ref.namespace ?? (resource.ref.namespace as string), ref.name);
    const at = `${field}[${i}]`;
    const issuer = issuers.compiled.get(id);
    if (seen.has(id)) fail(at, DIAGNOSTIC_REASONS.InvalidSpec, `JWTIssuer ${id} is listed twice`);
    seen.add(id);
    // anyOf: a token's unverified `iss` picks exactly one issuer (verify-token.ts step 2), so a
    // second JWTIssuer with the same `issuer` would never be used: its keys, audiences and token
    // sources silently ignored. allOf asks for a token from each of several authorities; two
    // entries for one authority add no second identity (and, reading the same token source, one
    // token would satisfy both). Either way, refuse rather than guess which one was meant.
    const first = issuer === undefined ? undefined : byIss.get(issuer.issuer);
    if (issuer !== undefined && first !== undefined && first.id !== id) {
      fail(
        at,
        DIAGNOSTIC_REASONS.DuplicateIssuer,
        `JWTIssuer ${id} and JWTIssuer ${first.id} (${first.at}) both have issuer ${JSON.stringify(issuer.issuer)}; a token's iss can select only one of them: merge their keys into one JWTIssuer or accept only one`,
      );
    } else if (issuer !== undefined && first === undefined) {
      byIss.set(issuer.issuer, { id, at });
    }
    if (issuer === undefined) {
      if (issuers.declared.has(id)) fail(at, DIAGNOSTIC_REASONS.IssuerNotReady, `JWTIssuer ${id} has errors and is not in the snapshot`);
      else fail(at, DIAGNOSTIC_REASONS.IssuerNotFound, `JWTIssuer ${id} not found`);
    }
    const audienceWaived = ref.skipAudienceCheck === true;
    // RFC 8725 §3.9: audiences keep a token minted for one service from being replayed at
    // another, so an unchecked audience must be an explicit choice, never an accident.
    if (issuer !== undefined && !audienceWaived && (ref.audiences ?? issuer.audiences).length === 0) {
      fail(at, DIAGNOSTIC_REASONS.MissingAudience, `JWTIssuer ${id} has no audiences; set audiences here or skipAudienceCheck: true`);
    }
    const requirement: IssuerRequirement = { issuerId: id, audienceWaived };
    if (ref.audiences !== undefined) requirement.audiences = ref.audiences;
    if (ref.tokenSources !== undefined) requirement.tokenSources = ref.tokenSources.map(compileTokenSource);
    return requirement;
  });
}

function claimPath(dotted: string, field: string, fail: Fail): ClaimPath {
  const split = splitClaimPath(dotted);
  if (split.ok) return split.value;
  fail(field, DIAGNOSTIC_REASONS.InvalidClaimPath, split.problem);
  return [];
}

type Scalar = string | number | boolean;

function isScalar(value: unknown): value is Scalar {
  return typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
}

function compileRules(rules: RuleSpec[], fail: Fail): Rule[] {
  return rules.map((rule, i) => {
    const at = `spec.rules[${i}]`;
    const base = {
      claim: claimPath(rule.claim, `${at}.claim`, fail),
      ...(rule.description === undefined ? {} : { description: rule.description }),
    };
    const scalars = (values: unknown[], op: string): Scalar[] => {
      values.forEach((v, j) => {
        if (!isScalar(v)) fail(`${at}.${op}[${j}]`, DIAGNOSTIC_REASONS.InvalidSpec, 'must be a string, number or boolean');
      });
      return values.filter(isScalar);
    };
    if (rule.equals !== undefined) {
      if (!isScalar(rule.equals)) fail(`${at}.equals`, DIAGNOSTIC_REASONS.InvalidSpec, 'must be a string, number or boolean');
      return { ...base, op: 'equals', value: rule.equals as Scalar };
    }
    if (rule.in !== undefined) return { ...base, op: 'in', values: scalars(rule.in, 'in') };
    if (rule.notIn !== undefined) return { ...base, op: 'notIn', values: scalars(rule.notIn, 'notIn') };
    if (rule.exists !== undefined) return { ...base, op: 'exists', value: rule.exists };
    if (rule.containsAll !== undefined) return { ...base, op: 'containsAll', values: rule.containsAll };
    if (rule.containsAny !== undefined) return { ...base, op: 'containsAny', values: rule.containsAny };
    const regex = rule.regex as string;
    const checked = checkRegex(regex);
    if (!checked.ok) fail(`${at}.regex`, DIAGNOSTIC_REASONS.InvalidRegex, checked.problem);
    return { ...base, op: 'regex', value: regex };
  });
}

function compileForward(forward: JWTPolicySpec['forward'], tokenSources: TokenSource[], fail: Fail): ForwardSettings {
  const tokenHeaders = new Set(tokenSources.flatMap((s) => (s.kind === 'header' ? [s.name] : [])));
  const used = new Set<string>();
  const header = (name: string, field: string): string => {
    const lower = name.toLowerCase();
    if (RESERVED_FORWARD_HEADERS.has(lower) || lower.startsWith('x-envoy-') || tokenHeaders.has(lower)) {
      fail(field, DIAGNOSTIC_REASONS.ReservedHeader, `header ${lower} is reserved for the protocol, the proxy or the token`);
    }
    if (used.has(lower)) fail(field, DIAGNOSTIC_REASONS.InvalidSpec, `header ${lower} is set twice`);
    used.add(lower);
    return lower;
  };
  const claimHeaders: ClaimHeader[] = (forward.claimsToHeaders ?? []).map((c, i) => ({
    claim: claimPath(c.claim, `spec.forward.claimsToHeaders[${i}].claim`, fail),
    header: header(c.header, `spec.forward.claimsToHeaders[${i}].header`),
    encoding: c.encoding,
  }));
  const settings: ForwardSettings = {
    claimHeaders,
    stripToken: forward.token === 'Strip',
    metadataClaims: (forward.metadataClaims ?? []).map((c, i) => claimPath(c, `spec.forward.metadataClaims[${i}]`, fail)),
  };
  if (forward.payloadHeader !== undefined) settings.payloadHeader = header(forward.payloadHeader, 'spec.forward.payloadHeader');
  return settings;
}

function compileDeny(deny: JWTPolicySpec['deny'], fail: Fail): DenySettings {
  const headers = (deny.headers ?? []).map(({ name, value }, i) => {
    const lower = name.toLowerCase();
    if (RESERVED_DENY_HEADERS.has(lower))
      fail(`spec.deny.headers[${i}].name`, DIAGNOSTIC_REASONS.ReservedHeader, `header ${lower} is set by jwtgate itself`);
    return { name: lower, value };
  });
  return { realm: deny.realm, exposeReason: deny.exposeReason, headers };
}
