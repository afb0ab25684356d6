/**
 * Compiles a JWTPolicy's `targetRefs` (GEP-713 direct policy attachment) into the same
 * {@link Target}s a `targets` list compiles to, plus the {@link HostGrant}s the Gateways' acceptance
 * of the targeted HTTPRoutes amounts to.
 *
 * ```
 *  targetRef HTTPRoute shop/orders [sectionName: rule name]
 *     └─ admitted? (gateway-api.ts: accepted by an existing parent Gateway, whose listeners admit it)
 *          no  ─▶ TargetNotAccepted: no targets from it, and the policy cannot be enforced
 *          yes ─▶ hosts = the admitted hostnames ('any' = every host)
 *                 each rule (or the named one) × each match:
 *                   path PathPrefix /a/ ─▶ prefix /a   Exact ─▶ exact   RegularExpression ─▶ regex (RE2-portable)
 *                   method ─▶ methods      no matches ─▶ prefix /
 *                   headers / queryParams ─▶ dropped (Required: broader, a warning) or refused (Optional, Disabled)
 *                 grant HTTPRoute/shop/orders: those hosts ('*' for any) → namespace shop
 *  targetRef Gateway shop/public [sectionName: listener name]
 *     └─ hosts = its HTTP listeners' hostnames, any path, any method; no grant
 * ```
 *
 * Each ref also says where it reaches, for the policy's GEP-713 `status.ancestors`
 * (policy-ancestors.ts): an HTTPRoute ref each Gateway the route names in parentRefs (found where
 * that Gateway admitted the route), or the HTTPRoute itself when it is missing or names no Gateway;
 * a Gateway ref the Gateway (its listener with sectionName). A policy reaching more than
 * {@link MAX_ANCESTORS} ancestors is refused (TooManyAncestors): GEP-713 lists at most 16, and a
 * policy whose status cannot say where it applies must not apply.
 *
 * A ref never names a namespace (the schema has no such field): a policy covers only its own
 * namespace's routes. Every problem is an error, so the policy is not enforced as written and
 * the compiler holds what it protected closed (resolve-claims.ts); the targets returned are
 * those that could be read, for that hold.
 *
 * Why a Gateway ref grants nothing: the authz service cannot tell which Gateway a request came
 * through, only its host, so a Gateway-level policy decides as its namespace's policy, for the
 * traffic known to be that namespace's or hosts granted to it (DESIGN.md "Tenants"), and a
 * route's own policy, whose route grant is more specific, decides that route: GEP-713 defaults.
 * Overrides (a Gateway-level policy that beats route-level ones) would need the Gateway's
 * identity on every request, which the check does not carry; they are not supported.
 *
 * @example
 * ```ts
 * const { targets, grants } = compileTargetRefs(spec.targetRefs, 'shop', spec.mode, api, fail, report);
 * ```
 */
import type { HostGrant, PathMatch, Target } from '../snapshot/types.ts';
import { checkPortableRegex } from './check-regex.ts';
import { checkPath, type Fail } from './check-path.ts';
import { DIAGNOSTIC_REASONS, type Report } from './diagnostics.ts';
import { ANY_HOST, admittedRoute, httpListeners, type GatewayApi } from './gateway-api.ts';
import { ancestorKey, describeAncestor, MAX_ANCESTORS, type RefAncestor } from './policy-ancestors.ts';
import { GATEWAY_API_GROUP, type HTTPRouteMatchSpec, type HTTPRouteRuleSpec, type JWTPolicySpec, type TargetRefSpec } from './resources.ts';

export interface CompiledRefs {
  targets: Target[];
  /** One per targeted HTTPRoute that a Gateway admitted. */
  grants: HostGrant[];
  /** Where each ref reaches (GEP-713 ancestors), in ref order, and whether its target is there. */
  ancestors: RefAncestor[];
}

/** HTTPRoute `method` values (Gateway API `HTTPMethod`), which our targets take as they are. */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

/**
 * @example
 * ```ts
 * compileTargetRefs([{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'orders' }], 'shop', 'Required', api, fail, report);
 * // { targets: [{ hosts: ['api.example.com'], paths: [{ kind: 'prefix', value: '/orders' }], methods: [] }], grants: [ … ],
 * //   ancestors: [{ field: 'spec.targetRefs[0]', ancestorRef: { …, kind: 'Gateway', namespace: 'infra', name: 'public' }, found: true, message: '…' }] }
 * ```
 */
