/**
 * Evaluates a policy's claim rules: every rule must pass. A failure names the rule and says why
 * in words fit for a log line: the claim path and the operator, never the claim's value (it may
 * be personal data).
 *
 * Missing claims: a claim that is absent or `null` counts as missing (OpenID Connect Core §5.3.2
 * says to omit rather than send null). A missing claim fails every operator except `notIn` (nothing
 * listed is present: a revocation list by `jti` or `sub` cannot revoke a token without one) and
 * `exists: false`.
 *
 * @example
 * ```ts
 * evaluateRules([{ claim: ['scope'], op: 'containsAll', values: ['orders:read'] }], { scope: 'openid orders:read' });
 * // { ok: true }
 * ```
 */
import type { Rule } from '../../snapshot/types.ts';
import { readClaim, type Claims } from './claims.ts';

export type RuleOutcome = { ok: true } | { ok: false; rule: Rule; why: string };

type Scalar = string | number | boolean;

/** Each rule's regex, compiled on first use; a snapshot's rules live as long as the snapshot. */
const compiledRegexes = new WeakMap<Rule, RegExp | SyntaxError>();

/**
 * `{ ok: true }` when every rule passes, else the first failing rule and why.
 *
 * Operators: `equals`, `in` and `notIn` compare scalars strictly (`'1'` is not `1`); `exists`
 * tests presence; `containsAll`/`containsAny` take an array of strings or a space-separated string
 * (OAuth `scope`, RFC 8693 §4.2); `regex` (unanchored, `u` flag) tests a string claim. A claim of
 * another type fails the rule.
 *
 * @example
 * ```ts
 * evaluateRules([{ claim: ['realm_access', 'roles'], op: 'containsAny', values: ['admin'] }], { realm_access: { roles: ['user'] } });
 * // { ok: false, rule, why: 'claim "realm_access.roles" (containsAny): contains none of the 1 listed values' }
 * ```
 */
export function evaluateRules(rules: readonly Rule[], claims: Claims): RuleOutcome {
  for (const rule of rules) {
    const why = explainFailure(rule, readClaim(claims, rule.claim));
    if (why !== undefined) return { ok: false, rule, why: `claim "${rule.claim.join('.')}" (${rule.op}): ${why}` };
  }
  return { ok: true };
}

/** Why `value` fails `rule`, or undefined when it passes. */
function explainFailure(rule: Rule, raw: unknown): string | undefined {
  const value = raw === null ? undefined : raw;
  switch (rule.op) {
    case 'exists':
      if (rule.value) return value === undefined ? 'is missing' : undefined;
      return value === undefined ? undefined : 'is present but must be absent';
    case 'notIn':
      if (value === undefined) return undefined;
      if (!isScalar(value)) return `is ${typeName(value)}; a string, number or boolean is required`;
      return rule.values.includes(value) ? 'is one of the excluded values' : undefined;
    case 'equals':
    case 'in': {
      if (value === undefined) return 'is missing';
      if (!isScalar(value)) return `is ${typeName(value)}; a string, number or boolean is required`;
      if (rule.op === 'equals') return value === rule.value ? undefined : 'does not equal the expected value';
      return rule.values.includes(value) ? undefined : `is not one of the ${rule.values.length} allowed values`;
    }
    case 'containsAll':
    case 'containsAny': {
      if (value === undefined) return 'is missing';
      const items = readItems(value);
      if (items === undefined) return `is ${typeName(value)}; an array of strings or a space-separated string is required`;
      if (rule.op === 'containsAll') {
        const absent = rule.values.filter((v) => !items.has(v)).length;
        return absent === 0 ? undefined : `lacks ${absent} of the ${rule.values.length} required values`;
      }
      return rule.values.some((v) => items.has(v)) ? undefined : `contains none of the ${rule.values.length} listed values`;
    }
    case 'regex': {
      if (value === undefined) return 'is missing';
      if (typeof value !== 'string') return `is ${typeName(value)}; a string is required`;
      const regex = compileRegex(rule);
      if (regex instanceof SyntaxError) return "the rule's regex does not compile";
      return regex.test(value) ? undefined : 'does not match the pattern';
    }
  }
}

/** The members of an array-of-strings claim, or the words of a space-separated string claim. */
function readItems(value: unknown): ReadonlySet<string> | undefined {
  // RFC 6749 §3.3: scope tokens are separated by single spaces; extra spaces are tolerated.
  if (typeof value === 'string') return new Set(value.split(' ').filter((word) => word !== ''));
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return new Set(value);
  return undefined;
}

function compileRegex(rule: Rule & { op: 'regex' }): RegExp | SyntaxError {
  let compiled = compiledRegexes.get(rule);
  if (compiled === undefined) {
    try {
      compiled = new RegExp(rule.value, 'u');
    } catch (error) {
      compiled = error instanceof SyntaxError ? error : new SyntaxError(String(error));
    }
    compiledRegexes.set(rule, compiled);
  }
  return compiled;
}

function isScalar(value: unknown): value is Scalar {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

function typeName(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
