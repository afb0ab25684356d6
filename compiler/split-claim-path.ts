/**
 * Splits a manifest's dotted claim path into segments: `realm_access.roles` →
 * `['realm_access', 'roles']`. A backslash escapes the next character, so claim names that
 * contain dots (`https://example\.com/roles`, common for namespaced claims) stay whole.
 *
 * @example
 * ```ts
 * splitClaimPath('realm_access.roles'); // { ok: true, value: ['realm_access', 'roles'] }
 * splitClaimPath('https://example\\.com/roles'); // { ok: true, value: ['https://example.com/roles'] }
 * splitClaimPath('a..b'); // { ok: false, problem: 'claim path has an empty segment' }
 * ```
 */
import type { ClaimPath } from '../snapshot/types.ts';
import type { Checked } from './diagnostics.ts';

/**
 * Names that reach `Object.prototype` through a plain property lookup; refused so no claim
 * lookup can ever be steered into the prototype chain.
 */
const RESERVED_SEGMENTS = new Set(['__proto__', 'prototype', 'constructor']);

export function splitClaimPath(dotted: string): Checked<ClaimPath> {
  const segments: string[] = [];
  let current = '';
  for (let i = 0; i < dotted.length; i++) {
    const c = dotted[i];
    if (c === '\\') {
      const next = dotted[i + 1];
      if (next !== '.' && next !== '\\') return { ok: false, problem: 'claim path has a backslash not followed by "." or "\\"' };
      current += next;
      i++;
    } else if (c === '.') {
      segments.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  segments.push(current);
  if (segments.some((s) => s === '')) return { ok: false, problem: 'claim path has an empty segment' };
  const reserved = segments.find((s) => RESERVED_SEGMENTS.has(s));
  if (reserved !== undefined) return { ok: false, problem: `claim path segment "${reserved}" is reserved` };
  return { ok: true, value: segments };
}