export function compileTargetRefs(
  refs: readonly TargetRefSpec[],
  namespace: string,
  mode: JWTPolicySpec['mode'],
  api: GatewayApi,
  fail: Fail,
  report: Report,
): CompiledRefs {
  const targets: Target[] = [];
  const grants = new Map<string, HostGrant>();
  const ancestors: RefAncestor[] = [];
  for (const [i, ref] of refs.entries()) {
    const field = `spec.targetRefs[${i}]`;
    const hint = api.known ? '' : ' (no Gateway API objects are known: the Gateway API CRDs are not installed, or not readable by jwtgate)';
    const notFound = (what: string): void =>
      fail(field, DIAGNOSTIC_REASONS.TargetNotFound, `${what}${hint}; the policy is not enforced until it exists`);
    const reach = (ancestorRef: RefAncestor['ancestorRef'], found: boolean, message: string): void => {
      ancestors.push({ field, ancestorRef, found, message });
    };
    if (ref.kind === 'Gateway') {
      const self = {
        group: GATEWAY_API_GROUP,
        kind: 'Gateway',
        namespace,
        name: ref.name,
        ...(ref.sectionName === undefined ? {} : { sectionName: ref.sectionName }),
      };
      const gateway = api.gateway(namespace, ref.name);
      if (gateway === undefined) {
        notFound(`Gateway ${namespace}/${ref.name} not found`);
        reach(self, false, `Gateway ${namespace}/${ref.name} not found${hint}`);
        continue;
      }
      const listeners = httpListeners(gateway, ref.sectionName);
      if (listeners.length === 0) {
        const what =
          ref.sectionName === undefined
            ? `Gateway ${namespace}/${ref.name} has no HTTP or HTTPS listener`
            : `Gateway ${namespace}/${ref.name} has no HTTP or HTTPS listener named ${ref.sectionName}`;
        notFound(what);
        reach(self, false, what);
        continue;
      }
      const anyHost = listeners.some((l) => l.hostname === undefined);
      const hosts = anyHost ? [] : [...new Set(listeners.map((l) => (l.hostname as string).toLowerCase()))].sort();
      targets.push({ hosts, paths: [], methods: [] });
      reach(
        self,
        true,
        `the policy covers ${describeAncestor(self)}'s requests to ${anyHost ? 'any host' : hosts.join(', ')}, as a default (a route's own policy decides that route)`,
      );
      continue;
    }
    const routeRef = { group: GATEWAY_API_GROUP, kind: 'HTTPRoute', namespace, name: ref.name };
    const route = api.route(namespace, ref.name);
    if (route === undefined) {
      notFound(`HTTPRoute ${namespace}/${ref.name} not found`);
      reach(routeRef, false, `HTTPRoute ${namespace}/${ref.name} not found${hint}`);
      continue;
    }
    const admission = admittedRoute(api, route);
    // Where the route takes effect: the Gateways it names; without one, only the route itself.
    const reachAll = (found: (parent: (typeof admission.parents)[number]) => [boolean, string], problem?: string): void => {
      if (admission.parents.length === 0) reach(routeRef, false, problem ?? `HTTPRoute ${namespace}/${ref.name} names no parent Gateway`);
      for (const parent of admission.parents) reach(parent.parentRef, ...found(parent));
    };
    const rules = Array.isArray(route.spec?.rules) ? route.spec.rules : [];
    const chosen = ref.sectionName === undefined ? rules : rules.filter((r) => isObject(r) && r.name === ref.sectionName);
    if (chosen.length === 0) {
      const what =
        ref.sectionName === undefined
          ? `HTTPRoute ${namespace}/${ref.name} has no rules`
          : `HTTPRoute ${namespace}/${ref.name} has no rule named ${ref.sectionName}`;
      notFound(what);
      reachAll(() => [false, what], what);
      continue;
    }
    const target = `HTTPRoute ${namespace}/${ref.name}${ref.sectionName === undefined ? '' : ` rule ${ref.sectionName}`}`;
    reachAll((parent) =>
      parent.accepted
        ? [true, `${target} is attached to ${describeAncestor(parent.parentRef)}, which admitted it`]
        : [false, `${target} is not attached here: ${parent.why}`],
    );
    if (!admission.accepted) {
      fail(
        field,
        DIAGNOSTIC_REASONS.TargetNotAccepted,
        `HTTPRoute ${namespace}/${ref.name} is not accepted by a Gateway: ${admission.why}. Its requests are not this policy's until a Gateway accepts the route; what the policy protected before stays denied (503 policy_invalid)`,
      );
      continue;
    }
    const id = `HTTPRoute/${namespace}/${ref.name}`;
    grants.set(id, { id, hosts: admission.hosts === ANY_HOST ? ['*'] : admission.hosts, namespaces: [namespace] });
    const hosts = admission.hosts === ANY_HOST ? [] : admission.hosts;
    for (const rule of chosen) {
      const at = `HTTPRoute ${namespace}/${ref.name} rule ${describeRule(rule, rules.indexOf(rule))}`;
      const matches = isObject(rule) && Array.isArray(rule.matches) && rule.matches.length > 0 ? rule.matches : [{}];
      matches.forEach((match, m) => {
        const target = compileMatch(isObject(match) ? match : {}, hosts, mode, `${at} match ${m}`, field, fail, report);
        if (target !== undefined) targets.push(target);
      });
    }
  }
  const distinct = new Set(ancestors.map((a) => ancestorKey(a.ancestorRef))).size;
  if (distinct > MAX_ANCESTORS)
    fail(
      'spec.targetRefs',
      DIAGNOSTIC_REASONS.TooManyAncestors,
      `its targets take effect under ${distinct} Gateways or listeners (GEP-713 ancestors), more than the ${MAX_ANCESTORS} its status can list: split the policy`,
    );
  return { targets, grants: [...grants.values()].sort((a, b) => (a.id < b.id ? -1 : 1)), ancestors };
}

