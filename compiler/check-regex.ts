/**
 * Admits a manifest's regular expression: it must compile in Unicode mode, and it must not nest
 * an unbounded quantifier inside a repeated group (`(a+)+`, `(.*x)*`), the shape behind
 * catastrophic backtracking (ReDoS). Length is bounded by the CRD schema. This is a
 * conservative syntactic screen, not a proof: it refuses some safe patterns and cannot catch
 * overlapping alternations such as `(a|a)*`.
 *
 * @example
 * ```ts
 * checkRegex('^/orders/[0-9]+$'); // { ok: true, value: /^\/orders\/[0-9]+$/u }
 * checkRegex('(a+)+$'); // { ok: false, problem: 'nested quantifier … may backtrack catastrophically' }
 * ```
 */
import type { Checked } from './diagnostics.ts';

export function checkRegex(source: string): Checked<RegExp> {
  let compiled: RegExp;
  try {
    compiled = new RegExp(source, 'u');
  } catch (error) {
    return { ok: false, problem: `invalid regular expression: ${(error as Error).message}` };
  }
  if (hasNestedQuantifier(source)) {
    return { ok: false, problem: 'nested quantifier (a repeated group that contains * + or {n,}) may backtrack catastrophically' };
  }
  return { ok: true, value: compiled };
}

interface Quantifier {
  length: number;
  /** `*`, `+` or `{n,}`: no upper bound on repetitions. */
  unbounded: boolean;
}

/** The repeating quantifier at `i` (`?`, `{0}` and `{1}` do not repeat), if any. */
function quantifierAt(source: string, i: number): Quantifier | undefined {
  const c = source[i];
  if (c === '*' || c === '+') return { length: 1, unbounded: true };
  if (c !== '{') return undefined;
  const match = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i));
  if (match === null) return undefined;
  const max = match[2] === undefined ? Number(match[1]) : match[3] === '' ? Infinity : Number(match[3]);
  return max > 1 ? { length: match[0].length, unbounded: max === Infinity } : undefined;
}

/**
 * Scans the (already compiled, hence well-formed) source: tracks for each open group whether
 * something inside repeats without bound, and flags any repetition of such a group.
 */
function hasNestedQuantifier(source: string): boolean {
  const groups: boolean[] = [];
  const markUnbounded = (): void => {
    if (groups.length > 0) groups[groups.length - 1] = true;
  };
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      // Skip the escape, including a \p{…} / \u{…} body whose braces are not a quantifier.
      const close = source[i + 2] === '{' ? source.indexOf('}', i) : -1;
      i = close > 0 && /[pPu]/.test(source[i + 1] ?? '') ? close : i + 1;
    } else if (c === '[') {
      i = endOfClass(source, i);
    } else if (c === '(') {
      groups.push(false);
    } else if (c === ')') {
      const innerUnbounded = groups.pop() ?? false;
      const quantifier = quantifierAt(source, i + 1);
      if (quantifier !== undefined && innerUnbounded) return true;
      if (quantifier?.unbounded === true || innerUnbounded) markUnbounded();
      i += quantifier?.length ?? 0;
    } else {
      const quantifier = quantifierAt(source, i);
      if (quantifier?.unbounded === true) markUnbounded();
      i += Math.max((quantifier?.length ?? 0) - 1, 0);
    }
  }
  return false;
}

function endOfClass(source: string, open: number): number {
  for (let i = open + 1; i < source.length; i++) {
    if (source[i] === '\\') i++;
    else if (source[i] === ']') return i;
  }
  return source.length;
}
