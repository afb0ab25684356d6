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

/**
 * Admits a regular expression written for a proxy that matches with RE2 (Envoy's `safe_regex`,
 * which Gateway API implementations such as Envoy Gateway and Istio use for an HTTPRoute's
 * `RegularExpression` path), to be matched here as an ECMAScript expression: it must pass
 * {@link checkRegex}, and use nothing whose meaning differs between the two dialects, so the
 * policy covers exactly the requests the route does. Refused, with the construct named:
 * - what RE2 does not have (the proxy refuses the route): lookaround `(?=` `(?!` `(?<=` `(?<!`,
 *   backreferences `\1` `\k<…>`, `\u` escapes, `\c` control escapes;
 * - what both parse but read differently: `[[:alpha:]]` (a POSIX class in RE2, a set of
 *   characters followed by `]` in ECMAScript), the empty classes `[]` and `[^]`, `\p{…}` (RE2
 *   scripts are bare names, ECMAScript's need `Script=`), and flag groups such as `(?i)`.
 * RE2-only syntax (`\z`, `\Q…\E`, `\pL`, `(?P<n>…)`, `\x{…}`) does not compile in Unicode mode,
 * so {@link checkRegex} refuses it already.
 *
 * @example
 * ```ts
 * checkPortableRegex('^/orders/[0-9]+$').ok; // true
 * checkPortableRegex('/(?!admin).*').ok;     // false: lookahead is not RE2
 * ```
 */
export function checkPortableRegex(source: string): Checked<RegExp> {
  const checked = checkRegex(source);
  if (!checked.ok) return checked;
  const found = nonPortableConstruct(source);
  return found === undefined
    ? checked
    : { ok: false, problem: `${found} means something else, or nothing, to RE2, which the proxy matches the route with` };
}

function nonPortableConstruct(source: string): string | undefined {
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    const next = source[i + 1] ?? '';
    if (c === '\\') {
      if (/[1-9]/.test(next)) return `the backreference \\${next}`;
      if (next === 'k' || next === 'u' || next === 'c' || next === 'p' || next === 'P') return `the escape \\${next}`;
      i++;
    } else if (c === '(' && next === '?') {
      const head = source.slice(i, i + 4);
      if (head.startsWith('(?:')) continue;
      if (head === '(?<=' || head === '(?<!') return `the lookbehind ${head}`;
      if (head.startsWith('(?=') || head.startsWith('(?!')) return `the lookahead ${head.slice(0, 3)}`;
      if (head.startsWith('(?<')) continue; // a named group: a plain group to both
      return 'a flag group such as (?i)';
    } else if (c === '[') {
      if (source.startsWith('[]', i)) return 'the empty class []';
      if (source.startsWith('[^]', i)) return 'the class [^]';
      let j = source[i + 1] === '^' ? i + 2 : i + 1;
      for (; j < source.length && source[j] !== ']'; j++) {
        if (source[j] === '[' && source[j + 1] === ':') return 'a POSIX class such as [[:alpha:]]';
        if (source[j] !== '\\') continue;
        const escaped = source[j + 1] ?? '';
        if (/[kucpP]/.test(escaped)) return `the escape \\${escaped}`;
        j++;
      }
      i = j;
    }
  }
  return undefined;
}