function describeRule(rule: HTTPRouteRuleSpec, index: number): string {
  return isObject(rule) && typeof rule.name === 'string' ? `${rule.name} (#${index})` : `#${index}`;
}

/** One HTTPRoute match as a target; undefined when it cannot be (its path or method is refused). */
function compileMatch(
  match: HTTPRouteMatchSpec,
  hosts: string[],
  mode: JWTPolicySpec['mode'],
  at: string,
  field: string,
  fail: Fail,
  report: Report,
): Target | undefined {
  let ok = true;
  const refuse: Fail = (f, reason, message) => {
    ok = false;
    fail(f, reason, `${at}: ${message}`);
  };
  const path = compilePath(match.path, field, refuse);
  const method = match.method;
  if (method !== undefined && (typeof method !== 'string' || !METHODS.has(method)))
    refuse(field, DIAGNOSTIC_REASONS.UnsupportedMatch, `method ${JSON.stringify(method)} is not an HTTP method jwtgate matches`);
  const unexpressed = [
    ...(Array.isArray(match.headers) && match.headers.length > 0 ? ['headers'] : []),
    ...(Array.isArray(match.queryParams) && match.queryParams.length > 0 ? ['queryParams'] : []),
  ];
  if (unexpressed.length > 0) {
    const what = unexpressed.join(' and ');
    if (mode === 'Required')
      report({
        severity: 'warning',
        field,
        reason: DIAGNOSTIC_REASONS.UnsupportedMatch,
        message: `${at}: jwtgate cannot match on ${what}, so this policy requires a token for the match's path${method === undefined ? '' : ` and method`} whatever the ${what} (it protects more than the route matches)`,
      });
    else
      fail(
        field,
        DIAGNOSTIC_REASONS.UnsupportedMatch,
        `${at}: jwtgate cannot match on ${what}, and a ${mode} policy without them would waive the token for more requests than the route matches: refused (split the route, or use targets)`,
      );
  }
  if (!ok || path === undefined) return undefined;
  return { hosts, paths: [path], methods: typeof method === 'string' ? [method] : [] };
}

function compilePath(path: HTTPRouteMatchSpec['path'], field: string, refuse: Fail): PathMatch | undefined {
  const type = isObject(path) && path.type !== undefined ? path.type : 'PathPrefix';
  const value = isObject(path) && path.value !== undefined ? path.value : '/';
  if (typeof value !== 'string' || (type !== 'RegularExpression' && !value.startsWith('/'))) {
    refuse(field, DIAGNOSTIC_REASONS.InvalidPath, `path value ${JSON.stringify(value)} is not a path`);
    return undefined;
  }
  let valid = true;
  const check: Fail = (f, reason, message) => {
    valid = false;
    refuse(f, reason, message);
  };
  switch (type) {
    case 'Exact':
      checkPath(value, field, check);
      return valid ? { kind: 'exact', value } : undefined;
    case 'PathPrefix': {
      // Gateway API: a prefix matches whole path elements and ignores a trailing '/', so `/a/`
      // also routes `/a`; our prefix `/a/` would not match `/a`, our `/a` matches both.
      const prefix = value.length > 1 ? value.replace(/\/+$/, '') || '/' : value;
      checkPath(prefix, field, check);
      return valid ? { kind: 'prefix', value: prefix } : undefined;
    }
    case 'RegularExpression': {
      const checked = checkPortableRegex(value);
      if (!checked.ok) {
        refuse(field, DIAGNOSTIC_REASONS.InvalidRegex, `path regular expression ${JSON.stringify(value)}: ${checked.problem}`);
        return undefined;
      }
      return { kind: 'regex', value };
    }
    default:
      refuse(field, DIAGNOSTIC_REASONS.UnsupportedMatch, `path match type ${JSON.stringify(type)} is not one jwtgate knows`);
      return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
